//! Fault injection for tests (the `fault-injection` feature only).
//!
//! Some failures cannot be made on a test kernel: a kernel without
//! `CONFIG_INET_DIAG_DESTROY`, a receive queue overrun (`ENOBUFS`), a dump the
//! kernel flags as interrupted. With this feature, `SOCKDIAG_FAULTS` in the
//! environment makes a [`Client`](crate::Client) answer as such a kernel
//! would, so the layers above can be tested for what they then report.
//! Release builds do not have the feature and never read the variable.
//!
//! `SOCKDIAG_FAULTS` is a comma-separated list of:
//! - `destroy=ERRNO`: every destroy is answered with `ERRNO` (a name such as
//!   `EOPNOTSUPP`, `EPERM`, `EIO`, or a number) without asking the kernel;
//! - `destroy=ERRNO@N`: the first `N` destroys go to the kernel, the rest
//!   get `ERRNO`;
//! - `dump=ERRNO` / `dump=ERRNO@N`: every dump (after the first `N`) fails
//!   with `ERRNO` before its first record, as after a receive overrun;
//! - `dump=INTR` / `dump=INTR@N`: every dump (after the first `N`) ends
//!   flagged `NLM_F_DUMP_INTR`;
//! - a `*M` suffix on a dump fault (`dump=INTR*1`) stops it after `M` dumps;
//! - `both=ERRNO`: the one-walk dump of both families
//!   ([`Client::dump_both_families`](crate::Client::dump_both_families)) is
//!   refused with `ERRNO`, as by a kernel without `TCPDIAG_GETSOCK`.

#[cfg(feature = "fault-injection")]
use linux_raw_sys::errno;

/// What a dump should suffer. (Without the feature no dump suffers
/// anything, and the type only keeps the dump code on one path.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
pub(crate) enum DumpFault {
    /// Fail with this errno before the first record.
    Errno(i32),
    /// End as if the kernel flagged the dump inconsistent.
    Interrupted,
}

/// The faults asked for, and how many operations still pass untouched.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Faults {
    destroy: Option<(usize, i32)>,
    dump: Option<(usize, DumpFault)>,
    dump_times: Option<usize>,
    both: Option<i32>,
}

#[cfg(feature = "fault-injection")]
impl Faults {
    /// The faults `SOCKDIAG_FAULTS` asks for (none when it is unset).
    pub(crate) fn from_env() -> Faults {
        std::env::var("SOCKDIAG_FAULTS").map_or_else(|_| Faults::default(), |s| Faults::parse(&s))
    }

    fn parse(spec: &str) -> Faults {
        let mut faults = Faults::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((what, how)) = item.split_once('=') else {
                continue;
            };
            let (how, times) = match how.split_once('*') {
                Some((how, m)) => (how, m.parse().ok()),
                None => (how, None),
            };
            let (how, pass) = match how.split_once('@') {
                Some((how, n)) => (how, n.parse().unwrap_or(0)),
                None => (how, 0),
            };
            if what == "dump" {
                faults.dump_times = times;
            }
            match (what, how) {
                ("dump", "INTR") => faults.dump = Some((pass, DumpFault::Interrupted)),
                ("dump", name) => {
                    if let Some(e) = errno_named(name) {
                        faults.dump = Some((pass, DumpFault::Errno(e)));
                    }
                }
                ("destroy", name) => faults.destroy = errno_named(name).map(|e| (pass, e)),
                ("both", name) => faults.both = errno_named(name),
                _ => {}
            }
        }
        faults
    }

    /// Of `n` destroys about to be sent, how many go to the kernel; the
    /// rest are to be answered with the returned errno.
    pub(crate) fn destroys(&mut self, n: usize) -> (usize, Option<i32>) {
        match &mut self.destroy {
            None => (n, None),
            Some((pass, e)) => {
                let real = n.min(*pass);
                *pass = pass.saturating_sub(real);
                (real, Some(*e))
            }
        }
    }

    /// The errno a one-walk dump of both families is refused with, if any.
    pub(crate) fn both_families(&self) -> Option<i32> {
        self.both
    }

    /// The fault the next dump suffers, if any.
    pub(crate) fn next_dump(&mut self) -> Option<DumpFault> {
        let (pass, fault) = self.dump.as_mut()?;
        if *pass > 0 {
            *pass = pass.saturating_sub(1);
            return None;
        }
        match &mut self.dump_times {
            Some(0) => None,
            Some(left) => {
                *left = left.saturating_sub(1);
                Some(*fault)
            }
            None => Some(*fault),
        }
    }
}

#[cfg(feature = "fault-injection")]
fn errno_named(name: &str) -> Option<i32> {
    let e = match name {
        "EPERM" => errno::EPERM,
        "ENOENT" => errno::ENOENT,
        "EIO" => errno::EIO,
        "EINTR" => errno::EINTR,
        "EINVAL" => errno::EINVAL,
        "ENOBUFS" => errno::ENOBUFS,
        "EOPNOTSUPP" => errno::EOPNOTSUPP,
        "EPROTONOSUPPORT" => errno::EPROTONOSUPPORT,
        "ESTALE" => errno::ESTALE,
        "EBUSY" => errno::EBUSY,
        other => return other.parse().ok(),
    };
    i32::try_from(e).ok()
}

#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_read_as_documented() {
        let mut f = Faults::parse("destroy=EIO@2, dump=INTR@1");
        assert_eq!(f.destroys(3), (2, Some(errno::EIO as i32)));
        assert_eq!(f.destroys(3), (0, Some(errno::EIO as i32)));
        assert_eq!(f.next_dump(), None);
        assert_eq!(f.next_dump(), Some(DumpFault::Interrupted));
        let mut f = Faults::parse("dump=ENOBUFS");
        assert_eq!(f.next_dump(), Some(DumpFault::Errno(errno::ENOBUFS as i32)));
        let mut once = Faults::parse("dump=INTR*1");
        assert_eq!(once.next_dump(), Some(DumpFault::Interrupted));
        assert_eq!(once.next_dump(), None);
        assert_eq!(
            Faults::parse("both=EINVAL").both_families(),
            Some(errno::EINVAL as i32)
        );
        let mut none = Faults::parse("");
        assert_eq!(none.destroys(5), (5, None));
        assert_eq!(none.next_dump(), None);
    }
}
