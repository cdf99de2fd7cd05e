//! Netlink attributes (`struct nlattr`, `include/uapi/linux/netlink.h`):
//! an encoder that nests, a strict iterator, and the byte readers the
//! parsers share. Every reader checks lengths before use; a malformed
//! attribute is an [`Error::Invalid`], never a panic.

use crate::Error;

/// `NLA_F_NESTED`: the attribute holds attributes.
pub const NLA_F_NESTED: u16 = 0x8000;
/// The bits of `nla_type` that are the type (`NLA_TYPE_MASK`).
const NLA_TYPE_MASK: u16 = 0x3fff;

/// Write the length of what was appended since `start` into the `u32`
/// (`nlmsghdr`) or `u16` (`nlattr`) length field at `start`.
pub(crate) fn set_len(out: &mut [u8], start: usize, wide: bool) -> Result<(), Error> {
    let len = out.len().saturating_sub(start);
    let field = if wide {
        u32::try_from(len)
            .map_err(|_| invalid(format!("a message of {len} bytes")))?
            .to_ne_bytes()
            .to_vec()
    } else {
        u16::try_from(len)
            .map_err(|_| invalid(format!("an attribute of {len} bytes")))?
            .to_ne_bytes()
            .to_vec()
    };
    let end = start.saturating_add(field.len());
    out.get_mut(start..end)
        .ok_or_else(|| invalid("length field outside the message".into()))?
        .copy_from_slice(&field);
    Ok(())
}

fn pad4(out: &mut Vec<u8>) {
    let padded = align4(out.len());
    out.resize(padded, 0);
}

pub(crate) const fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// An attribute encoder: appends `nlattr`s, nested ones included, to a
/// buffer. `nla_len` counts header and payload, not the padding that
/// follows to a multiple of four.
pub struct AttrWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> AttrWriter<'a> {
    /// Append attributes to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> AttrWriter<'a> {
        AttrWriter { out }
    }

    /// One attribute with `payload`.
    pub fn put(&mut self, kind: u16, payload: &[u8]) -> Result<(), Error> {
        let start = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        self.out.extend_from_slice(&kind.to_ne_bytes());
        self.out.extend_from_slice(payload);
        set_len(self.out, start, false)?;
        pad4(self.out);
        Ok(())
    }

    /// One nested attribute (`NLA_F_NESTED` set, as `nla_nest_start` does)
    /// whose payload `body` writes.
    pub fn nest(
        &mut self,
        kind: u16,
        body: impl FnOnce(&mut AttrWriter<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let start = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        self.out
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        body(&mut AttrWriter { out: self.out })?;
        set_len(self.out, start, false)
    }
}

/// The attributes of a buffer, one at a time: `(type, payload)`, the type
/// with its flag bits masked off. Stops after the first malformed one.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

/// Iterate over the attributes in `buf`.
pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { rest: buf }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let buf = self.rest;
        let header = array::<4>(buf, 0).ok_or_else(|| {
            invalid(format!(
                "attribute header cut short: {} bytes left",
                buf.len()
            ))
        });
        let result = header.and_then(|[l0, l1, t0, t1]| {
            let len = usize::from(u16::from_ne_bytes([l0, l1]));
            let kind = u16::from_ne_bytes([t0, t1]) & NLA_TYPE_MASK;
            if len < 4 || len > buf.len() {
                return Err(invalid(format!(
                    "attribute {kind} of length {len} outside its {} bytes",
                    buf.len()
                )));
            }
            let data = buf.get(4..len).unwrap_or_default();
            self.rest = buf.get(align4(len).min(buf.len())..).unwrap_or_default();
            Ok((kind, data))
        });
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

pub(crate) fn exact<const N: usize>(data: &[u8], what: &str) -> Result<[u8; N], Error> {
    <[u8; N]>::try_from(data)
        .map_err(|_| invalid(format!("{what} of {} bytes, want {N}", data.len())))
}

pub(crate) fn be16(data: &[u8], what: &str) -> Result<u16, Error> {
    exact::<2>(data, what).map(u16::from_be_bytes)
}

pub(crate) fn be32(data: &[u8], what: &str) -> Result<u32, Error> {
    exact::<4>(data, what).map(u32::from_be_bytes)
}

pub(crate) fn invalid(msg: String) -> Error {
    Error::Invalid(msg)
}

pub(crate) fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}
