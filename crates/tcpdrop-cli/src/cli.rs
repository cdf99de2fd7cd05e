//! The command line, as a declaration: each flag's doc comment is its help.

use clap::Parser;

use crate::exit_codes;

/// Drop (abort) TCP connections, exactly and safely; or list them.
///
/// A dropped connection's owner sees ECONNABORTED and its peer gets a reset.
/// tcpdrop drops only connections it has just found in a fresh dump, naming
/// each to the kernel by its socket cookie: a connection that is gone is
/// reported gone, and never falls back to the listener on its port.
#[derive(Debug, Parser)]
#[command(
    name = "tcpdrop",
    version,
    override_usage = "tcpdrop [OPTIONS] LADDR LPORT RADDR RPORT\n       \
                      tcpdrop [OPTIONS] LADDR:LPORT RADDR:RPORT\n       \
                      tcpdrop [OPTIONS] -a | -s STATE...\n       \
                      tcpdrop -l [OPTIONS]",
    after_help = AFTER_HELP,
)]
pub struct Cli {
    /// List the matching connections instead of dropping them (needs no privilege).
    #[arg(short = 'l', long)]
    pub list: bool,

    /// Drop every connection, listeners excluded (narrow it with -s, -4, -6).
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Only connections in STATE; repeatable. ss's names: established, syn-sent,
    /// syn-recv, fin-wait-1, fin-wait-2, time-wait, closed, close-wait,
    /// last-ack, listening, closing, and the groups connected, synchronized,
    /// bucket, big, all. A listener is dropped only when `listening` is named.
    #[arg(short = 's', long = "state", value_name = "STATE")]
    pub states: Vec<String>,

    /// Show what would be dropped; drop nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Only IPv4 connections (including IPv4 on dual-stack IPv6 sockets).
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Only IPv6 connections.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Print one JSON object per connection, one per line.
    #[arg(long)]
    pub json: bool,

    /// Work in the network namespace NAME (from `ip netns list`) or PATH
    /// (an nsfs file such as /proc/PID/ns/net).
    #[arg(short = 'N', long, value_name = "NAME|PATH")]
    pub netns: Option<String>,

    /// Never print the column header (it is printed only on a terminal).
    #[arg(short = 'H', long)]
    pub no_header: bool,

    /// The connection to drop: LADDR LPORT RADDR RPORT, or LADDR:LPORT
    /// RADDR:RPORT (IPv6 as [ADDR]:PORT, with %SCOPE if link-local).
    #[arg(value_name = "CONNECTION")]
    pub args: Vec<String>,
}

const AFTER_HELP: &str = concat!(
    "Examples:\n",
    "  tcpdrop -l                              list every TCP connection\n",
    "  tcpdrop 10.0.0.5 443 10.0.0.9 51234     drop exactly this connection\n",
    "  tcpdrop '[::1]:8080' '[::1]:40112'       the same, IPv6\n",
    "  tcpdrop -n -s time-wait                 show which TIME-WAIT sockets would go\n",
    "  tcpdrop -a -4 --json                    drop every IPv4 connection, JSON out\n",
    "\n",
    exit_codes::help_table!(),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_documents_every_exit_code() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        for code in [
            exit_codes::OK,
            exit_codes::NO_MATCH,
            exit_codes::USAGE,
            exit_codes::PARTIAL,
            exit_codes::PERMISSION,
            exit_codes::UNSUPPORTED,
        ] {
            assert!(
                help.contains(&format!("\n  {code}  ")),
                "exit code {code} undocumented"
            );
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
