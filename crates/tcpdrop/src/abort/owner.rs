//! Aborting a socket through its holder's own descriptor: no `SOCK_DESTROY`,
//! no `CAP_NET_ADMIN` (SPEC §5, "owner").
//!
//! For each socket some process holds: find the holder's descriptor
//! ([`Holders`], one scan of `/proc/*/fd` for all the targets), take a
//! duplicate of it with [`pidfd_getfd(2)`] (Linux 5.6+; the kernel allows it
//! when the caller may ptrace-attach the holder: the same uid and dumpable,
//! or `CAP_SYS_PTRACE`; Yama's `ptrace_scope` can forbid it), check that the
//! duplicate is the very socket the dump found (`SO_COOKIE` equals the
//! dumped cookie, the exactness `SOCK_DESTROY` by cookie has), and
//! `connect(fd, {AF_UNSPEC})` on it ([`connect(2)`]): the kernel's
//! `tcp_disconnect` sends an RST to the peer and the holder's next call
//! fails (`ECONNRESET` or `EPIPE`). The duplicate is closed straight after.
//! A lookup by cookie then confirms that the socket left the kernel's
//! tables before success is reported (for a socket bound to a device,
//! which another on its tuple can hide from that lookup, a dump: SPEC §5).
//! This is the one way that reaches a socket so hidden.
//!
//! One `pidfd` is opened per holding process and kept for the life of the
//! [`Owner`] (and one per worker thread, for a drop large enough to share
//! its disconnects among the CPUs), so dropping all of a server's 100,000
//! connections opens one or two.
//!
//! [`pidfd_getfd(2)`]: https://man7.org/linux/man-pages/man2/pidfd_getfd.2.html
//! [`connect(2)`]: https://man7.org/linux/man-pages/man2/connect.2.html

use std::collections::{HashMap, HashSet};
use std::os::fd::{OwnedFd, RawFd};

use rustix::io::Errno;
use rustix::process::{pidfd_getfd, pidfd_open, Pid, PidfdFlags, PidfdGetfdFlags};
use rustix::thread::CapabilitySet;
use sockdiag::TcpState;

use super::{shadow, Abort, Act, Target};
use crate::error::Error;
use crate::holders::Holders;
use crate::privilege::ProcRefusals;
use crate::procs::InodeSet;

/// What the capability is needed for, in [`Error::MissingCapability`].
const NEEDED_FOR: &str = "aborting a socket through its holder's descriptor (pidfd_getfd)";

/// What reading other processes' descriptors is needed for.
const FINDING: &str = "finding its holder among other users' processes (/proc/PID/fd)";

/// Why `pidfd_getfd` was refused (`PTRACE_MODE_ATTACH_REALCREDS`): the
/// caller lacks `CAP_SYS_PTRACE` for another user's (or a non-dumpable)
/// process, or Yama's `ptrace_scope`, which `CAP_SYS_PTRACE` passes; or it
/// has the capability and a security module forbids it all the same.
fn attach_refused() -> Error {
    if crate::privilege::effective(CapabilitySet::SYS_PTRACE) {
        Error::Forbidden(
            "the kernel refused pidfd_getfd on the holder although this process has \
             CAP_SYS_PTRACE: a security module (Landlock, SELinux, AppArmor or Yama) forbids it; \
             running as root does not change that"
                .into(),
        )
    } else {
        Error::MissingCapability {
            capability: "CAP_SYS_PTRACE",
            needed_for: NEEDED_FOR,
        }
    }
}

/// Why a socket some process holds had no holder found, when the scan was
/// refused some processes' descriptors: the capabilities the caller lacks
/// to read them (another user's `/proc/PID/fd` needs `CAP_DAC_READ_SEARCH`
/// to open and `CAP_SYS_PTRACE` to read), which hide every other user's
/// process. `None` when it lacks none: then only the few processes a
/// security module hides (a sandbox's own supervisor) were refused, and
/// they are not taken for the holder; the socket is held by none found.
fn holder_unreadable(refused: ProcRefusals) -> Option<Error> {
    refused
        .missing()
        .map(|capability| Error::MissingCapability {
            capability,
            needed_for: FINDING,
        })
}

/// The disconnects are shared out among threads (one per CPU, up to
/// this many), a contiguous share of the targets each: the kernel's work
/// for one (`tcp_disconnect`, the reset, the peer's processing of it, the
/// holder's wake-up) runs on the calling thread's CPU.
const MAX_THREADS: usize = 4;
/// ... and only with at least this many targets a thread.
const MIN_PER_THREAD: usize = 1024;

/// Aborting sockets through their holders' descriptors.
#[derive(Debug)]
pub(crate) struct Owner<'a> {
    /// For the lookups that confirm; in the targets' network namespace.
    diag: &'a mut sockdiag::Client,
    /// The holders' pidfds, for the caller's thread.
    pidfds: Pidfds,
}

/// One pidfd per holding process met so far (`None`: it had exited).
#[derive(Debug, Default)]
struct Pidfds(HashMap<u32, Option<OwnedFd>>);

/// Where one target stands between the disconnect and the confirmation.
enum Step {
    /// Settled.
    Done(Result<(), Error>),
    /// `connect(AF_UNSPEC)` ran on the very socket: confirm it is gone.
    Disconnected,
    /// No descriptor on it was found: gone (`NotFound`), or held by none.
    Unheld,
}

impl<'a> Owner<'a> {
    /// Abort through holders' descriptors, confirming with lookups on
    /// `diag`, a sock_diag socket of the targets' network namespace.
    pub(crate) fn new(diag: &'a mut sockdiag::Client) -> Owner<'a> {
        Owner {
            diag,
            pidfds: Pidfds::default(),
        }
    }
}

impl Pidfds {
    /// A pidfd for `pid`, opened once ([`pidfd_open(2)`]); `fresh` reopens
    /// it (the process the cached one named may have exited and its pid
    /// been reused).
    ///
    /// [`pidfd_open(2)`]: https://man7.org/linux/man-pages/man2/pidfd_open.2.html
    fn pidfd(&mut self, pid: u32, fresh: bool) -> Option<&OwnedFd> {
        if fresh {
            self.0.remove(&pid);
        }
        self.0
            .entry(pid)
            .or_insert_with(|| {
                let pid = Pid::from_raw(i32::try_from(pid).ok()?)?;
                pidfd_open(pid, PidfdFlags::empty()).ok()
            })
            .as_ref()
    }

    /// A duplicate of process `pid`'s descriptor `fd` ([`pidfd_getfd(2)`]).
    ///
    /// [`pidfd_getfd(2)`]: https://man7.org/linux/man-pages/man2/pidfd_getfd.2.html
    fn duplicate(&mut self, pid: u32, fd: u32) -> Result<OwnedFd, Errno> {
        let fd = RawFd::try_from(fd).map_err(|_| Errno::BADF)?;
        let cached = self.0.contains_key(&pid);
        let first = match self.pidfd(pid, false) {
            Some(pidfd) => pidfd_getfd(pidfd, fd, PidfdGetfdFlags::empty()),
            None => Err(Errno::SRCH),
        };
        match first {
            Err(Errno::SRCH) if cached => match self.pidfd(pid, true) {
                Some(pidfd) => pidfd_getfd(pidfd, fd, PidfdGetfdFlags::empty()),
                None => Err(Errno::SRCH),
            },
            other => other,
        }
    }

    /// Disconnect `target` through one of its holders' descriptors; or,
    /// for a check, only take the duplicate that would be used and close it
    /// unused.
    fn disconnect(&mut self, act: Act, target: &Target, holders: &Holders) -> Step {
        let dup = match self.descriptor(target, holders) {
            Ok(dup) => dup,
            Err(step) => return step,
        };
        match act {
            // The holder keeps its own descriptor: the socket is not
            // touched. (Should the holder close its descriptor meanwhile,
            // this close ends the socket as the holder's would have.)
            Act::Check => Step::Done(Ok(())),
            Act::Abort => match rustix::net::connect_unspec(&dup) {
                Ok(()) => Step::Disconnected,
                Err(errno) => Step::Done(Err(Error::NotAborted(format!(
                    "connect(AF_UNSPEC) on the holder's descriptor failed: {}",
                    std::io::Error::from(errno)
                )))),
            },
        }
    }

    /// A duplicate of a holder's descriptor on `target` itself (its cookie
    /// checked), or where the target stands without one.
    fn descriptor(&mut self, target: &Target, holders: &Holders) -> Result<OwnedFd, Step> {
        if target.inode == 0 || matches!(target.state, TcpState::TimeWait | TcpState::NewSynRecv) {
            return Err(Step::Done(Err(Error::NoHolder)));
        }
        let mut refused = false;
        for holder in holders.of(target.inode) {
            let dup = match self.duplicate(holder.pid, holder.fd) {
                Ok(dup) => dup,
                // PTRACE_MODE_ATTACH_REALCREDS denied (or Yama, or an LSM).
                Err(Errno::PERM | Errno::ACCESS) => {
                    refused = true;
                    continue;
                }
                // The process exited, or closed the descriptor, since the scan.
                Err(_) => continue,
            };
            // The descriptor may have been closed and its number reused
            // since the scan: only the very socket is touched.
            match rustix::net::sockopt::socket_cookie(&dup) {
                Ok(cookie) if cookie == target.id.cookie => return Ok(dup),
                _ => continue,
            }
        }
        if refused {
            return Err(Step::Done(Err(attach_refused())));
        }
        Err(Step::Unheld)
    }
}

impl Pidfds {
    /// [`Pidfds::disconnect`] each of `targets`, in their order.
    fn disconnect_each(&mut self, act: Act, targets: &[Target], holders: &Holders) -> Vec<Step> {
        targets
            .iter()
            .map(|target| self.disconnect(act, target, holders))
            .collect()
    }
}

impl Owner<'_> {
    /// Disconnect (or check) each of `targets` ([`Pidfds::disconnect`]),
    /// over several threads for many: one step each, in their order.
    fn disconnect_all(&mut self, act: Act, targets: &[Target], holders: &Holders) -> Vec<Step> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cpus
            .min(MAX_THREADS)
            .min(targets.len() / MIN_PER_THREAD)
            .max(1);
        if threads == 1 {
            return self.pidfds.disconnect_each(act, targets, holders);
        }
        let share = targets.len().div_ceil(threads);
        let mut parts = targets.chunks(share);
        let first = parts.next().unwrap_or_default();
        std::thread::scope(|scope| {
            let others: Vec<_> = parts
                .map(|part| {
                    let thread =
                        scope.spawn(move || Pidfds::default().disconnect_each(act, part, holders));
                    (part.len(), thread)
                })
                .collect();
            let mut steps = self.pidfds.disconnect_each(act, first, holders);
            for (len, thread) in others {
                // A thread that failed leaves its targets unknown: each is
                // looked up, and reported not aborted if still there.
                steps.extend(
                    thread
                        .join()
                        .unwrap_or_else(|_| (0..len).map(|_| Step::Unheld).collect()),
                );
            }
            steps
        })
    }

    /// Abort (or check) each of `targets`, one result each in their order.
    fn run(&mut self, act: Act, targets: &[Target], results: &mut Vec<Result<(), Error>>) {
        let inodes: InodeSet = targets.iter().map(|t| t.inode).collect();
        let holders = Holders::scan(&inodes);
        // A socket with an inode is held (an orphan's inode is 0): if no
        // holder was found while other users' processes could not be read,
        // it is one of theirs (`still_there`).
        let refused = holders.refused();
        let steps = self.disconnect_all(act, targets, &holders);
        // One batch of exact lookups (by cookie) for all that need one.
        let asked: Vec<(sockdiag::Family, sockdiag::SockId)> = targets
            .iter()
            .zip(&steps)
            .filter(|(_, step)| !matches!(step, Step::Done(_)))
            .map(|(t, _)| (t.family, t.id))
            .collect();
        let mut found = Vec::with_capacity(asked.len());
        let failure = self.diag.lookup_batch(&asked, &mut found).err();
        // A socket bound to a device that the lookup by tuple did not find
        // may be hidden by another socket on its tuple (SPEC §5): only a
        // dump tells whether it is still there.
        let unseen: Vec<&Target> = targets
            .iter()
            .zip(&steps)
            .filter(|(_, step)| !matches!(step, Step::Done(_)))
            .zip(&found)
            .filter(|((t, _), answer)| matches!(answer, Ok(None)) && shadow::may_be_shadowed(t))
            .map(|((t, _), _)| t)
            .collect();
        let hidden = match unseen.is_empty() {
            true => Ok(HashSet::new()),
            false => shadow::present(self.diag, &unseen),
        };
        let mut found = found.into_iter();
        for (target, step) in targets.iter().zip(steps) {
            let result = match step {
                Step::Done(result) => result,
                pending => match found.next() {
                    None => Err(Error::Netlink(format!(
                        "the lookup that confirms failed: {}",
                        failure
                            .as_ref()
                            .map_or_else(|| "no answer".to_string(), ToString::to_string)
                    ))),
                    Some(Err(err)) => Err(Error::from_diag(err)),
                    Some(Ok(None)) => match &hidden {
                        Ok(hidden) if hidden.contains(&target.id.cookie) => still_there(
                            &pending,
                            "hidden from lookups by another socket on its tuple",
                            refused,
                        ),
                        Err(err) if shadow::may_be_shadowed(target) => Err(Error::Netlink(
                            format!("whether it is still there could not be told: {err}"),
                        )),
                        _ => match pending {
                            Step::Disconnected => Ok(()),
                            _ => Err(Error::NotFound),
                        },
                    },
                    Some(Ok(Some(record))) => {
                        still_there(&pending, &format!("{:?}", record.state), refused)
                    }
                },
            };
            results.push(result);
        }
    }
}

/// The result for a socket still in the kernel's tables (`what` says how
/// it was seen) after `step`: not aborted if it was disconnected; else held
/// by a process whose descriptors we may not read (some were `refused`, for
/// lack of a capability: a socket with an inode is held, an orphan's inode
/// is 0), or by none found.
fn still_there(step: &Step, what: &str, refused: ProcRefusals) -> Result<(), Error> {
    match step {
        Step::Disconnected => Err(Error::NotAborted(format!(
            "still in the kernel's tables ({what}) after connect(AF_UNSPEC) on the holder's descriptor"
        ))),
        _ => Err(holder_unreadable(refused).unwrap_or(Error::NoHolder)),
    }
}

impl Abort for Owner<'_> {
    fn abort(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>) {
        self.run(Act::Abort, targets, results);
    }

    /// The kernel's own answer, touching nothing: the holder's descriptor
    /// is duplicated (`pidfd_getfd`, the step the abort takes and may be
    /// refused) and closed unused, without the `connect` that would abort.
    fn check(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>) {
        self.run(Act::Check, targets, results);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abort::tests_util::{as_user, target, targets, CHILD_UID};
    use nstest::{connect, in_netns, listen, listen_dual, read_errno, spawn_owner_with};
    use std::net::SocketAddr;

    /// Abort `targets` by owner, on a fresh sock_diag socket.
    fn owner_abort(targets: &[Target]) -> Vec<Result<(), Error>> {
        let mut diag = sockdiag::Client::new().unwrap();
        let mut owner = Owner::new(&mut diag);
        let mut results = Vec::new();
        owner.abort(targets, &mut results);
        assert_eq!(results.len(), targets.len());
        results
    }

    /// A child process holds a connection to `listen_on`; owner aborts the
    /// child's socket: the child's read fails, the peer (ours) is reset.
    fn child_holder_is_aborted(listen_on: &str, connect_to: impl Fn(u16) -> SocketAddr) {
        let listener = if listen_on == "dual" {
            listen_dual(0)
        } else {
            listen(listen_on)
        };
        let to = connect_to(listener.local_addr().unwrap().port());
        let child = spawn_owner_with(to, b"holder", None, None);
        let (mut server, remote) = listener.accept().unwrap();
        assert_eq!(remote, child.local_addr(), "the child's connection");
        let t = target(child.local_addr(), to);
        let results = owner_abort(&[t]);
        assert!(results[0].is_ok(), "{results:?}");
        let outcome = child.read_outcome();
        assert!(
            matches!(outcome, Some(libc::ECONNRESET | libc::EPIPE)),
            "the holder's read ended with {outcome:?}"
        );
        assert_eq!(
            read_errno(&mut server),
            Some(libc::ECONNRESET),
            "peer reset"
        );
        // And it is gone: a second abort finds nothing.
        assert!(matches!(owner_abort(&[t])[0], Err(Error::NotFound)));
    }

    #[test]
    fn owner_aborts_an_ipv4_connection_of_another_process() {
        in_netns(|| {
            child_holder_is_aborted("127.0.0.1:0", |port| {
                SocketAddr::from(([127, 0, 0, 1], port))
            })
        });
    }

    #[test]
    fn owner_aborts_an_ipv6_connection_of_another_process() {
        in_netns(|| {
            child_holder_is_aborted("[::1]:0", |port| {
                SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port))
            })
        });
    }

    #[test]
    fn owner_aborts_a_v4_mapped_connection_of_a_dual_stack_socket() {
        in_netns(|| {
            let listener = listen_dual(0);
            let port = listener.local_addr().unwrap().port();
            let to = SocketAddr::from(([127, 0, 0, 1], port));
            let child = spawn_owner_with(to, b"peer", None, None);
            let (mut server, _) = listener.accept().unwrap();
            // The accepted end is ours, dual-stack: dumped as Inet6 ::ffff:.
            let t = target(to, child.local_addr());
            assert_eq!(t.family, sockdiag::Family::Inet6);
            let results = owner_abort(&[t]);
            assert!(results[0].is_ok(), "{results:?}");
            let mine = read_errno(&mut server);
            assert!(
                matches!(mine, Some(libc::ECONNRESET | libc::EPIPE)),
                "the holder (this process) saw {mine:?}"
            );
            assert_eq!(child.read_outcome(), Some(libc::ECONNRESET), "peer reset");
        });
    }

    #[test]
    fn owner_of_many_sockets_scans_once_and_reports_each() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let pairs: Vec<_> = (0..50).map(|_| connect(&listener)).collect();
            let targets: Vec<Target> = pairs
                .iter()
                .map(|(c, s)| target(c.local_addr().unwrap(), s.local_addr().unwrap()))
                .collect();
            let mut with_gone = targets.clone();
            // A socket that no longer exists, between live ones.
            let (gone_c, gone_s) = connect(&listener);
            let gone = target(gone_c.local_addr().unwrap(), gone_s.local_addr().unwrap());
            nstest::abort_close(gone_c);
            drop(gone_s);
            with_gone.insert(10, gone);
            let results = owner_abort(&with_gone);
            for (i, r) in results.iter().enumerate() {
                if i == 10 {
                    assert!(matches!(r, Err(Error::NotFound)), "{r:?}");
                } else {
                    assert!(r.is_ok(), "{i}: {r:?}");
                }
            }
            for (mut client, mut server) in pairs {
                assert!(read_errno(&mut client).is_some());
                assert!(read_errno(&mut server).is_some());
            }
            assert!(still_listening(&listener));
        });
    }

    /// Enough targets for the disconnects to be shared among threads (on a
    /// machine of two CPUs or more): each result still stands at its
    /// target's place, a socket gone in the second share among them, and
    /// every other connection is reset.
    #[test]
    fn owner_shares_a_large_drop_among_threads_and_reports_each_in_order() {
        in_netns(|| {
            const N: usize = 2 * MIN_PER_THREAD + 300;
            const GONE_AT: usize = N - 100;
            let listener = listen("127.0.0.1:0");
            let pairs: Vec<_> = (0..N).map(|_| connect(&listener)).collect();
            let ends: Vec<_> = pairs
                .iter()
                .map(|(c, s)| (c.local_addr().unwrap(), s.local_addr().unwrap()))
                .collect();
            let mut targets = targets(&ends);
            let (gone_c, gone_s) = connect(&listener);
            let gone = target(gone_c.local_addr().unwrap(), gone_s.local_addr().unwrap());
            nstest::abort_close(gone_c);
            drop(gone_s);
            targets.insert(GONE_AT, gone);
            let results = owner_abort(&targets);
            for (i, r) in results.iter().enumerate() {
                if i == GONE_AT {
                    assert!(matches!(r, Err(Error::NotFound)), "{r:?}");
                } else {
                    assert!(r.is_ok(), "{i}: {r:?}");
                }
            }
            for (mut client, mut server) in pairs {
                assert_eq!(read_errno(&mut client), Some(libc::ECONNRESET));
                assert!(read_errno(&mut server).is_some());
            }
            assert!(still_listening(&listener));
        });
    }

    #[test]
    fn a_descriptor_whose_cookie_is_not_the_targets_is_not_touched() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let (mut client, mut server) = connect(&listener);
            let mut t = target(client.local_addr().unwrap(), server.local_addr().unwrap());
            // The same inode and tuple, but the cookie of another socket:
            // what a reused descriptor number or tuple would look like.
            t.id.cookie ^= 1;
            assert!(matches!(owner_abort(&[t])[0], Err(Error::NotFound)));
            assert_eq!(read_errno(&mut client), None);
            assert_eq!(read_errno(&mut server), None);
        });
    }

    fn still_listening(listener: &std::net::TcpListener) -> bool {
        nstest::still_accepts(listener)
    }

    #[test]
    fn owner_cannot_abort_sockets_no_process_holds() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let local = nstest::time_wait(&listener);
            let t = target(local, listener.local_addr().unwrap());
            assert_eq!(t.state, TcpState::TimeWait);
            assert!(matches!(owner_abort(&[t])[0], Err(Error::NoHolder)));
        });
    }

    #[test]
    fn an_unprivileged_caller_aborts_its_own_uids_dumpable_holder() {
        if !nstest::require_real_root("the holder and the caller run as another uid") {
            return;
        }
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let to = listener.local_addr().unwrap();
            let child = spawn_owner_with(to, b"mine", Some(CHILD_UID), Some(true));
            let (mut server, _) = listener.accept().unwrap();
            let t = target(child.local_addr(), to);
            let results = as_user(CHILD_UID, || owner_abort(&[t]));
            assert!(results[0].is_ok(), "no CAP_NET_ADMIN needed: {results:?}");
            assert!(matches!(
                child.read_outcome(),
                Some(libc::ECONNRESET | libc::EPIPE)
            ));
            assert_eq!(read_errno(&mut server), Some(libc::ECONNRESET));
        });
    }

    #[test]
    fn a_non_dumpable_holder_of_another_uid_is_refused_naming_the_capabilities_it_takes() {
        if !nstest::require_real_root("the holder and the caller run as other uids") {
            return;
        }
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let to = listener.local_addr().unwrap();
            let child = spawn_owner_with(to, b"theirs", Some(CHILD_UID), Some(false));
            let (mut server, _) = listener.accept().unwrap();
            let t = target(child.local_addr(), to);
            let results = as_user(CHILD_UID + 1, || owner_abort(&[t]));
            // Its /proc/PID/fd is root's alone (not dumpable): opening it
            // takes CAP_DAC_READ_SEARCH, reading its links CAP_SYS_PTRACE.
            assert!(
                matches!(
                    results[0],
                    Err(Error::MissingCapability {
                        capability: "CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE",
                        ..
                    })
                ),
                "{results:?}"
            );
            let text = results[0].as_ref().unwrap_err().to_string();
            assert_eq!(
                text,
                "finding its holder among other users' processes (/proc/PID/fd) needs \
                 CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE: run as root (nothing was touched)"
            );
            // Touched nothing: no error on our end, the same socket listed.
            assert_eq!(read_errno(&mut server), None);
            assert_eq!(
                t.id.cookie,
                target(child.local_addr(), to).id.cookie,
                "the same socket"
            );
            // The same abort as root (CAP_SYS_PTRACE) goes through.
            assert!(owner_abort(&[t])[0].is_ok());
            assert!(matches!(
                child.read_outcome(),
                Some(libc::ECONNRESET | libc::EPIPE)
            ));
        });
    }

    /// `n` connections from 127.1.x.1 to a fresh listener, held by child
    /// processes of at most 8,000 connections each (the open-file limit
    /// cannot be raised without CAP_SYS_RESOURCE); the children are killed
    /// when the returned guard drops.
    fn population(n: usize) -> (std::net::TcpListener, Holders) {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let mut children = Holders(Vec::new());
        let mut made = 0;
        while made < n {
            let chunk: Vec<_> = (made..n.min(made + 8_000))
                .map(|i| {
                    let from = SocketAddr::from(([127, 1, (i / 20_000) as u8, 1], 0));
                    nstest::connect_from(from, to, &listener)
                })
                .collect();
            made += chunk.len();
            // SAFETY: the child only waits for its SIGKILL (pause is
            // async-signal-safe); it never returns into Rust code.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                loop {
                    // SAFETY: as above.
                    unsafe { libc::pause() };
                }
            }
            children.0.push(pid);
            drop(chunk); // the child's copies keep them open
        }
        (listener, children)
    }

    /// Child processes, killed and reaped when dropped.
    struct Holders(Vec<libc::pid_t>);

    impl Drop for Holders {
        fn drop(&mut self) {
            for &pid in &self.0 {
                // SAFETY: our own children, not yet reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
        }
    }

    /// The client ends (from 127.1.x.1) of connections to `port`, from one
    /// dump.
    fn clients_of(port: u16) -> Vec<Target> {
        let mut diag = sockdiag::Client::new().unwrap();
        let request = sockdiag::DumpRequest::tcp(sockdiag::Family::Inet, sockdiag::ALL_TCP_STATES);
        diag.dump(&request)
            .unwrap()
            .map(Result::unwrap)
            .filter(|r| r.id.dport == port && r.id.src[1] == 1 && r.state == TcpState::Established)
            .map(|r| Target {
                family: r.family,
                id: r.id,
                inode: r.inode,
                state: r.state,
            })
            .collect()
    }

    /// Owner against `ss -K` dropping the same number of connections (held
    /// by child processes); prints both. `NSTEST_OWNER_N` connections
    /// (default 20,000).
    #[test]
    #[ignore = "a measurement: cargo test --release -p tcpdrop --lib owner_against_ss_k -- --ignored --nocapture"]
    fn owner_against_ss_k() {
        let n: usize = std::env::var("NSTEST_OWNER_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        in_netns(|| {
            let (ss_listener, ss_holders) = population(n);
            let port = ss_listener.local_addr().unwrap().port();
            let start = std::time::Instant::now();
            let out = std::process::Command::new("ss")
                .args(["-K", "-tnH", "dport", "=", &format!(":{port}")])
                .output()
                .unwrap();
            let ss_took = start.elapsed();
            assert!(out.status.success());
            let killed = String::from_utf8_lossy(&out.stdout).lines().count();
            drop(ss_holders);

            let (listener, holders) = population(n);
            let port = listener.local_addr().unwrap().port();
            let start = std::time::Instant::now();
            let targets = clients_of(port);
            let results = owner_abort(&targets);
            let took = start.elapsed();
            let ok = results.iter().filter(|r| r.is_ok()).count();
            eprintln!(
                "n={n}: ss -K {ss_took:?} ({killed} killed, {:?}/socket); owner (dump + abort + confirm) {took:?} ({ok} aborted, {:?}/socket); ratio {:.2}",
                ss_took / n as u32,
                took / n as u32,
                took.as_secs_f64() / ss_took.as_secs_f64()
            );
            let failed: Vec<String> = targets
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.is_err())
                .take(5)
                .map(|(t, r)| format!("{t:?}: {r:?}"))
                .collect();
            assert_eq!((targets.len(), ok), (n, n), "{failed:#?}");
            drop(holders);
        });
    }
}
