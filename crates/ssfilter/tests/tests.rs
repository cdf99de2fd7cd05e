//! Integration tests of the filter language against the real kernel and
//! `ss`, each in a fresh network namespace (see the `nstest` crate).

mod bytecode;
mod dump;
mod fuzz_corpus;
mod population;
mod vs_ss;
