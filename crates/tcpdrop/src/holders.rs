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
//! (`EACCES`): reading another user's `/proc/PID/fd`, or a non-dumpable
//! process's, needs `CAP_SYS_PTRACE` (`ptrace_may_access` with
//! `PTRACE_MODE_READ_FSCREDS`), so a socket with no holder found may still
//! have one the caller cannot see.
//!
//! [`proc_pid_fd(5)`]: https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::mem::MaybeUninit;

use rustix::fs::{openat, readlinkat_raw, Dir, Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::procs::{InodeHasher, InodeSet};

/// How the scan opens a directory.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// Where the kernel shows processes.
const PROC: &str = "/proc";

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
    refused: usize,
}

impl Holders {
    /// Find every descriptor on the sockets in `inodes`, reading
    /// `/proc/*/fd` once ([`openat(2)`], [`readlinkat(2)`], `getdents64`).
    ///
    /// Inode 0 (TIME-WAIT and request sockets) is never held; with no other
    /// inode asked for, nothing is read. Processes that exit during the scan
    /// are skipped; those the caller may not read are counted
    /// ([`Holders::refused`]).
    ///
    /// [`openat(2)`]: https://man7.org/linux/man-pages/man2/openat.2.html
    /// [`readlinkat(2)`]: https://man7.org/linux/man-pages/man2/readlinkat.2.html
    pub(crate) fn scan(inodes: &InodeSet) -> Holders {
        let mut holders = Holders::default();
        if inodes.iter().all(|&inode| inode == 0) {
            return holders;
        }
        let Ok(proc) = openat(CWD, PROC, DIR_FLAGS, Mode::empty()) else {
            return holders;
        };
        let Ok(processes) = Dir::read_from(&proc) else {
            return holders;
        };
        let mut link = [MaybeUninit::<u8>::uninit(); 64];
        for entry in processes.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .ok()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let fd_dir = match openat(&proc, format!("{pid}/fd"), DIR_FLAGS, Mode::empty()) {
                Ok(dir) => dir,
                Err(Errno::ACCESS | Errno::PERM) => {
                    holders.refused = holders.refused.saturating_add(1);
                    continue;
                }
                Err(_) => continue, // exited, or a kernel thread
            };
            let Ok(fds) = Dir::read_from(&fd_dir) else {
                continue;
            };
            let mut counted = false;
            for fd in fds.flatten() {
                let name = fd.file_name();
                let Some(number) = std::str::from_utf8(name.to_bytes())
                    .ok()
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue; // "." and ".."
                };
                let text = match readlinkat_raw(&fd_dir, name, &mut link) {
                    Ok((text, _)) => text,
                    // The directory could be opened but its links not read:
                    // a process that turned non-dumpable, or a descriptor
                    // table the caller may list but not follow.
                    Err(Errno::ACCESS | Errno::PERM) => {
                        if !counted {
                            holders.refused = holders.refused.saturating_add(1);
                            counted = true;
                        }
                        continue;
                    }
                    Err(_) => continue,
                };
                let Some(inode) = socket_inode(text) else {
                    continue;
                };
                if inode != 0 && inodes.contains(&inode) {
                    holders.add(inode, Holder { pid, fd: number });
                }
            }
        }
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

    /// How many processes' descriptors the caller was refused: when a socket
    /// has no holder found and this is not 0, it may have one the caller
    /// cannot see (`CAP_SYS_PTRACE` would).
    pub(crate) fn refused(&self) -> usize {
        self.refused
    }
}

/// The inode in a descriptor's link text `socket:[INODE]`.
fn socket_inode(link: &[u8]) -> Option<u32> {
    std::str::from_utf8(link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
        .ok()?
        .parse()
        .ok()
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
