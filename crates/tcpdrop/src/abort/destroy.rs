//! Aborting by the kernel's `SOCK_DESTROY`: the socket is named by its id
//! *and cookie* (SPEC §3, traps 1 and 2), many per `sendmsg`, and for large
//! drops over several diag sockets on threads of their own.

use sockdiag::{Client, TcpState};

use super::{shadow, Abort, Target};
use crate::error::Error;
use crate::netns::Netns;

/// Destroys are spread over several diag sockets, one thread each, only
/// when every thread gets at least this many: below it a thread costs more
/// than it saves. (The kernel's work per destroy, the abort, the reset and
/// the owner's wake-up, runs on the sending thread's CPU.)
const MIN_PER_THREAD: usize = 2048;
/// At most this many threads destroy at once.
const MAX_THREADS: usize = 8;

/// The extra diag sockets of a session's namespace for parallel destroys,
/// made on the first large drop and kept.
#[derive(Debug, Default)]
pub(crate) struct Shards {
    helpers: Vec<Client>,
}

impl Shards {
    /// Make sure there are `n` helper diag sockets in `home`, the session's
    /// namespace; fewer if they cannot be made (none where it is not
    /// known: then destroys stay on one socket).
    fn ensure(&mut self, n: usize, home: Option<&Netns>) {
        let Some(home) = home else { return };
        let missing = n.saturating_sub(self.helpers.len());
        if missing == 0 {
            return;
        }
        let made = home
            .run(|| {
                (0..missing)
                    .map_while(|_| Client::new().ok())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        self.helpers.extend(made);
    }

    /// Up to `n` helper diag sockets of `home`, the session's namespace,
    /// made if need be, for a drop's worker threads (none where `home` is
    /// not known).
    pub(crate) fn lend(&mut self, n: usize, home: Option<&Netns>) -> &mut [Client] {
        self.ensure(n, home);
        let n = n.min(self.helpers.len());
        self.helpers.get_mut(..n).unwrap_or_default()
    }
}

/// `SOCK_DESTROY` over a session's diag socket and its shards.
pub(crate) struct Destroy<'a> {
    pub(crate) client: &'a mut Client,
    pub(crate) shards: &'a mut Shards,
    /// The namespace `client` was made in, where shards are made too.
    pub(crate) netns: Option<&'a Netns>,
}

impl Abort for Destroy<'_> {
    /// The first request goes alone: if the kernel refuses it for lack of
    /// privilege or support, nothing more is sent and the rest fail alike.
    /// (A TIME-WAIT socket may be refused for its state alone before Linux
    /// 6.0, so its refusal stops nothing.) The kernel finds each socket by
    /// its tuple: a "not found" for one that another socket on its tuple
    /// hides is [`Error::Shadowed`] ([`shadow::settle`]).
    fn abort(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>) {
        let start = results.len();
        let ids: Vec<(sockdiag::Family, sockdiag::SockId)> =
            targets.iter().map(|t| (t.family, t.id)).collect();
        let mut answers = Vec::with_capacity(ids.len());
        let (head, tail) = ids.split_at(ids.len().min(1));
        let mut lost = self.client.destroy_batch(head, &mut answers).err();
        let first_state = targets.first().map(|t| t.state);
        let refusal = match (answers.first(), first_state) {
            (Some(Err(err @ sockdiag::Error::PermissionDenied)), _) => err.errno(),
            (Some(Err(err @ sockdiag::Error::NotSupported { .. })), Some(first))
                if first != TcpState::TimeWait =>
            {
                err.errno()
            }
            _ => None,
        };
        if lost.is_none() && refusal.is_none() {
            lost = self.sharded(tail, &mut answers);
        }
        let mut answers = answers.into_iter();
        for _ in targets {
            results.push(match answers.next() {
                Some(Ok(())) => Ok(()),
                Some(Err(err)) => Err(Error::from_diag(err)),
                None => Err(match (refusal, &lost) {
                    (Some(errno), _) => Error::from_diag(sockdiag::Error::from_errno(errno)),
                    (None, Some(err)) => Error::Netlink(format!(
                        "no answer from the kernel ({err}): it may or may not have been dropped"
                    )),
                    (None, None) => Error::Netlink("no answer from the kernel".into()),
                }),
            });
        }
        if let Some(answered) = results.get_mut(start..) {
            shadow::settle(self.client, targets, answered);
        }
    }

    /// The kernel's support and the caller's privilege ([`Destroy::allowed`]);
    /// then, as the destroy finds each socket by its tuple, one that
    /// another socket on its tuple hides is [`Error::Shadowed`]
    /// ([`shadow::check`]).
    fn check(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>) {
        if targets.is_empty() {
            return;
        }
        let start = results.len();
        let allowed = self.allowed();
        results.extend(targets.iter().map(|_| match &allowed {
            Ok(()) => Ok(()),
            Err(err) => Err(err.again()),
        }));
        if allowed.is_err() {
            return;
        }
        if let Some(answered) = results.get_mut(start..) {
            shadow::check(self.client, targets, answered);
        }
    }
}

/// Whether this kernel can destroy sockets at all (SPEC §3, support probe).
///
/// It asks to destroy a socket that cannot exist (local port 0, cookie 0,
/// which `sock_gen_cookie` never hands out): the kernel checks for destroy
/// support before it looks anything up, so the answer is `EOPNOTSUPP`
/// without support and `ENOENT` with it. Needs no privilege and touches
/// nothing.
pub(crate) fn supported(client: &mut Client) -> Result<bool, Error> {
    let id = sockdiag::SockId {
        sport: 0,
        dport: 0,
        src: [0; 16],
        dst: [0; 16],
        ifindex: 0,
        cookie: 0,
    };
    match client.destroy(sockdiag::Family::Inet, &id) {
        Err(sockdiag::Error::NotFound { .. }) => Ok(true),
        Err(sockdiag::Error::NotSupported { .. }) => Ok(false),
        // Nothing should match; if something did, the cookie check refused it.
        Ok(()) | Err(sockdiag::Error::PermissionDenied) => Ok(true),
        Err(err) => Err(Error::from_diag(err)),
    }
}

impl Destroy<'_> {
    /// Whether `SOCK_DESTROY` would be allowed, touching no socket: the
    /// kernel's support first (as the kernel checks it before the lookup),
    /// then `CAP_NET_ADMIN` in effect. The kernel checks the privilege only
    /// once it has found the very socket, so that part is read from the
    /// caller's capabilities, the check auto makes before it destroys.
    fn allowed(&mut self) -> Result<(), Error> {
        if !supported(self.client)? {
            return Err(Error::NotSupported);
        }
        match crate::privilege::net_admin() {
            crate::Privilege::Effective => Ok(()),
            other => Err(Error::AccessDenied(other)),
        }
    }

    /// Destroy `ids`, pushing one result each onto `results` in their order:
    /// on the session's socket, or for many, in contiguous shards over
    /// helper sockets on threads of their own (one per CPU). The kernel's
    /// work for a destroy runs on the sending CPU, so shards run in
    /// parallel. Returns the failure of a socket, after which the answers of
    /// its shard's later targets are missing (and so are all that follow).
    fn sharded(
        &mut self,
        ids: &[(sockdiag::Family, sockdiag::SockId)],
        results: &mut Vec<Result<(), sockdiag::Error>>,
    ) -> Option<sockdiag::Error> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cpus.min(MAX_THREADS).min(ids.len() / MIN_PER_THREAD).max(1);
        if threads > 1 {
            self.shards.ensure(threads - 1, self.netns);
        }
        let threads = threads.min(self.shards.helpers.len() + 1);
        if threads <= 1 {
            return self.client.destroy_batch(ids, results).err();
        }
        let per = ids.len().div_ceil(threads);
        let mut chunks = ids.chunks(per);
        let mine = chunks.next().unwrap_or_default();
        let client = &mut *self.client;
        let helpers = &mut self.shards.helpers;
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .zip(helpers.iter_mut())
                .map(|(chunk, helper)| {
                    scope.spawn(move || {
                        let mut out = Vec::with_capacity(chunk.len());
                        let lost = helper.destroy_batch(chunk, &mut out).err();
                        (out, lost)
                    })
                })
                .collect();
            let mut lost = client.destroy_batch(mine, results).err();
            for handle in handles {
                let (out, shard_lost) = handle.join().unwrap_or_else(|_| {
                    (
                        Vec::new(),
                        Some(sockdiag::Error::Invalid("a destroy thread panicked".into())),
                    )
                });
                // Answers stay in target order: once a shard is short, the
                // rest are unknown.
                if lost.is_none() {
                    results.extend(out);
                    lost = shard_lost;
                }
            }
            lost
        })
    }
}
