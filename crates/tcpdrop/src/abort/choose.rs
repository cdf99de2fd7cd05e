//! The choice between the ways of aborting: one forced, or the best that
//! works for each socket (`--method auto`).
//!
//! Auto: `SOCK_DESTROY` where the kernel has it and the caller may use it
//! (it is tried once, alone, and a refusal costs nothing); otherwise, for a
//! socket a process holds, that process's own descriptor (`owner`: needs
//! no capability for the caller's own dumpable processes); otherwise, and
//! for sockets no process holds (TIME-WAIT, SYN-RECV, orphans), a reset
//! injected after the socket's own ACK (`inject`: `CAP_NET_RAW`). A forced
//! method never falls back. Where `SOCK_DESTROY` cannot, a large drop goes
//! to the kernel's own walk (`bpf`) before `owner` and `inject`, when the
//! kernel has it and the caller may use it (`bpf::worth_it`). Not before
//! `SOCK_DESTROY`: measured on a 2-CPU machine at 10,000 and 100,000
//! connections, the walk was no faster than sharded `SOCK_DESTROY` (each
//! walk visits every socket of the namespace), and far faster than
//! `owner` (1.8x at 10,000) and `inject`.
//!
//! A socket that another socket on its tuple hides (SPEC §5, shadowed
//! tuples) cannot be reached by destroy nor by inject, which both name it
//! by its tuple: once destroy finds it shadowed, auto goes on to bpf (which
//! matches cookies, for a large drop) or owner, and does not hand it to
//! inject.
//!
//! A dry run makes the same choice with each way's check in place of its
//! abort ([`Act::Check`]): which way would take each socket, or why none
//! would be allowed.

use sockdiag::Client;

use super::bpf::{self, Bpf};
use super::destroy::Destroy;
use super::inject::Inject;
use super::owner::Owner;
use super::{Act, Target};
use crate::error::Error;
use crate::method::Method;
use crate::netns::Netns;
use crate::session::Shards;

/// Abort `targets` by `method` (`None`: auto), one result per target in
/// their order: the method that aborted it, or why none could. With
/// [`Act::Check`], nothing is touched: the method that would abort it, or
/// why none would be allowed.
///
/// `client`, `shards` and `netns` are of the targets' network namespace:
/// every socket a way opens is opened there.
pub(crate) fn abort(
    act: Act,
    method: Option<Method>,
    client: &mut Client,
    shards: &mut Shards,
    netns: Option<&Netns>,
    targets: &[Target],
) -> Vec<Result<Method, Error>> {
    let mut out: Vec<Result<Method, Error>> = Vec::with_capacity(targets.len());
    let Some(method) = method else {
        return auto(act, client, shards, netns, targets);
    };
    let mut results = Vec::with_capacity(targets.len());
    match method {
        Method::Destroy => act.on(
            &mut Destroy {
                client,
                shards,
                netns,
            },
            targets,
            &mut results,
        ),
        Method::Owner => act.on(&mut Owner::new(client), targets, &mut results),
        Method::Inject => act.on(
            &mut Inject::new(client, netns).keeping(shards.wire()),
            targets,
            &mut results,
        ),
        Method::Bpf => act.on(&mut Bpf { client, netns }, targets, &mut results),
    }
    out.extend(results.into_iter().map(|r| r.map(|()| method)));
    out
}

/// Whether a method's failure means "this way cannot be used here" (try
/// the next), rather than an answer about the socket itself.
fn cannot_use(err: &Error) -> bool {
    matches!(
        err,
        Error::AccessDenied(_)
            | Error::NotSupported
            | Error::MissingCapability { .. }
            | Error::Forbidden(_)
            | Error::NoHolder
            | Error::Shadowed
            | Error::BpfUnsupported(_)
            | Error::NotFullSocket
    )
}

fn auto(
    act: Act,
    client: &mut Client,
    shards: &mut Shards,
    netns: Option<&Netns>,
    targets: &[Target],
) -> Vec<Result<Method, Error>> {
    // What each target's attempts said so far, per method tried.
    let mut tried: Vec<Vec<(Method, Error)>> = targets.iter().map(|_| Vec::new()).collect();
    let mut out: Vec<Option<Result<Method, Error>>> = targets.iter().map(|_| None).collect();

    // 1. destroy, unless the caller plainly lacks CAP_NET_ADMIN (then the
    // kernel would only say EPERM).
    let mut left: Vec<usize> = (0..targets.len()).collect();
    if crate::privilege::net_admin() != crate::privilege::Privilege::Missing {
        let mut results = Vec::with_capacity(targets.len());
        act.on(
            &mut Destroy {
                client,
                shards,
                netns,
            },
            targets,
            &mut results,
        );
        left = settle(
            Method::Destroy,
            results,
            &(0..targets.len()).collect::<Vec<_>>(),
            &mut out,
            &mut tried,
        );
    } else {
        for t in tried.iter_mut() {
            t.push((
                Method::Destroy,
                Error::AccessDenied(crate::privilege::Privilege::Missing),
            ));
        }
    }

    // 1b. bpf, for what destroy could not do, when that is a large drop
    // and bpf is allowed (bpf::worth_it).
    if left.len() >= bpf::AUTO_MIN {
        let subset: Vec<Target> = left
            .iter()
            .filter_map(|&i| targets.get(i).copied())
            .collect();
        if bpf::worth_it(&subset, netns) {
            let mut results = Vec::with_capacity(subset.len());
            act.on(&mut Bpf { client, netns }, &subset, &mut results);
            left = settle(Method::Bpf, results, &left, &mut out, &mut tried);
        }
    }

    // 2. owner, for the sockets a process may hold.
    let (held, unheld): (Vec<usize>, Vec<usize>) = left
        .into_iter()
        .partition(|&i| targets.get(i).is_some_and(|t| t.inode != 0));
    for &i in &unheld {
        if let Some(t) = tried.get_mut(i) {
            t.push((Method::Owner, Error::NoHolder));
        }
    }
    let mut left = unheld;
    if !held.is_empty() {
        let subset: Vec<Target> = held
            .iter()
            .filter_map(|&i| targets.get(i).copied())
            .collect();
        let mut results = Vec::with_capacity(subset.len());
        act.on(&mut Owner::new(client), &subset, &mut results);
        left.extend(settle(Method::Owner, results, &held, &mut out, &mut tried));
        left.sort_unstable();
    }

    // 3. inject, for what is left, but a socket destroy found shadowed:
    // inject names it by its tuple too, and its probe would reach the
    // socket that hides it.
    let (shadowed, left): (Vec<usize>, Vec<usize>) = left.into_iter().partition(|&i| {
        tried
            .get(i)
            .is_some_and(|t| t.iter().any(|(_, e)| matches!(e, Error::Shadowed)))
    });
    for &i in &shadowed {
        if let (Some(slot), Some(t)) = (out.get_mut(i), tried.get_mut(i)) {
            t.push((Method::Inject, Error::Shadowed));
            *slot = Some(Err(Error::NoWay(std::mem::take(t))));
        }
    }
    if !left.is_empty() {
        let subset: Vec<Target> = left
            .iter()
            .filter_map(|&i| targets.get(i).copied())
            .collect();
        let mut results = Vec::with_capacity(subset.len());
        act.on(
            &mut Inject::new(client, netns).keeping(shards.wire()),
            &subset,
            &mut results,
        );
        for i in settle(Method::Inject, results, &left, &mut out, &mut tried) {
            if let (Some(slot), Some(t)) = (out.get_mut(i), tried.get_mut(i)) {
                *slot = Some(Err(Error::NoWay(std::mem::take(t))));
            }
        }
    }
    out.into_iter()
        .map(|o| o.unwrap_or_else(|| Err(Error::NotAborted("no method gave an answer".into()))))
        .collect()
}

/// Record the `results` of `method` for the targets at `indices`: a
/// success or an answer about the socket is final; "cannot be used here"
/// is remembered, and those indices are returned for the next way.
fn settle(
    method: Method,
    results: Vec<Result<(), Error>>,
    indices: &[usize],
    out: &mut [Option<Result<Method, Error>>],
    tried: &mut [Vec<(Method, Error)>],
) -> Vec<usize> {
    let mut next = Vec::new();
    let mut results = results.into_iter();
    for &i in indices {
        let result = results.next().unwrap_or_else(|| {
            Err(Error::NotAborted(format!(
                "{} gave no answer",
                method.name()
            )))
        });
        match result {
            Err(err) if cannot_use(&err) => {
                if let Some(t) = tried.get_mut(i) {
                    t.push((method, err));
                }
                next.push(i);
            }
            other => {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(other.map(|()| method));
                }
            }
        }
    }
    next
}
