//! Aborting in the kernel's own walk of its TCP sockets (SPEC §5, "bpf"):
//! a small program of ours on the `iter/tcp` BPF iterator calls the kfunc
//! `bpf_sock_destroy` on exactly the sockets whose cookies we put in a map
//! after the dump and the plan, and writes down, per socket, that it did.
//! The kernel does no per-socket netlink work (no request to parse, no
//! lookup, no answer to read), and on several CPUs several walks share the
//! work.
//!
//! - **Exact**: a socket is aborted only if its cookie is one the plan
//!   chose (cookies are never reused), so a newcomer on a reused tuple, a
//!   listener not named, or a twin in another namespace is never touched.
//!   The owner sees `ECONNABORTED` and the peer an RST, as with
//!   `SOCK_DESTROY` (`tcp_abort` either way).
//! - **Honest**: the program marks each socket it aborted in an array we
//!   read back; a target the walk did not meet is walked for once more,
//!   then looked up by its cookie: gone, or failed with the reason.
//! - **Shadowed tuples** (SPEC §5): the walk matches cookies, not tuples,
//!   so it reaches a socket that another on its tuple hides from destroy
//!   and inject; one it did not meet is not called gone on a lookup by
//!   tuple alone (`shadow::present`).
//! - **Where**: the iterator walks the namespace of the thread that makes
//!   it, so it is made by a thread inside the session's namespace
//!   ([`Netns::run`]); a TIME-WAIT or SYN-RECV socket is not a full socket
//!   and is left to the other ways ([`Error::NotFullSocket`]).
//! - **Support** (found once per process): Linux 6.5 or later with its
//!   BTF in `/sys/kernel/btf/vmlinux`; `CAP_BPF` and `CAP_PERFMON` (or
//!   `CAP_SYS_ADMIN`) in the initial user namespace, checked on every use.
//!
//! The loader is ours (`bpf/`): the BTF ids and offsets the program needs
//! read from the kernel's BTF (`btf.rs`), the program written with a tiny
//! assembler (`asm.rs`, `program.rs`), and the `bpf(2)` commands that load
//! and run it (`sys.rs`): no clang, libbpf or C toolchain at build time.

mod asm;
mod btf;
mod program;
mod sys;

use std::sync::OnceLock;

use rustix::io::Errno;
use rustix::thread::CapabilitySet;
use sockdiag::{Client, TcpState};

use super::{shadow, Abort, Target};
use crate::error::Error;
use crate::netns::Netns;
use btf::Kernel;
use sys::{Link, Map, Mapped, Prog};

/// Where the kernel publishes its BTF.
const BTF_PATH: &str = "/sys/kernel/btf/vmlinux";
/// What the capabilities are needed for, in [`Error::MissingCapability`].
const NEEDED_FOR: &str = "aborting sockets from a BPF socket iterator (bpf)";
/// A walk is repeated for targets it did not meet but that are still
/// there, up to this many walks in all.
const WALKS: usize = 3;
/// Walks run in parallel, each on its own CPU and each aborting its own
/// contiguous share of the targets, only when each gets at least this
/// many: a walk visits every socket of the namespace, so below it the
/// extra walk costs more than it saves.
const MIN_PER_WALK: usize = 2048;
/// At most this many walks at once.
const MAX_WALKS: usize = 8;

/// What a result word of the program says (see `program.rs`).
const NOT_REACHED: u64 = 0;
const ABORTED: u64 = 1;

/// The kernel's support for this way, found once: the ids and offsets
/// the program is built from, or why there are none.
fn kernel() -> Result<&'static Kernel, Error> {
    static KERNEL: OnceLock<Result<Kernel, String>> = OnceLock::new();
    KERNEL
        .get_or_init(probe_kernel)
        .as_ref()
        .map_err(|reason| Error::BpfUnsupported(reason.clone()))
}

/// The running kernel's release, as `uname -r` shows it.
fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The major and minor version in a release string (`6.18.44-fc` → 6, 18).
fn version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn probe_kernel() -> Result<Kernel, String> {
    let release = release();
    if version(&release).is_some_and(|v| v < (6, 5)) {
        return Err(format!(
            "it needs Linux 6.5 or later (bpf_sock_destroy); this kernel is {release}"
        ));
    }
    let data = std::fs::read(BTF_PATH).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => format!(
            "it needs the kernel's BTF ({BTF_PATH}, CONFIG_DEBUG_INFO_BTF=y), which this kernel ({release}) does not publish"
        ),
        _ => format!("cannot read {BTF_PATH}: {err}"),
    })?;
    btf::kernel(&data).map_err(|missing| match missing {
        btf::Missing::Name(name) => format!(
            "this kernel ({release}) has no {name} in its BTF: it needs Linux 6.5 or later built with BPF and BTF"
        ),
        other => format!("{other} (kernel {release})"),
    })
}

/// Whether the calling thread may load the program: `CAP_BPF` and
/// `CAP_PERFMON` (a tracing program), or `CAP_SYS_ADMIN`. The kernel checks
/// them in the initial user namespace, and has the last word (`EPERM`).
fn privileged() -> Result<(), Error> {
    match rustix::thread::capabilities(None) {
        Ok(sets)
            if !sets.effective.contains(CapabilitySet::SYS_ADMIN)
                && !sets
                    .effective
                    .contains(CapabilitySet::BPF | CapabilitySet::PERFMON) =>
        {
            Err(missing_capability())
        }
        _ => Ok(()),
    }
}

fn missing_capability() -> Error {
    Error::MissingCapability {
        capability: "CAP_BPF and CAP_PERFMON",
        needed_for: NEEDED_FOR,
    }
}

/// Whether `bpf_sock_destroy` may be given this socket: full sockets only.
fn full_socket(state: TcpState) -> bool {
    !matches!(state, TcpState::TimeWait | TcpState::NewSynRecv)
}

/// A `bpf(2)` failure while setting up, as a refusal of this way.
fn setup_error(what: &str, errno: Errno) -> Error {
    match errno {
        Errno::PERM | Errno::ACCESS => missing_capability(),
        Errno::NOSYS => {
            Error::BpfUnsupported("this kernel has no bpf(2) (CONFIG_BPF_SYSCALL)".into())
        }
        other => Error::BpfUnsupported(format!("{what} failed: {}", std::io::Error::from(other))),
    }
}

impl crate::session::Session {
    /// Whether this kernel can abort sockets from a BPF socket iterator
    /// ([`Method::Bpf`](crate::method::Method::Bpf)): Linux 6.5 or later with its
    /// BTF published, read once per process. Privilege aside: that is
    /// checked when it is used.
    pub fn bpf_supported(&self) -> bool {
        kernel().is_ok()
    }
}

/// Whether auto should walk for `targets` (what `SOCK_DESTROY` could not
/// drop): when the kernel has this way, the caller may use it, and the
/// drop is large: at least [`AUTO_MIN`] full sockets, and a good part of
/// the namespace's sockets, since a walk visits them all.
///
/// Measured with `bench/run` (2 CPUs, Linux 6.18): dropping every client
/// of 10,000 connections took 0.19 s by bpf, 0.36 s by owner; of 1,000,
/// 0.032 s by bpf, 0.018 s by owner; dropping 1 % of 100,000 by bpf costs
/// a walk of all 200,000 sockets (0.1 s, where destroy takes 0.04 s).
pub(crate) fn worth_it(targets: &[Target], netns: Option<&Netns>) -> bool {
    let full = targets.iter().filter(|t| full_socket(t.state)).count();
    if full < AUTO_MIN {
        return false;
    }
    let Some(netns) = netns else { return false };
    if kernel().is_err() || privileged().is_err() {
        return false;
    }
    match sockets_in(netns) {
        Some(total) => full.saturating_mul(AUTO_SHARE) >= total,
        None => true,
    }
}

/// Auto walks only for this many full sockets or more (owner is the
/// quicker below about 1,700: a walk has a fixed cost of about 10 ms)...
pub(crate) const AUTO_MIN: usize = 2048;
/// ... and when they are at least 1 in this many of the namespace's
/// sockets: a walk costs about 0.3 µs a socket it visits, owner about
/// 18 µs a socket it drops.
const AUTO_SHARE: usize = 32;

/// How many TCP sockets the namespace holds (`/proc/net/sockstat` and
/// `sockstat6` as its own thread sees them: in use, both families, and
/// TIME-WAIT).
fn sockets_in(netns: &Netns) -> Option<usize> {
    netns
        .run(|| {
            let count = |path: &str, label: &str, field: &str| -> Option<usize> {
                let text = std::fs::read_to_string(path).ok()?;
                let line = text.lines().find(|l| l.starts_with(label))?;
                let mut words = line.split_whitespace();
                words.find(|w| *w == field)?;
                words.next()?.parse().ok()
            };
            let v4 = count("/proc/thread-self/net/sockstat", "TCP:", "inuse")?;
            let tw = count("/proc/thread-self/net/sockstat", "TCP:", "tw").unwrap_or(0);
            let v6 = count("/proc/thread-self/net/sockstat6", "TCP6:", "inuse").unwrap_or(0);
            Some(v4 + v6 + tw)
        })
        .ok()
        .flatten()
}

/// Aborting by our program on the `iter/tcp` iterator.
pub(crate) struct Bpf<'a> {
    /// For the lookups that settle the targets a walk did not meet; in the
    /// targets' network namespace.
    pub(crate) client: &'a mut Client,
    /// The namespace the iterators must walk (`None`: not known, and this
    /// way refuses rather than walk the wrong one).
    pub(crate) netns: Option<&'a Netns>,
}

impl Abort for Bpf<'_> {
    /// Support and privilege, and the program loaded once for nothing (the
    /// kernel's verifier and its own privilege check have the last word):
    /// nothing is walked. A TIME-WAIT or SYN-RECV target is refused as
    /// the abort would refuse it.
    fn check(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>) {
        let allowed = self.ready().and_then(|(kernel, _)| {
            let results = Map::create(sys::MAP_ARRAY, 4, 8, 1, sys::F_MMAPABLE, "tcpdrop_check")
                .map_err(|errno| setup_error("creating the result map", errno))?;
            load(kernel, &results, &[], 0).map(|_| ())
        });
        results.extend(targets.iter().map(|t| match &allowed {
            Err(err) => Err(err.again()),
            Ok(()) if !full_socket(t.state) => Err(Error::NotFullSocket),
            Ok(()) => Ok(()),
        }));
    }

    fn abort(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>) {
        let (kernel, netns) = match self.ready() {
            Ok(ready) => ready,
            Err(err) => {
                results.extend(targets.iter().map(|_| Err(err.again())));
                return;
            }
        };
        let mut out: Vec<Option<Result<(), Error>>> = targets
            .iter()
            .map(|t| (!full_socket(t.state)).then_some(Err(Error::NotFullSocket)))
            .collect();
        let mut pending: Vec<usize> = (0..targets.len())
            .filter(|&i| out.get(i).is_some_and(Option::is_none))
            .collect();
        for _ in 0..WALKS {
            if pending.is_empty() {
                break;
            }
            let chosen: Vec<&Target> = pending.iter().filter_map(|&i| targets.get(i)).collect();
            let (words, failure) = walk_once(kernel, netns, &chosen);
            // Refused before anything ran: the same for every target.
            if let Some(err) = failure.as_ref().filter(|_| words.is_none()) {
                for &i in &pending {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = Some(Err(err.again()));
                    }
                }
                pending.clear();
                break;
            }
            let mut unmet = Vec::new();
            for (j, &i) in pending.iter().enumerate() {
                let word = words
                    .as_ref()
                    .and_then(|w| w.get(j).copied())
                    .unwrap_or(NOT_REACHED);
                let Some(slot) = out.get_mut(i) else { continue };
                match word {
                    NOT_REACHED => unmet.push(i),
                    ABORTED => *slot = Some(Ok(())),
                    errno => {
                        *slot = Some(Err(Error::NotAborted(format!(
                            "bpf_sock_destroy refused it: {}",
                            std::io::Error::from_raw_os_error(
                                i32::try_from(errno - 1).unwrap_or(i32::MAX)
                            )
                        ))))
                    }
                }
            }
            // The walk did not meet these: gone, or still there (then
            // walked for again, unless the walk itself failed).
            pending = self.settle_unmet(targets, &unmet, &mut out);
            if let Some(err) = failure {
                for &i in &pending {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = Some(Err(Error::NotAborted(format!(
                            "the socket iterator stopped before it: {err}"
                        ))));
                    }
                }
                pending.clear();
            }
        }
        for &i in &pending {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(Err(Error::NotAborted(format!(
                    "still there after {WALKS} walks of the socket iterator, which never met it"
                ))));
            }
        }
        results.extend(
            out.into_iter()
                .map(|r| r.unwrap_or_else(|| Err(Error::NotAborted("bpf gave no answer".into())))),
        );
    }
}

impl<'a> Bpf<'a> {
    /// The kernel's support and the session's namespace, if the caller may
    /// use this way.
    fn ready(&self) -> Result<(&'static Kernel, &'a Netns), Error> {
        let kernel = kernel()?;
        privileged()?;
        let netns = self.netns.ok_or_else(|| {
            Error::BpfUnsupported(
                "the session's network namespace is not known (is /proc mounted?)".into(),
            )
        })?;
        Ok((kernel, netns))
    }

    /// Look up the targets at `unmet` by their ids and cookies: the ones
    /// gone are [`Error::NotFound`]; the ones there are returned, to walk
    /// for again (unless no longer a full socket).
    fn settle_unmet(
        &mut self,
        targets: &[Target],
        unmet: &[usize],
        out: &mut [Option<Result<(), Error>>],
    ) -> Vec<usize> {
        if unmet.is_empty() {
            return Vec::new();
        }
        let ids: Vec<(sockdiag::Family, sockdiag::SockId)> = unmet
            .iter()
            .filter_map(|&i| targets.get(i).map(|t| (t.family, t.id)))
            .collect();
        let mut found = Vec::with_capacity(ids.len());
        let failure = self.client.lookup_batch(&ids, &mut found).err();
        let mut found = found.into_iter();
        let mut again = Vec::new();
        for &i in unmet {
            let Some(slot) = out.get_mut(i) else { continue };
            *slot = Some(match found.next() {
                Some(Ok(None)) => Err(Error::NotFound),
                Some(Ok(Some(record))) if !full_socket(record.state) => Err(Error::NotFullSocket),
                Some(Ok(Some(_))) => {
                    again.push(i);
                    continue;
                }
                Some(Err(err)) => Err(Error::from_diag(err)),
                None => Err(Error::Netlink(format!(
                    "the lookup that confirms failed: {}",
                    failure
                        .as_ref()
                        .map_or_else(|| "no answer".to_string(), ToString::to_string)
                ))),
            });
        }
        // A lookup by tuple misses a socket that another on its tuple
        // hides (SPEC §5, shadowed tuples); the walk, which matches
        // cookies, reaches it: look for such ones by a dump, and walk
        // for them again.
        let hidden: Vec<usize> = unmet
            .iter()
            .copied()
            .filter(|&i| {
                matches!(out.get(i), Some(Some(Err(Error::NotFound))))
                    && targets.get(i).is_some_and(shadow::may_be_shadowed)
            })
            .collect();
        if !hidden.is_empty() {
            let asked: Vec<&Target> = hidden.iter().filter_map(|&i| targets.get(i)).collect();
            let present = shadow::present(self.client, &asked);
            for &i in &hidden {
                let (Some(slot), Some(target)) = (out.get_mut(i), targets.get(i)) else {
                    continue;
                };
                match &present {
                    Ok(present) if present.contains(&target.id.cookie) => {
                        *slot = None;
                        again.push(i);
                    }
                    Ok(_) => {}
                    Err(err) => {
                        *slot = Some(Err(Error::Netlink(format!(
                            "the walk did not meet it, and the dump that tells a gone socket \
                             from one another socket on its tuple hides failed: {err}"
                        ))))
                    }
                }
            }
            again.sort_unstable();
        }
        again
    }
}

/// One iterator program with its map of cookies, attached.
struct Loaded {
    _cookies: Map,
    _prog: Prog,
    link: Link,
}

/// Abort `targets` in one pass of the kernel's walk (several walks in
/// parallel for many): one result word each (see `program.rs`), `None`
/// when nothing ran; and what went wrong, if anything did.
fn walk_once(
    kernel: &Kernel,
    netns: &Netns,
    targets: &[&Target],
) -> (Option<Vec<u64>>, Option<Error>) {
    let n = targets.len();
    let Ok(entries) = u32::try_from(n) else {
        return (
            None,
            Some(Error::InvalidArgument(
                "too many sockets for one walk".into(),
            )),
        );
    };
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    let walks = cpus.min(MAX_WALKS).min(n / MIN_PER_WALK).max(1);
    let results = match Map::create(
        sys::MAP_ARRAY,
        4,
        8,
        entries.max(1),
        sys::F_MMAPABLE,
        "tcpdrop_result",
    ) {
        Ok(map) => map,
        Err(errno) => return (None, Some(setup_error("creating the result map", errno))),
    };
    let words = match results.mmap_u64s() {
        Ok(words) => words,
        Err(errno) => return (None, Some(setup_error("mapping the result map", errno))),
    };
    // Contiguous shares in the targets' order, which is the dump's and so
    // the walk's: each walk soon passes the others' shares, and they abort
    // side by side instead of queueing for the same sockets' locks.
    let per = n.div_ceil(walks).max(1);
    let mut loaded = Vec::with_capacity(walks);
    for (w, share) in targets.chunks(per).enumerate() {
        match load(kernel, &results, share, w * per) {
            Ok(one) => loaded.push(one),
            Err(err) => return (None, Some(err)),
        }
    }
    // The walks must be made inside the namespace; they run anywhere.
    let made = netns.run(|| loaded.iter().map(|l| l.link.walk()).collect::<Vec<_>>());
    let walks = match made {
        Ok(made) => match made.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(walks) => walks,
            Err(errno) => return (None, Some(setup_error("creating the iterator", errno))),
        },
        Err(err) => return (None, Some(err)),
    };
    let failure = run_walks(walks);
    let words = read_words(&words, n);
    (Some(words), failure)
}

/// Load the program for the targets `share`, whose result words start at
/// `first`.
fn load(kernel: &Kernel, results: &Map, share: &[&Target], first: usize) -> Result<Loaded, Error> {
    let entries = u32::try_from(share.len().max(1)).unwrap_or(u32::MAX);
    let cookies = Map::create(sys::MAP_HASH, 8, 4, entries, 0, "tcpdrop_cookies")
        .map_err(|errno| setup_error("creating the cookie map", errno))?;
    let keys: Vec<u64> = share.iter().map(|t| t.id.cookie).collect();
    let values: Vec<u32> = (first..first + share.len())
        .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
        .collect();
    cookies
        .update_batch(&keys, &values)
        .map_err(|errno| setup_error("filling the cookie map", errno))?;
    let insns = program::build(kernel, cookies.raw_fd(), results.raw_fd());
    let prog = Prog::load_iter(&insns, kernel.iter_tcp, "tcpdrop_destroy").map_err(|err| {
        if err.errno == Errno::PERM {
            return missing_capability();
        }
        let last = err
            .log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.starts_with("processed"))
            .unwrap_or("")
            .to_string();
        Error::BpfUnsupported(format!(
            "the kernel refused the program ({}){}",
            std::io::Error::from(err.errno),
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        ))
    })?;
    let link = Link::iter(&prog).map_err(|errno| setup_error("attaching the program", errno))?;
    Ok(Loaded {
        _cookies: cookies,
        _prog: prog,
        link,
    })
}

/// Run the walks, the first on this thread and each other on its own.
fn run_walks(walks: Vec<sys::Walk>) -> Option<Error> {
    let mut walks = walks.into_iter();
    let first = walks.next()?;
    std::thread::scope(|scope| {
        let others: Vec<_> = walks.map(|w| scope.spawn(move || w.run())).collect();
        let mut failure = first.run().err();
        for handle in others {
            let result = handle.join().unwrap_or(Err(Errno::IO));
            failure = failure.or(result.err());
        }
        failure.map(|errno| Error::Io(std::io::Error::from(errno)))
    })
}

fn read_words(words: &Mapped, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| words.get(i).unwrap_or(NOT_REACHED))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abort::tests_util::{as_user, find, target, CHILD_UID};
    use nstest::{carries_data, connect, in_netns, listen, listen_dual, read_errno, still_accepts};
    use std::net::TcpStream;

    fn bpf_abort(targets: &[Target]) -> Vec<Result<(), Error>> {
        let mut diag = sockdiag::Client::new().unwrap();
        let here = Netns::current().unwrap();
        let mut bpf = Bpf {
            client: &mut diag,
            netns: Some(&here),
        };
        let mut results = Vec::new();
        bpf.abort(targets, &mut results);
        assert_eq!(results.len(), targets.len());
        results
    }

    fn of(stream: &TcpStream) -> Target {
        target(stream.local_addr().unwrap(), stream.peer_addr().unwrap())
    }

    #[test]
    fn aborts_exactly_the_chosen_sockets_ipv4_ipv6_and_dual_stack() {
        if !nstest::require_bpf() {
            return;
        }
        in_netns(|| {
            let v4 = listen("127.0.0.1:0");
            let v6 = listen("[::1]:0");
            let dual = listen_dual(0);
            let (mut c4, mut s4) = connect(&v4);
            let (mut c6, mut s6) = connect(&v6);
            let mut cd =
                TcpStream::connect(("127.0.0.1", dual.local_addr().unwrap().port())).unwrap();
            let (mut sd, _) = dual.accept().unwrap();
            let (mut by_c, mut by_s) = connect(&v4);
            // The dual-stack server end (an AF_INET6 socket with ::ffff:
            // addresses) is one of the targets.
            let targets = [of(&c4), of(&c6), of(&sd)];
            let results = bpf_abort(&targets);
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            assert_eq!(read_errno(&mut c4), Some(libc::ECONNABORTED));
            assert_eq!(read_errno(&mut s4), Some(libc::ECONNRESET));
            assert_eq!(read_errno(&mut c6), Some(libc::ECONNABORTED));
            assert_eq!(read_errno(&mut s6), Some(libc::ECONNRESET));
            assert_eq!(read_errno(&mut sd), Some(libc::ECONNABORTED));
            assert_eq!(read_errno(&mut cd), Some(libc::ECONNRESET));
            assert!(carries_data(&mut by_c, &mut by_s), "a bystander was hit");
            assert!(still_accepts(&v4) && still_accepts(&v6) && still_accepts(&dual));
            // A second walk finds them gone.
            let again = bpf_abort(&targets);
            assert!(
                again.iter().all(|r| matches!(r, Err(Error::NotFound))),
                "{again:?}"
            );
        });
    }

    #[test]
    fn a_listener_goes_only_when_it_is_a_target() {
        if !nstest::require_bpf() {
            return;
        }
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let (mut c, mut s) = connect(&listener);
            let results = bpf_abort(&[of(&c)]);
            assert!(results[0].is_ok(), "{results:?}");
            assert!(still_accepts(&listener));
            assert!(read_errno(&mut s).is_some());
            let _ = read_errno(&mut c);
            let addr = listener.local_addr().unwrap();
            let t = target(addr, "0.0.0.0:0".parse().unwrap());
            let results = bpf_abort(&[t]);
            assert!(results[0].is_ok(), "{results:?}");
            assert!(TcpStream::connect(addr).is_err(), "the listener is gone");
        });
    }

    #[test]
    fn a_time_wait_socket_is_left_to_the_other_ways() {
        if !nstest::require_bpf() {
            return;
        }
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let local = nstest::time_wait(&listener);
            let remote = listener.local_addr().unwrap();
            let t = target(local, remote);
            assert_eq!(t.state, TcpState::TimeWait);
            let results = bpf_abort(&[t]);
            assert!(
                matches!(results[0], Err(Error::NotFullSocket)),
                "{results:?}"
            );
            assert!(find(local, remote).is_some(), "still there");
        });
    }

    #[test]
    fn a_cookie_that_names_no_socket_touches_nothing() {
        if !nstest::require_bpf() {
            return;
        }
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let (mut c, mut s) = connect(&listener);
            // The connection's tuple with a cookie no socket has: a
            // newcomer on a reused tuple, as the walk sees it.
            let mut t = of(&c);
            t.id.cookie ^= 1 << 40;
            let results = bpf_abort(&[t]);
            assert!(matches!(results[0], Err(Error::NotFound)), "{results:?}");
            assert!(carries_data(&mut c, &mut s));
            assert!(still_accepts(&listener));
        });
    }

    #[test]
    fn many_sockets_over_parallel_walks_each_aborted_once() {
        if !nstest::require_bpf() {
            return;
        }
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let n = MIN_PER_WALK * 2 + 10;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                pairs.push(connect(&listener));
            }
            let targets = clients_of(&listener);
            assert_eq!(targets.len(), n);
            let results = bpf_abort(&targets);
            assert!(
                results.iter().all(Result::is_ok),
                "{:?}",
                results.iter().find(|r| r.is_err())
            );
            for (c, s) in &mut pairs {
                assert_eq!(read_errno(c), Some(libc::ECONNABORTED));
                assert_eq!(read_errno(s), Some(libc::ECONNRESET));
            }
            assert!(still_accepts(&listener));
        });
    }

    #[test]
    fn without_cap_bpf_it_refuses_and_touches_nothing() {
        if !nstest::require_bpf() {
            return;
        }
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let (mut c, mut s) = connect(&listener);
            let t = of(&c);
            let results = as_user(CHILD_UID, || {
                let mut diag = sockdiag::Client::new().unwrap();
                let here = Netns::current().unwrap();
                let mut results = Vec::new();
                Bpf {
                    client: &mut diag,
                    netns: Some(&here),
                }
                .abort(&[t], &mut results);
                results
            });
            match &results[0] {
                Err(err @ Error::MissingCapability { capability, .. }) => {
                    assert_eq!(*capability, "CAP_BPF and CAP_PERFMON");
                    assert!(err.is_refusal() && err.is_privilege());
                }
                other => panic!("{other:?}"),
            }
            assert!(carries_data(&mut c, &mut s));
        });
    }

    /// The client ends of every connection to `listener`, in the dump's
    /// order, as a drop hands them over.
    fn clients_of(listener: &std::net::TcpListener) -> Vec<Target> {
        let port = listener.local_addr().unwrap().port();
        let mut diag = sockdiag::Client::new().unwrap();
        let request = sockdiag::DumpRequest::tcp(sockdiag::Family::Inet, sockdiag::ALL_TCP_STATES);
        diag.dump(&request)
            .unwrap()
            .map(Result::unwrap)
            .filter(|r| r.id.dport == port)
            .map(|r| Target {
                family: r.family,
                id: r.id,
                inode: r.inode,
                state: r.state,
            })
            .collect()
    }

    /// Auto's choice for `targets`: one method per target.
    fn auto(targets: &[Target]) -> Vec<Result<crate::method::Method, Error>> {
        let mut diag = sockdiag::Client::new().unwrap();
        let mut shards = crate::session::Shards::default();
        let here = Netns::current().unwrap();
        crate::abort::choose::abort(
            crate::abort::Act::Abort,
            None,
            &mut diag,
            &mut shards,
            Some(&here),
            targets,
        )
    }

    /// [`auto`] on a thread without the capabilities `without`.
    fn auto_without(targets: &[Target], without: &[CapabilitySet]) -> Vec<crate::method::Method> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut sets = rustix::thread::capabilities(None).unwrap();
                    for cap in without {
                        sets.effective.remove(*cap);
                    }
                    rustix::thread::set_capabilities(None, sets).unwrap();
                    auto(targets)
                        .into_iter()
                        .map(|r| r.unwrap_or_else(|err| panic!("{err}")))
                        .collect()
                })
                .join()
                .unwrap()
        })
    }

    #[test]
    fn auto_walks_for_a_large_drop_only_where_sock_destroy_is_refused() {
        if !nstest::require_bpf() {
            return;
        }
        in_netns(|| {
            let cases: [(&[CapabilitySet], crate::method::Method); 3] = [
                // SOCK_DESTROY first: as fast here, and no walk of the rest.
                (&[], crate::method::Method::Destroy),
                // Refused (EPERM without CAP_NET_ADMIN): the walk.
                (&[CapabilitySet::NET_ADMIN], crate::method::Method::Bpf),
                // And without CAP_BPF either: the holder's descriptors
                // (this process holds every socket).
                (
                    &[
                        CapabilitySet::NET_ADMIN,
                        CapabilitySet::BPF,
                        CapabilitySet::PERFMON,
                        CapabilitySet::SYS_ADMIN,
                    ],
                    crate::method::Method::Owner,
                ),
            ];
            for (without, expected) in cases {
                let listener = listen("127.0.0.1:0");
                let mut pairs: Vec<_> = (0..AUTO_MIN).map(|_| connect(&listener)).collect();
                let methods = auto_without(&clients_of(&listener), without);
                assert_eq!(methods.len(), AUTO_MIN);
                assert!(
                    methods.iter().all(|m| *m == expected),
                    "{without:?}: {:?}",
                    methods.iter().find(|m| **m != expected)
                );
                let seen: &[i32] = match expected {
                    crate::method::Method::Owner => &[libc::ECONNRESET, libc::EPIPE],
                    _ => &[libc::ECONNABORTED],
                };
                for (c, _) in &mut pairs {
                    let errno = read_errno(c);
                    assert!(
                        errno.is_some_and(|e| seen.contains(&e)),
                        "{without:?}: {errno:?}"
                    );
                }
            }
        });
    }

    #[test]
    fn auto_leaves_a_small_drop_to_destroy() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let (mut c, _s) = connect(&listener);
            let results = auto(&[of(&c)]);
            assert!(
                matches!(results[..], [Ok(crate::method::Method::Destroy)]),
                "{results:?}"
            );
            assert_eq!(read_errno(&mut c), Some(libc::ECONNABORTED));
        });
    }

    #[test]
    fn versions_are_read_from_release_strings() {
        assert_eq!(version("6.18.44-fc-v1252"), Some((6, 18)));
        assert_eq!(version("6.1.0-31-amd64"), Some((6, 1)));
        assert_eq!(version("5.15.0"), Some((5, 15)));
        assert!(version("6.1.0").is_some_and(|v| v < (6, 5)));
        assert_eq!(version("weird"), None);
    }
}
