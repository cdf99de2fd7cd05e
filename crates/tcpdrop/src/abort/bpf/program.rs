//! The program run on every TCP socket of the namespace by the `iter/tcp`
//! iterator. In C it would read:
//!
//! ```c
//! SEC("iter/tcp")
//! int destroy(struct bpf_iter__tcp *ctx)
//! {
//!     struct sock_common *sk = ctx->sk_common;
//!     if (!sk || sk->skc_state == TCP_TIME_WAIT || sk->skc_state == TCP_NEW_SYN_RECV)
//!         return 0;                        /* full sockets only */
//!     __u64 cookie = sk->skc_cookie.counter;
//!     __u32 *index = bpf_map_lookup_elem(&cookies, &cookie);
//!     if (!index)
//!         return 0;                        /* not chosen: untouched */
//!     __u32 key = *index;
//!     __u64 result = 1 - bpf_sock_destroy(sk);  /* 1: aborted; 1 + errno */
//!     __u64 *slot = bpf_map_lookup_elem(&results, &key);
//!     if (slot)
//!         *slot = result;
//!     return 0;
//! }
//! ```
//!
//! `cookies` maps each chosen socket's cookie (the one its dump showed,
//! `sock_diag`'s `idiag_cookie`) to its index among the targets;
//! `results`, an array user space maps into its memory, gets one word per
//! target: 0 while the walk has not reached it, 1 once `bpf_sock_destroy`
//! aborted it, 1 + errno if it refused.
//!
//! The iterator takes each full socket's lock before it runs the program
//! and skips a socket that left the tables meanwhile, so a socket the
//! program finds is alive and cannot change under it. `bpf_sock_destroy`
//! then runs `tcp_abort` as `SOCK_DESTROY` does (the owner sees
//! `ECONNABORTED`, the peer an RST). It is given full sockets only: for a
//! TIME-WAIT or request socket it would read `struct sock` fields those
//! smaller structures do not have. A socket that entered TIME-WAIT after
//! the dump keeps its cookie and is left alone here.

use super::asm::{Asm, Insn, Size, R0, R1, R10, R2, R6, R7};
use super::btf::Kernel;

/// `BPF_FUNC_map_lookup_elem`
const MAP_LOOKUP_ELEM: i32 = 1;
/// `TCP_TIME_WAIT` and `TCP_NEW_SYN_RECV` (`include/net/tcp_states.h`).
const TCP_TIME_WAIT: i32 = 6;
const TCP_NEW_SYN_RECV: i32 = 12;
/// Offset of `sk_common` in `struct bpf_iter__tcp` (after `meta`).
const CTX_SK_COMMON: i16 = 8;

/// The instructions, for the kernel `kernel` and the maps with
/// descriptors `cookies` and `results`.
pub(crate) fn build(kernel: &Kernel, cookies: i32, results: i32) -> Vec<Insn> {
    let state = i16::try_from(kernel.state_offset).unwrap_or(i16::MAX);
    let cookie = i16::try_from(kernel.cookie_offset).unwrap_or(i16::MAX);
    let mut asm = Asm::default();
    asm.load(Size::DW, R6, R1, CTX_SK_COMMON)
        .jeq_out(R6, 0)
        .load(Size::B, R2, R6, state)
        .jeq_out(R2, TCP_TIME_WAIT)
        .jeq_out(R2, TCP_NEW_SYN_RECV)
        .load(Size::DW, R2, R6, cookie)
        .store(Size::DW, R10, -8, R2)
        .load_map(R1, cookies)
        .mov(R2, R10)
        .add_imm(R2, -8)
        .call(MAP_LOOKUP_ELEM)
        .jeq_out(R0, 0)
        .load(Size::W, R2, R0, 0)
        .store(Size::W, R10, -16, R2)
        .mov(R1, R6)
        .call_kfunc(kernel.sock_destroy)
        .mov32_imm(R7, 1)
        .sub32(R7, R0)
        .load_map(R1, results)
        .mov(R2, R10)
        .add_imm(R2, -16)
        .call(MAP_LOOKUP_ELEM)
        .jeq_out(R0, 0)
        .store(Size::DW, R0, 0, R7)
        .out()
        .exit_with(0);
    asm.finish()
}
