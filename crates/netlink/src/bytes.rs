//! Reading fixed-size fields out of untrusted bytes: `None` where the
//! bytes end too soon, never a panic. Netlink's headers are host-endian.

/// The `N` bytes at `off` of `b`, if `b` holds them.
pub fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// The host-endian `u16` at `off` of `b`.
pub fn u16_ne(b: &[u8], off: usize) -> Option<u16> {
    array(b, off).map(u16::from_ne_bytes)
}

/// The host-endian `u32` at `off` of `b`.
pub fn u32_ne(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_ne_bytes)
}
