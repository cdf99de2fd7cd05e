//! Netlink attributes (`struct nlattr`, `include/uapi/linux/netlink.h`;
//! rtnetlink's `struct rtattr` is the same): a strict iterator, an encoder
//! that nests, and the alignment both follow. Every reader checks lengths
//! before use; a malformed attribute is an [`Error::Invalid`], never a
//! panic.

use std::marker::PhantomData;

use crate::bytes::array;
use crate::Error;

/// `NLA_F_NESTED`: the attribute holds attributes.
pub const NLA_F_NESTED: u16 = 0x8000;
/// The bits of `nla_type` that are the type (`NLA_TYPE_MASK`): the flags
/// `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` masked off.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// `n` rounded up to four (`NLMSG_ALIGN`, `NLA_ALIGN`, `RTA_ALIGN`):
/// messages and attributes start at multiples of four. Saturates rather
/// than overflow, so a lying length ends the walk instead of wrapping.
pub const fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// The attributes of a buffer, one at a time: `(type, payload)`, the type
/// with its flag bits masked off. Stops after the first malformed one,
/// which is an [`Error::Invalid`] of the protocol `P`.
#[derive(Clone, Debug)]
pub struct Attrs<'a, P> {
    rest: &'a [u8],
    protocol: PhantomData<fn() -> P>,
}

/// Iterate over the attributes in `buf`.
pub fn attrs<P>(buf: &[u8]) -> Attrs<'_, P> {
    Attrs {
        rest: buf,
        protocol: PhantomData,
    }
}

impl<'a, P> Iterator for Attrs<'a, P> {
    type Item = Result<(u16, &'a [u8]), Error<P>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let buf = self.rest;
        let header = array::<4>(buf, 0).ok_or_else(|| {
            Error::Invalid(format!(
                "attribute header cut short: {} bytes left",
                buf.len()
            ))
        });
        let result = header.and_then(|[l0, l1, t0, t1]| {
            let len = usize::from(u16::from_ne_bytes([l0, l1]));
            let kind = u16::from_ne_bytes([t0, t1]) & NLA_TYPE_MASK;
            if len < 4 || len > buf.len() {
                return Err(Error::Invalid(format!(
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

/// An attribute encoder: appends attributes, nested ones included, to a
/// buffer. `nla_len` counts header and payload, not the padding that
/// follows to a multiple of four. An
/// attribute too long for its `u16` length is an [`Error::Invalid`] of the
/// protocol `P`.
pub struct AttrWriter<'a, P> {
    out: &'a mut Vec<u8>,
    protocol: PhantomData<fn() -> P>,
}

impl<P> std::fmt::Debug for AttrWriter<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttrWriter")
            .field("out", &self.out)
            .finish()
    }
}

impl<'a, P> AttrWriter<'a, P> {
    /// Append attributes to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> AttrWriter<'a, P> {
        AttrWriter {
            out,
            protocol: PhantomData,
        }
    }

    /// One attribute with `payload`, padded to a multiple of four
    /// (`NLA_ALIGN`).
    pub fn put(&mut self, kind: u16, payload: &[u8]) -> Result<(), Error<P>> {
        let start = self.begin(kind);
        self.out.extend_from_slice(payload);
        let len = self.end(start)?;
        let padding = align4(len).saturating_sub(len);
        self.out.resize(self.out.len().saturating_add(padding), 0);
        Ok(())
    }

    /// One nested attribute (`NLA_F_NESTED` set, as `nla_nest_start` does)
    /// whose payload `body` writes.
    pub fn nest(
        &mut self,
        kind: u16,
        body: impl FnOnce(&mut AttrWriter<'_, P>) -> Result<(), Error<P>>,
    ) -> Result<(), Error<P>> {
        let start = self.begin(kind | NLA_F_NESTED);
        body(&mut AttrWriter::new(self.out))?;
        self.end(start).map(drop)
    }

    /// Append an attribute header of `kind` with its length still 0, and
    /// return where it starts.
    fn begin(&mut self, kind: u16) -> usize {
        let start = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        self.out.extend_from_slice(&kind.to_ne_bytes());
        start
    }

    /// Set the length of the attribute that starts at `start` to what was
    /// appended since, and return it.
    fn end(&mut self, start: usize) -> Result<usize, Error<P>> {
        let len = self.out.len().saturating_sub(start);
        let field = u16::try_from(len)
            .map_err(|_| Error::Invalid(format!("an attribute of {len} bytes")))?;
        self.out
            .get_mut(start..start.saturating_add(2))
            .ok_or_else(|| Error::Invalid("length field outside the message".into()))?
            .copy_from_slice(&field.to_ne_bytes());
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Test;

    #[test]
    fn attributes_are_written_padded_and_read_back() {
        let mut buf = Vec::new();
        let mut w = AttrWriter::<Test>::new(&mut buf);
        w.put(1, &[10, 0, 0, 1]).unwrap();
        w.put(9, &[1, 2, 3]).unwrap();
        w.nest(4, |w| w.put(2, &7u32.to_ne_bytes())).unwrap();
        assert_eq!(buf.len(), 8 + 8 + 12);
        // nla_len counts the header and payload, not the padding.
        assert_eq!(buf[8..10], 7u16.to_ne_bytes());
        assert_eq!(buf[16..18], 12u16.to_ne_bytes());
        let read: Vec<(u16, Vec<u8>)> = attrs::<Test>(&buf)
            .map(|a| a.map(|(k, d)| (k, d.to_vec())).unwrap())
            .collect();
        assert_eq!(
            read,
            vec![
                (1, vec![10, 0, 0, 1]),
                (9, vec![1, 2, 3]),
                // NLA_F_NESTED is masked off the type.
                (
                    4,
                    [8, 0, 2, 0].into_iter().chain(7u32.to_ne_bytes()).collect()
                )
            ]
        );
        // Cut short: what is whole is read, then an error, then nothing.
        let cut: Vec<_> = attrs::<Test>(&buf[..10]).collect();
        assert_eq!(cut.len(), 2);
        assert!(cut[0].is_ok());
        assert!(matches!(cut[1], Err(Error::Invalid(_))));
    }

    #[test]
    fn an_attribute_too_long_for_its_length_is_refused() {
        let mut buf = Vec::new();
        let long = vec![0; usize::from(u16::MAX)];
        let err = AttrWriter::<Test>::new(&mut buf).put(1, &long);
        assert!(matches!(err, Err(Error::Invalid(_))));
    }
}
