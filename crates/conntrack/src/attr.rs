//! The byte readers the parsers of conntrack's attributes share: ctnetlink
//! sends its fields big-endian, each in an attribute of an exact length.
//! Attributes themselves (their walk, their writer) are the `netlink`
//! crate's; a malformed one is an [`Error::Invalid`], never a panic.

use crate::msg::Ctnetlink;
use crate::Error;

pub use netlink::NLA_F_NESTED;

/// The attributes of a buffer, one at a time: `(type, payload)`, the type
/// with its flag bits masked off. Stops after the first malformed one.
pub type Attrs<'a> = netlink::Attrs<'a, Ctnetlink>;

/// Iterate over the attributes in `buf`.
pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    netlink::attrs(buf)
}

/// An attribute encoder: appends `nlattr`s, nested ones included, to a
/// buffer. `nla_len` counts header and payload, not the padding that
/// follows to a multiple of four.
pub type AttrWriter<'a> = netlink::AttrWriter<'a, Ctnetlink>;

pub(crate) fn exact<const N: usize>(data: &[u8], what: &str) -> Result<[u8; N], Error> {
    <[u8; N]>::try_from(data)
        .map_err(|_| Error::Invalid(format!("{what} of {} bytes, want {N}", data.len())))
}

pub(crate) fn be16(data: &[u8], what: &str) -> Result<u16, Error> {
    exact::<2>(data, what).map(u16::from_be_bytes)
}

pub(crate) fn be32(data: &[u8], what: &str) -> Result<u32, Error> {
    exact::<4>(data, what).map(u32::from_be_bytes)
}
