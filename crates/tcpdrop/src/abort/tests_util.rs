//! What the tests of the ways of aborting share: finding a socket's dump row
//! as a [`Target`], and a thread that gives up root.

use std::net::SocketAddr;

use super::Target;
use crate::conn::Connection;

/// The uid test children run as (not 65534, so that "nobody" is free for
/// the caller).
pub(crate) const CHILD_UID: u32 = 65533;

/// The one socket whose ends are `local` and `remote` (IPv4 addresses match
/// v4-mapped rows), as a fresh dump of both families shows it.
pub(crate) fn target(local: SocketAddr, remote: SocketAddr) -> Target {
    find(local, remote).unwrap_or_else(|| panic!("no socket {local} -> {remote} in the dump"))
}

/// [`target`], `None` when no such socket is there.
pub(crate) fn find(local: SocketAddr, remote: SocketAddr) -> Option<Target> {
    let mut found = matching(|conn| conn.has_tuple(&local, &remote));
    assert!(
        found.len() <= 1,
        "several sockets {local} -> {remote}: {found:?}"
    );
    found.pop().map(|(_, target)| target)
}

/// The targets with these ends, in their order, from one dump (where
/// [`target`] dumps once for each).
pub(crate) fn targets(ends: &[(SocketAddr, SocketAddr)]) -> Vec<Target> {
    let mut by_ends: std::collections::HashMap<(SocketAddr, SocketAddr), Target> =
        matching(|_| true)
            .into_iter()
            .map(|(conn, target)| ((conn.local, conn.remote), target))
            .collect();
    ends.iter()
        .map(|e| {
            by_ends
                .remove(e)
                .unwrap_or_else(|| panic!("no socket {} -> {} in the dump", e.0, e.1))
        })
        .collect()
}

/// Every socket of both tables that `wanted` accepts, with its target.
fn matching(mut wanted: impl FnMut(&Connection) -> bool) -> Vec<(Connection, Target)> {
    let mut diag = sockdiag::Client::new().unwrap();
    let mut found = Vec::new();
    for family in [sockdiag::Family::Inet, sockdiag::Family::Inet6] {
        let request = sockdiag::DumpRequest::tcp(family, sockdiag::ALL_TCP_STATES);
        for record in diag.dump(&request).unwrap() {
            let record = record.unwrap();
            let Some(conn) = Connection::from_diag(&record) else {
                continue;
            };
            if wanted(&conn) {
                let target = Target {
                    family: record.family,
                    id: record.id,
                    inode: record.inode,
                    state: record.state,
                };
                found.push((conn, target));
            }
        }
    }
    found
}

/// Run `work` on a new thread that first became user `uid` with no
/// capability ([`drop_privileges_of_this_thread`]); the caller's thread
/// keeps its own.
pub(crate) fn as_user<T: Send>(uid: u32, work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            drop_privileges_of_this_thread(uid);
            work()
        })
        .join()
        .unwrap()
    })
}

/// Make the calling thread (only it: raw system calls, not glibc's
/// process-wide wrappers) user and group `uid`, with no supplementary
/// groups; leaving root's uids drops every capability.
pub(crate) fn drop_privileges_of_this_thread(uid: u32) {
    // SAFETY: plain system calls on this thread's credentials.
    unsafe {
        assert_eq!(
            libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()),
            0
        );
        assert_eq!(libc::syscall(libc::SYS_setresgid, uid, uid, uid), 0);
        assert_eq!(libc::syscall(libc::SYS_setresuid, uid, uid, uid), 0);
    }
    let caps = rustix::thread::capabilities(None).unwrap();
    assert!(
        caps.effective.is_empty() && caps.permitted.is_empty(),
        "{caps:?}"
    );
}
