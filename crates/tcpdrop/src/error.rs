//! Errors of the library, as data a caller can match on.

use std::io;

use crate::method::Method;
use crate::privilege::Privilege;

/// Everything that can go wrong listing or dropping connections.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection matched.
    #[error("no such connection")]
    NotFound,
    /// The kernel refused to drop for lack of `CAP_NET_ADMIN`.
    #[error("{}", match .0 {
        Privilege::PermittedOnly => "dropping needs CAP_NET_ADMIN in effect: this process may raise it but has not (not elevated); raise it, or run as root",
        Privilege::Missing => "dropping needs CAP_NET_ADMIN: run as root",
        Privilege::Effective => "the kernel refused: dropping needs CAP_NET_ADMIN in the user namespace that owns this network namespace; run as root there",
    })]
    AccessDenied(Privilege),
    /// The kernel cannot destroy sockets: built without
    /// `CONFIG_INET_DIAG_DESTROY`, without `inet_diag`, or (before Linux 6.0)
    /// asked to destroy a TIME-WAIT socket.
    #[error("the kernel cannot destroy sockets (it needs CONFIG_INET_DIAG_DESTROY=y and the inet_diag/tcp_diag modules)")]
    NotSupported,
    /// A caller's argument is wrong.
    #[error("{0}")]
    InvalidArgument(String),
    /// A network namespace could not be entered.
    #[error("network namespace {path}: {reason}")]
    Namespace {
        /// What the caller named.
        path: String,
        /// Why it failed, with the remedy.
        reason: String,
    },
    /// A network namespace could not be used for lack of privilege
    /// (`setns` needs `CAP_SYS_ADMIN`; the file may not be opened): nothing
    /// was touched there.
    #[error("network namespace {path}: {reason}: run as root")]
    NamespaceDenied {
        /// What the caller named, or where it was found.
        path: String,
        /// What was refused, and what it needs.
        reason: String,
    },
    /// The kernel's reply could not be read.
    #[error("netlink: {0}")]
    Netlink(String),
    /// Any other system error.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A way of aborting needs a capability the caller lacks; nothing was
    /// touched. `capability` is its name (`"CAP_SYS_PTRACE"`,
    /// `"CAP_NET_RAW"`), `needed_for` what it is needed for.
    #[error("{needed_for} needs {capability}: run as root (nothing was touched)")]
    MissingCapability {
        /// The capability, as `capabilities(7)` names it.
        capability: &'static str,
        /// What needs it, e.g. "taking over the holder's descriptor".
        needed_for: &'static str,
    },
    /// The kernel refused a step although the caller has every capability
    /// it takes: a security module (Landlock, SELinux, AppArmor, Yama)
    /// forbids it, which running as root does not change. Nothing was
    /// touched. The text says what was refused.
    #[error("{0} (nothing was touched)")]
    Forbidden(String),
    /// No process holds the socket (TIME-WAIT and request sockets never
    /// have a holder; an orphaned socket's holder has closed it), so it
    /// cannot be aborted through a holder's descriptor.
    #[error(
        "no process holds this socket, so it cannot be aborted through its holder's descriptor"
    )]
    NoHolder,
    /// The method ran (or could not run to its end) and the socket is still
    /// there: why.
    #[error("not aborted: {0}")]
    NotAborted(String),
    /// The socket is there, but another socket on the same 4-tuple hides it
    /// from the kernel's lookup by tuple (SPEC §5, shadowed tuples): one of
    /// the two is bound to a device (`SO_BINDTODEVICE`), and the lookup
    /// takes the first socket in the hash chain that matches, an unbound one
    /// matching any device. So `SOCK_DESTROY`, which names this socket's
    /// cookie, is refused, and an injected segment would reach the other
    /// socket; only the holder's own descriptor (owner) reaches this one.
    /// Nothing was touched.
    #[error("another socket on the same 4-tuple (one of the two bound to a device) hides it from the kernel's lookup by tuple, so neither SOCK_DESTROY nor an injected reset can reach it; only its holder's descriptor can (--method owner), if a process holds it; nothing was touched")]
    Shadowed,
    /// No way of aborting could be used (`--method auto`): each way tried,
    /// and why it could not be used.
    #[error("{}", no_way(.0))]
    NoWay(Vec<(Method, Error)>),
    /// Aborting from a BPF socket iterator (`bpf`) cannot work on this
    /// kernel, whatever the privilege: why (before Linux 6.5, no BTF, the
    /// program refused).
    #[error("the kernel cannot abort sockets from a BPF socket iterator: {0}")]
    BpfUnsupported(String),
    /// `bpf_sock_destroy` takes full sockets only: a TIME-WAIT or SYN-RECV
    /// socket cannot be aborted by `bpf`.
    #[error("bpf cannot abort a TIME-WAIT or SYN-RECV socket (bpf_sock_destroy takes full sockets only; destroy and inject can)")]
    NotFullSocket,
}

/// "no way to abort it (destroy: needs CAP_NET_ADMIN; owner: needs
/// CAP_SYS_PTRACE; inject: needs CAP_NET_RAW): run as root".
fn no_way(tried: &[(Method, Error)]) -> String {
    let mut text = String::from("no way to abort it (");
    for (i, (method, err)) in tried.iter().enumerate() {
        if i > 0 {
            text.push_str("; ");
        }
        text.push_str(method.name());
        text.push_str(": ");
        text.push_str(&match err {
            Error::AccessDenied(Privilege::PermittedOnly) => {
                "CAP_NET_ADMIN is permitted but not in effect (not elevated)".to_string()
            }
            Error::AccessDenied(Privilege::Missing) => "needs CAP_NET_ADMIN".to_string(),
            Error::AccessDenied(Privilege::Effective) => {
                "refused: needs CAP_NET_ADMIN where this namespace's user namespace is".to_string()
            }
            Error::NotSupported => "this kernel has no SOCK_DESTROY".to_string(),
            Error::MissingCapability { capability, .. } => format!("needs {capability}"),
            Error::Forbidden(why) => why.clone(),
            Error::NoHolder => "no process holds it".to_string(),
            Error::Shadowed => "another socket on its 4-tuple hides it".to_string(),
            Error::BpfUnsupported(reason) => reason.clone(),
            Error::NotFullSocket => "not a full socket (TIME-WAIT or SYN-RECV)".to_string(),
            other => other.to_string(),
        });
    }
    text.push(')');
    let not_elevated = tried
        .iter()
        .any(|(_, e)| matches!(e, Error::AccessDenied(Privilege::PermittedOnly)));
    if not_elevated {
        text.push_str(": raise CAP_NET_ADMIN, or run as root");
    } else if tried
        .iter()
        .any(|(_, e)| e.is_privilege() && !matches!(e, Error::Forbidden(_)))
    {
        text.push_str(": run as root");
    }
    text
}

impl Error {
    /// Whether this says the caller or the kernel cannot drop at all
    /// (privilege or support), rather than something about one socket.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::AccessDenied(_)
                | Error::NotSupported
                | Error::MissingCapability { .. }
                | Error::Forbidden(_)
                | Error::NoWay(_)
                | Error::BpfUnsupported(_)
        )
    }

    /// Whether a refusal is for lack of privilege (some way would work with
    /// more of it), rather than of kernel support.
    pub fn is_privilege(&self) -> bool {
        match self {
            Error::AccessDenied(_)
            | Error::MissingCapability { .. }
            | Error::Forbidden(_)
            | Error::NamespaceDenied { .. } => true,
            Error::NoWay(tried) => tried.iter().any(|(_, e)| e.is_privilege()),
            _ => false,
        }
    }

    /// The same error again, for the next socket a refusal applies to
    /// (an I/O error keeps its kind and text).
    pub(crate) fn again(&self) -> Error {
        match self {
            Error::NotFound => Error::NotFound,
            Error::AccessDenied(p) => Error::AccessDenied(*p),
            Error::NotSupported => Error::NotSupported,
            Error::InvalidArgument(s) => Error::InvalidArgument(s.clone()),
            Error::Namespace { path, reason } => Error::Namespace {
                path: path.clone(),
                reason: reason.clone(),
            },
            Error::NamespaceDenied { path, reason } => Error::NamespaceDenied {
                path: path.clone(),
                reason: reason.clone(),
            },
            Error::Netlink(s) => Error::Netlink(s.clone()),
            Error::Io(err) => Error::Io(io::Error::new(err.kind(), err.to_string())),
            Error::MissingCapability {
                capability,
                needed_for,
            } => Error::MissingCapability {
                capability,
                needed_for,
            },
            Error::Forbidden(s) => Error::Forbidden(s.clone()),
            Error::NoHolder => Error::NoHolder,
            Error::Shadowed => Error::Shadowed,
            Error::NotAborted(s) => Error::NotAborted(s.clone()),
            Error::NoWay(tried) => {
                Error::NoWay(tried.iter().map(|(m, e)| (*m, e.again())).collect())
            }
            Error::BpfUnsupported(s) => Error::BpfUnsupported(s.clone()),
            Error::NotFullSocket => Error::NotFullSocket,
        }
    }

    /// Turn a `sockdiag` error into ours; `EPERM` is classified by reading the
    /// calling thread's capabilities.
    pub(crate) fn from_diag(err: sockdiag::Error) -> Error {
        match err {
            sockdiag::Error::NotFound { .. } => Error::NotFound,
            sockdiag::Error::PermissionDenied { .. } => {
                Error::AccessDenied(crate::privilege::net_admin())
            }
            sockdiag::Error::NotSupported { .. } => Error::NotSupported,
            sockdiag::Error::Invalid(msg) => Error::Netlink(msg),
            sockdiag::Error::Interrupted => {
                Error::Netlink("the dump kept being interrupted by concurrent changes".into())
            }
            sockdiag::Error::Io(err) => Error::Io(err),
        }
    }
}
