//! What the program needs from the kernel's own type information (BTF,
//! `/sys/kernel/btf/vmlinux`): the ids of the iterator's attach point
//! `bpf_iter_tcp` and of the kfunc `bpf_sock_destroy`, and where
//! `struct sock_common` keeps the state and the cookie. Reading them here
//! is what makes the program fit the running kernel, as libbpf's CO-RE
//! would, without clang or libbpf.
//!
//! The format: [`Documentation/bpf/btf.rst`]: a header, then the type
//! section (each type a `struct btf_type` followed by data whose size its
//! kind gives; ids count from 1 in order), then the string section.
//!
//! [`Documentation/bpf/btf.rst`]: https://docs.kernel.org/bpf/btf.html

/// The ids and offsets the program is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kernel {
    /// The `FUNC` `bpf_iter_tcp`: the program's `attach_btf_id`.
    pub(crate) iter_tcp: u32,
    /// The `FUNC` `bpf_sock_destroy`: the kfunc call's `imm`.
    pub(crate) sock_destroy: u32,
    /// Byte offset of `skc_state` (one byte) in `struct sock_common`.
    pub(crate) state_offset: u32,
    /// Byte offset of `skc_cookie` (eight bytes) in `struct sock_common`.
    pub(crate) cookie_offset: u32,
}

const MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_FUNC: u32 = 12;

/// Why the type information does not have what the program needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// The data is not BTF, or is cut short.
    Malformed(&'static str),
    /// This name is not among its types (a kernel before the feature).
    Name(&'static str),
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Malformed(what) => write!(f, "the kernel's BTF is malformed ({what})"),
            Missing::Name(name) => write!(f, "the kernel's BTF has no {name}"),
        }
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// One type of the type section: its kind, name, `size`/`type` word, and
/// where its kind-specific data begins.
#[derive(Clone, Copy)]
struct Type {
    kind: u32,
    vlen: usize,
    name_off: u32,
    size_or_type: u32,
    data: usize,
}

/// How many bytes of kind-specific data follow a type's 12-byte header.
fn extra_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        // INT, VAR, DECL_TAG: one word.
        1 | 14 | 17 => 4,
        // ARRAY: element type, index type, count.
        3 => 12,
        // STRUCT, UNION, DATASEC: (name, type, offset) per member;
        // ENUM64: (name, lo32, hi32).
        4 | 5 | 15 | 19 => vlen.checked_mul(12)?,
        // ENUM, FUNC_PROTO: (name, value/type) per member.
        6 | 13 => vlen.checked_mul(8)?,
        // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG.
        2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
        _ => return None,
    })
}

/// The parsed sections of a BTF blob, little-endian (the kernel's own).
struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// Each type's start in `types`, by id - 1.
    starts: Vec<u32>,
}

impl<'a> Btf<'a> {
    fn parse(data: &'a [u8]) -> Result<Btf<'a>, Missing> {
        let bad = Missing::Malformed;
        if u16_at(data, 0) != Some(MAGIC) {
            return Err(bad("no BTF magic; not little-endian BTF"));
        }
        let word = |at| {
            u32_at(data, at)
                .map(|w| w as usize)
                .ok_or(bad("short header"))
        };
        let hdr_len = word(4)?;
        let (type_off, type_len, str_off, str_len) = (word(8)?, word(12)?, word(16)?, word(20)?);
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            data.get(start..start.checked_add(len)?)
        };
        let types = section(type_off, type_len).ok_or(bad("type section out of bounds"))?;
        let strings = section(str_off, str_len).ok_or(bad("string section out of bounds"))?;
        let mut starts = Vec::with_capacity(type_len / 16);
        let mut at = 0;
        while at < types.len() {
            let info = u32_at(types, at + 4).ok_or(bad("a type is cut short"))?;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let extra = extra_len(kind, vlen).ok_or(bad("a type of unknown kind"))?;
            starts.push(u32::try_from(at).map_err(|_| bad("too large"))?);
            at = at
                .checked_add(12 + extra)
                .ok_or(bad("a type is cut short"))?;
        }
        Ok(Btf {
            types,
            strings,
            starts,
        })
    }

    fn get(&self, id: u32) -> Option<Type> {
        let at = *self.starts.get(usize::try_from(id).ok()?.checked_sub(1)?)? as usize;
        let info = u32_at(self.types, at + 4)?;
        Some(Type {
            kind: (info >> 24) & 0x1f,
            vlen: (info & 0xffff) as usize,
            name_off: u32_at(self.types, at)?,
            size_or_type: u32_at(self.types, at + 8)?,
            data: at + 12,
        })
    }

    /// Whether the string at `off` is `name`.
    fn name_is(&self, off: u32, name: &str) -> bool {
        let off = off as usize;
        let end = off + name.len();
        self.strings.get(off..end) == Some(name.as_bytes()) && self.strings.get(end) == Some(&0)
    }

    /// The byte offset of member `name` in the struct or union `id`,
    /// looking into its anonymous struct and union members as C does.
    fn member_offset(&self, id: u32, name: &str, depth: usize) -> Option<u32> {
        let t = self.get(id)?;
        if depth > 8 || !matches!(t.kind, KIND_STRUCT | KIND_UNION) {
            return None;
        }
        let bitfields = u32_at(self.types, t.data.checked_sub(8)?)? >> 31 == 1;
        for i in 0..t.vlen {
            let at = t.data + i * 12;
            let (m_name, m_type, m_off) = (
                u32_at(self.types, at)?,
                u32_at(self.types, at + 4)?,
                u32_at(self.types, at + 8)?,
            );
            // With the kind flag, the top byte is a bitfield's size.
            let bits = if bitfields {
                m_off & 0x00ff_ffff
            } else {
                m_off
            };
            if bits % 8 != 0 {
                continue;
            }
            if self.name_is(m_name, name) {
                return Some(bits / 8);
            }
            if m_name == 0 {
                if let Some(inner) = self.member_offset(self.resolve(m_type), name, depth + 1) {
                    return Some(bits / 8 + inner);
                }
            }
        }
        None
    }

    /// `id` with typedefs and qualifiers stripped.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..16 {
            match self.get(id) {
                // TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG
                Some(t) if matches!(t.kind, 8 | 9 | 10 | 11 | 18) => id = t.size_or_type,
                _ => break,
            }
        }
        id
    }
}

/// Read what the program needs from the BTF blob `data`.
pub(crate) fn kernel(data: &[u8]) -> Result<Kernel, Missing> {
    let btf = Btf::parse(data)?;
    // One pass over the types for the three names.
    let (mut iter_tcp, mut sock_destroy, mut sock_common) = (None, None, None);
    for id in 1..=btf.starts.len() as u32 {
        let Some(t) = btf.get(id) else { continue };
        match t.kind {
            KIND_FUNC if iter_tcp.is_none() && btf.name_is(t.name_off, "bpf_iter_tcp") => {
                iter_tcp = Some(id)
            }
            KIND_FUNC if sock_destroy.is_none() && btf.name_is(t.name_off, "bpf_sock_destroy") => {
                sock_destroy = Some(id)
            }
            KIND_STRUCT if sock_common.is_none() && btf.name_is(t.name_off, "sock_common") => {
                sock_common = Some(id)
            }
            _ => {}
        }
        if iter_tcp.is_some() && sock_destroy.is_some() && sock_common.is_some() {
            break;
        }
    }
    let sock_destroy = sock_destroy.ok_or(Missing::Name("bpf_sock_destroy"))?;
    let iter_tcp = iter_tcp.ok_or(Missing::Name("bpf_iter_tcp"))?;
    let sock_common = sock_common.ok_or(Missing::Name("struct sock_common"))?;
    Ok(Kernel {
        iter_tcp,
        sock_destroy,
        state_offset: btf
            .member_offset(sock_common, "skc_state", 0)
            .ok_or(Missing::Name("sock_common.skc_state"))?,
        cookie_offset: btf
            .member_offset(sock_common, "skc_cookie", 0)
            .ok_or(Missing::Name("sock_common.skc_cookie"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob of `types` (already encoded) and `strings`.
    fn blob(types: &[u8], strings: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for word in [
            24,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(types);
        out.extend_from_slice(strings);
        out
    }

    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[rustfmt::skip]
    fn sample() -> Vec<u8> {
        // "\0int\0sock_common\0skc_state\0skc_cookie\0bpf_iter_tcp\0bpf_sock_destroy\0"
        let strings = b"\0int\0sock_common\0skc_state\0skc_cookie\0bpf_iter_tcp\0bpf_sock_destroy\0";
        let types = words(&[
            // 1: INT "int", 4 bytes
            1, 1 << 24, 4, 0x0100_0020,
            // 2: STRUCT "sock_common", size 24, two members:
            5, (4 << 24) | 2, 24,
            0, 3, 0,            //   an anonymous union at byte 0
            17, 1, 18 * 8,      //   skc_state at byte 18
            // 3: UNION (anonymous), size 16, one member:
            0, (5 << 24) | 1, 16,
            27, 1, 8 * 8,       //   skc_cookie at byte 8 of the union
            // 4: FUNC_PROTO, no parameters, returns int
            0, 13 << 24, 1,
            // 5: FUNC "bpf_iter_tcp"
            38, 12 << 24, 4,
            // 6: FUNC "bpf_sock_destroy"
            51, 12 << 24, 4,
        ]);
        blob(&types, strings)
    }

    #[test]
    fn finds_the_functions_and_the_offsets_inside_anonymous_members() {
        assert_eq!(
            kernel(&sample()),
            Ok(Kernel {
                iter_tcp: 5,
                sock_destroy: 6,
                state_offset: 18,
                cookie_offset: 8,
            })
        );
    }

    #[test]
    fn a_kernel_without_the_kfunc_is_named_as_such() {
        let mut data = sample();
        // Rename bpf_sock_destroy to bpf_sock_destroX.
        let pos = data.len() - 2;
        data[pos] = b'X';
        assert_eq!(kernel(&data), Err(Missing::Name("bpf_sock_destroy")));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        assert!(matches!(kernel(b"nonsense"), Err(Missing::Malformed(_))));
        let mut data = sample();
        data.truncate(40);
        assert!(matches!(kernel(&data), Err(Missing::Malformed(_))));
        assert!(matches!(kernel(&[]), Err(Missing::Malformed(_))));
    }

    #[test]
    fn this_kernels_btf_has_what_the_program_needs() {
        let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            return;
        };
        let k = kernel(&data).unwrap();
        assert!(k.iter_tcp > 0 && k.sock_destroy > 0);
        // struct sock_common: skc_state after the addresses, ports, hash
        // and family; skc_cookie further on.
        assert!(k.state_offset >= 16 && k.cookie_offset > k.state_offset);
    }
}
