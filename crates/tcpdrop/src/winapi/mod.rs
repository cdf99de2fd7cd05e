//! The Windows IP Helper TCP calls, with their exact semantics and codes.

pub mod codes;
