//! Whether a flow may be touched: refused before anything is sent when it
//! is not two other hosts' connection ([`forwarded`]), and left alone as soon
//! as it is no longer the connection chosen ([`replaced`]).

use super::flows::{conntrack_error, ForwardedFlow, Side};
use super::probe::Openings;
use super::route::Routes;
use crate::error::Error;
use crate::spoof::segment::wire_ip;

/// Refuse `flow` unless its two ends are other hosts: addresses of one
/// family that a host can have, ports that are not 0, and neither end
/// at an address this host's routes call its own.
pub(super) fn forwarded(routes: &mut Routes, flow: &ForwardedFlow) -> Result<(), Error> {
    let named = format!("{} {}", flow.originator.addr, flow.originator.peer);
    for side in [Side::Originator, Side::Responder] {
        let end = flow.end(side);
        let (addr, peer) = (wire_ip(end.addr.ip()), wire_ip(end.peer.ip()));
        if addr.is_ipv4() != peer.is_ipv4() {
            return Err(Error::InvalidArgument(format!(
                "{named}: the two ends are of different address families (IPv4 and \
                 IPv6): no connection is (nothing was sent)"
            )));
        }
        for ip in [addr, peer] {
            let host =
                !ip.is_unspecified() && !ip.is_multicast() && ip != std::net::Ipv4Addr::BROADCAST;
            if !host {
                return Err(Error::InvalidArgument(format!(
                    "{named}: {ip} is not the address of one host, so no TCP \
                     connection has it (nothing was sent)"
                )));
            }
        }
        if end.addr.port() == 0 || end.peer.port() == 0 {
            return Err(Error::InvalidArgument(format!(
                "{named}: port 0 is no connection's (nothing was sent)"
            )));
        }
        if routes.is_local(addr) {
            return Err(Error::InvalidArgument(format!(
                "{named} is this host's own connection ({addr} is one of its \
                 addresses), not one it forwards: drop it with tcpdrop without \
                 --forwarded (nothing was sent)"
            )));
        }
    }
    Ok(())
}

/// Why `flow` is no longer the connection that was chosen, if it is not:
/// a segment with SYN set passed on either end's tuple, or its conntrack
/// entry is gone or another (a different `CTA_ID`; an entry re-created in
/// the same memory keeps the id, see [`conntrack::Flow::id`], which is why
/// the SYNs are watched too).
pub(super) fn replaced(
    conntrack: &mut conntrack::Client,
    flow: &ForwardedFlow,
    openings: &Openings,
) -> Option<String> {
    if let Some(why) = openings
        .on(&flow.originator)
        .or_else(|| openings.on(&flow.responder))
    {
        return Some(why);
    }
    let chosen = flow.entry.as_ref()?;
    match conntrack.get(&chosen.orig, chosen.zone) {
        Ok(Some(now)) if now.id == chosen.id => None,
        Ok(Some(now)) => Some(format!(
            "its conntrack entry was replaced (id {} is now {}): another connection holds \
             the tuple",
            chosen.id, now.id
        )),
        Ok(None) => Some("its conntrack entry is gone".to_string()),
        Err(err) => Some(format!(
            "its conntrack entry could not be looked up again ({})",
            conntrack_error(err)
        )),
    }
}
