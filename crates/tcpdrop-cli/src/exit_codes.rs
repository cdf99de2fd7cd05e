//! The exit statuses of `tcpdrop`, one place for the code and `--help`.

/// Everything asked for was done.
pub const OK: u8 = 0;
/// Nothing matched (the exact form: no such connection).
pub const NO_MATCH: u8 = 1;
/// Bad usage or input; nothing was touched.
pub const USAGE: u8 = 2;
/// Some drops failed (others may have succeeded).
pub const PARTIAL: u8 = 3;
/// Permission denied: dropping needs CAP_NET_ADMIN.
pub const PERMISSION: u8 = 4;
/// The kernel cannot destroy sockets (no CONFIG_INET_DIAG_DESTROY).
pub const UNSUPPORTED: u8 = 5;

/// The exit status table, as a literal so that `--help` can embed it.
macro_rules! help_table {
    () => {
        "Exit status:
  0  success
  1  nothing matched (for a tuple: no such connection)
  2  bad usage or input; nothing was touched
  3  some drops failed
  4  permission denied: dropping needs CAP_NET_ADMIN (run as root)
  5  the kernel cannot destroy sockets (needs CONFIG_INET_DIAG_DESTROY=y)"
    };
}
pub(crate) use help_table;
