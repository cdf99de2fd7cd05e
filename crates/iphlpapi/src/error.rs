//! [`Win32Error`]: a Win32 error code and its `FormatMessage` text.

use std::borrow::Cow;
use std::fmt;

use super::codes::*;
use tcpdrop::{Error, Privilege};

/// A Win32 error code as the IP Helper calls return it, with the English
/// text `FormatMessage` gives for it.
///
/// ```
/// use iphlpapi::Win32Error;
/// assert_eq!(Win32Error(87).message(), "The parameter is incorrect.");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Win32Error(pub u32);

impl Win32Error {
    /// The code itself.
    pub fn code(self) -> u32 {
        self.0
    }

    /// `FormatMessage(FORMAT_MESSAGE_FROM_SYSTEM, ...)`'s English text for the
    /// code, for the codes these calls return (SPEC §1); a generic text
    /// naming the number for any other.
    ///
    /// The text of 317 keeps its `%1`/`%2` inserts, as Windows' message table
    /// holds it.
    #[doc(alias = "FormatMessage")]
    pub fn message(self) -> Cow<'static, str> {
        Cow::Borrowed(match self.0 {
            NO_ERROR => "The operation completed successfully.",
            ERROR_ACCESS_DENIED => "Access is denied.",
            ERROR_GEN_FAILURE => "A device attached to the system is not functioning.",
            ERROR_NOT_SUPPORTED => "The request is not supported.",
            ERROR_NETWORK_ACCESS_DENIED => "Network access is denied.",
            ERROR_INVALID_PARAMETER => "The parameter is incorrect.",
            ERROR_INSUFFICIENT_BUFFER => "The data area passed to a system call is too small.",
            ERROR_MR_MID_NOT_FOUND => {
                "The system cannot find message text for message number 0x%1 in the message file for %2."
            }
            ERROR_NOT_FOUND => "Element not found.",
            code => return Cow::Owned(format!("Unknown error {code} (0x{code:X}).")),
        })
    }

    /// What the code means when these calls return it, in words a reader
    /// can act on: [`Win32Error::message`]'s text, except for 317, whose
    /// Windows text is a placeholder (Windows has no message for it) and
    /// which these calls return for two reasons of their own. What
    /// `IpHlpFormatError` gives.
    pub fn meaning(self) -> Cow<'static, str> {
        match self.0 {
            ERROR_MR_MID_NOT_FOUND => Cow::Borrowed(
                "No TCP connection matches all four members of the row; or, from SetTcpEntry, \
                 CAP_NET_ADMIN is permitted but not in effect (not elevated): raise it, or run \
                 as root. (ERROR_MR_MID_NOT_FOUND; Windows has no message text for it.)",
            ),
            _ => self.message(),
        }
    }
}

impl fmt::Display for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (Win32 error {})", self.meaning(), self.0)
    }
}

impl std::error::Error for Win32Error {}

impl From<Error> for Win32Error {
    /// The same code as for a reference to the error.
    fn from(err: Error) -> Win32Error {
        Win32Error::from(&err)
    }
}

impl From<&Error> for Win32Error {
    /// The code `SetTcpEntry` returns for a library error: 317 for no such
    /// connection and for `CAP_NET_ADMIN` permitted but not in effect (not
    /// elevated), 5 for any other missing privilege, 50 when the kernel
    /// cannot do it, 87 for a bad argument, 31 for a failure of the system
    /// or of the abort itself. A refusal of every way of aborting
    /// ([`Error::NoWay`]) is 317 if any way wanted only elevation, else 5 if
    /// any wanted a privilege, else 50.
    fn from(err: &Error) -> Win32Error {
        Win32Error(match err {
            Error::NotFound => ERROR_MR_MID_NOT_FOUND,
            Error::AccessDenied(Privilege::PermittedOnly) => ERROR_MR_MID_NOT_FOUND,
            Error::AccessDenied(_) => ERROR_ACCESS_DENIED,
            Error::NotSupported => ERROR_NOT_SUPPORTED,
            Error::InvalidArgument(_) => ERROR_INVALID_PARAMETER,
            Error::Namespace { .. } => ERROR_INVALID_PARAMETER,
            Error::NamespaceDenied { .. } => ERROR_ACCESS_DENIED,
            Error::Netlink(_) | Error::Io(_) => ERROR_GEN_FAILURE,
            Error::MissingCapability { .. } | Error::Forbidden(_) => ERROR_ACCESS_DENIED,
            Error::NoHolder => ERROR_NOT_SUPPORTED,
            Error::NotAborted(_) => ERROR_GEN_FAILURE,
            // The socket is there and this way did not abort it, as with
            // NotAborted.
            Error::Shadowed => ERROR_GEN_FAILURE,
            Error::BpfUnsupported(_) | Error::NotFullSocket => ERROR_NOT_SUPPORTED,
            // Windows' codes for a refusal: 317 when only elevation was
            // missing, 5 when a privilege was, 50 when nothing can work.
            Error::NoWay(tried) => {
                let codes: Vec<Win32Error> = tried.iter().map(|(_, e)| e.into()).collect();
                if codes.contains(&Win32Error(ERROR_MR_MID_NOT_FOUND)) {
                    ERROR_MR_MID_NOT_FOUND
                } else if codes.contains(&Win32Error(ERROR_ACCESS_DENIED)) {
                    ERROR_ACCESS_DENIED
                } else {
                    ERROR_NOT_SUPPORTED
                }
            }
        })
    }
}

impl From<Win32Error> for u32 {
    fn from(err: Win32Error) -> u32 {
        err.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_spec_has_its_windows_text() {
        let texts = [
            (0, "The operation completed successfully."),
            (5, "Access is denied."),
            (31, "A device attached to the system is not functioning."),
            (50, "The request is not supported."),
            (65, "Network access is denied."),
            (87, "The parameter is incorrect."),
            (122, "The data area passed to a system call is too small."),
            (
                317,
                "The system cannot find message text for message number 0x%1 in the message file for %2.",
            ),
            (1168, "Element not found."),
        ];
        for (code, text) in texts {
            assert_eq!(Win32Error(code).message(), text, "code {code}");
        }
    }

    #[test]
    fn the_meaning_of_317_is_not_windows_placeholder() {
        let meaning = Win32Error(317).meaning();
        assert!(!meaning.contains("%1"), "{meaning}");
        assert!(meaning.contains("No TCP connection matches"), "{meaning}");
        assert_eq!(Win32Error(87).meaning(), Win32Error(87).message());
    }

    #[test]
    fn library_errors_map_to_the_codes_set_tcp_entry_returns() {
        use tcpdrop::Method;
        let code = |err: Error| Win32Error::from(err).code();
        assert_eq!(code(Error::NotFound), ERROR_MR_MID_NOT_FOUND);
        let not_elevated = || Error::AccessDenied(Privilege::PermittedOnly);
        assert_eq!(code(not_elevated()), ERROR_MR_MID_NOT_FOUND);
        assert_eq!(
            code(Error::AccessDenied(Privilege::Missing)),
            ERROR_ACCESS_DENIED
        );
        assert_eq!(code(Error::NotSupported), ERROR_NOT_SUPPORTED);
        assert_eq!(
            code(Error::InvalidArgument("x".into())),
            ERROR_INVALID_PARAMETER
        );
        assert_eq!(code(Error::Shadowed), ERROR_GEN_FAILURE);
        let denied = || Error::MissingCapability {
            capability: "CAP_NET_RAW",
            needed_for: "injecting a reset",
        };
        // A refusal of every way: 317 if elevation would do, else 5 if a
        // privilege would, else 50.
        let no_way = |errs: Vec<Error>| {
            let methods = [Method::Destroy, Method::Owner, Method::Inject];
            code(Error::NoWay(methods.into_iter().zip(errs).collect()))
        };
        assert_eq!(
            no_way(vec![Error::NotSupported, not_elevated(), denied()]),
            ERROR_MR_MID_NOT_FOUND
        );
        assert_eq!(
            no_way(vec![Error::NotSupported, Error::NoHolder, denied()]),
            ERROR_ACCESS_DENIED
        );
        assert_eq!(
            no_way(vec![Error::NotSupported, Error::NoHolder]),
            ERROR_NOT_SUPPORTED
        );
    }

    #[test]
    fn an_unknown_code_gets_a_generic_text_naming_it() {
        assert_eq!(Win32Error(4242).message(), "Unknown error 4242 (0x1092).");
        assert_eq!(
            Win32Error(87).to_string(),
            "The parameter is incorrect. (Win32 error 87)"
        );
    }
}
