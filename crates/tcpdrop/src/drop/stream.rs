//! Aborting a drop's targets while its dump goes on: batches of targets go
//! to worker threads, each with a diag socket of its own in the session's
//! namespace, which look the targets' peers up where the dump did not show
//! them, abort the targets, and look again at the peers; the answers come
//! back, in the order the batches were sent, to the thread that reports
//! them. The kernel's work for an abort (the reset, the peer's processing
//! of it, its owner's wake-up) runs on the worker's CPU, beside the dump.

use std::collections::{HashMap, VecDeque};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::Scope;

use sockdiag::{Client, SockId};

use super::confirm::Answers;
use super::lookup;
use super::plan::{Batch, Rec};
use crate::abort::{choose, Act, Target};
use crate::error::Error;
use crate::method::Method;
use crate::netns::Netns;
use crate::session::Shards;

/// A batch as a worker needs it.
pub(crate) struct Job {
    id: u64,
    targets: Vec<Target>,
    /// Targets whose peers are looked up first.
    find: Vec<u32>,
    /// The peers the dump showed: the index of their target, and their id.
    watch: Vec<(u32, sockdiag::Family, SockId)>,
    /// Look again at the peers of the targets dropped.
    verify: bool,
}

impl Job {
    pub(crate) fn of(id: u64, batch: &Batch, verify: bool) -> Job {
        Job {
            id,
            targets: batch.recs.iter().map(Rec::target).collect(),
            find: batch.find.clone(),
            // Only a job that looks again at the peers needs their ids.
            watch: if verify {
                batch
                    .peers
                    .iter()
                    .map(|(t, p)| {
                        let target = p.target();
                        (*t, target.family, target.id)
                    })
                    .collect()
            } else {
                Vec::new()
            },
            verify,
        }
    }
}

/// Do a job on `client`: look up the peers asked for, abort the targets by
/// `method` (after the test hook, when `hook`), and, if asked, look again
/// at the peers of those dropped.
pub(crate) fn run(
    client: &mut Client,
    shards: &mut Shards,
    netns: Option<&Netns>,
    method: Option<Method>,
    job: Job,
    hook: bool,
) -> Result<Answers, Error> {
    let found = lookup::peers(client, &job.targets, &job.find)?;
    if hook {
        super::hook::before_abort();
    }
    let results = choose::abort(Act::Abort, method, client, shards, netns, &job.targets);
    let alive = if job.verify {
        let dropped = |t: u32| results.get(t as usize).is_some_and(Result::is_ok);
        let peers = job.watch.iter().copied().chain(found.iter().map(|(t, p)| {
            let target = p.target();
            (*t, target.family, target.id)
        }));
        let mut alive = Vec::new();
        let mut asked = Vec::new();
        let mut at = Vec::new();
        for (j, (t, family, id)) in peers.enumerate() {
            alive.push(true);
            if dropped(t) {
                asked.push((family, id));
                at.push(j);
            }
        }
        for (j, there) in at.into_iter().zip(lookup::alive(client, &asked)) {
            if let Some(slot) = alive.get_mut(j) {
                *slot = there;
            }
        }
        alive
    } else {
        Vec::new()
    };
    Ok(Answers {
        results,
        found,
        alive,
    })
}

/// What came back from a worker.
type Reply = (u64, Result<Answers, Error>);

/// The workers of one drop, started as batches come (one per CPU at most,
/// each on one of the session's extra diag sockets), and the batches sent
/// to them, in order.
pub(crate) struct Pool<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    /// Diag sockets not yet given to a worker.
    idle: std::slice::IterMut<'env, Client>,
    method: Option<Method>,
    netns: Option<&'env Netns>,
    jobs: Option<mpsc::Sender<Job>>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    replies: mpsc::Sender<Reply>,
    answers: mpsc::Receiver<Reply>,
    workers: usize,
    most: usize,
    sent: VecDeque<(u64, Batch)>,
    arrived: HashMap<u64, Result<Answers, Error>>,
    next: u64,
    /// Peers of the batches in flight.
    pub(crate) peers_in_flight: usize,
}

impl<'scope, 'env> Pool<'scope, 'env> {
    /// A pool that will start up to one worker per diag socket of
    /// `clients`.
    pub(crate) fn new(
        scope: &'scope Scope<'scope, 'env>,
        clients: &'env mut [Client],
        method: Option<Method>,
        netns: Option<&'env Netns>,
    ) -> Pool<'scope, 'env> {
        let (jobs, queue) = mpsc::channel();
        let (replies, answers) = mpsc::channel();
        Pool {
            scope,
            most: clients.len(),
            idle: clients.iter_mut(),
            method,
            netns,
            jobs: Some(jobs),
            queue: Arc::new(Mutex::new(queue)),
            replies,
            answers,
            workers: 0,
            sent: VecDeque::new(),
            arrived: HashMap::new(),
            next: 0,
            peers_in_flight: 0,
        }
    }

    /// How many workers it may have.
    pub(crate) fn most(&self) -> usize {
        self.most
    }

    /// Whether any batch went to a worker.
    pub(crate) fn started(&self) -> bool {
        self.workers > 0
    }

    /// Batches sent and not yet handed back.
    pub(crate) fn in_flight(&self) -> usize {
        self.sent.len()
    }

    /// Send `batch` to a worker (starting one if every worker is busy and
    /// there is a diag socket left).
    pub(crate) fn send(&mut self, batch: Batch, verify: bool) {
        if self.sent.len() >= self.workers {
            if let Some(client) = self.idle.next() {
                self.start(client);
            }
        }
        let id = self.next;
        self.next += 1;
        let job = Job::of(id, &batch, verify);
        self.peers_in_flight += batch.peers.len();
        let taken = self.workers > 0
            && self
                .jobs
                .as_ref()
                .is_some_and(|jobs| jobs.send(job).is_ok());
        if !taken {
            // No worker to take it: answer it as one would have, never
            // silently (the caller sends only where a worker can start).
            let _ = self.replies.send((
                id,
                Err(Error::NotAborted("no worker thread took the batch".into())),
            ));
        }
        self.sent.push_back((id, batch));
    }

    fn start(&mut self, client: &'env mut Client) {
        let queue = Arc::clone(&self.queue);
        let replies = self.replies.clone();
        let (method, netns) = (self.method, self.netns);
        self.workers += 1;
        let worker = std::thread::Builder::new().name("tcpdrop-abort".into());
        let spawned = worker.spawn_scoped(self.scope, move || {
            let mut shards = Shards::for_worker();
            loop {
                let job = match queue.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => break,
                };
                let Ok(job) = job else { break };
                let id = job.id;
                let answers = run(client, &mut shards, netns, method, job, false);
                if replies.send((id, answers)).is_err() {
                    break;
                }
            }
        });
        if spawned.is_err() {
            // No thread: the batches sent are answered as failed.
            self.workers -= 1;
        }
    }

    /// Hand back, in the order they were sent, the batches whose answers
    /// came; with `wait`, wait for at least one if any is in flight.
    pub(crate) fn collect(
        &mut self,
        wait: bool,
        mut each: impl FnMut(Batch, Result<Answers, Error>),
    ) {
        let mut handed = 0;
        loop {
            while let Some((id, _)) = self.sent.front() {
                let Some(answers) = self.arrived.remove(id) else {
                    break;
                };
                let Some((_, batch)) = self.sent.pop_front() else {
                    break;
                };
                self.peers_in_flight = self.peers_in_flight.saturating_sub(batch.peers.len());
                handed += 1;
                each(batch, answers);
            }
            let block = wait && handed == 0 && !self.sent.is_empty();
            let reply = if block {
                self.answers.recv().ok()
            } else {
                self.answers.try_recv().ok()
            };
            match reply {
                Some((id, answers)) => {
                    self.arrived.insert(id, answers);
                }
                None => return,
            }
        }
    }

    /// Wait for every batch in flight and hand each back.
    pub(crate) fn drain(&mut self, mut each: impl FnMut(Batch, Result<Answers, Error>)) {
        while !self.sent.is_empty() {
            self.collect(true, &mut each);
        }
    }
}

impl Drop for Pool<'_, '_> {
    fn drop(&mut self) {
        // The workers stop once the queue is closed and empty.
        self.jobs = None;
    }
}
