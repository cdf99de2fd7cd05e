//! Integration tests of the tcpdrop library against the real kernel, each in
//! a fresh network namespace (see the `nstest` crate).

mod bulk;
mod bytecode;
mod churn;
mod drop_safety;
mod filter;
mod forwarded;
mod fuzz_corpus;
mod listing;
mod lookup;
mod namespaces;
mod races;
mod shadow;
