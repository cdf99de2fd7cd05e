//! Tests without a privilege: capabilities are per thread, so a test drops
//! them on a thread of its own and its other threads keep theirs.

use rustix::thread::{capabilities, set_capabilities, CapabilitySet};

/// Run `work` on a new thread (in the caller's namespace) that first takes
/// `CAP_NET_ADMIN` out of its effective set and, with `permitted`, out of
/// its permitted set too; and `CAP_SYS_PTRACE` and `CAP_NET_RAW`, which
/// the other ways of aborting would use, out of both. Capabilities are per
/// thread: the test's others keep theirs.
pub fn without_net_admin<T: Send>(permitted: bool, work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut sets = capabilities(None).expect("capget");
                sets.effective.remove(CapabilitySet::NET_ADMIN);
                if permitted {
                    sets.permitted.remove(CapabilitySet::NET_ADMIN);
                }
                for other in [CapabilitySet::SYS_PTRACE, CapabilitySet::NET_RAW] {
                    sets.effective.remove(other);
                    sets.permitted.remove(other);
                }
                set_capabilities(None, sets).expect("capset");
                work()
            })
            .join()
            .unwrap()
    })
}
