//! The exit statuses of `tcpdrop`, one place for the code and `--help`.

/// Everything asked for was done.
pub const OK: u8 = 0;
/// Nothing matched (the exact form: no such connection; `-l` with a
/// selection that lists nothing). `-l` alone succeeds on an empty table.
pub const NO_MATCH: u8 = 1;
/// Bad usage or input; nothing was touched (`--forwarded`: also one of
/// this host's own connections named).
pub const USAGE: u8 = 2;
/// Some drops failed for reasons of their own (others may have
/// succeeded); when every failure was a refusal, the refusal's status (4
/// or 5) instead. A dry run exits with the status the drop would have.
pub const PARTIAL: u8 = 3;
/// Permission denied: every drop that failed was refused because no way of
/// aborting was allowed (others may have succeeded; destroy needs
/// CAP_NET_ADMIN; owner, the holder's own user, or CAP_SYS_PTRACE and
/// CAP_DAC_READ_SEARCH to find another user's; inject, CAP_NET_RAW; or a
/// security module refused); or nothing matched `--pid`/`--process` and
/// some owners could not be read (CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE);
/// or a network namespace could not be entered (`-N`; with `--all-netns`,
/// none could, or nothing matched in those that could: CAP_SYS_ADMIN).
pub const PERMISSION: u8 = 4;
/// No way of aborting can work here, whatever the privilege: the method
/// asked for (e.g. `--method destroy` on a kernel without
/// CONFIG_INET_DIAG_DESTROY) cannot; or `--forwarded` must list from
/// connection tracking, which is not active.
pub const UNSUPPORTED: u8 = 5;
/// The output could not be written (a full disk, an I/O error); a closed
/// pipe is not this. Drops already chosen were still made, and the summary
/// on stderr counts them.
pub const OUTPUT: u8 = 6;

/// The exit status table, as a literal so that `--help` can embed it.
macro_rules! help_table {
    () => {
        "Exit status:
  0  success (-l without a selection: also when there is nothing to list)
  1  nothing matched: a drop, a dry run, or -l with a selection (a filter,
     tuple, -s, -4, -6, --pid, --process, --uid); for a tuple: no such
     connection (--forwarded: an end answered the probe with an RST)
  2  bad usage or input; nothing was touched (--forwarded: also one of
     this host's own connections named: drop it without --forwarded)
  3  some drops failed (others may have been dropped; -n: would fail;
     --forwarded: also a connection reset at one end only; the row says
     which); when every failure was a refusal, 4 or 5 instead
  4  permission denied: every drop that failed was refused, no way to
     abort being allowed (others may have been dropped; destroy needs
     CAP_NET_ADMIN; owner, your own process, or CAP_SYS_PTRACE and
     CAP_DAC_READ_SEARCH; inject and --forwarded, CAP_NET_RAW; the
     message says which were tried, or that a security module refused);
     or nothing matched --pid or --process while some owners could not
     be read (needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE, or root);
     or a network namespace could not be entered (-N; --all-netns: none
     could, or nothing matched in those entered; needs CAP_SYS_ADMIN)
  5  no way to abort can work here: e.g. --method destroy on a kernel
     without SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY); or --forwarded -l,
     a filter or -a where connection tracking is not active
  6  the output could not be written (e.g. disk full); the drops chosen
     were still made, as the summary on stderr says"
    };
}
pub(crate) use help_table;
