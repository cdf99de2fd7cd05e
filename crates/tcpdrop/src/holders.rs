//! Which descriptors hold a socket: socket inodes mapped to the
//! `(pid, fd)` pairs that refer to them, read from `/proc/PID/fd`
//! ([`proc_pid_fd(5)`]).
//!
//! [`procs`](crate::procs) answers "which processes own this socket" for
//! listings; aborting through a holder's descriptor (`pidfd_getfd(2)`) needs
//! the descriptor number as well. Like `procs`, one scan reads every
//! process's descriptors once, keeping only the inodes asked for, so finding
//! the holders of 100,000 sockets costs one `readlink` per open descriptor on
//! the system, not one walk of `/proc` per socket.
//!
//! The scan also counts the processes whose descriptors it was refused
//! (`EACCES`), and by which check ([`ProcRefusals`]): another user's
//! `/proc/PID/fd`, or a non-dumpable process's, is opened only with
//! `CAP_DAC_READ_SEARCH` and its links read only with `CAP_SYS_PTRACE`
//! (`ptrace_may_access` with `PTRACE_MODE_READ_FSCREDS`), so a socket with
//! no holder found may still have one the caller cannot see.
//!
//! [`proc_pid_fd(5)`]: https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::privilege::ProcRefusals;
#[cfg(test)]
use crate::procs::walk::socket_inode;
use crate::procs::{walk, InodeHasher, InodeSet};

/// One descriptor on a socket: process `pid`'s descriptor number `fd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Holder {
    /// The process (thread group id).
    pub pid: u32,
    /// Its descriptor number.
    pub fd: u32,
}

/// The holders of the asked-for sockets: the result of one scan of
/// `/proc/*/fd`.
///
/// Most sockets have one descriptor in one process; the first found is kept
/// inline, the rest (a descriptor inherited across `fork`, or `dup`ed) in a
/// side table.
#[derive(Debug, Default)]
pub(crate) struct Holders {
    first: HashMap<u32, Holder, BuildHasherDefault<InodeHasher>>,
    more: HashMap<u32, Vec<Holder>, BuildHasherDefault<InodeHasher>>,
    /// Processes whose descriptors the caller may not read.
    refused: ProcRefusals,
}

impl Holders {
    /// Find every descriptor on the sockets in `inodes`, reading
    /// `/proc/*/fd` once ([`walk::sockets`], the walk
    /// [`SocketOwners::scan`](crate::procs::SocketOwners::scan) makes too).
    ///
    /// Inode 0 (TIME-WAIT and request sockets) is never held; with no other
    /// inode asked for, nothing is read. Processes that exit during the scan
    /// are skipped; those the caller may not read are counted
    /// ([`Holders::refused`]).
    pub(crate) fn scan(inodes: &InodeSet) -> Holders {
        let mut holders = Holders::default();
        holders.refused = walk::sockets(inodes, |found| {
            if let Some(fd) = found.fd() {
                holders.add(found.inode, Holder { pid: found.pid, fd });
            }
        });
        holders
    }

    fn add(&mut self, inode: u32, holder: Holder) {
        use std::collections::hash_map::Entry;
        match self.first.entry(inode) {
            Entry::Vacant(slot) => {
                slot.insert(holder);
            }
            Entry::Occupied(_) => self.more.entry(inode).or_default().push(holder),
        }
    }

    /// Every descriptor found on socket `inode`, the first found first.
    pub(crate) fn of(&self, inode: u32) -> impl Iterator<Item = Holder> + '_ {
        self.first
            .get(&inode)
            .copied()
            .into_iter()
            .chain(self.more.get(&inode).into_iter().flatten().copied())
    }

    /// The processes whose descriptors the caller was refused: when a
    /// socket has no holder found and some were, it may have one the caller
    /// cannot see.
    pub(crate) fn refused(&self) -> ProcRefusals {
        self.refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;

    fn inode_of(fd: &impl AsRawFd) -> u32 {
        std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap()
            .ino() as u32
    }

    #[test]
    fn link_texts_name_socket_inodes_only() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"socket:[99999999999]"), None);
    }

    #[test]
    fn every_descriptor_on_a_socket_is_found_with_its_number() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dup = listener.try_clone().unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = inode_of(&listener);
        let holders = Holders::scan(&InodeSet::from_iter([inode, 0]));
        let me = std::process::id();
        let mut mine: Vec<Holder> = holders.of(inode).filter(|h| h.pid == me).collect();
        mine.sort();
        let mut want = vec![
            Holder {
                pid: me,
                fd: listener.as_raw_fd() as u32,
            },
            Holder {
                pid: me,
                fd: dup.as_raw_fd() as u32,
            },
        ];
        want.sort();
        assert_eq!(mine, want);
        assert_eq!(holders.of(inode_of(&other)).count(), 0, "not asked for");
        assert_eq!(holders.of(0).count(), 0);
    }
}
