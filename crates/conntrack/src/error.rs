use std::io;

/// What went wrong talking to ctnetlink, as data a caller can match on.
///
/// The kernel answers with a negative errno in an `NLMSG_ERROR` message (or
/// at the end of a dump); [`Error::from_errno`] sorts those into the cases a
/// caller has to tell apart. Each case keeps the errno it came from.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No conntrack entry has this tuple, or the one that has it carries
    /// another id (`ENOENT`): the flow is gone, or another entry holds its
    /// tuple and was left alone (`ctnetlink_del_conntrack` compares
    /// `CTA_ID` after the lookup).
    #[error("no such conntrack entry (gone, or its tuple now belongs to another entry)")]
    NotFound,
    /// The kernel refused for lack of `CAP_NET_ADMIN` over the network
    /// namespace (`EPERM`): nfnetlink checks it for every message, dumps
    /// included (`nfnetlink_rcv` in `net/netfilter/nfnetlink.c`).
    #[error("permission denied by the kernel (errno {errno}): ctnetlink needs CAP_NET_ADMIN, run as root")]
    PermissionDenied {
        /// The raw errno (`EPERM` or `EACCES`).
        errno: i32,
    },
    /// The kernel cannot answer: no `NETLINK_NETFILTER` at all
    /// (`EPROTONOSUPPORT` from `socket(2)`), or no ctnetlink subsystem
    /// (`nf_conntrack_netlink` not loaded: `EOPNOTSUPP`, or `EINVAL` to a
    /// dump request, which carries nothing else the kernel could reject).
    #[error("the kernel does not serve ctnetlink (errno {errno}): load nf_conntrack_netlink (CONFIG_NF_CT_NETLINK)")]
    NotSupported {
        /// The raw errno the kernel answered with.
        errno: i32,
    },
    /// A request or a reply was malformed (`EINVAL`, or a reply this crate
    /// cannot parse).
    #[error("invalid ctnetlink message: {0}")]
    Invalid(String),
    /// A dump was interrupted because the table changed while it ran
    /// (`NLM_F_DUMP_INTR`); running it again gives a consistent answer.
    #[error("the conntrack dump was interrupted by concurrent changes; run it again")]
    Interrupted,
    /// Any other system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// Classify a (positive) errno the kernel returned in an `NLMSG_ERROR`.
    pub fn from_errno(errno: i32) -> Error {
        use linux_raw_sys::errno as e;
        match errno.unsigned_abs() {
            e::ENOENT => Error::NotFound,
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
            Error::NotFound => Some(e::ENOENT as i32),
            Error::PermissionDenied { errno } | Error::NotSupported { errno } => Some(*errno),
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
