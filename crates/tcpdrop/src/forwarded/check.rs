//! Whether a flow may be touched: refused before anything is sent when it
//! is not two other hosts' connection ([`forwarded`]).

use super::flows::{ForwardedFlow, Side};
use super::route::Routes;
use crate::spoof::segment::wire_ip;
use crate::Error;

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
