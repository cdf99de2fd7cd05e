//! How connections and outcomes are printed: aligned columns for people,
//! one JSON object per line for programs.

use std::io::{self, Write};
use std::net::SocketAddr;

use serde_json::{json, Map, Value};
use tcpdrop::Connection;

/// Where rows go, and in which form.
pub struct Printer<W: Write> {
    out: W,
    json: bool,
    header: bool,
}

/// One row of output: a connection and, when dropping, what became of it.
pub struct Row<'a> {
    /// The connection.
    pub conn: &'a Connection,
    /// `dropped`, `gone`, `failed` or `would-drop`; `None` when listing.
    pub result: Option<&'static str>,
    /// Why: the error of a failure, the reason a connection was gone.
    pub detail: Option<String>,
    /// Not chosen, but closed by the run (a loopback peer reset).
    pub collateral: bool,
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out`; `header` is whether to print a column header.
    pub fn new(out: W, json: bool, header: bool) -> Printer<W> {
        Printer { out, json, header }
    }

    /// Print `rows`, aligned (or as JSON lines), then flush.
    pub fn rows(
        &mut self,
        rows: &[Row<'_>],
        scope_name: &dyn Fn(u32) -> Option<String>,
    ) -> io::Result<()> {
        if self.json {
            for row in rows {
                let value = Value::Object(json_row(row, scope_name));
                writeln!(self.out, "{value}")?;
            }
            return self.out.flush();
        }
        let texts: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    address(&r.conn.local, scope_name),
                    address(&r.conn.remote, scope_name),
                )
            })
            .collect();
        let local_width = texts.iter().map(|t| t.0.len()).max().unwrap_or(0).max(5);
        let remote_width = texts.iter().map(|t| t.1.len()).max().unwrap_or(0).max(6);
        let dropping = rows.iter().any(|r| r.result.is_some());
        if self.header && !rows.is_empty() {
            if dropping {
                write!(self.out, "{:<11}", "Result")?;
            }
            writeln!(
                self.out,
                "{:<11} {:>6} {:>6} {:<local_width$} Remote",
                "State", "Recv-Q", "Send-Q", "Local"
            )?;
        }
        for (row, (local, remote)) in rows.iter().zip(&texts) {
            if dropping {
                write!(self.out, "{:<11}", row.result.unwrap_or(""))?;
            }
            let conn = row.conn;
            write!(
                self.out,
                "{:<11} {:>6} {:>6} {:<local_width$} ",
                conn.state.ss_name(),
                conn.recv_q,
                conn.send_q,
                local,
            )?;
            match &row.detail {
                Some(detail) => write!(self.out, "{remote:<remote_width$}  ({detail})")?,
                None => write!(self.out, "{remote}")?,
            }
            writeln!(self.out)?;
        }
        self.out.flush()
    }
}

/// `1.2.3.4:80`, `[::1]:80`, `[fe80::1%eth0]:80`: how `ss` writes an end,
/// with v4-mapped ends already shown as IPv4 by the library.
pub fn address(addr: &SocketAddr, scope_name: &dyn Fn(u32) -> Option<String>) -> String {
    match addr {
        SocketAddr::V4(v4) => v4.to_string(),
        SocketAddr::V6(v6) if v6.scope_id() != 0 => {
            let scope = scope_name(v6.scope_id()).unwrap_or_else(|| v6.scope_id().to_string());
            format!("[{}%{}]:{}", v6.ip(), scope, v6.port())
        }
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    }
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
    if let Some(result) = row.result {
        map.insert("result".into(), json!(result));
        let error = if result == "failed" {
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
