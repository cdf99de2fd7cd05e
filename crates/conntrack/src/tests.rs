//! The codec's tests: golden bytes, a corpus of malformed replies, and
//! property tests. The client is tested against the real kernel in
//! `tests/live/`, in a router namespace between two hosts.

// The tests work out the lengths of bytes they built themselves.
#![allow(clippy::arithmetic_side_effects)]

// The golden arrays spell host-order fields for a little-endian host.
mod errors;
#[cfg(target_endian = "little")]
mod golden;
#[cfg(target_endian = "little")]
mod malformed;
mod roundtrip;
