//! `tcpdrop --generate man|bash|zsh|fish|elvish`: the manual page
//! `tcpdrop(8)` and the shell completions, from the same declaration as the
//! parser ([`crate::cli::Cli`]), so they cannot drift from it.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Write the page or script `kind` names to `out`.
pub fn write(kind: &str, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = Cli::command();
    if kind == "man" {
        return man(cmd, out);
    }
    let shell: Shell = kind
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    clap_complete::generate(shell, &mut cmd, "tcpdrop", out);
    out.flush()
}

/// The page `tcpdrop(8)`: clap's NAME, SYNOPSIS, DESCRIPTION and OPTIONS,
/// then the long help's closing text split into the sections a manual
/// reader looks for (EXAMPLES, OUTPUT, EXIT STATUS), and SEE ALSO.
fn man(cmd: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let after = cmd
        .get_after_long_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    // Section 8: it administers the system (dropping needs CAP_NET_ADMIN).
    let page = clap_mangen::Man::new(cmd)
        .section("8")
        .manual("System Manager's Manual");
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    let (examples, rest) = after.split_once("Output:").unwrap_or((&after, ""));
    let (output, status) = rest.split_once("Exit status:").unwrap_or((rest, ""));
    let examples = examples.trim().trim_start_matches("Examples:");
    section(out, "EXAMPLES", examples, true)?;
    let output = output.trim();
    let mut chars = output.chars();
    let output: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    section(out, "OUTPUT", &output, false)?;
    section(out, "EXIT STATUS", status, true)?;
    writeln!(out, ".SH \"SEE ALSO\"")?;
    let see_also = [
        ("ss", "8"),
        ("tcpkill", "8"),
        ("ip-netns", "8"),
        ("conntrack", "8"),
        ("capabilities", "7"),
        ("setcap", "8"),
    ];
    for (i, (name, sect)) in see_also.iter().enumerate() {
        let comma = if i + 1 < see_also.len() { "," } else { "" };
        writeln!(out, ".BR {name} ({sect}){comma}")?;
    }
    page.render_version_section(out)
}

/// A section of the page: `text` kept line for line (`preformatted`, for
/// examples and tables) or as one paragraph.
fn section(out: &mut dyn Write, name: &str, text: &str, preformatted: bool) -> io::Result<()> {
    let text = text.trim_matches('\n');
    if text.trim().is_empty() {
        return Ok(());
    }
    writeln!(out, ".SH \"{name}\"")?;
    if preformatted {
        writeln!(out, ".nf")?;
    }
    for line in text.lines() {
        let line = if preformatted { line } else { line.trim() };
        writeln!(out, "{}", roff_line(line))?;
    }
    if preformatted {
        writeln!(out, ".fi")?;
    }
    Ok(())
}

/// One line of text as roff reads it literally: backslashes and hyphens
/// escaped, and a leading `.` or `'` kept from being read as a request.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
