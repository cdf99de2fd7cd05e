//! Network namespaces: a handle on one, and running code inside it.
//!
//! `setns(2)` moves only the calling thread, and a netlink socket belongs to
//! the namespace it was created in (SPEC §3). So work for another namespace
//! runs on a short-lived thread that entered it; a socket made there keeps
//! working from any thread.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

use crate::error::Error;
use crate::privilege::ProcRefusals;

/// Where `ip netns add NAME` puts its namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// An open network namespace (a file descriptor on an nsfs file).
#[derive(Debug)]
pub struct Netns {
    file: File,
    path: PathBuf,
    name: String,
    id: NetnsId,
}

/// Which network namespace a file stands for: the device and inode number
/// of its nsfs file ([`namespaces(7)`]). Two files are the same namespace
/// exactly when their ids are equal. An id is not reused while a
/// [`Netns`] holds its namespace open.
///
/// [`namespaces(7)`]: https://man7.org/linux/man-pages/man7/namespaces.7.html
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetnsId {
    dev: u64,
    ino: u64,
}

impl NetnsId {
    fn of(meta: &std::fs::Metadata) -> NetnsId {
        NetnsId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The inode number, as `ls -iL /proc/PID/ns/net` and `lsns` show it.
    pub fn inode(&self) -> u64 {
        self.ino
    }
}

impl Netns {
    /// Open a namespace by name (`/run/netns/NAME`, as `ip netns` names
    /// them) or by path (any nsfs file, such as `/proc/PID/ns/net`).
    ///
    /// A bare name is looked up under [`NETNS_RUN_DIR`]; anything with a
    /// `/` is a path. The file is checked to be a network namespace.
    pub fn open(name_or_path: &str) -> Result<Netns, Error> {
        let path = if name_or_path.contains('/') {
            PathBuf::from(name_or_path)
        } else {
            Path::new(NETNS_RUN_DIR).join(name_or_path)
        };
        let shown = name_or_path.to_string();
        if name_or_path.is_empty() || name_or_path == "." || name_or_path == ".." {
            return Err(Error::Namespace {
                path: shown,
                reason: "not a namespace name: give a name from `ip netns list` or a path such as /proc/PID/ns/net".into(),
            });
        }
        let file = File::open(&path).map_err(|err| {
            let reason = match err.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "{} does not exist: give a name from `ip netns list` or a path such as /proc/PID/ns/net",
                    path.display()
                ),
                std::io::ErrorKind::PermissionDenied => {
                    return Error::NamespaceDenied {
                        path: shown.clone(),
                        reason: format!("cannot open {}: permission denied", path.display()),
                    };
                }
                _ => format!("cannot open {}: {err}", path.display()),
            };
            Error::Namespace {
                path: shown.clone(),
                reason,
            }
        })?;
        let id = file
            .metadata()
            .map(|meta| NetnsId::of(&meta))
            .map_err(|err| Error::Namespace {
                path: shown.clone(),
                reason: format!("cannot stat {}: {err}", path.display()),
            })?;
        let netns = Netns {
            file,
            path,
            name: shown,
            id,
        };
        netns.check()?;
        Ok(netns)
    }

    /// The network namespace the calling thread is in now
    /// (`/proc/thread-self/ns/net`), held open: what a [`Session`] made
    /// here stays bound to, wherever its later calls come from.
    ///
    /// [`Session`]: crate::Session
    pub fn current() -> Result<Netns, Error> {
        const HERE: &str = "/proc/thread-self/ns/net";
        let unreadable = |err: std::io::Error| Error::Namespace {
            path: HERE.into(),
            reason: format!("cannot open it ({err}): is /proc mounted?"),
        };
        let file = File::open(HERE).map_err(unreadable)?;
        let id = NetnsId::of(&file.metadata().map_err(unreadable)?);
        Ok(Netns {
            file,
            path: PathBuf::from(HERE),
            name: HERE.into(),
            id,
        })
    }

    /// Another handle on the same namespace (the descriptor duplicated).
    pub fn try_clone(&self) -> Result<Netns, Error> {
        Ok(Netns {
            file: self.file.try_clone()?,
            path: self.path.clone(),
            name: self.name.clone(),
            id: self.id,
        })
    }

    /// Whether the calling thread is in this namespace: the same nsfs
    /// inode as `/proc/thread-self/ns/net`.
    pub fn is_current(&self) -> bool {
        std::fs::metadata("/proc/thread-self/ns/net")
            .is_ok_and(|here| NetnsId::of(&here) == self.id)
    }

    /// Which namespace this is: equal ids, the same namespace.
    pub fn id(&self) -> NetnsId {
        self.id
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it was opened as: the name or path given to [`Netns::open`]
    /// (for [`Netns::all`], the name under [`NETNS_RUN_DIR`] or
    /// `/proc/PID/ns/net`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every network namespace that can be found, each once: those named
    /// under [`NETNS_RUN_DIR`] (by name, sorted), then those held by
    /// processes (as `/proc/PID/ns/net`, the lowest pid's), the caller's own
    /// included; and those that could not be entered or seen, for lack of
    /// privilege ([`AllNetns`]).
    ///
    /// Two paths are the same namespace when they are the same nsfs inode
    /// (device and inode number, [`nsfs`]). A namespace whose process exits
    /// during the search, or a file that is not a namespace (a stale entry
    /// `ip netns` left), is skipped. Namespaces that nothing names and no
    /// process holds (kept alive only by a bind mount elsewhere or an open
    /// descriptor) cannot be found this way.
    ///
    /// The caller's own namespace is always among those entered: a thread
    /// already in a namespace needs no `setns` ([`Netns::run`]). Any other
    /// needs `CAP_SYS_ADMIN` over it; and which namespace another user's
    /// process is in can be told only with `CAP_SYS_PTRACE`
    /// (`/proc/PID/ns/net`, [`proc_pid_ns(5)`]).
    ///
    /// This is the first scan of a [`NetnsFollower`], which can look again
    /// and say what changed.
    ///
    /// [`nsfs`]: https://man7.org/linux/man-pages/man7/namespaces.7.html
    /// [`proc_pid_ns(5)`]: https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html
    pub fn all() -> AllNetns {
        let found = NetnsFollower::new().scan();
        AllNetns {
            entered: found.joined,
            denied: found.denied,
            hidden: found.hidden,
        }
    }

    /// Fail unless the file is a network namespace, by entering it on a
    /// throwaway thread (`setns` refuses any other file with `EINVAL`).
    fn check(&self) -> Result<(), Error> {
        self.run(|| ())
    }

    /// Run `work` inside this namespace and return its result: on the
    /// calling thread when it is in this namespace already (no privilege
    /// needed), else on a new thread that entered it (`setns(2)`,
    /// `CAP_SYS_ADMIN`). The calling thread's namespace does not change.
    /// Sockets `work` opens belong to this namespace, whichever thread
    /// uses them later.
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, Error> {
        if self.is_current() {
            return Ok(work());
        }
        let fd = self.file.as_fd();
        let path = self.path.display().to_string();
        let shown = path.clone();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    move_into_link_name_space(fd, Some(LinkNameSpaceType::Network)).map_err(|errno| match errno {
                        Errno::INVAL => Error::Namespace {
                            path: path.clone(),
                            reason: "not a network namespace (an nsfs file such as /proc/PID/ns/net or /run/netns/NAME is needed)".to_string(),
                        },
                        Errno::PERM => Error::NamespaceDenied {
                            path: path.clone(),
                            reason: "entering a network namespace needs CAP_SYS_ADMIN".to_string(),
                        },
                        other => Error::Namespace {
                            path: path.clone(),
                            reason: format!("setns failed: {}", std::io::Error::from(other)),
                        },
                    })?;
                    Ok(work())
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(Error::Namespace { path: shown, reason: "the namespace thread panicked".into() })
                })
        })
    }
}

/// Every network namespace, followed as namespaces come and go.
///
/// Each [`NetnsFollower::scan`] looks again as [`Netns::all`] does (the
/// names under [`NETNS_RUN_DIR`], then `/proc/PID/ns/net`, each namespace
/// once by [`NetnsId`]) and says what changed since the last: the
/// namespaces found for the first time (entered, as [`Netns`]), those no
/// longer found (nothing names them and no process holds them), and those
/// found now by another name. `tcpdrop --watch --all-netns` scans once a
/// round, so the namespace of a container started after it is watched
/// from the next round on.
///
/// A namespace already known is not entered again: a scan costs a listing
/// of [`NETNS_RUN_DIR`] and `/proc`, one `stat(2)` per candidate, and one
/// `setns(2)` on a short-lived thread per new namespace. One that could
/// not be entered for lack of privilege is not tried again either; each
/// scan names it among the [`NetnsScan::denied`].
#[derive(Debug, Default)]
pub struct NetnsFollower {
    /// What the last scan found, by namespace.
    known: HashMap<NetnsId, Known>,
}

/// A namespace the last scan found.
#[derive(Debug)]
struct Known {
    /// The name or path it was found by.
    label: String,
    /// Why it could not be entered ([`Error::NamespaceDenied`]), if so.
    denied: Option<Error>,
}

/// What changed since a [`NetnsFollower`]'s last scan.
#[derive(Debug, Default)]
pub struct NetnsScan {
    /// The namespaces found for the first time, entered, in the order of
    /// [`Netns::all`]; on the first scan the caller's own is one of them.
    pub joined: Vec<Netns>,
    /// The namespaces found before and not now: nothing names them under
    /// [`NETNS_RUN_DIR`] and no process holds them any more (`ip netns
    /// delete`, a container's last process gone). A caller drops what it
    /// holds of them, so that the kernel can free them.
    pub left: Vec<NetnsId>,
    /// The namespaces still here that are found now by another name or
    /// path (the process that named them exited and another holds them;
    /// a name was added or deleted), with that name.
    pub relabelled: Vec<(NetnsId, String)>,
    /// Every namespace found that could not be entered for lack of
    /// privilege, new or not, each once: [`Error::NamespaceDenied`].
    pub denied: Vec<Error>,
    /// The processes whose namespace could not be told at all, this scan
    /// ([`AllNetns::hidden`]).
    pub hidden: ProcRefusals,
}

impl NetnsFollower {
    /// A follower that knows no namespace yet: its first scan finds them
    /// all.
    pub fn new() -> NetnsFollower {
        NetnsFollower::default()
    }

    /// How many namespaces the last scan found and entered.
    pub fn entered(&self) -> usize {
        self.known.values().filter(|k| k.denied.is_none()).count()
    }

    /// Look again: what joined, what left, what is named otherwise now.
    pub fn scan(&mut self) -> NetnsScan {
        let mut scan = NetnsScan::default();
        let mut before = std::mem::take(&mut self.known);
        for candidate in candidates() {
            let path = if candidate.contains('/') {
                PathBuf::from(&candidate)
            } else {
                Path::new(NETNS_RUN_DIR).join(&candidate)
            };
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                // Another user's process (ptrace_may_access refused).
                Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                    let pid = candidate
                        .strip_prefix("/proc/")
                        .and_then(|rest| rest.split('/').next())
                        .and_then(|pid| pid.parse().ok());
                    if let Some(pid) = pid {
                        scan.hidden.add(pid, false);
                    }
                    continue;
                }
                // Gone since the listing (a process exited, a name was
                // deleted), or not a file at all.
                Err(_) => continue,
            };
            let id = NetnsId::of(&meta);
            if self.known.contains_key(&id) {
                continue;
            }
            if let Some(mut known) = before.remove(&id) {
                if known.label != candidate {
                    scan.relabelled.push((id, candidate.clone()));
                    known.label = candidate;
                }
                self.known.insert(id, known);
                continue;
            }
            // Counted only once open: a process that exits now must not
            // hide the namespace from the next process holding it.
            match Netns::open(&candidate) {
                // The namespace opened is the one to count: a pid reused
                // since the stat above may stand for another.
                Ok(netns) if netns.id() != id => continue,
                Ok(netns) => {
                    self.known.insert(
                        id,
                        Known {
                            label: candidate,
                            denied: None,
                        },
                    );
                    scan.joined.push(netns);
                }
                Err(denied @ Error::NamespaceDenied { .. }) => {
                    self.known.insert(
                        id,
                        Known {
                            label: candidate,
                            denied: Some(denied),
                        },
                    );
                }
                Err(_) => {}
            }
        }
        scan.left = before.into_keys().collect();
        scan.left.sort_unstable();
        let mut denied: Vec<(&String, &Error)> = self
            .known
            .values()
            .filter_map(|k| Some((&k.label, k.denied.as_ref()?)))
            .collect();
        denied.sort_by_key(|(label, _)| *label);
        scan.denied = denied.into_iter().map(|(_, err)| err.again()).collect();
        scan
    }
}

/// Where network namespaces may be found: the names under
/// [`NETNS_RUN_DIR`] (sorted), then `/proc/PID/ns/net` of every process
/// (by pid).
fn candidates() -> Vec<String> {
    let mut candidates: Vec<String> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(NETNS_RUN_DIR) {
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        candidates.extend(names);
    }
    if let Ok(entries) = std::fs::read_dir("/proc") {
        let mut pids: Vec<u32> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        candidates.extend(pids.into_iter().map(|pid| format!("/proc/{pid}/ns/net")));
    }
    candidates
}

/// What [`Netns::all`] found.
#[derive(Debug, Default)]
pub struct AllNetns {
    /// The namespaces that could be entered, each once, in the order of
    /// [`Netns::all`]; the caller's own is always one of them.
    pub entered: Vec<Netns>,
    /// The namespaces found that could not be entered for lack of
    /// privilege, each once: [`Error::NamespaceDenied`], saying why.
    pub denied: Vec<Error>,
    /// The processes whose namespace could not be told at all (another
    /// user's `/proc/PID/ns/net`, without `CAP_SYS_PTRACE`, or a security
    /// module's refusal; [`ProcRefusals::reason`] says which): they may be
    /// in namespaces that are neither entered nor denied.
    pub hidden: ProcRefusals,
}
