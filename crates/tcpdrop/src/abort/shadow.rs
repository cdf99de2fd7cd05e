//! Shadowed tuples (SPEC §5): telling a socket that is gone from one that
//! another socket hides.
//!
//! A socket bound to a device (`SO_BINDTODEVICE`) can share its 4-tuple
//! with an unbound one. The kernel's lookup by tuple (`inet_lookup` with
//! `idiag_if` as the device, in `inet_diag_find_one_icsk`) takes the first
//! socket of the hash chain that matches, and an unbound socket matches any
//! device; a newer socket sits first. So a request for the bound one, by
//! its tuple and cookie, finds the other and is refused (`ENOENT`) as if
//! the bound one were gone; and a segment for the tuple, demultiplexed the
//! same way, reaches the other one. The ways that name a socket by its
//! tuple (destroy, inject) ask [`settle`] about each "not found" they get
//! before they call it gone; owner, which names the socket itself, asks
//! [`present`] only to confirm.
//!
//! Only a socket bound to a device can be hidden ([`may_be_shadowed`]): a
//! request naming no device matches unbound sockets only, and no two
//! unbound sockets share a tuple (`connect` refuses a tuple that an
//! unbound socket holds, whatever its own device). So the check, a dump,
//! runs only when a bound socket was not found, which a drop of unbound
//! sockets never meets.

use std::collections::HashSet;

use sockdiag::{Client, DumpRequest, Family};

use super::Target;
use crate::error::Error;

/// How many times a dump the kernel flags as interrupted is repeated.
const DUMP_ATTEMPTS: usize = 3;

/// Whether another socket on its tuple can hide `target` from a lookup by
/// tuple: it is bound to a device.
pub(crate) fn may_be_shadowed(target: &Target) -> bool {
    target.id.ifindex != 0
}

/// What a way that names sockets by their tuple would meet, found without
/// touching any (a dry run): `results` (for `targets`, in their order) that
/// say `Ok` are looked up by tuple and cookie where another socket on the
/// tuple may hide them, and one that the lookup misses is settled as a
/// request's "not found" is ([`settle`]): [`Error::Shadowed`], or gone.
pub(crate) fn check(diag: &mut Client, targets: &[Target], results: &mut [Result<(), Error>]) {
    let asked: Vec<(Family, sockdiag::SockId)> = targets
        .iter()
        .zip(results.iter())
        .filter(|(t, r)| r.is_ok() && may_be_shadowed(t))
        .map(|(t, _)| (t.family, t.id))
        .collect();
    if asked.is_empty() {
        return;
    }
    let mut found = Vec::with_capacity(asked.len());
    let lost = diag.lookup_batch(&asked, &mut found).err();
    let mut found = found.into_iter();
    for (target, result) in targets.iter().zip(results.iter_mut()) {
        if result.is_err() || !may_be_shadowed(target) {
            continue;
        }
        *result = match found.next() {
            Some(Ok(Some(_))) => Ok(()),
            Some(Ok(None)) => Err(Error::NotFound),
            Some(Err(err)) => Err(Error::from_diag(err)),
            None => Err(Error::Netlink(format!(
                "the lookup gave no answer{}",
                lost.as_ref().map_or(String::new(), |e| format!(": {e}"))
            ))),
        };
    }
    settle(diag, targets, results);
}

/// The answers of requests by tuple and cookie for `targets` (`results`,
/// in their order): each "not found" for a socket that is in fact still
/// in the kernel's tables becomes [`Error::Shadowed`]. When that cannot be
/// told (the dump failed), the answer says so instead of "not found".
pub(crate) fn settle(diag: &mut Client, targets: &[Target], results: &mut [Result<(), Error>]) {
    let asked: Vec<&Target> = targets
        .iter()
        .zip(results.iter())
        .filter(|(t, r)| matches!(r, Err(Error::NotFound)) && may_be_shadowed(t))
        .map(|(t, _)| t)
        .collect();
    if asked.is_empty() {
        return;
    }
    let found = present(diag, &asked);
    for (target, result) in targets.iter().zip(results.iter_mut()) {
        if !matches!(result, Err(Error::NotFound)) || !may_be_shadowed(target) {
            continue;
        }
        *result = match &found {
            Ok(found) if found.contains(&target.id.cookie) => Err(Error::Shadowed),
            Ok(_) => Err(Error::NotFound),
            Err(err) => Err(Error::Netlink(format!(
                "the kernel found no such socket by its tuple, and the dump that tells a gone \
                 socket from one another socket on its tuple hides failed: {err}"
            ))),
        };
    }
}

/// The cookies of those of `targets` that are in the kernel's tables, by a
/// dump per family narrowed in the kernel to the targets' ports when they
/// share them (the kernel compares the request's ports before anything
/// else, `inet_diag_dump_icsk`): the exact answer a lookup by tuple cannot
/// give for a shadowed socket.
pub(crate) fn present(diag: &mut Client, targets: &[&Target]) -> Result<HashSet<u64>, Error> {
    let mut found = HashSet::new();
    for family in [Family::Inet, Family::Inet6] {
        let of_family: Vec<&&Target> = targets.iter().filter(|t| t.family == family).collect();
        let Some(first) = of_family.first() else {
            continue;
        };
        let wanted: HashSet<u64> = of_family.iter().map(|t| t.id.cookie).collect();
        let mut request = DumpRequest::tcp(family, sockdiag::ALL_TCP_STATES);
        if of_family.iter().all(|t| t.id.sport == first.id.sport) {
            request.sport = first.id.sport;
        }
        if of_family.iter().all(|t| t.id.dport == first.id.dport) {
            request.dport = first.id.dport;
        }
        dump_cookies(diag, &request, &wanted, &mut found)?;
    }
    Ok(found)
}

/// Add the cookies of `wanted` that `request`'s dump lists to `found`,
/// repeating a dump the kernel flags as interrupted (a socket may have
/// been skipped) up to [`DUMP_ATTEMPTS`] times.
fn dump_cookies(
    diag: &mut Client,
    request: &DumpRequest,
    wanted: &HashSet<u64>,
    found: &mut HashSet<u64>,
) -> Result<(), Error> {
    for attempt in 1..=DUMP_ATTEMPTS {
        let mut failure = None;
        for record in diag.dump(request).map_err(Error::from_diag)? {
            match record {
                Ok(record) if wanted.contains(&record.id.cookie) => {
                    found.insert(record.id.cookie);
                }
                Ok(_) => {}
                Err(err) => failure = Some(err),
            }
        }
        match failure {
            None => return Ok(()),
            Some(sockdiag::Error::Interrupted) if attempt < DUMP_ATTEMPTS => {}
            Some(err) => return Err(Error::from_diag(err)),
        }
    }
    Ok(())
}
