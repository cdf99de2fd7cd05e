//! Service and host names, looked up without the network: the `tcp`
//! entries of `/etc/services` (services(5)) and the entries of `/etc/hosts`
//! (hosts(5)), each file read here, once, the first time a name needs it.
//!
//! No NSS and no DNS: a name means the same thing offline, in any network
//! namespace, and a lookup never waits on a server. `localhost` is the
//! loopback addresses, `127.0.0.1` and `::1`, whatever the hosts file says
//! (RFC 6761 §6.3, as systemd's nss-myhostname answers it), so
//! `localhost` names the same two addresses on every machine.
//!
//! ```
//! use ssfilter::names::Names;
//! let names = Names::from_text(
//!     "http 80/tcp www # WorldWideWeb HTTP\n",
//!     "10.0.0.5 db db.example\n",
//! );
//! assert_eq!(names.port("www"), Ok(80));
//! let db = names.host("DB")?;
//! assert_eq!(db.to_string(), "'DB' is 10.0.0.5 (hosts text)");
//! # Ok::<(), ssfilter::names::NameError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where names are looked up: a services file and a hosts file, each read
/// on first use and kept.
#[derive(Debug)]
pub struct Names {
    services: Table<HashMap<String, u16>>,
    hosts: Table<HashMap<String, Vec<IpAddr>>>,
}

/// One file, its label in messages, and what was read from it.
#[derive(Debug)]
struct Table<T> {
    /// The path to read, `None` for a table given as text.
    path: Option<PathBuf>,
    /// How messages name it: the path, or `services text`/`hosts text`.
    label: String,
    /// The entries, or why the file could not be read.
    read: OnceLock<Result<T, String>>,
}

impl<T> Table<T> {
    fn file(path: &Path) -> Table<T> {
        Table {
            path: Some(path.to_path_buf()),
            label: path.display().to_string(),
            read: OnceLock::new(),
        }
    }

    fn text(label: &str, table: T) -> Table<T> {
        Table {
            path: None,
            label: label.to_string(),
            read: OnceLock::from(Ok(table)),
        }
    }

    fn get(&self, parse: fn(&str) -> T) -> Result<&T, &str> {
        self.read
            .get_or_init(|| match &self.path {
                Some(path) => std::fs::read(path)
                    .map(|bytes| parse(&String::from_utf8_lossy(&bytes)))
                    .map_err(|err| err.to_string()),
                None => Ok(parse("")),
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

/// The addresses a host name stands for, and where they came from.
///
/// Its [`Display`](fmt::Display) is the note a command shows before it acts:
/// `'localhost' is 127.0.0.1, ::1 (loopback)`, `'db' is 10.0.0.5 (/etc/hosts)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAddrs {
    /// The name as it was given.
    pub name: String,
    /// Its addresses, in the order of the file, each once; IPv4-mapped IPv6
    /// addresses are given as IPv4.
    pub addrs: Vec<IpAddr>,
    /// Where they come from: the hosts file's path, or `loopback` for
    /// `localhost`.
    pub source: String,
}

impl HostAddrs {
    /// The same name standing for `addr` alone (the one address of several
    /// that a caller picked).
    pub fn only(&self, addr: IpAddr) -> HostAddrs {
        HostAddrs {
            name: self.name.clone(),
            addrs: vec![addr],
            source: self.source.clone(),
        }
    }

    /// The addresses, comma-separated: `127.0.0.1, ::1`.
    pub fn list(&self) -> String {
        self.addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for HostAddrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is {} ({})", self.name, self.list(), self.source)
    }
}

/// Why a name could not be looked up. Its [`Display`](fmt::Display) is one
/// line that names the name, the file and the remedy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// No `tcp` entry of the services file has this name or alias.
    UnknownService {
        /// The name given.
        name: String,
        /// The services file (or why it could not be read).
        file: String,
        /// Why the file could not be read, if it could not.
        unreadable: Option<String>,
    },
    /// No entry of the hosts file has this name, and it is not `localhost`.
    UnknownHost {
        /// The name given.
        name: String,
        /// The hosts file.
        file: String,
        /// Why the file could not be read, if it could not.
        unreadable: Option<String>,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::UnknownService {
                name,
                file,
                unreadable: None,
            } => write!(
                f,
                "'{name}' is not a service name in {file}: give the port number"
            ),
            NameError::UnknownService {
                name,
                file,
                unreadable: Some(why),
            } => write!(
                f,
                "'{name}' cannot be looked up: {file}: {why}: give the port number"
            ),
            NameError::UnknownHost {
                name,
                file,
                unreadable: None,
            } => write!(
                f,
                "'{name}' is not a host name in {file} (DNS is never asked): give an IP address"
            ),
            NameError::UnknownHost {
                name,
                file,
                unreadable: Some(why),
            } => write!(
                f,
                "'{name}' cannot be looked up: {file}: {why} (DNS is never asked): give an IP address"
            ),
        }
    }
}

impl std::error::Error for NameError {}

impl Names {
    /// The system's files, `/etc/services` and `/etc/hosts`, shared by the
    /// whole process (each read at most once).
    pub fn system() -> &'static Names {
        static SYSTEM: OnceLock<Names> = OnceLock::new();
        SYSTEM.get_or_init(|| Names::at("/etc/services", "/etc/hosts"))
    }

    /// Names from these files, each read the first time a name needs it.
    pub fn at(services: impl AsRef<Path>, hosts: impl AsRef<Path>) -> Names {
        Names {
            services: Table::file(services.as_ref()),
            hosts: Table::file(hosts.as_ref()),
        }
    }

    /// Names from the text of a services file and a hosts file (named
    /// `services text` and `hosts text` in messages).
    pub fn from_text(services: &str, hosts: &str) -> Names {
        Names {
            services: Table::text("services text", parse_services(services)),
            hosts: Table::text("hosts text", parse_hosts(hosts)),
        }
    }

    /// The port of the TCP service `name` (a name or an alias; case
    /// matters, as for getservbyname(3)); the first entry wins.
    #[doc(alias = "getservbyname")]
    pub fn port(&self, name: &str) -> Result<u16, NameError> {
        let unknown = |unreadable: Option<&str>| NameError::UnknownService {
            name: name.to_string(),
            file: self.services.label.clone(),
            unreadable: unreadable.map(str::to_string),
        };
        match self.services.get(parse_services) {
            Ok(table) => table.get(name).copied().ok_or_else(|| unknown(None)),
            Err(why) => Err(unknown(Some(why))),
        }
    }

    /// Every address of the host `name` (any case): `localhost` is
    /// `127.0.0.1` and `::1`; any other name has the addresses of every
    /// line of the hosts file that names it, in the file's order.
    pub fn host(&self, name: &str) -> Result<HostAddrs, NameError> {
        let key = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if key == "localhost" {
            return Ok(HostAddrs {
                name: name.to_string(),
                addrs: vec![
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                ],
                source: "loopback".to_string(),
            });
        }
        let unknown = |unreadable: Option<&str>| NameError::UnknownHost {
            name: name.to_string(),
            file: self.hosts.label.clone(),
            unreadable: unreadable.map(str::to_string),
        };
        match self.hosts.get(parse_hosts) {
            Ok(table) => match table.get(&key) {
                Some(addrs) => Ok(HostAddrs {
                    name: name.to_string(),
                    addrs: addrs.clone(),
                    source: self.hosts.label.clone(),
                }),
                None => Err(unknown(None)),
            },
            Err(why) => Err(unknown(Some(why))),
        }
    }
}

/// Whether `word` may be a host name: letters, digits, `-`, `_` and `.`,
/// with at least one letter (so that no malformed address is taken for a
/// name).
pub fn is_host_name(word: &str) -> bool {
    word.bytes().any(|b| b.is_ascii_alphabetic())
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `word` may be a service name: no blank and at least one letter
/// (services(5) names hold letters, digits, `-`, `_`, `.`, `+`, `/`).
pub fn is_service_name(word: &str) -> bool {
    word.bytes().any(|b| b.is_ascii_alphabetic()) && !word.bytes().any(|b| b.is_ascii_whitespace())
}

/// The words of one line, up to a `#`.
fn fields(line: &str) -> std::str::SplitAsciiWhitespace<'_> {
    line.split('#')
        .next()
        .unwrap_or_default()
        .split_ascii_whitespace()
}

/// services(5): `name port/protocol [aliases...]`; the `tcp` entries only.
fn parse_services(text: &str) -> HashMap<String, u16> {
    let mut table = HashMap::new();
    for line in text.lines() {
        let mut words = fields(line);
        let (Some(name), Some(port)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(("tcp", port)) = port.split_once('/').map(|(p, proto)| (proto, p)) else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        for name in std::iter::once(name).chain(words) {
            table.entry(name.to_string()).or_insert(port);
        }
    }
    table
}

/// hosts(5): `address name [aliases...]`. A line whose address does not
/// parse (one with a `%scope`, say) is skipped.
fn parse_hosts(text: &str) -> HashMap<String, Vec<IpAddr>> {
    let mut table: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for line in text.lines() {
        let mut words = fields(line);
        let Some(Ok(addr)) = words.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        let addr = addr.to_canonical();
        for name in words {
            let addrs = table.entry(name.to_ascii_lowercase()).or_default();
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES: &str = "\
# /etc/services, abridged
tcpmux		1/tcp				# TCP port service multiplexer
ssh		22/tcp				# SSH Remote Login Protocol
http		80/tcp		www		# WorldWideWeb HTTP
https		443/tcp
https		443/udp
dns-alt		5353/udp
odd		99999/tcp
kerberos	88/tcp		kerberos5 krb5 kerberos-sec	# Kerberos v5
www		8080/tcp	# a later entry does not override
";

    const HOSTS: &str = "\
127.0.0.1	localhost
127.0.1.1	box.example	box
::1		localhost ip6-localhost ip6-loopback
10.0.0.5	db  # the database
fd00::5		db DB.example
10.0.0.5	db
::ffff:10.0.0.6	mapped
fe80::1%eth0	scoped
not-an-address	broken
";

    fn names() -> Names {
        Names::from_text(SERVICES, HOSTS)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn services_are_the_tcp_entries_by_name_and_alias_first_one_winning() {
        let n = names();
        assert_eq!(n.port("ssh"), Ok(22));
        assert_eq!(n.port("http"), Ok(80));
        assert_eq!(n.port("www"), Ok(80));
        assert_eq!(n.port("https"), Ok(443));
        assert_eq!(n.port("krb5"), Ok(88));
        assert_eq!(n.port("kerberos-sec"), Ok(88));
        // UDP only, out of range, a comment, case.
        for name in ["dns-alt", "odd", "Port", "HTTP", "#", "udp"] {
            assert!(n.port(name).is_err(), "{name}");
        }
        assert_eq!(
            n.port("htp").unwrap_err().to_string(),
            "'htp' is not a service name in services text: give the port number"
        );
    }

    #[test]
    fn hosts_have_every_address_of_every_line_in_order_any_case() {
        let n = names();
        let db = n.host("db").unwrap();
        assert_eq!(db.addrs, vec![ip("10.0.0.5"), ip("fd00::5")]);
        assert_eq!(db.source, "hosts text");
        assert_eq!(n.host("Db.Example").unwrap().addrs, vec![ip("fd00::5")]);
        assert_eq!(n.host("box").unwrap().addrs, vec![ip("127.0.1.1")]);
        assert_eq!(n.host("ip6-loopback").unwrap().addrs, vec![ip("::1")]);
        assert_eq!(n.host("mapped").unwrap().addrs, vec![ip("10.0.0.6")]);
        for name in ["scoped", "broken", "nowhere", "eth0"] {
            assert!(n.host(name).is_err(), "{name}");
        }
        assert_eq!(
            n.host("dbb").unwrap_err().to_string(),
            "'dbb' is not a host name in hosts text (DNS is never asked): give an IP address"
        );
    }

    #[test]
    fn localhost_is_both_loopback_addresses_whatever_the_file_says() {
        for names in [
            names(),
            Names::from_text("", ""),
            Names::from_text("", "10.1.1.1 localhost"),
        ] {
            for name in ["localhost", "LocalHost", "localhost."] {
                let found = names.host(name).unwrap();
                assert_eq!(found.addrs, vec![ip("127.0.0.1"), ip("::1")]);
                assert_eq!(
                    found.to_string(),
                    format!("'{name}' is 127.0.0.1, ::1 (loopback)")
                );
            }
        }
        let one = names().host("localhost").unwrap().only(ip("::1"));
        assert_eq!(one.to_string(), "'localhost' is ::1 (loopback)");
    }

    #[test]
    fn files_are_read_on_first_use_and_a_missing_one_is_named() {
        let dir = std::env::temp_dir().join(format!("tcpdrop-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let services = dir.join("services");
        let hosts = dir.join("hosts");
        std::fs::write(&services, SERVICES).unwrap();
        std::fs::write(&hosts, HOSTS).unwrap();
        let n = Names::at(&services, &hosts);
        assert_eq!(n.port("https"), Ok(443));
        assert_eq!(
            n.host("db").unwrap().to_string(),
            format!("'db' is 10.0.0.5, fd00::5 ({})", hosts.display())
        );
        let missing = Names::at(dir.join("none"), dir.join("none"));
        let err = missing.port("http").unwrap_err().to_string();
        assert!(err.starts_with("'http' cannot be looked up: "), "{err}");
        assert!(
            err.ends_with("No such file or directory (os error 2): give the port number"),
            "{err}"
        );
        assert!(missing.host("db").is_err());
        assert!(missing.host("localhost").is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn what_may_be_a_name() {
        for word in ["localhost", "db-1.example", "x_y", "a"] {
            assert!(is_host_name(word), "{word}");
        }
        for word in ["10.0.0.999", "::1", "a b", "a:b", "", "a%b", "*"] {
            assert!(!is_host_name(word), "{word}");
        }
        assert!(is_service_name("http-alt"));
        assert!(is_service_name("x11+"));
        assert!(!is_service_name("80"));
        assert!(!is_service_name("a b"));
    }
}
