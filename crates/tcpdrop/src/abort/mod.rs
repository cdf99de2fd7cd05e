//! The ways of aborting a socket, one file each: `destroy.rs` (the kernel's
//! `SOCK_DESTROY`), `owner.rs` (through the holder's own descriptor) and
//! `inject.rs` (a spoofed RST after the socket's own ACK), the last two
//! working where `SOCK_DESTROY` cannot (a kernel without it, a caller
//! without `CAP_NET_ADMIN`); and `bpf.rs` (`bpf_sock_destroy` in the
//! kernel's own walk of its sockets, for large drops). `shadow.rs` tells
//! the two that name a socket by its tuple (destroy, inject) whether a
//! socket the kernel did not find is gone or hidden by another on its
//! tuple (SPEC §5).

pub(crate) mod bpf;
pub(crate) mod choose;
pub(crate) mod destroy;
pub(crate) mod inject;
pub(crate) mod owner;
pub(crate) mod shadow;
#[cfg(test)]
mod tests_util;
#[cfg(test)]
mod uml_tests;

use crate::error::Error;

/// One socket to abort, as a dump or a lookup found it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target {
    /// The table it was found in (an IPv4 connection of a dual-stack socket
    /// is `Inet6`, with `::ffff:` addresses).
    pub family: sockdiag::Family,
    /// Its kernel id: ports, addresses, interface, and the cookie.
    pub id: sockdiag::SockId,
    /// Its inode (0 for TIME-WAIT and SYN-RECV request sockets: no holder).
    pub inode: u32,
    /// Its kernel state.
    pub state: sockdiag::TcpState,
}

/// One way of aborting sockets.
pub(crate) trait Abort {
    /// Abort each of `targets`, pushing one result per target onto
    /// `results`, in their order. `Ok(())` means this very socket (same
    /// cookie) was aborted; a socket that is no longer there is
    /// `Err(Error::NotFound)`, one that another socket on its tuple hides
    /// from the kernel's lookup `Err(Error::Shadowed)` (see `shadow.rs`);
    /// a refusal names what is missing.
    fn abort(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>);

    /// Whether this way would be allowed to abort each of `targets`,
    /// touching none of them (a dry run): one result per target, in their
    /// order, `Ok(())` or the refusal [`Abort::abort`] would meet (the
    /// same error), or an answer about the socket it can give beforehand.
    fn check(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>);
}

/// What a way does with its targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Act {
    /// Abort them ([`Abort::abort`]).
    Abort,
    /// Only find out whether it would be allowed to ([`Abort::check`]).
    Check,
}

impl Act {
    /// Do it with `way`.
    pub(crate) fn on(
        self,
        way: &mut dyn Abort,
        targets: &[Target],
        results: &mut Vec<Result<(), Error>>,
    ) {
        match self {
            Act::Abort => way.abort(targets, results),
            Act::Check => way.check(targets, results),
        }
    }
}
