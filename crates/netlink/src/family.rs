//! The address families netlink's TCP records come in.

use std::net::IpAddr;

/// Address family of a socket or a conntrack entry, as the kernel numbers
/// it (`sdiag_family`, `nfgen_family`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `AF_INET` (2).
    Inet,
    /// `AF_INET6` (10).
    Inet6,
}

impl Family {
    /// The kernel's number for this family.
    pub fn raw(self) -> u8 {
        match self {
            Family::Inet => 2,
            Family::Inet6 => 10,
        }
    }

    /// The family with the kernel's number `raw`, if it is one we speak.
    pub fn from_raw(raw: u8) -> Option<Family> {
        match raw {
            2 => Some(Family::Inet),
            10 => Some(Family::Inet6),
            _ => None,
        }
    }

    /// The family of `addr`.
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}
