//! The command line, as a declaration: each flag's doc comment is its help,
//! and `tcpdrop(8)` and the shell completions are generated from it
//! (`tcpdrop --generate man|bash|zsh|fish|elvish`).
//!
//! Every option's long help ends with an example, so the man page carries one
//! for each.

use std::ffi::OsString;

use clap::Parser;

use crate::exit_codes;

/// Drop (abort) TCP connections, exactly and safely; or list them.
///
/// A dropped connection's owner sees ECONNABORTED and its peer gets a reset.
/// tcpdrop drops only connections it has just found in a fresh dump, naming
/// each to the kernel by its socket cookie: a connection that is gone is
/// reported gone, and never falls back to the listener on its port.
///
/// Connections are chosen by a tuple (BSD tcpdrop's form), by an ss filter
/// expression (ss(8), FILTER), by state, by owning process or user, in one
/// network namespace or all of them; --watch keeps dropping what matches
/// as it appears.
#[derive(Debug, Parser)]
#[command(
    name = "tcpdrop",
    version,
    override_usage = "tcpdrop [OPTIONS] LADDR LPORT RADDR RPORT\n       \
                      tcpdrop [OPTIONS] LADDR:LPORT RADDR:RPORT\n       \
                      tcpdrop [OPTIONS] FILTER...\n       \
                      tcpdrop [OPTIONS] -a | -s STATE...\n       \
                      tcpdrop -l [OPTIONS] [FILTER...]\n       \
                      tcpdrop --top[=INTERVAL] [OPTIONS] [FILTER...]",
    after_help = AFTER_HELP,
    after_long_help = AFTER_LONG_HELP,
)]
pub struct Cli {
    /// List the matching connections instead of dropping them (needs no privilege).
    ///
    /// Example: tcpdrop -l 'dport = :443 or ( src 10.0.0.0/8 and state established )'
    #[arg(short = 'l', long)]
    pub list: bool,

    /// Drop every connection, listeners excluded (narrow it with -s, -4, -6, --process, ...).
    ///
    /// Example: tcpdrop --process nginx
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Only connections in STATE; repeatable.
    ///
    /// ss's names: established, syn-sent, syn-recv, fin-wait-1, fin-wait-2,
    /// time-wait, closed, close-wait, last-ack, listening, closing, and the
    /// groups connected, synchronized, bucket, big, all. A listener is
    /// dropped only when `listening` is named.
    ///
    /// Example: tcpdrop -s time-wait -s close-wait
    #[arg(
        short = 's',
        long = "state",
        value_name = "STATE",
        value_parser = StateName,
        hide_possible_values = true
    )]
    pub states: Vec<String>,

    /// Show what would be dropped; drop nothing.
    ///
    /// Each socket the drop would choose is shown would-drop, or would-fail
    /// with the reason the drop would give (no way allowed for it, no kernel
    /// support, no process holding it for --method owner), decided as the
    /// drop decides; each loopback peer the drops would reset, would-reset; the exit status is the drop's (3, 4 or 5 when some or
    /// all would fail). Nothing is touched: owner's check duplicates the
    /// holder's descriptor (pidfd_getfd) and closes it unused, inject's opens
    /// its raw sockets and sends nothing.
    ///
    /// Example: tcpdrop -n -a --uid www-data
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Only IPv4 connections (including IPv4 on dual-stack IPv6 sockets).
    ///
    /// Example: tcpdrop -a -4
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Only IPv6 connections.
    ///
    /// Example: tcpdrop -l -6
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Print one JSON object per connection, one per line.
    ///
    /// Fields: family, state, local, remote, mapped, uid, inode, cookie,
    /// recv_q, send_q; when dropping result, method, error (failed,
    /// would-fail) and reason (gone),
    /// and collateral: true on a row that was not chosen but was closed by
    /// the run (the loopback peer a drop reset, result gone); owners
    /// ([{"pid", "command"}], null when they could not be read) with -p;
    /// netns with -N or --all-netns. A command is escaped as in the
    /// columns (\xHH for bytes that are not UTF-8 and control characters,
    /// \\ for a backslash).
    ///
    /// Example: tcpdrop -l --json -p
    #[arg(long)]
    pub json: bool,

    /// Show the processes that own each socket (PID and command name).
    ///
    /// A socket can have several owners (a descriptor inherited across
    /// fork); TIME-WAIT and SYN-RECV sockets have none (-). Found by reading
    /// /proc/*/fd once, only for the sockets the other options selected;
    /// other users' processes can be read only with CAP_DAC_READ_SEARCH and
    /// CAP_SYS_PTRACE (as root has), so without them their sockets show ?
    /// (unknown) and stderr says how many and what was missing (or that a
    /// security module refused even root). A name is shown with \xHH for bytes that are not
    /// UTF-8 and for control characters (never raw escape sequences).
    ///
    /// Example: tcpdrop -l -p 'sport = :22'
    #[arg(short = 'p', long)]
    pub processes: bool,

    /// Only sockets owned by process PID; repeatable (any of them).
    ///
    /// TIME-WAIT and SYN-RECV sockets have no owner and never match.
    /// Other users' processes can be read only with CAP_DAC_READ_SEARCH and
    /// CAP_SYS_PTRACE (as root has): without them, stderr says how many
    /// selected sockets' owners could not be read, and if nothing matched
    /// the exit status is 4.
    ///
    /// Example: tcpdrop --pid 1234 -a
    #[arg(long, value_name = "PID")]
    pub pid: Vec<u32>,

    /// Only sockets owned by a process whose command name (as in
    /// /proc/PID/comm, at most 15 characters) is NAME; repeatable.
    ///
    /// NAME may be a pattern with `*` (any characters) and `?` (one
    /// character). It is matched on the name's bytes, which need not be
    /// UTF-8 (--process $'nginx\xff' in bash). TIME-WAIT and SYN-RECV
    /// sockets have no owner and never match; unreadable owners are as for
    /// --pid.
    ///
    /// Example: tcpdrop --process 'php-fpm*' -a
    #[arg(long, value_name = "NAME", value_parser = clap::value_parser!(OsString))]
    pub process: Vec<OsString>,

    /// Only sockets of user USER (a name from /etc/passwd, or a number);
    /// repeatable.
    ///
    /// The kernel records the user that created each socket. TIME-WAIT and
    /// SYN-RECV sockets carry no user (the kernel shows 0) and never match.
    ///
    /// Example: tcpdrop --uid nobody -a
    #[arg(long, value_name = "USER|UID")]
    pub uid: Vec<String>,

    /// Work in the network namespace NAME (from `ip netns list`) or PATH
    /// (an nsfs file such as /proc/PID/ns/net).
    ///
    /// Entering a namespace other than your own needs CAP_SYS_ADMIN; without
    /// it the exit status is 4.
    ///
    /// Example: tcpdrop --netns blue --process nginx
    #[arg(short = 'N', long, value_name = "NAME|PATH")]
    pub netns: Option<String>,

    /// Work in every network namespace found: those named under /run/netns
    /// and those held by processes, each once, this one included.
    ///
    /// Each row is tagged with its namespace (its name, or
    /// /proc/PID/ns/net). Your own namespace needs no privilege; others are
    /// entered with CAP_SYS_ADMIN, and another user's process's namespace
    /// is seen only with CAP_SYS_PTRACE. What could not be entered or seen
    /// is left out, and stderr says how many and why; if nothing matched in
    /// the namespaces entered, the exit status is 4, not 1. With --watch,
    /// the namespaces are looked for again each round: one made since (a
    /// container's) is watched from the next round on, one removed is let
    /// go.
    ///
    /// Example: tcpdrop --all-netns -l 'dport = :5432'
    #[arg(long, conflicts_with = "netns")]
    pub all_netns: bool,

    /// Keep dropping every connection that matches, as it appears, checking
    /// every INTERVAL (default 1s; e.g. 500ms, 2s, 1m), until interrupted
    /// (SIGINT, SIGTERM), --count or --timeout.
    ///
    /// Each drop is printed as it happens; a summary follows on stderr.
    /// Exit status 1 if nothing ever matched, unless SIGTERM stopped it (as
    /// systemd and Kubernetes stop a service): that is 0.
    ///
    /// Example: tcpdrop --watch=500ms --count 10 'dport = :6379'
    #[arg(
        long,
        value_name = "INTERVAL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "1s",
        conflicts_with_all = ["list", "dry_run"],
    )]
    pub watch: Option<String>,

    /// Watch the connections live, full screen, and close the ones you
    /// pick (the TCPView of Linux); refresh every INTERVAL (default 1s).
    ///
    /// Every state is shown, listeners included, narrowed as everywhere
    /// (FILTER, -s, -4/-6, --pid, --process, --uid, -N, --all-netns). Keys:
    /// arrows, j/k, PgUp/PgDn, Home/End move; / filters (ss's language);
    /// s/S sort; space marks; d drops the marked rows or the current one
    /// (y confirms); p pauses; +/- change the interval; ? helps; q quits.
    /// A drop is the command's (--method applies; a listener only when
    /// `listening` is selected); each row says dropped, gone or failed,
    /// and why. Needs a terminal (exit 2 without one).
    ///
    /// Example: tcpdrop --top 'dport = :443'
    #[arg(
        long,
        value_name = "INTERVAL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "1s",
        conflicts_with_all = ["list", "all", "dry_run", "json", "watch", "count", "timeout", "file", "forwarded", "no_header"],
    )]
    pub top: Option<String>,

    /// With --watch: stop after N connections were dropped.
    ///
    /// Example: tcpdrop --watch --count 1 --process curl -a
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// With --watch: stop after DURATION (e.g. 30s, 5m, 1h).
    ///
    /// Example: tcpdrop --watch --timeout 5m -s syn-sent
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Drop the connections named in FILE, one per line, in either
    /// CONNECTION form (`-` reads standard input). Blank lines and lines
    /// starting with # are skipped. Each is found by an exact lookup and
    /// they are dropped in batches, one result line each; a tuple that
    /// names no connection is reported as not found. If any line is
    /// malformed, each bad line is named with its number and nothing at
    /// all is dropped (exit status 2). FILE is opened with your own
    /// permissions, also by a copy with file capabilities.
    ///
    /// Example: tcpdrop -f stuck.txt; or from ss: ss -Htn dport = :6379 | awk '{print $4, $5}' | tcpdrop -f -
    #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with_all = ["all", "watch"])]
    pub file: Option<String>,

    /// How to abort: auto (the default) uses the kernel's SOCK_DESTROY where
    /// the kernel has it and you may (CAP_NET_ADMIN); otherwise, for a
    /// connection some process holds, that process's own descriptor (owner:
    /// your own processes need no privilege, others' need CAP_SYS_PTRACE,
    /// and CAP_DAC_READ_SEARCH to find their descriptors);
    /// otherwise, and for TIME-WAIT and SYN-RECV sockets, a reset injected
    /// after the socket's own ACK (inject: needs CAP_NET_RAW). A method
    /// named here is the only one tried. Each dropped row says how.
    ///
    /// Example: tcpdrop --method owner 'dport = :6379'
    ///
    /// bpf aborts in the kernel's own walk of its sockets, by a BPF program
    /// of ours given the chosen sockets' cookies (bpf_sock_destroy: Linux
    /// 6.5+ with BTF, CAP_BPF and CAP_PERFMON; not TIME-WAIT or SYN-RECV
    /// sockets); auto uses it, before owner and inject, for a large drop
    /// that SOCK_DESTROY cannot make.
    ///
    /// Example: tcpdrop --method bpf 'dport >= :5000 and dport <= :5099'
    #[arg(
        long,
        value_name = "METHOD",
        value_parser = ["auto", "destroy", "owner", "inject", "bpf"],
        default_value = "auto"
    )]
    pub method: Option<String>,

    /// Act on the TCP connections this host forwards (a router, firewall,
    /// NAT gateway or container host) instead of its own sockets.
    ///
    /// A connection named by its two ends (either order or view) is reset
    /// at both ends, idle or busy, with RSTs spoofed from the other end
    /// after each end's own ACK gave its sequence numbers (CAP_NET_RAW);
    /// dropped only when both ends' answers confirm it, exit 1 when an end
    /// has no such connection, 3 when one end could not be reset, 2 for
    /// this host's own. -l, -n, a filter, -s and -a read connection
    /// tracking (CAP_NET_ADMIN; exit 5 where it is not active): Local is
    /// the originator; JSON adds reply_local, reply_remote, conntrack_entry.
    ///
    /// Example: tcpdrop --forwarded 10.0.1.2:40188 10.0.2.2:443
    #[arg(
        long,
        conflicts_with_all = ["netns", "all_netns", "file", "pid", "process", "uid", "processes"]
    )]
    pub forwarded: bool,

    /// With -l: print each connection as the command that drops it, one a
    /// line, as FreeBSD's tcpdrop -l does: tcpdrop LADDR LPORT RADDR RPORT.
    ///
    /// IPv6 addresses are bare, with their %scope where they have one
    /// (fe80::1%eth0); a listener's line carries -s listening, and with -N
    /// or --all-netns each line carries -N and its namespace. Each line
    /// runs as it is, and drops exactly that connection.
    ///
    /// Example: tcpdrop -l --bsd 'dport = :6379' > drop.sh
    #[arg(long, conflicts_with_all = ["json", "processes", "forwarded"])]
    pub bsd: bool,

    /// Never print the column header (it is printed only on a terminal).
    ///
    /// Example: tcpdrop -l -H | wc -l
    #[arg(short = 'H', long)]
    pub no_header: bool,

    /// Write the manual page or a shell completion script to stdout.
    #[arg(
        long,
        value_name = "KIND",
        hide = true,
        value_parser = ["man", "bash", "zsh", "fish", "elvish"],
    )]
    pub generate: Option<String>,

    /// The connection to drop: LADDR LPORT RADDR RPORT, or LADDR:LPORT
    /// RADDR:RPORT (IPv6 as [ADDR]:PORT, with %SCOPE if link-local: an
    /// interface name or index of this namespace), or LADDR.LPORT
    /// RADDR.RPORT as BSD netstat prints them (127.0.0.1.80, ::1.80); or an
    /// ss filter expression. A connection's port is decimal without leading
    /// zeros (080 is refused; in a filter, as in ss, 010 is octal 8 and 080
    /// an error).
    ///
    /// FILTER is ss's language: state/exclude words, then conditions src,
    /// dst, sport, dport joined by and, or, not and parentheses; `state
    /// NAME` may also be a condition inside the expression. A misspelt
    /// keyword is named ("unknown word 'dprot' in the filter: did you mean
    /// dport?").
    ///
    /// Names, in either: a port may be a TCP service name of /etc/services
    /// (http, ssh), and an address localhost (127.0.0.1 and ::1) or a host
    /// name of /etc/hosts; DNS is never asked. In a filter a host name
    /// stands for each of its addresses (dst localhost); in a connection
    /// the other end's family must leave it one address (localhost:80
    /// 127.0.0.1:5000). Before acting, stderr says which addresses each
    /// host name stood for.
    ///
    /// Example: tcpdrop 10.0.0.5 443 10.0.0.9 51234
    // This text is the --help's too: [ADDR]:PORT is notation, not a link.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(value_name = "CONNECTION|FILTER")]
    pub args: Vec<String>,
}

/// `-s`'s value: any word, checked later by `plan::parse_states` (whose
/// message names the remedy, and which also reads the RFC 793 spellings
/// and any case); its possible values are the state names, so that the
/// completions offer them instead of file names.
#[derive(Clone, Copy, Debug)]
struct StateName;

impl clap::builder::TypedValueParser for StateName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            ssfilter::STATE_WORDS
                .iter()
                .map(|name| clap::builder::PossibleValue::new(*name)),
        ))
    }
}

impl Cli {
    /// The combinations clap cannot explain in one line, refused with a
    /// message that names the option and the remedy.
    pub fn check(&self) -> Result<(), String> {
        if self.bsd && !self.list {
            // clap's own "required arguments" message would lose the name
            // to the one-line cut.
            return Err(
                "--bsd is a form of listing: give it with -l (e.g. tcpdrop -l --bsd)".to_string(),
            );
        }
        if self.watch.is_none() {
            for (given, example) in [
                (self.count.is_some(), "--watch --count 5"),
                (self.timeout.is_some(), "--watch --timeout 5s"),
            ] {
                if given {
                    let option = example.split(' ').nth(1).unwrap_or_default();
                    return Err(format!(
                        "{option} needs --watch: it says when --watch stops \
                         (e.g. tcpdrop {example} -a)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether an option or word narrows the selection (a tuple or filter,
    /// -s, -4, -6, --pid, --process, --uid): then `-l` that lists nothing
    /// exits 1, as `pgrep` does; `-l` alone lists what there is, even
    /// nothing, and exits 0, as `ss` does.
    pub fn narrows(&self) -> bool {
        !self.args.is_empty()
            || !self.states.is_empty()
            || self.ipv4
            || self.ipv6
            || !self.pid.is_empty()
            || !self.process.is_empty()
            || !self.uid.is_empty()
    }
}

const AFTER_HELP: &str = concat!(
    "Examples:\n",
    "  tcpdrop -l                              list every TCP connection\n",
    "  tcpdrop -l --bsd                        ... as the tcpdrop commands that drop them\n",
    "  tcpdrop 10.0.0.5 443 10.0.0.9 51234     drop exactly this connection\n",
    "  tcpdrop '[::1]:8080' '[::1]:40112'       the same, IPv6\n",
    "  tcpdrop -n -s time-wait                 show which TIME-WAIT sockets would go\n",
    "  tcpdrop -a -4 --json                    drop every IPv4 connection, JSON out\n",
    "  tcpdrop 'dport = :443'                  drop what an ss filter selects\n",
    "  tcpdrop localhost:http 127.0.0.1:41000  names: /etc/services, /etc/hosts\n",
    "  tcpdrop --netns blue --process nginx    drop nginx's connections in netns blue\n",
    "  tcpdrop --watch --count 3 'dport = :80' drop the next three as they appear\n",
    "  tcpdrop --top                           watch connections live, close the ones picked\n",
    "\n",
    exit_codes::help_table!(),
);

const AFTER_LONG_HELP: &str = concat!(
    "Examples:\n",
    "  tcpdrop -l\n",
    "      List every TCP connection (State, Recv-Q, Send-Q, Local, Remote).\n",
    "  tcpdrop -l --bsd 'dport = :http'\n",
    "      List them as FreeBSD's tcpdrop -l does: one tcpdrop command a line.\n",
    "  tcpdrop 10.0.0.5 443 10.0.0.9 51234\n",
    "  tcpdrop 10.0.0.5:443 10.0.0.9:51234\n",
    "  tcpdrop 10.0.0.5.443 10.0.0.9.51234\n",
    "      Drop exactly this connection (exit 1 if there is none).\n",
    "  tcpdrop localhost:https 127.0.0.1:51234\n",
    "      The same with names: services from /etc/services, hosts from\n",
    "      /etc/hosts and localhost, never DNS.\n",
    "  tcpdrop -l 'dport = :443 or ( src 10.0.0.0/8 and state established )'\n",
    "      List what an ss filter selects; without -l, drop it.\n",
    "  tcpdrop -n -s time-wait\n",
    "      Show which TIME-WAIT sockets would be dropped.\n",
    "  tcpdrop -s listening 0.0.0.0:8080 0.0.0.0:0\n",
    "      A listener is dropped only when `listening` is named.\n",
    "  tcpdrop -l -p --uid www-data\n",
    "      List the connections of user www-data with their processes.\n",
    "  tcpdrop --netns blue --process nginx\n",
    "      Drop every connection of nginx in network namespace blue.\n",
    "  tcpdrop --all-netns -l --json\n",
    "      List the connections of every namespace, each tagged with it.\n",
    "  tcpdrop --watch=500ms --timeout 10m 'dport = :6379'\n",
    "      For ten minutes, drop every new connection to port 6379.\n",
    "  tcpdrop --forwarded 10.0.1.2:40188 10.0.2.2:443\n",
    "      On a router: reset a connection it forwards, at both ends.\n",
    "  tcpdrop --top -s established\n",
    "      Watch the established connections live; mark some with space, d drops them.\n",
    "\n",
    "Output: one line per connection; when dropping, its outcome first: dropped,\n",
    "gone (it had closed, its tuple belongs to a newer connection, or it was the\n",
    "loopback peer reset by a drop), failed (with the reason), or with -n\n",
    "would-drop, would-fail (with the reason the drop would give) or\n",
    "would-reset (a loopback peer the drops would reset); then\n",
    "a summary on stderr, also when stdout was closed early (tcpdrop ... | head):\n",
    "the drops chosen are all made. With -p, - is no owner and ? an owner that\n",
    "could not be read (needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE). Colour\n",
    "only on a terminal, never with NO_COLOR set or TERM=dumb.\n",
    "\n",
    exit_codes::help_table!(),
);

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn help_documents_every_exit_code() {
        let help = Cli::command().render_long_help().to_string();
        for code in [
            exit_codes::OK,
            exit_codes::NO_MATCH,
            exit_codes::USAGE,
            exit_codes::PARTIAL,
            exit_codes::PERMISSION,
            exit_codes::UNSUPPORTED,
            exit_codes::OUTPUT,
        ] {
            assert!(
                help.contains(&format!("\n  {code}  ")),
                "exit code {code} undocumented"
            );
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_visible_option_has_an_example_in_its_long_help() {
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            if arg.is_hide_set() || matches!(arg.get_id().as_str(), "help" | "version") {
                continue;
            }
            let long = arg
                .get_long_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(
                long.contains("Example: tcpdrop"),
                "--{} has no example in its long help",
                arg.get_id()
            );
        }
    }
}
