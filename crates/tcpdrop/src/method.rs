//! The ways a socket can be aborted, named: what a drop reports for each
//! socket it aborted, what `--method` forces, and what an error lists as
//! tried. Below the ways themselves (`abort/`), so that errors and reports
//! can name them.

/// How a socket was aborted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// The kernel's `SOCK_DESTROY` (needs `CONFIG_INET_DIAG_DESTROY` and
    /// `CAP_NET_ADMIN`): the owner sees `ECONNABORTED`.
    Destroy,
    /// `connect(AF_UNSPEC)` on a duplicate of the holder's descriptor
    /// (`pidfd_getfd`).
    Owner,
    /// An RST spoofed from the peer, its sequence number learnt from a
    /// challenge ACK (`CAP_NET_RAW`).
    Inject,
    /// `bpf_sock_destroy` called by our program on the kernel's TCP socket
    /// iterator, for the chosen cookies (Linux 6.5+ with BTF, `CAP_BPF` and
    /// `CAP_PERFMON`): the owner sees `ECONNABORTED`, as with `Destroy`.
    Bpf,
}

impl Method {
    /// `"destroy"`, `"owner"`, `"inject"` or `"bpf"`, as `--method` names it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Destroy => "destroy",
            Method::Owner => "owner",
            Method::Inject => "inject",
            Method::Bpf => "bpf",
        }
    }
}
