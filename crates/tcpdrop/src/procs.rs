//! Which processes own a socket: socket inodes mapped to the processes that
//! hold a descriptor on them, read from `/proc/PID/fd`.
//!
//! A sock_diag dump names each socket's inode ([`Connection::inode`]), not
//! its owner. The owner is found the way `ss -p` and `lsof` find it: every
//! `/proc/PID/fd/N` is a symbolic link, and a socket's reads `socket:[INODE]`
//! ([`proc_pid_fd(5)`]). [`SocketOwners::scan`] reads them once, keeping only
//! the inodes asked for, so the cost is one `readlink` per open descriptor on
//! the system, with a hash lookup each.
//!
//! ```no_run
//! use std::collections::HashSet;
//! use std::ops::ControlFlow;
//! use tcpdrop::procs::SocketOwners;
//! use tcpdrop::{ListOptions, Query, Selection, Session};
//! # fn main() -> Result<(), tcpdrop::Error> {
//! let mut conns = Vec::new();
//! let every = Selection::all(Query::all()).listeners(true);
//! Session::new()?.list(every, ListOptions::default(), |conn, _| {
//!     conns.push(conn);
//!     ControlFlow::Continue(())
//! })?;
//! let inodes: HashSet<u32> = conns.iter().map(|c| c.inode).collect();
//! let owners = SocketOwners::scan(&inodes);
//! for conn in &conns {
//!     for owner in owners.owners(conn.inode) {
//!         let command = String::from_utf8_lossy(&owner.command);
//!         println!("{} {} pid={} {command}", conn.local, conn.remote, owner.pid);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! What the scan can see: `/proc/PID/fd` of another user's process (or of
//! one that is not dumpable) is opened only with `CAP_DAC_READ_SEARCH` and
//! its links read only with `CAP_SYS_PTRACE`, as root has both; a service
//! account with only `CAP_NET_ADMIN`, a normal user, or a copy of the
//! program with `cap_sys_ptrace` alone reads its own processes' descriptors
//! only. The scan counts the processes it could not read
//! ([`SocketOwners::unreadable`], and why: [`SocketOwners::refusals`]): a
//! socket with an inode but no owner found may then belong to one of them
//! ([`SocketOwners::is_unknown`]). TIME-WAIT and SYN-RECEIVED request
//! sockets have inode 0 and never have an owner. Inode numbers are global,
//! so the scan works for sockets of any network namespace.
//!
//! [`Connection::inode`]: crate::Connection::inode
//! [`proc_pid_fd(5)`]: https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

pub(crate) mod walk;

pub use crate::privilege::ProcRefusals;

#[cfg(test)]
use walk::socket_inode;
use walk::PROC;

/// One process holding a descriptor on a socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    /// Its process id (thread group id).
    pub pid: u32,
    /// Its command name, from `/proc/PID/comm` (at most 15 bytes, as the
    /// kernel truncates it); empty if the process exited during the scan.
    /// Bytes, as the kernel keeps them: a process may name itself anything
    /// (`prctl(PR_SET_NAME)`), invalid UTF-8 and control characters included.
    pub command: Vec<u8>,
}

/// A hasher for inode numbers: one multiplication (Fibonacci hashing).
/// Inodes are not chosen by an adversary who could make them collide, and
/// a scan looks one up per open descriptor on the system, where SipHash
/// cost more than the lookups themselves.
#[derive(Clone, Copy, Debug, Default)]
pub struct InodeHasher(u64);

impl Hasher for InodeHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A set of socket inodes to ask [`SocketOwners::scan`] about, hashed
/// with [`InodeHasher`].
pub type InodeSet = HashSet<u32, BuildHasherDefault<InodeHasher>>;

type InodeMap<V> = HashMap<u32, V, BuildHasherDefault<InodeHasher>>;

/// In [`SocketOwners::by_inode`]: the socket has several owners, kept in
/// [`SocketOwners::shared`].
const SHARED: u32 = u32::MAX;

/// Socket inodes and the processes that own them: the result of one scan
/// of `/proc/*/fd`.
///
/// A socket can have several owners (a descriptor inherited across `fork`,
/// or passed over a Unix socket); they are kept in ascending pid order.
#[derive(Clone, Debug, Default)]
pub struct SocketOwners {
    /// Each process found owning an asked-for socket, once.
    processes: Vec<Owner>,
    /// The owner of each socket, as an index into `processes`, or
    /// [`SHARED`] for a socket with several.
    by_inode: InodeMap<u32>,
    /// The owners of the sockets that have several, in ascending pid order.
    shared: InodeMap<Vec<Owner>>,
    /// Processes whose descriptors could not be read (EACCES, EPERM).
    unreadable: ProcRefusals,
}

impl SocketOwners {
    /// Find the owners of the sockets in `inodes`, reading `/proc/*/fd` once.
    ///
    /// Inode 0 (TIME-WAIT and request sockets) is ignored; with no other
    /// inode asked for, nothing is read. Processes that exit during the scan
    /// and directories the caller may not read are skipped. An
    /// [`InodeSet`] is the quickest to look up.
    pub fn scan<S: BuildHasher + Sync>(inodes: &HashSet<u32, S>) -> SocketOwners {
        let mut owners = SocketOwners::default();
        // The process being read, and its index once it is found to own an
        // asked-for socket: the walk reads a process's descriptors one
        // after another.
        let mut me: Option<(u32, u32)> = None;
        owners.unreadable = walk::sockets(inodes, |found| {
            let index = match me {
                Some((pid, index)) if pid == found.pid => index,
                _ => {
                    let index = owners.add_process(found.pid);
                    me = Some((found.pid, index));
                    index
                }
            };
            owners.add(found.inode, index);
        });
        for list in owners.shared.values_mut() {
            list.sort();
        }
        owners
    }

    /// Remember process `pid` (its command read now), returning its index.
    fn add_process(&mut self, pid: u32) -> u32 {
        let mut command = fs::read(format!("{PROC}/{pid}/comm")).unwrap_or_default();
        // The kernel ends the name with a newline, which is not part of it.
        if command.last() == Some(&b'\n') {
            command.pop();
        }
        self.push_process(Owner { pid, command })
    }

    fn push_process(&mut self, owner: Owner) -> u32 {
        self.processes.push(owner);
        u32::try_from(self.processes.len().saturating_sub(1)).unwrap_or(SHARED)
    }

    /// Record that the process at `index` owns socket `inode` (once, however
    /// many of its descriptors hold it).
    fn add(&mut self, inode: u32, index: u32) {
        let Some(owner) = self.processes.get(index as usize) else {
            return;
        };
        match self.by_inode.entry(inode) {
            Entry::Vacant(slot) => {
                slot.insert(index);
            }
            Entry::Occupied(mut slot) => {
                let first = *slot.get();
                if first == index {
                    return;
                }
                let list = self.shared.entry(inode).or_default();
                if first != SHARED {
                    list.extend(self.processes.get(first as usize).cloned());
                    slot.insert(SHARED);
                }
                if !list.contains(owner) {
                    list.push(owner.clone());
                }
            }
        }
    }

    /// The owners of the socket with this inode, in ascending pid order;
    /// empty if none was found.
    pub fn owners(&self, inode: u32) -> &[Owner] {
        match self.by_inode.get(&inode) {
            None => &[],
            Some(&SHARED) => self.shared.get(&inode).map(Vec::as_slice).unwrap_or(&[]),
            Some(&index) => self
                .processes
                .get(index as usize)
                .map(std::slice::from_ref)
                .unwrap_or(&[]),
        }
    }

    /// One owning pid, as Windows' `dwOwningPid` holds one: the lowest of
    /// the owners (usually the process that created the socket before
    /// forking), 0 if none was found.
    pub fn pid(&self, inode: u32) -> u32 {
        self.owners(inode).first().map_or(0, |o| o.pid)
    }

    /// Add the owners another scan found (of other sockets, or the same).
    pub fn extend(&mut self, other: SocketOwners) {
        if other.unreadable.count() > self.unreadable.count() {
            self.unreadable = other.unreadable;
        }
        for (inode, _) in other.by_inode.iter() {
            for owner in other.owners(*inode) {
                let index = match self.processes.iter().position(|p| p == owner) {
                    Some(i) => u32::try_from(i).unwrap_or(SHARED),
                    None => self.push_process(owner.clone()),
                };
                self.add(*inode, index);
            }
            if let Some(list) = self.shared.get_mut(inode) {
                list.sort();
            }
        }
    }

    /// How many of the asked-for sockets have at least one owner.
    pub fn len(&self) -> usize {
        self.by_inode.len()
    }

    /// Whether no asked-for socket has an owner.
    pub fn is_empty(&self) -> bool {
        self.by_inode.is_empty()
    }

    /// How many processes' descriptors the scan could not read: other
    /// users' (or non-dumpable) processes, without `CAP_DAC_READ_SEARCH`
    /// and `CAP_SYS_PTRACE`.
    pub fn unreadable(&self) -> usize {
        self.unreadable.count()
    }

    /// The processes the scan could not read, and why
    /// ([`ProcRefusals::reason`]).
    pub fn refusals(&self) -> ProcRefusals {
        self.unreadable
    }

    /// Whether the owner of the socket with this inode could not be told:
    /// it has an inode (some process holds it), no owner was found, and
    /// some process could not be read, so it may be that one's.
    pub fn is_unknown(&self, inode: u32) -> bool {
        inode != 0 && self.unreadable.count() > 0 && !self.by_inode.contains_key(&inode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn link_texts_name_socket_inodes_only() {
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("socket:[]"), None);
        assert_eq!(socket_inode("pipe:[12345]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(socket_inode("socket:[99999999999]"), None);
    }

    #[test]
    fn a_socket_held_by_several_processes_lists_each_once_by_pid() {
        let mut owners = SocketOwners::default();
        let owner = |pid: u32, command: &str| Owner {
            pid,
            command: command.into(),
        };
        let late = owners.push_process(owner(300, "worker"));
        let early = owners.push_process(owner(100, "nginx"));
        owners.add(7, late);
        owners.add(7, late); // a second descriptor of the same process
        assert_eq!(owners.owners(7), [owner(300, "worker")]);
        owners.add(7, early);
        owners.add(7, early);
        owners.add(8, early);
        for list in owners.shared.values_mut() {
            list.sort();
        }
        assert_eq!(
            owners.owners(7),
            [owner(100, "nginx"), owner(300, "worker")]
        );
        assert_eq!(owners.pid(7), 100);
        assert_eq!(owners.owners(8), [owner(100, "nginx")]);
        assert_eq!(owners.owners(9), []);
        assert_eq!(owners.len(), 2);

        let mut other = SocketOwners::default();
        let third = other.push_process(owner(200, "proxy"));
        other.add(7, third);
        other.add(9, third);
        owners.extend(other);
        assert_eq!(
            owners.owners(7),
            [
                owner(100, "nginx"),
                owner(200, "proxy"),
                owner(300, "worker")
            ]
        );
        assert_eq!(owners.owners(9), [owner(200, "proxy")]);
        assert_eq!(owners.len(), 3);
    }

    #[test]
    fn a_socket_of_this_process_is_owned_by_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        let inode = fs::metadata(format!("/proc/self/fd/{}", listener.as_raw_fd()))
            .unwrap()
            .ino() as u32;
        let owners = SocketOwners::scan(&HashSet::from([inode, 0]));
        let me = std::process::id();
        assert!(
            owners.owners(inode).iter().any(|o| o.pid == me),
            "{owners:?}"
        );
        assert_eq!(owners.pid(0), 0);
        let comm = fs::read_to_string("/proc/self/comm").unwrap();
        let mine = owners.owners(inode).iter().find(|o| o.pid == me).unwrap();
        assert_eq!(mine.command, comm.trim_end().as_bytes());
        // Found, so known, whatever other processes could not be read.
        assert!(!owners.is_unknown(inode));
        assert_eq!(owners.len(), 1);
    }
}
