//! One error type for every netlink protocol, as data a caller can match
//! on; the protocol only names itself in the messages.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::{fmt, io};

use crate::Protocol;

/// What went wrong talking to the kernel over the protocol `P`, as data a
/// caller can match on.
///
/// The kernel answers with a negative errno in an `NLMSG_ERROR` message (or
/// at the end of a dump); [`Error::from_errno`] sorts those into the cases
/// a caller has to tell apart, each keeping its errno. `P` only says what
/// the messages call the protocol and its records, and what a kernel
/// without it lacks: `sockdiag::Error` is `Error<SockDiag>`.
#[derive(Debug)]
pub enum Error<P> {
    /// Nothing matched the request (`ENOENT`), or what holds the tuple now
    /// is another than the one the request named (`ESTALE`).
    ///
    /// sock_diag's TCP destroy answers a cookie that names no live socket
    /// with `ENOENT` (`inet_diag_find_one_icsk` in `net/ipv4/inet_diag.c`),
    /// and ctnetlink a `CTA_ID` of another entry likewise
    /// (`ctnetlink_del_conntrack`), so a stale name arrives as
    /// `stale: false` too (seen on Linux 6.18).
    NotFound {
        /// `true` when the kernel said `ESTALE`: the tuple exists but
        /// belongs to a newer socket than the one the request named.
        stale: bool,
    },
    /// The kernel refused for lack of `CAP_NET_ADMIN` over the network
    /// namespace (`EPERM`, `EACCES`).
    PermissionDenied {
        /// The raw errno.
        errno: i32,
    },
    /// The kernel cannot do this: it does not serve the protocol (no such
    /// netlink protocol, a subsystem not loaded), or not this request
    /// (`EOPNOTSUPP`, `EPROTONOSUPPORT`, `ENOSYS`).
    NotSupported {
        /// The raw errno the kernel answered with.
        errno: i32,
    },
    /// A request or a reply was malformed (`EINVAL`, or a reply that cannot
    /// be parsed).
    Invalid(String),
    /// A dump was interrupted because the kernel's tables changed while it
    /// ran (`NLM_F_DUMP_INTR`); running it again gives a consistent answer.
    Interrupted,
    /// Any other system error.
    Io(io::Error),
    /// Never made: it only carries the protocol, which names things in the
    /// messages (and a `match` may leave it out).
    #[doc(hidden)]
    Unreachable(Infallible, PhantomData<fn() -> P>),
}

impl<P> Error<P> {
    /// Classify a (positive) errno the kernel returned in an `NLMSG_ERROR`.
    pub fn from_errno(errno: i32) -> Error<P> {
        use linux_raw_sys::errno as e;
        match errno.unsigned_abs() {
            e::ENOENT => Error::NotFound { stale: false },
            e::ESTALE => Error::NotFound { stale: true },
            e::EPERM | e::EACCES => Error::PermissionDenied { errno },
            e::EOPNOTSUPP | e::EPROTONOSUPPORT | e::ENOSYS => Error::NotSupported { errno },
            e::EINVAL => Error::Invalid("the kernel rejected the request (EINVAL)".into()),
            _ => Error::Io(io::Error::from_raw_os_error(errno)),
        }
    }

    /// The errno this error corresponds to, when there is one.
    pub fn errno(&self) -> Option<i32> {
        use linux_raw_sys::errno as e;
        match self {
            Error::NotFound { stale: false } => Some(e::ENOENT as i32),
            Error::NotFound { stale: true } => Some(e::ESTALE as i32),
            Error::PermissionDenied { errno } | Error::NotSupported { errno } => Some(*errno),
            Error::Invalid(_) => Some(e::EINVAL as i32),
            Error::Interrupted => Some(e::EINTR as i32),
            Error::Io(err) => err.raw_os_error(),
            Error::Unreachable(never, _) => match *never {},
        }
    }
}

impl<P: Protocol> fmt::Display for Error<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, record) = (P::NAME, P::RECORD);
        match self {
            Error::NotFound { stale: false } => write!(
                f,
                "no such {record} (gone, or its tuple now belongs to another {record})"
            ),
            Error::NotFound { stale: true } => write!(
                f,
                "no such {record} (the request names one that no longer exists)"
            ),
            Error::PermissionDenied { errno } => write!(
                f,
                "permission denied by the kernel (errno {errno}): {name} needs \
                 CAP_NET_ADMIN, run as root"
            ),
            Error::NotSupported { errno } => {
                write!(
                    f,
                    "the kernel does not serve this {name} request (errno {errno})"
                )?;
                match P::NEEDS {
                    "" => Ok(()),
                    needs => write!(f, ": {needs}"),
                }
            }
            Error::Invalid(why) => write!(f, "invalid {name} message: {why}"),
            Error::Interrupted => write!(
                f,
                "the {name} dump was interrupted by concurrent changes; run it again"
            ),
            Error::Io(err) => err.fmt(f),
            Error::Unreachable(never, _) => match *never {},
        }
    }
}

impl<P: Protocol> std::error::Error for Error<P> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // As `#[error(transparent)]`: the I/O error stands in our place.
            Error::Io(err) => err.source(),
            _ => None,
        }
    }
}

impl<P> From<io::Error> for Error<P> {
    fn from(err: io::Error) -> Error<P> {
        Error::Io(err)
    }
}

impl<P> From<rustix::io::Errno> for Error<P> {
    fn from(errno: rustix::io::Errno) -> Error<P> {
        Error::Io(io::Error::from(errno))
    }
}
