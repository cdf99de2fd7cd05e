//! The codec's tests: golden bytes, a corpus of malformed replies, property
//! tests, and a second opinion from rust-netlink's `netlink-packet-sock-diag`.
//! The client is tested against the real kernel in `tests/live.rs`.

// The tests work out the lengths of bytes they built themselves.
#![allow(clippy::arithmetic_side_effects)]

// The golden arrays spell host-order fields for a little-endian host.
#[cfg(target_endian = "little")]
mod golden;
mod malformed;
mod oracle;
mod roundtrip;
mod wire;
