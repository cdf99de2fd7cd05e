//! How connections and outcomes are printed: aligned columns for people,
//! one JSON object per line for programs.

use std::borrow::Cow;
use std::io::{self, Write};
use std::net::SocketAddr;

use serde_json::{json, Map, Value};
use tcpdrop::procs::Owner;
use tcpdrop::Connection;

/// Where rows go, and in which form.
///
/// Rows are written as they come: JSON at once, aligned columns through a
/// look-ahead of [`LOOKAHEAD`] rows whose widths set the columns' (widths
/// only grow after that), so memory stays bounded however many rows there
/// are, and a short listing is aligned as a whole.
pub struct Printer<W: Write> {
    out: W,
    json: bool,
    header: bool,
    /// Colour the outcomes with ANSI codes (a terminal, no NO_COLOR, no JSON).
    pub colour: bool,
    /// Lead each row with its network namespace (`--all-netns`).
    pub netns_column: bool,
    /// End each row with its owning processes (`-p`).
    pub owners_column: bool,
    /// Write each row as the command that drops it (`-l --bsd`).
    pub bsd: bool,
    /// Rows formatted but not yet written...
    pending: Vec<Cells>,
    /// ... and their texts, one after another.
    texts: String,
    /// The line being written, kept for its room.
    line: String,
    /// Column widths so far: they only grow.
    widths: Widths,
    /// A Result column is shown (some row had an outcome).
    dropping: bool,
}

/// The Result column's width: "dropped (destroy) ".
const RESULT_WIDTH: usize = 18;

/// How many aligned rows are held back to size the columns.
pub const LOOKAHEAD: usize = 1024;

/// Column widths, at least the headers'.
#[derive(Clone, Copy)]
struct Widths {
    /// Recv-Q and Send-Q share one width: a 7-digit queue widens both.
    queue: usize,
    local: usize,
    remote: usize,
    process: usize,
    netns: usize,
}

impl Default for Widths {
    fn default() -> Widths {
        Widths {
            queue: 6,
            local: 5,
            remote: 6,
            process: 7,
            netns: 5,
        }
    }
}

/// One aligned row, formatted, waiting for its column widths; its texts
/// are in [`Printer::texts`].
struct Cells {
    netns: Option<Span>,
    result: Option<&'static str>,
    method: Option<&'static str>,
    state: &'static str,
    recv_q: u32,
    send_q: u32,
    local: Span,
    remote: Span,
    process: Span,
    detail: Option<Cow<'static, str>>,
}

/// Where a text of a pending row is in [`Printer::texts`].
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// What `write` appends to `texts`.
    fn of(texts: &mut String, write: impl FnOnce(&mut String)) -> Span {
        let start = texts.len();
        write(texts);
        Span {
            start,
            end: texts.len(),
        }
    }

    fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    fn text(self, texts: &str) -> &str {
        texts.get(self.start..self.end).unwrap_or_default()
    }
}

/// One row of output: a connection and, when dropping, what became of it.
pub struct Row<'a> {
    /// The connection.
    pub conn: &'a Connection,
    /// `dropped`, `gone`, `failed`, `would-drop` or `would-fail`; `None`
    /// when listing.
    pub result: Option<&'static str>,
    /// How a dropped connection was aborted: `destroy`, `owner`, `inject`.
    pub method: Option<&'static str>,
    /// Why: the error of a failure, the reason a connection was gone
    /// (borrowed when it is a fixed text, as most are).
    pub detail: Option<Cow<'static, str>>,
    /// Not chosen, but closed by the run (a loopback peer reset).
    pub collateral: bool,
    /// The processes that own it, when asked for (`-p`).
    pub owners: Option<&'a [Owner]>,
    /// Its owners could not be read (another user's process, without
    /// `CAP_DAC_READ_SEARCH` and `CAP_SYS_PTRACE`, or a security module's
    /// refusal): shown `?`, and `null` in JSON.
    pub owners_unknown: bool,
    /// The network namespace it is in, when more than the caller's is in play.
    pub netns: Option<&'a str>,
}

/// Whether to colour the output: only on a terminal, never with `NO_COLOR`
/// set (to anything, <https://no-color.org>), never on a terminal that says
/// it has no escape sequences (`TERM=dumb`, or no `TERM`), never as JSON.
pub fn use_colour(
    terminal: bool,
    no_color: Option<std::ffi::OsString>,
    term: Option<std::ffi::OsString>,
    json: bool,
) -> bool {
    let dumb = term.is_none_or(|t| t.is_empty() || t == "dumb");
    terminal && no_color.is_none() && !dumb && !json
}

/// A process name as it may be shown: UTF-8 as it is, but every byte that
/// is not UTF-8 and every control character (ESC included, so a name
/// cannot move the cursor or recolour a terminal) as `\xHH`, and a
/// backslash as `\\`, so the text says which bytes the name holds.
pub fn escape_name(name: &[u8]) -> String {
    let mut text = String::with_capacity(name.len());
    let hex = |text: &mut String, bytes: &[u8]| {
        for b in bytes {
            text.push_str(&format!("\\x{b:02x}"));
        }
    };
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                text.push_str("\\\\");
            } else if c.is_control() {
                let mut buf = [0u8; 4];
                hex(&mut text, c.encode_utf8(&mut buf).as_bytes());
            } else {
                text.push(c);
            }
        }
        hex(&mut text, chunk.invalid());
    }
    text
}

/// `text` in the colour of the outcome it names (dropped green, gone
/// yellow, failed and would-fail red, would-drop cyan), `text` itself for
/// anything else.
fn paint(result: &str, text: &str) -> String {
    let code = match result {
        "dropped" => "32",
        "gone" => "33",
        "failed" | "would-fail" => "31",
        "would-drop" => "36",
        _ => return text.to_string(),
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The owners as `command/pid`, comma-separated; `-` for none.
pub fn owners_text(owners: &[Owner]) -> String {
    if owners.is_empty() {
        return "-".to_string();
    }
    let mut text = String::with_capacity(owners.len().saturating_mul(24));
    for (i, owner) in owners.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&escape_name(&owner.command));
        text.push('/');
        push_decimal(&mut text, owner.pid);
    }
    text
}

/// Append `n` in decimal: what `write!` does, without the formatting
/// machinery, for the numbers of every row.
fn push_decimal(text: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let at = decimal_into(&mut digits, n);
    push_ascii(text, digits.get(at..).unwrap_or_default());
}

/// Write `n` in decimal at the end of `digits`; where it starts.
fn decimal_into(digits: &mut [u8], mut n: u32) -> usize {
    let mut at = digits.len();
    while let Some(at_next) = at.checked_sub(1) {
        at = at_next;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    at
}

/// Append bytes known to be ASCII (digits and punctuation), one
/// character each, without checking them as UTF-8.
fn push_ascii(text: &mut String, bytes: &[u8]) {
    text.extend(bytes.iter().map(|&b| char::from(b)));
}

/// Append `n` spaces.
fn push_spaces(text: &mut String, mut n: usize) {
    const SPACES: &str = "                                ";
    while n > 0 {
        let some = n.min(SPACES.len());
        text.push_str(SPACES.get(..some).unwrap_or_default());
        n -= some;
    }
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`; `header` is whether to print a column header.
    pub fn new(out: W, json: bool, header: bool) -> Printer<W> {
        Printer {
            out,
            json,
            header,
            colour: false,
            netns_column: false,
            owners_column: false,
            bsd: false,
            pending: Vec::new(),
            texts: String::new(),
            line: String::new(),
            widths: Widths::default(),
            dropping: false,
        }
    }

    /// Make the namespace column at least `width` wide: with every
    /// namespace's label known before the first row, rows of different
    /// namespaces line up however their rows are flushed.
    pub fn pad_netns(&mut self, width: usize) {
        self.widths.netns = self.widths.netns.max(width);
    }

    /// Whether rows are printed as JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Print one row: a JSON line at once, or aligned columns once the
    /// look-ahead is full (or at [`finish`](Printer::finish)).
    pub fn row(
        &mut self,
        row: &Row<'_>,
        scope_name: &dyn Fn(u32) -> Option<String>,
    ) -> io::Result<()> {
        self.row_with(row, scope_name, &[])
    }

    /// [`Printer::row`] with more fields in JSON (`--forwarded`'s
    /// `reply_local`, `reply_remote`); aligned columns leave them out.
    pub fn row_with(
        &mut self,
        row: &Row<'_>,
        scope_name: &dyn Fn(u32) -> Option<String>,
        extra: &[(&str, Value)],
    ) -> io::Result<()> {
        if self.json {
            let mut map = json_row(row, scope_name);
            for (name, value) in extra {
                map.insert((*name).to_string(), value.clone());
            }
            return writeln!(self.out, "{}", Value::Object(map));
        }
        if self.bsd {
            return writeln!(self.out, "{}", crate::bsd::line(row, scope_name));
        }
        let conn = row.conn;
        let texts = &mut self.texts;
        let owners_column = self.owners_column;
        self.pending.push(Cells {
            netns: self
                .netns_column
                .then(|| Span::of(texts, |t| t.push_str(row.netns.unwrap_or("-")))),
            result: row.result,
            method: row.method,
            state: conn.state.ss_name(),
            recv_q: conn.recv_q,
            send_q: conn.send_q,
            local: Span::of(texts, |t| push_address(t, &conn.local, scope_name)),
            remote: Span::of(texts, |t| push_address(t, &conn.remote, scope_name)),
            process: Span::of(texts, |t| {
                if owners_column && row.owners_unknown {
                    t.push('?');
                } else if owners_column {
                    t.push_str(&owners_text(row.owners.unwrap_or_default()));
                }
            }),
            detail: row.detail.clone(),
        });
        if self.pending.len() >= LOOKAHEAD {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Say that a named tuple (`-f`) matched no connection: a JSON line
    /// (`"result": "not-found"`), or a line on stderr beside the table.
    pub fn not_found(
        &mut self,
        local: &SocketAddr,
        remote: &SocketAddr,
        scope_name: &dyn Fn(u32) -> Option<String>,
    ) -> io::Result<()> {
        let (local, remote) = (address(local, scope_name), address(remote, scope_name));
        if self.json {
            let value = json!({"local": local, "remote": remote, "result": "not-found"});
            return writeln!(self.out, "{value}");
        }
        eprintln!("tcpdrop: no such connection: {local} {remote}");
        Ok(())
    }

    /// Write what is held back and flush: the rows so far are out.
    pub fn finish(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.out.flush()
    }

    /// Write the held-back rows, sized together with what came before. The
    /// header comes once, before the first rows written.
    fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut w = self.widths;
        for c in &self.pending {
            w.queue = w.queue.max(digits(c.recv_q)).max(digits(c.send_q));
            w.local = w.local.max(c.local.len());
            w.remote = w.remote.max(c.remote.len());
            w.process = w.process.max(c.process.len());
            w.netns = w.netns.max(c.netns.map_or(0, Span::len));
        }
        self.widths = w;
        self.dropping |= self.pending.iter().any(|c| c.result.is_some());
        let Widths {
            queue: queue_width,
            local: local_width,
            remote: remote_width,
            process: process_width,
            netns: netns_width,
        } = w;
        if self.header {
            self.header = false;
            if self.netns_column {
                write!(self.out, "{:<netns_width$} ", "Netns")?;
            }
            if self.dropping {
                write!(self.out, "{:<RESULT_WIDTH$}", "Result")?;
            }
            write!(
                self.out,
                "{:<11} {:>queue_width$} {:>queue_width$} {:<local_width$} ",
                "State", "Recv-Q", "Send-Q", "Local"
            )?;
            if self.owners_column {
                write!(self.out, "{:<remote_width$} Process", "Remote")?;
            } else {
                write!(self.out, "Remote")?;
            }
            writeln!(self.out)?;
        }
        // Each row is put together by hand, then written at once: the
        // formatting machinery cost a drop of 100,000 sockets more than
        // its planning did.
        let mut line = std::mem::take(&mut self.line);
        let texts = std::mem::take(&mut self.texts);
        for c in self.pending.drain(..) {
            line.clear();
            if let Some(netns) = c.netns {
                pad(&mut line, netns.text(&texts), netns_width);
                line.push(' ');
            }
            if self.dropping {
                let result = c.result.unwrap_or("");
                let start = line.len();
                line.push_str(result);
                if let Some(method) = c.method {
                    line.push_str(" (");
                    line.push_str(method);
                    line.push(')');
                }
                let shown = width(result) + c.method.map_or(0, |m| width(m) + 3);
                if self.colour {
                    let text = line.split_off(start);
                    line.push_str(&paint(result, &text));
                }
                push_spaces(&mut line, RESULT_WIDTH.saturating_sub(shown));
            }
            pad(&mut line, c.state, 11);
            line.push(' ');
            pad_number(&mut line, c.recv_q, queue_width);
            line.push(' ');
            pad_number(&mut line, c.send_q, queue_width);
            line.push(' ');
            pad(&mut line, c.local.text(&texts), local_width);
            line.push(' ');
            let (remote, process) = (c.remote.text(&texts), c.process.text(&texts));
            match (&c.detail, self.owners_column) {
                (Some(_), true) => {
                    pad(&mut line, remote, remote_width);
                    line.push(' ');
                    pad(&mut line, process, process_width);
                }
                (None, true) => {
                    pad(&mut line, remote, remote_width);
                    line.push(' ');
                    line.push_str(process);
                }
                (Some(_), false) => pad(&mut line, remote, remote_width),
                (None, false) => line.push_str(remote),
            }
            if let Some(detail) = &c.detail {
                line.push_str("  (");
                line.push_str(detail);
                line.push(')');
            }
            line.push('\n');
            self.out.write_all(line.as_bytes())?;
        }
        self.line = line;
        self.texts = texts;
        self.texts.clear();
        Ok(())
    }
}

/// Append `text`, then spaces up to `width` characters (what `{:<width$}`
/// writes).
fn pad(line: &mut String, text: &str, to: usize) {
    line.push_str(text);
    push_spaces(line, to.saturating_sub(width(text)));
}

/// How many characters `text` takes (its length, for ASCII).
fn width(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// Append spaces, then `n` in decimal, `width` characters in all (what
/// `{:>width$}` writes).
fn pad_number(line: &mut String, n: u32, width: usize) {
    push_spaces(line, width.saturating_sub(digits(n)));
    push_decimal(line, n);
}

/// `1.2.3.4:80`, `[::1]:80`, `[fe80::1%eth0]:80`: how `ss` writes an end,
/// with v4-mapped ends already shown as IPv4 by the library.
pub fn address(addr: &SocketAddr, scope_name: &dyn Fn(u32) -> Option<String>) -> String {
    let mut text = String::with_capacity(21);
    push_address(&mut text, addr, scope_name);
    text
}

/// [`address`], appended to `text`.
fn push_address(text: &mut String, addr: &SocketAddr, scope_name: &dyn Fn(u32) -> Option<String>) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = match addr {
        SocketAddr::V4(v4) => {
            // Put together from the end, then appended at once: the
            // address of every row.
            let mut out = [0u8; 21];
            let mut at = decimal_into(&mut out, u32::from(v4.port()));
            let mut separator = b':';
            for octet in v4.ip().octets().into_iter().rev() {
                at = at.saturating_sub(1);
                if let Some(c) = out.get_mut(at) {
                    *c = separator;
                }
                separator = b'.';
                at = decimal_into(out.get_mut(..at).unwrap_or_default(), u32::from(octet));
            }
            push_ascii(text, out.get(at..).unwrap_or_default());
            Ok(())
        }
        SocketAddr::V6(v6) if v6.scope_id() != 0 => {
            let scope = scope_name(v6.scope_id()).unwrap_or_else(|| v6.scope_id().to_string());
            write!(text, "[{}%{}]:{}", v6.ip(), scope, v6.port())
        }
        SocketAddr::V6(v6) => write!(text, "[{}]:{}", v6.ip(), v6.port()),
    };
}

fn json_row(row: &Row<'_>, scope_name: &dyn Fn(u32) -> Option<String>) -> Map<String, Value> {
    let c = row.conn;
    let mut map = Map::new();
    map.insert("family".into(), json!(c.family.name()));
    map.insert("state".into(), json!(c.state.rfc_name()));
    map.insert("local".into(), json!(address(&c.local, scope_name)));
    map.insert("remote".into(), json!(address(&c.remote, scope_name)));
    map.insert("mapped".into(), json!(c.mapped));
    map.insert("uid".into(), json!(c.uid));
    map.insert("inode".into(), json!(c.inode));
    map.insert("cookie".into(), json!(c.cookie));
    map.insert("recv_q".into(), json!(c.recv_q));
    map.insert("send_q".into(), json!(c.send_q));
    if row.owners_unknown {
        map.insert("owners".into(), Value::Null);
    } else if let Some(owners) = row.owners {
        let owners: Vec<Value> = owners
            .iter()
            .map(|o| json!({"pid": o.pid, "command": escape_name(&o.command)}))
            .collect();
        map.insert("owners".into(), Value::Array(owners));
    }
    if let Some(netns) = row.netns {
        map.insert("netns".into(), json!(netns));
    }
    if let Some(result) = row.result {
        map.insert("result".into(), json!(result));
        if let Some(method) = row.method {
            map.insert("method".into(), json!(method));
        }
        let error = if result == "failed" || result == "would-fail" {
            row.detail.clone()
        } else {
            None
        };
        map.insert("error".into(), json!(error));
        if result == "gone" {
            map.insert("reason".into(), json!(row.detail));
        }
        if row.collateral {
            map.insert("collateral".into(), json!(true));
        }
    }
    map
}

/// How many characters `n` takes in decimal.
fn digits(n: u32) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_as_write_makes_them() {
        for n in [
            0,
            7,
            9,
            10,
            19,
            99,
            100,
            65_535,
            999_999_999,
            1_000_000_000,
            u32::MAX,
        ] {
            let mut text = String::from("x");
            push_decimal(&mut text, n);
            assert_eq!(text, format!("x{n}"));
        }
    }

    #[test]
    fn spaces_as_write_pads_them() {
        for n in [0, 1, 31, 32, 33, 70] {
            let mut text = String::from("x");
            push_spaces(&mut text, n);
            assert_eq!(text, format!("x{:n$}", ""));
        }
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color_or_json() {
        let xterm = || Some("xterm-256color".into());
        assert!(use_colour(true, None, xterm(), false));
        assert!(!use_colour(false, None, xterm(), false));
        assert!(!use_colour(true, Some("1".into()), xterm(), false));
        assert!(!use_colour(true, Some("".into()), xterm(), false));
        assert!(!use_colour(true, None, xterm(), true));
        assert!(!use_colour(true, None, Some("dumb".into()), false));
        assert!(!use_colour(true, None, Some("".into()), false));
        assert!(!use_colour(true, None, None, false));
    }

    #[test]
    fn names_are_escaped_byte_for_byte() {
        for (name, shown) in [
            (&b"nginx"[..], "nginx"),
            (b"nginx\xff", "nginx\\xff"),
            (b"\x1b[31mred", "\\x1b[31mred"),
            (b"tab\there\n", "tab\\x09here\\x0a"),
            (b"del\x7f", "del\\x7f"),
            (b"a\\b", "a\\\\b"),
            ("café".as_bytes(), "café"),
            // A C1 control (U+009B, CSI) is a control character too.
            ("x\u{9b}31m".as_bytes(), "x\\xc2\\x9b31m"),
            (b"\xc3", "\\xc3"),
        ] {
            assert_eq!(escape_name(name), shown, "{name:?}");
        }
    }

    #[test]
    fn outcomes_are_painted_and_others_are_not() {
        assert_eq!(paint("dropped", "dropped"), "\x1b[32mdropped\x1b[0m");
        assert_eq!(paint("failed", "failed"), "\x1b[31mfailed\x1b[0m");
        assert_eq!(paint("ESTAB", "ESTAB"), "ESTAB");
    }

    #[test]
    fn ipv4_ends_are_written_as_std_writes_them() {
        for text in [
            "0.0.0.0:0",
            "127.0.0.1:80",
            "255.255.255.255:65535",
            "10.20.3.100:4096",
            "1.2.3.4:5",
            "100.0.10.9:10000",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(address(&addr, &|_| None), text);
            assert_eq!(address(&addr, &|_| None), addr.to_string());
        }
        let mut text = String::new();
        for n in [0, 7, 10, 99, 4_294_967_295] {
            text.clear();
            push_decimal(&mut text, n);
            assert_eq!(text, n.to_string());
        }
    }

    #[test]
    fn seven_digit_queues_widen_both_queue_columns_and_keep_them_aligned() {
        // An inet_diag_msg (72 bytes) as the kernel writes one, read the
        // way every row is.
        let conn = |recv_q: u32, send_q: u32, port: u16| {
            let mut msg = vec![2u8, 1, 0, 0]; // AF_INET, ESTABLISHED
            msg.extend_from_slice(&port.to_be_bytes());
            msg.extend_from_slice(&80u16.to_be_bytes());
            for _ in 0..2 {
                msg.extend_from_slice(&[127, 0, 0, 1]);
                msg.extend_from_slice(&[0; 12]);
            }
            msg.extend_from_slice(&[0; 4 + 8 + 4]); // if, cookie, expires
            msg.extend_from_slice(&recv_q.to_ne_bytes());
            msg.extend_from_slice(&send_q.to_ne_bytes());
            msg.extend_from_slice(&[0; 8]); // uid, inode
            let msg = sockdiag::InetDiagMsg::parse(&msg).unwrap();
            tcpdrop::Connection::from_diag(&msg).unwrap()
        };
        let rows = [
            conn(4_194_304, 0, 40000),
            conn(0, 12_582_912, 40001),
            conn(7, 8, 40002),
        ];
        let mut printer = Printer::new(Vec::new(), false, true);
        for c in &rows {
            let row = Row {
                conn: c,
                result: None,
                method: None,
                detail: None,
                collateral: false,
                owners: None,
                owners_unknown: false,
                netns: None,
            };
            printer.row(&row, &|_| None).unwrap();
        }
        printer.finish().unwrap();
        let text = String::from_utf8(printer.out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        // Every row's Local column starts where the header's does.
        let at = lines[0].find("Local").unwrap();
        for line in &lines[1..] {
            assert_eq!(line.find("127.0.0.1:4000"), Some(at), "{text}");
        }
        // Right-aligned under their headers.
        let send_q_end = lines[0].find("Send-Q").unwrap() + "Send-Q".len();
        let recv_q_end = lines[0].find("Recv-Q").unwrap() + "Recv-Q".len();
        assert_eq!(
            lines[1].get(..recv_q_end).map(str::trim_end),
            Some("ESTAB        4194304")
        );
        assert!(lines[2][..send_q_end].ends_with("12582912"), "{text}");
        assert!(lines[3][..send_q_end].ends_with(" 8"), "{text}");
    }

    #[test]
    fn owners_are_written_command_slash_pid() {
        let owners = [
            Owner {
                pid: 1234,
                command: "nginx".into(),
            },
            Owner {
                pid: 1235,
                command: b"nginx\x1b[2J".to_vec(),
            },
        ];
        assert_eq!(owners_text(&owners), "nginx/1234,nginx\\x1b[2J/1235");
        assert_eq!(owners_text(&[]), "-");
    }
}
