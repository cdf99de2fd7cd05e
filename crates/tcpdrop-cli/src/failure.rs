//! Why a run stops: an exit status and the one line that says why.

use std::io::{self};

use tcpdrop::Error;

use crate::exit_codes;

/// A reason to stop: the exit status and the one line that explains it
/// (empty for a quiet exit, such as a closed pipe).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: exit_codes::USAGE,
            message: message.into(),
        }
    }
}

/// The exit status an error of the library gets.
pub(crate) fn exit_code(err: &Error) -> u8 {
    match err {
        Error::NotFound => exit_codes::NO_MATCH,
        Error::AccessDenied(_)
        | Error::MissingCapability { .. }
        | Error::Forbidden(_)
        | Error::NamespaceDenied { .. } => exit_codes::PERMISSION,
        Error::NoWay(_) if err.is_privilege() => exit_codes::PERMISSION,
        Error::NotSupported | Error::NoWay(_) | Error::BpfUnsupported(_) => exit_codes::UNSUPPORTED,
        Error::InvalidArgument(_) | Error::Namespace { .. } => exit_codes::USAGE,
        Error::Netlink(_)
        | Error::Io(_)
        | Error::NoHolder
        | Error::NotAborted(_)
        | Error::Shadowed
        | Error::NotFullSocket => exit_codes::PARTIAL,
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Failure {
        Failure {
            code: exit_code(&err),
            message: err.to_string(),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Failure {
        if err.kind() == io::ErrorKind::BrokenPipe {
            // The reader went away (`tcpdrop -l | head`): not an error.
            return Failure {
                code: exit_codes::OK,
                message: String::new(),
            };
        }
        Failure {
            code: exit_codes::OUTPUT,
            message: output_error(&err),
        }
    }
}

/// The line that says why writing the output failed, and what to do.
pub(crate) fn output_error(err: &io::Error) -> String {
    format!("cannot write the output: {err} (free some space, or send it elsewhere)")
}
