//! Who may drop: `CAP_NET_ADMIN`, read with `capget(2)`.

use rustix::thread::{capabilities, CapabilitySet};

use crate::error::Privilege;

/// Where `CAP_NET_ADMIN` stands for the calling thread ([`capget(2)`]).
///
/// Capabilities are per thread; this reads the caller's own. It is a
/// pre-check for messages: the kernel's `ns_capable()` over the socket's
/// network namespace has the last word.
///
/// [`capget(2)`]: https://man7.org/linux/man-pages/man2/capget.2.html
pub fn net_admin() -> Privilege {
    match capabilities(None) {
        Ok(sets) if sets.effective.contains(CapabilitySet::NET_ADMIN) => Privilege::Effective,
        Ok(sets) if sets.permitted.contains(CapabilitySet::NET_ADMIN) => Privilege::PermittedOnly,
        Ok(_) => Privilege::Missing,
        // capget does not fail for the calling thread; if it did, the
        // kernel's own check still decides.
        Err(_) => Privilege::Effective,
    }
}
