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
        // Section 8: it administers the system (dropping needs CAP_NET_ADMIN).
        return clap_mangen::Man::new(cmd)
            .section("8")
            .manual("System Manager's Manual")
            .render(out);
    }
    let shell: Shell = kind
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    clap_complete::generate(shell, &mut cmd, "tcpdrop", out);
    out.flush()
}
