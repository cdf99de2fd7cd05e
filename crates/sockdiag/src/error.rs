use std::io;

/// What went wrong talking to the kernel, as data a caller can match on.
///
/// The kernel answers a `SOCK_DESTROY` with a negative errno in an
/// `NLMSG_ERROR` message; [`Error::from_errno`] sorts those into the cases a
/// caller has to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No socket matched the request (`ENOENT`), or the socket that holds the
    /// tuple now is another one than the cookie named (`ESTALE`).
    ///
    /// For TCP the two cannot be told apart: the destroy path
    /// (`inet_diag_find_one_icsk` in `net/ipv4/inet_diag.c`) answers a cookie
    /// mismatch on a live tuple with `ENOENT`, so a stale cookie arrives as
    /// `stale: false` too (seen on Linux 6.18).
    #[error("no such socket ({})", if *.stale { "its cookie names a socket that no longer exists" } else { "the kernel found none" })]
    NotFound {
        /// `true` when the kernel said `ESTALE`: the 4-tuple exists but
        /// belongs to a newer socket than the one the cookie identified.
        /// The TCP destroy path never says so (see above).
        stale: bool,
    },
    /// The kernel refused for lack of `CAP_NET_ADMIN` over the socket's
    /// network namespace (`EPERM`/`EACCES`).
    #[error("permission denied by the kernel (CAP_NET_ADMIN is needed)")]
    PermissionDenied,
    /// The kernel cannot do this: built without `CONFIG_INET_DIAG_DESTROY`,
    /// no `inet_diag` support, or a socket state it cannot destroy
    /// (`EOPNOTSUPP`, `EPROTONOSUPPORT`).
    #[error("the kernel does not support this request (errno {errno})")]
    NotSupported {
        /// The raw errno the kernel answered with.
        errno: i32,
    },
    /// The request or a reply was malformed (`EINVAL`, or a reply we cannot
    /// parse).
    #[error("invalid netlink message: {0}")]
    Invalid(String),
    /// A dump was interrupted because the socket tables changed while it ran
    /// (`NLM_F_DUMP_INTR`); repeating it gives a consistent answer.
    #[error("the dump was interrupted by concurrent changes; run it again")]
    Interrupted,
    /// Any other system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// Classify a (positive) errno the kernel returned in an `NLMSG_ERROR`.
    pub fn from_errno(errno: i32) -> Error {
        use linux_raw_sys::errno as e;
        match errno as u32 {
            e::ENOENT => Error::NotFound { stale: false },
            e::ESTALE => Error::NotFound { stale: true },
            e::EPERM | e::EACCES => Error::PermissionDenied,
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
            Error::PermissionDenied => Some(e::EPERM as i32),
            Error::NotSupported { errno } => Some(*errno),
            Error::Invalid(_) => Some(e::EINVAL as i32),
            Error::Interrupted => Some(e::EINTR as i32),
            Error::Io(err) => err.raw_os_error(),
        }
    }
}

impl From<rustix::io::Errno> for Error {
    fn from(errno: rustix::io::Errno) -> Error {
        Error::Io(io::Error::from(errno))
    }
}

impl netlink::Error for Error {
    fn invalid(message: String) -> Error {
        Error::Invalid(message)
    }

    fn is_invalid(&self) -> bool {
        matches!(self, Error::Invalid(_))
    }

    fn interrupted() -> Error {
        Error::Interrupted
    }

    fn not_supported(errno: i32) -> Error {
        Error::NotSupported { errno }
    }
}
