//! Finding sockets by exact lookup: a `SOCK_DIAG_BY_FAMILY` request without
//! `NLM_F_DUMP` names one tuple, and the kernel answers from its hash
//! tables (`inet_diag_find_one_icsk`) instead of walking every socket.
//!
//! The trap (verified on Linux 6.18): for a tuple no connection has, the
//! kernel's lookup falls back to the listener on the local port and
//! answers with that LISTEN socket. So an answer counts only if its tuple
//! is exactly the one asked for.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use sockdiag::{Client, SockId, INET_DIAG_NOCOOKIE};

use super::confirm::Look;
use super::plan::{ends, Plan, Rec, ALIVE};
use crate::abort::Target;
use crate::conn::{canonical_ip, kernel_addr, Connection};
use crate::error::Error;

/// What the lookups found for each asked tuple.
pub(crate) enum Found {
    /// The socket with exactly these ends.
    Socket(Connection),
    /// No socket has them.
    Nothing,
    /// Only a walk can find it: a link-local IPv6 tuple without a scope
    /// (the kernel's lookup needs the interface), or a scoped tuple the
    /// lookup answered with another socket on the same addresses and
    /// ports, one not bound to that interface, which hides any that is
    /// (SPEC §5, shadowed tuples: an unbound socket matches any device).
    NeedsWalk,
}

/// The kernel table and id that name the socket with ends `local` and
/// `remote` in `family`, without a cookie; `None` when no socket of that
/// family can have them (an IPv4 end with an IPv6 one).
fn id_for(local: &SocketAddr, remote: &SocketAddr, family: sockdiag::Family) -> Option<SockId> {
    let (l, r) = (canonical_ip(local.ip()), canonical_ip(remote.ip()));
    let v4 = match (l, r) {
        (IpAddr::V4(_), IpAddr::V4(_)) => true,
        (IpAddr::V6(_), IpAddr::V6(_)) => false,
        _ => return None,
    };
    if !v4 && family == sockdiag::Family::Inet {
        return None;
    }
    let scope = |a: &SocketAddr| match a {
        SocketAddr::V6(v6) if !v4 => v6.scope_id(),
        _ => 0,
    };
    Some(SockId {
        sport: local.port(),
        dport: remote.port(),
        src: kernel_addr(l, family),
        dst: kernel_addr(r, family),
        ifindex: scope(local).max(scope(remote)),
        cookie: INET_DIAG_NOCOOKIE,
    })
}

/// Look up the socket of each `(local, remote)` pair: an IPv4 pair in the
/// IPv4 table, then, if it is not there, as `::ffff:a.b.c.d` in the IPv6
/// table (a dual-stack socket's connection, SPEC §3 trap 3).
pub(crate) fn tuples(
    client: &mut Client,
    tuples: &[(SocketAddr, SocketAddr)],
) -> Result<Vec<Found>, Error> {
    let first_family = |(l, r): &(SocketAddr, SocketAddr)| match canonical_ip(l.ip()) {
        IpAddr::V4(_) if canonical_ip(r.ip()).is_ipv4() => sockdiag::Family::Inet,
        _ => sockdiag::Family::Inet6,
    };
    let mut found: Vec<Found> = Vec::with_capacity(tuples.len());
    let mut asked = Vec::with_capacity(tuples.len());
    let mut index = Vec::with_capacity(tuples.len());
    for (i, tuple) in tuples.iter().enumerate() {
        let family = first_family(tuple);
        found.push(Found::Nothing);
        if let Some(id) = id_for(&tuple.0, &tuple.1, family) {
            asked.push((family, id));
            index.push(i);
        }
    }
    answer(client, tuples, &asked, &index, &mut found)?;
    // IPv4 pairs not in the IPv4 table: their v4-mapped form.
    asked.clear();
    index.clear();
    for (i, tuple) in tuples.iter().enumerate() {
        let missing = matches!(found.get(i), Some(Found::Nothing));
        if missing && first_family(tuple) == sockdiag::Family::Inet {
            if let Some(id) = id_for(&tuple.0, &tuple.1, sockdiag::Family::Inet6) {
                asked.push((sockdiag::Family::Inet6, id));
                index.push(i);
            }
        }
    }
    answer(client, tuples, &asked, &index, &mut found)?;
    for (slot, (local, remote)) in found.iter_mut().zip(tuples) {
        if matches!(slot, Found::Nothing)
            && (unscoped_link_local(local) || unscoped_link_local(remote))
        {
            *slot = Found::NeedsWalk;
        }
    }
    Ok(found)
}

/// Send the lookups `asked` (for the tuples at `index`) and record each
/// answer whose tuple is exactly the one asked for.
fn answer(
    client: &mut Client,
    tuples: &[(SocketAddr, SocketAddr)],
    asked: &[(sockdiag::Family, SockId)],
    index: &[usize],
    found: &mut [Found],
) -> Result<(), Error> {
    if asked.is_empty() {
        return Ok(());
    }
    let mut answers = Vec::with_capacity(asked.len());
    client
        .lookup_batch(asked, &mut answers)
        .map_err(Error::from_diag)?;
    for ((&i, answer), (_, id)) in index.iter().zip(answers).zip(asked) {
        let record = answer.map_err(Error::from_diag)?;
        let (Some(record), Some((local, remote)), Some(slot)) =
            (record, tuples.get(i), found.get_mut(i))
        else {
            continue;
        };
        if let Some(conn) = Connection::from_diag(&record) {
            // The listener the kernel falls back to has another remote end.
            if conn.has_tuple(local, remote) {
                *slot = Found::Socket(conn);
            } else if id.ifindex != 0 && conn.has_tuple(&unscoped(local), &unscoped(remote)) {
                *slot = Found::NeedsWalk;
            }
        }
    }
    Ok(())
}

/// `addr` without its scope.
fn unscoped(addr: &SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, 0)),
        v4 => *v4,
    }
}

fn unscoped_link_local(addr: &SocketAddr) -> bool {
    match addr {
        SocketAddr::V6(v6) => v6.scope_id() == 0 && v6.ip().is_unicast_link_local(),
        SocketAddr::V4(_) => false,
    }
}

/// The loopback peers of the targets at `find`, found by looking up each
/// one's tuple reversed: connections, not listeners (the kernel's lookup
/// falls back to one), whose ends are exactly the target's reversed; each
/// with the index of its target.
pub(crate) fn peers(
    client: &mut Client,
    targets: &[Target],
    find: &[u32],
) -> Result<Vec<(u32, Rec)>, Error> {
    if find.is_empty() {
        return Ok(Vec::new());
    }
    let asked: Vec<(u32, &Target)> = find
        .iter()
        .filter_map(|&i| targets.get(i as usize).map(|t| (i, t)))
        .collect();
    let reversed: Vec<(sockdiag::Family, SockId)> = asked
        .iter()
        .map(|(_, t)| {
            let other = SockId {
                sport: t.id.dport,
                dport: t.id.sport,
                src: t.id.dst,
                dst: t.id.src,
                ifindex: t.id.ifindex,
                cookie: INET_DIAG_NOCOOKIE,
            };
            (t.family, other)
        })
        .collect();
    let mut answers = Vec::with_capacity(reversed.len());
    client
        .lookup_batch(&reversed, &mut answers)
        .map_err(Error::from_diag)?;
    let mut found = Vec::new();
    for ((i, t), answer) in asked.into_iter().zip(answers) {
        let Ok(Some(record)) = answer else {
            continue;
        };
        let Some(peer) = Rec::of_record(&record) else {
            continue;
        };
        let (local, remote) = ends(t.family, &t.id);
        if peer.is_listener() || peer.ends() != (remote, local) {
            continue;
        }
        found.push((i, peer));
    }
    Ok(found)
}

/// Whether each socket of `ids` (cookies included) is still there, by
/// lookups; a socket with no answer counts as there (a drop never claims
/// to have reset a socket it could not look at).
pub(crate) fn alive(client: &mut Client, ids: &[(sockdiag::Family, SockId)]) -> Vec<bool> {
    let mut answers = Vec::with_capacity(ids.len());
    // The answers read before a failure still count.
    let _ = client.lookup_batch(ids, &mut answers);
    let mut answers = answers.into_iter();
    ids.iter()
        .map(|(_, id)| match answers.next() {
            Some(Ok(Some(record))) => record.id.cookie == id.cookie,
            Some(Ok(None)) => false,
            _ => true,
        })
        .collect()
}

/// The look after the drops, by lookups: which watched peers are still
/// there (same tuple, same cookie), and who holds the tuples of the
/// sockets found gone.
pub(crate) fn look(
    client: &mut Client,
    plan: &mut Plan,
    closed: &[Connection],
) -> Result<Look, Error> {
    let mut look = Look::new(plan, closed);
    let mut asked: Vec<(sockdiag::Family, SockId)> = plan
        .peers
        .list
        .iter()
        .map(|p| {
            let t = p.target();
            (t.family, t.id)
        })
        .collect();
    let watched = asked.len();
    asked.extend(closed.iter().map(|c| {
        let id = SockId {
            cookie: INET_DIAG_NOCOOKIE,
            ..c.sock_id()
        };
        (c.socket_family(), id)
    }));
    if asked.is_empty() {
        return Ok(look);
    }
    let mut answers = Vec::with_capacity(asked.len());
    client
        .lookup_batch(&asked, &mut answers)
        .map_err(Error::from_diag)?;
    let mut answers = answers.into_iter();
    for (peer, (_, id)) in plan.peers.list.iter_mut().zip(asked.iter().take(watched)) {
        let alive = match answers.next() {
            Some(Ok(Some(record))) => record.id.cookie == id.cookie,
            Some(Ok(None)) => false,
            // No answer: never claim that a drop reset it.
            _ => true,
        };
        peer.set(ALIVE, alive);
    }
    for conn in closed {
        let Some(Ok(Some(record))) = answers.next() else {
            continue;
        };
        if let Some(now) = Connection::from_diag(&record) {
            if (now.local, now.remote) == (conn.local, conn.remote) {
                look.now.insert((conn.local, conn.remote), now.cookie);
            }
        }
    }
    Ok(look)
}
