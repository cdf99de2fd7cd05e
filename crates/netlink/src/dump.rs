//! A dump in progress, read one datagram at a time.

use std::marker::PhantomData;

use rustix::io::Errno;
use rustix::net::RecvFlags;

use crate::message::{parse_datagram, Reply, NLM_F_DUMP_INTR};
use crate::socket::Socket;
use crate::{Error, Protocol};

/// A dump in progress: an iterator over the records of one reply
/// ([`Socket::dump`]).
///
/// It yields [`Error::Interrupted`] last if the kernel flagged the dump as
/// inconsistent (`NLM_F_DUMP_INTR`), and stops after any error. Dropping it
/// early reads and discards the rest of the reply, so the socket is ready
/// for the next request.
pub struct Dump<'a, P: Protocol> {
    socket: &'a mut Socket,
    seq: u32,
    pos: usize,
    len: usize,
    interrupted: bool,
    /// The kernel's reply has ended (or the socket failed): nothing more to read.
    done: bool,
    /// The iterator has returned `None` or an error and is fused.
    finished: bool,
    /// A malformed message was seen: the rest of its datagram, where the
    /// end of the reply might have been, is lost, so draining must not
    /// block waiting for an end that may never come.
    corrupt: bool,
    protocol: PhantomData<fn() -> P>,
}

// By hand: a derive would ask `P` (a marker) to be `Debug` too.
impl<P: Protocol> std::fmt::Debug for Dump<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dump")
            .field("socket", &self.socket)
            .field("seq", &self.seq)
            .field("pos", &self.pos)
            .field("len", &self.len)
            .field("interrupted", &self.interrupted)
            .field("done", &self.done)
            .field("finished", &self.finished)
            .field("corrupt", &self.corrupt)
            .finish()
    }
}

impl<'a, P: Protocol> Dump<'a, P> {
    pub(crate) fn new(socket: &'a mut Socket, seq: u32) -> Dump<'a, P> {
        Dump {
            socket,
            seq,
            pos: 0,
            len: 0,
            interrupted: false,
            done: false,
            finished: false,
            corrupt: false,
            protocol: PhantomData,
        }
    }

    /// End as though the kernel had flagged the dump inconsistent
    /// (`NLM_F_DUMP_INTR`): for a protocol crate's fault injection.
    pub fn mark_interrupted(&mut self) {
        self.interrupted = true;
    }

    /// Yield nothing more (the caller has yielded its own error in the
    /// dump's place); dropping the dump still drains the reply.
    pub fn stop(&mut self) {
        self.finished = true;
    }

    fn step(&mut self) -> Result<Option<P::Record>, Error<P>> {
        loop {
            if self.pos >= self.len {
                // The kernel produces the next part of a dump inside
                // recvmsg, so a non-blocking read still drains a live dump;
                // EAGAIN then means the reply has ended.
                let flags = if self.corrupt {
                    RecvFlags::DONTWAIT
                } else {
                    RecvFlags::empty()
                };
                self.len = match self.socket.recv::<P>(flags) {
                    Ok(len) => len,
                    // A datagram too big for the buffer (MSG_TRUNC) is lost,
                    // but the reply goes on: drain it without blocking.
                    Err(err @ Error::Invalid(_)) => {
                        self.corrupt = true;
                        return Err(err);
                    }
                    Err(err) => {
                        self.done = true;
                        return Err(err);
                    }
                };
                self.pos = 0;
                if self.len == 0 {
                    // Says nothing of where the reply is: read on.
                    return Err(Error::Invalid("the netlink socket returned no data".into()));
                }
            }
            let rest = self.socket.rx.get(self.pos..self.len).unwrap_or_default();
            let Some(message) = parse_datagram::<P>(rest).next() else {
                self.pos = self.len;
                continue;
            };
            let (header, reply) = match message {
                Ok(parsed) => parsed,
                Err(err) => {
                    self.pos = self.len;
                    self.corrupt = true;
                    return Err(err);
                }
            };
            self.pos = self.pos.saturating_add(header.advance()).min(self.len);
            if header.seq != self.seq {
                continue; // left over from an earlier request
            }
            if header.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            if matches!(reply, Reply::Done { .. } | Reply::Overrun)
                || matches!(reply, Reply::Ack { errno } if errno != 0)
            {
                self.done = true;
            }
            match reply {
                Reply::Record(record) => return Ok(Some(record)),
                Reply::Done { errno: 0 } => {
                    return if self.interrupted {
                        Err(Error::Interrupted)
                    } else {
                        Ok(None)
                    };
                }
                Reply::Done { errno } | Reply::Ack { errno } if errno != 0 => {
                    return Err(P::dump_error(errno))
                }
                Reply::Overrun => return Err(Error::from(Errno::NOBUFS)),
                Reply::Done { .. } | Reply::Ack { .. } | Reply::Other => continue,
            }
        }
    }
}

impl<P: Protocol> Iterator for Dump<'_, P> {
    type Item = Result<P::Record, Error<P>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.step() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(err) => {
                self.finished = true;
                Some(Err(err))
            }
        }
    }
}

impl<P: Protocol> Drop for Dump<'_, P> {
    fn drop(&mut self) {
        // The kernel refuses a new dump (EBUSY) while one is unfinished on
        // the socket, so read this one to its end. A socket error ends it too.
        // A malformed message is skipped; only the end of the reply or a
        // failing socket stops the draining.
        while !self.done {
            let _ = self.step();
        }
    }
}
