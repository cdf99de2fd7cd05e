//! Names for the ends, shown only when asked for (`n`), as `ss` without
//! `-n` would: host names from `/etc/hosts` and service names from
//! `/etc/services`. Read from those files once, never from DNS, so a
//! name costs the view no lookup that could block it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::output::address;

/// Host and service names, by address and TCP port.
#[derive(Debug, Default)]
pub(crate) struct Names {
    hosts: HashMap<IpAddr, String>,
    services: HashMap<u16, String>,
}

impl Names {
    /// The names of this system's `/etc/hosts` and `/etc/services`
    /// (missing files give no names).
    pub(crate) fn load() -> Names {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Names::parse(&read("/etc/hosts"), &read("/etc/services"))
    }

    /// The names in the texts of a hosts and a services file; the first
    /// name given for an address or a port is the one shown.
    pub(crate) fn parse(hosts: &str, services: &str) -> Names {
        let mut names = Names::default();
        let fields = |line: &str| {
            line.split('#')
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        for line in hosts.lines() {
            if let [ip, name, ..] = fields(line).as_slice() {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    names.hosts.entry(ip).or_insert_with(|| name.clone());
                }
            }
        }
        for line in services.lines() {
            if let [name, port, ..] = fields(line).as_slice() {
                if let Some(Ok(port)) = port.strip_suffix("/tcp").map(str::parse::<u16>) {
                    names.services.entry(port).or_insert_with(|| name.clone());
                }
            }
        }
        names
    }

    /// `localhost:http`; the numbers where there is no name; `*` for the
    /// unspecified address and port 0 (a listener's remote end), as `ss`.
    pub(crate) fn end(&self, addr: &SocketAddr) -> String {
        let numeric = address(addr, &|_| None);
        let Some((host, port)) = numeric.rsplit_once(':') else {
            return numeric;
        };
        let host = match self.hosts.get(&addr.ip()) {
            Some(name) => name.clone(),
            None if addr.ip().is_unspecified() => "*".to_string(),
            None => host.to_string(),
        };
        let port = match self.services.get(&addr.port()) {
            Some(name) => name.clone(),
            None if addr.port() == 0 => "*".to_string(),
            None => port.to_string(),
        };
        format!("{host}:{port}")
    }
}
