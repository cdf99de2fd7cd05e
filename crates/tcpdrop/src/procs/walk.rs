//! One walk of `/proc/*/fd` ([`proc_pid_fd(5)`]): every descriptor of every
//! process that refers to one of the asked-for sockets.
//!
//! Both questions asked of `/proc` — which processes own a socket
//! ([`SocketOwners`](super::SocketOwners), for listings) and which
//! `(pid, fd)` pairs hold it (`Holders`, for the owner abort method) — are
//! answered by this one walk; they differ only in what they keep of each
//! descriptor found.
//!
//! [`proc_pid_fd(5)`]: https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;

use rustix::fs::{openat, readlinkat_raw, Dir, Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::privilege::ProcRefusals;

/// How the walk opens a directory.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// Where the kernel shows processes.
pub(crate) const PROC: &str = "/proc";

/// One descriptor on an asked-for socket.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Found {
    /// The process (thread group id) that holds it.
    pub pid: u32,
    /// The socket's inode (never 0).
    pub inode: u32,
    /// The descriptor's number (`None` if its entry in `/proc/PID/fd` was
    /// not a number).
    fd: Option<u32>,
}

impl Found {
    /// The descriptor's number.
    pub(crate) fn fd(&self) -> Option<u32> {
        self.fd
    }
}

/// The walk is split over this many threads at most, a share of the
/// processes each: reading a link costs a few microseconds of kernel time,
/// and a drop by owner of 100,000 sockets reads 200,000 of them.
const MAX_PARTS: usize = 4;
/// ... and only for at least this many processes a thread.
const MIN_PROCESSES_A_PART: usize = 8;

/// Walk `/proc/*/fd` once ([`openat(2)`], [`readlinkat(2)`],
/// `getdents64`), calling `found` for every descriptor that refers to a
/// socket in `inodes`, a process's descriptors one after another.
/// Returns the processes whose descriptors could not be read (`EACCES`,
/// `EPERM`), by the check that refused them ([`ProcRefusals`]): another
/// user's `/proc/PID/fd` is opened with `CAP_DAC_READ_SEARCH` and its
/// links read with `CAP_SYS_PTRACE`, so a socket with nothing found may
/// still be held where the caller cannot see.
///
/// The processes are shared out among threads (one per CPU, up to
/// [`MAX_PARTS`]); `found` is called afterwards, on the caller's thread.
/// Inode 0 (TIME-WAIT and request sockets) is never held; with no other
/// inode asked for, nothing is read. Processes that exit during the walk
/// are skipped.
///
/// [`openat(2)`]: https://man7.org/linux/man-pages/man2/openat.2.html
/// [`readlinkat(2)`]: https://man7.org/linux/man-pages/man2/readlinkat.2.html
pub(crate) fn sockets<S: BuildHasher + Sync>(
    inodes: &HashSet<u32, S>,
    mut found: impl FnMut(Found),
) -> ProcRefusals {
    let mut unreadable = ProcRefusals::default();
    if inodes.iter().all(|&inode| inode == 0) {
        return unreadable;
    }
    // Everything is opened relative to directory descriptors
    // (openat/readlinkat): no path is built or resolved from the root per
    // descriptor, and a link is read into a stack buffer. The cost is one
    // readlinkat per open descriptor on the system, with a hash lookup each.
    let Ok(proc) = openat(CWD, PROC, DIR_FLAGS, Mode::empty()) else {
        return unreadable;
    };
    let Ok(processes) = Dir::read_from(&proc) else {
        return unreadable;
    };
    let pids: Vec<u32> = processes
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().ok()?.parse().ok())
        .collect();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cpus
        .min(MAX_PARTS)
        .min(pids.len() / MIN_PROCESSES_A_PART)
        .max(1);
    let walked: Vec<(Vec<Found>, ProcRefusals)> = if parts == 1 {
        vec![walk(&proc, pids.iter().copied(), inodes)]
    } else {
        std::thread::scope(|scope| {
            let (proc, pids) = (&proc, &pids);
            let threads: Vec<_> = (0..parts)
                .map(|part| {
                    // Every parts-th process: the big holders are spread.
                    let share = pids.iter().copied().skip(part).step_by(parts);
                    scope.spawn(move || walk(proc, share, inodes))
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| thread.join().unwrap_or_default())
                .collect()
        })
    };
    for (founds, refused) in walked {
        unreadable.extend(refused);
        founds.into_iter().for_each(&mut found);
    }
    unreadable
}

/// The descriptors of the processes `pids` on a socket in `inodes`, and
/// the processes refused ([`sockets`]).
fn walk<S: BuildHasher>(
    proc: &OwnedFd,
    pids: impl Iterator<Item = u32>,
    inodes: &HashSet<u32, S>,
) -> (Vec<Found>, ProcRefusals) {
    let mut founds = Vec::new();
    let mut unreadable = ProcRefusals::default();
    let mut link = [MaybeUninit::<u8>::uninit(); 64];
    for pid in pids {
        let fds = openat(proc, format!("{pid}/fd"), DIR_FLAGS, Mode::empty())
            .and_then(|fd_dir| Ok((Dir::read_from(&fd_dir)?, fd_dir)));
        let (fds, fd_dir) = match fds {
            Ok(fds) => fds,
            // Another user's process, or one that is not dumpable: its
            // sockets' holders cannot be told (proc_pid_fd(5)).
            Err(Errno::ACCESS | Errno::PERM) => {
                unreadable.add(pid, true);
                continue;
            }
            // ENOENT: it exited during the walk (or is a kernel thread).
            Err(_) => continue,
        };
        // Some of its descriptors could not be read (counted once).
        let mut lost = false;
        for fd in fds.flatten() {
            let name = fd.file_name();
            if name.to_bytes().first() == Some(&b'.') {
                continue; // "." and ".."
            }
            let text = match readlinkat_raw(&fd_dir, name, &mut link) {
                Ok((text, _)) => text,
                // The directory could be opened but its links not read: a
                // process that changed credentials or turned non-dumpable
                // during the walk.
                Err(Errno::ACCESS | Errno::PERM) => {
                    if !lost {
                        lost = true;
                        unreadable.add(pid, false);
                    }
                    continue;
                }
                Err(_) => continue,
            };
            let Some(inode) = socket_inode(text) else {
                continue;
            };
            if inode != 0 && inodes.contains(&inode) {
                let fd = std::str::from_utf8(name.to_bytes())
                    .ok()
                    .and_then(|n| n.parse().ok());
                founds.push(Found { pid, inode, fd });
            }
        }
    }
    (founds, unreadable)
}

/// The inode in a descriptor's link text `socket:[INODE]`.
pub(crate) fn socket_inode(link: &(impl AsRef<[u8]> + ?Sized)) -> Option<u32> {
    std::str::from_utf8(
        link.as_ref()
            .strip_prefix(b"socket:[")?
            .strip_suffix(b"]")?,
    )
    .ok()?
    .parse()
    .ok()
}
