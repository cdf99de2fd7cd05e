//! The C ABI (`libiphlpapi`) on arbitrary calls: shared by the `c_abi`
//! fuzz target and `crates/iphlpapi/tests/fuzz_corpus.rs`.
//!
//! The input is a sequence of calls: which function, then its arguments
//! (sizes, `bOrder`, families, table classes, `Reserved`, rows). Pointers
//! are NULL or real buffers of the size claimed, followed by a canary that
//! must survive: without a sanitizer, that is what catches a write past
//! the caller's buffer. A panic inside a call comes back as
//! `ERROR_GEN_FAILURE` (31) and fails the run like any other wrong code.
//!
//! `SetTcpEntry` really drops what a row names, so this runs only in a
//! network namespace of its own (the fuzz target unshares one at start,
//! the test runs in `nstest::in_netns`), with a few loopback connections
//! of its own for rows to name.

use std::net::{SocketAddr, TcpListener, TcpStream};

use iphlpapi::c_abi::{
    GetExtendedTcpTable, GetTcp6Table, GetTcp6Table2, GetTcpTable, GetTcpTable2, IpHlpFormatError,
};
use iphlpapi::codes::*;
use iphlpapi::MIB_TCPROW;

const CANARY: u8 = 0xA5;
const ERROR_GEN_FAILURE_: u32 = 31;
/// Calls per input: each table call dumps the namespace's sockets.
const MAX_CALLS: usize = 8;

/// Loopback sockets for rows to name: a listener and connections to it.
pub struct Fixture {
    listener: TcpListener,
    connections: Vec<(TcpStream, TcpStream)>,
    rows: Vec<MIB_TCPROW>,
    /// A call may have dropped one of them.
    dirty: bool,
}

impl Fixture {
    /// Make the sockets, in the calling thread's network namespace.
    pub fn new() -> Fixture {
        let mut fixture = Fixture {
            listener: TcpListener::bind("127.0.0.1:0").expect("listen on loopback"),
            connections: Vec::new(),
            rows: Vec::new(),
            dirty: true,
        };
        fixture.refresh();
        fixture
    }

    /// Replace the connections if a call may have dropped any, so that each
    /// input meets the same sockets and a crash replays from its file.
    fn refresh(&mut self) {
        if !self.dirty {
            return;
        }
        self.connections.clear();
        self.rows.clear();
        // A row copied from the LISTEN entry closes the listener (as on
        // Windows): open it again on the same port.
        let port = self.listener.local_addr().expect("local_addr");
        self.listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
        // The same port again when it is free; sockets of the last round
        // still closing on it may hold it, and then the fresh port will do.
        if let Ok(again) = TcpListener::bind(port) {
            self.listener = again;
        }
        let to = self.listener.local_addr().expect("local_addr");
        self.rows
            .push(row(5, to, "0.0.0.0:0".parse().expect("addr")));
        for _ in 0..3 {
            let client = TcpStream::connect(to).expect("connect on loopback");
            let (server, _) = self.listener.accept().expect("accept");
            let (c, s) = (
                client.local_addr().expect("addr"),
                server.local_addr().expect("addr"),
            );
            self.rows.push(row(5, c, s));
            self.rows.push(row(5, s, c));
            self.connections.push((client, server));
        }
        self.dirty = false;
    }
}

impl Default for Fixture {
    fn default() -> Fixture {
        Fixture::new()
    }
}

fn row(state: u32, local: SocketAddr, remote: SocketAddr) -> MIB_TCPROW {
    let v4 = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => (
            u32::from_ne_bytes(v4.ip().octets()),
            u32::from(v4.port().to_be()),
        ),
        SocketAddr::V6(_) => (0, 0),
    };
    let ((la, lp), (ra, rp)) = (v4(local), v4(remote));
    MIB_TCPROW {
        dwState: state,
        dwLocalAddr: la,
        dwLocalPort: lp,
        dwRemoteAddr: ra,
        dwRemotePort: rp,
    }
}

/// Bytes of the input, read front to back; zeroes once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// How the buffer of a table call is given.
enum Buffer {
    NoSizePointer,
    NullTable(u32),
    Claimed(u32),
}

/// Run the calls `data` describes.
pub fn run(fixture: &mut Fixture, data: &[u8]) {
    fixture.refresh();
    let mut input = Input(data);
    for _ in 0..MAX_CALLS {
        if input.0.is_empty() {
            break;
        }
        match input.u8() % 7 {
            which @ 0..=4 => table_call(&mut input, which),
            5 => set_tcp_entry(fixture, &mut input),
            _ => format_error(&mut input),
        }
    }
}

fn table_call(input: &mut Input, which: u8) {
    let buffer = match input.u8() % 4 {
        0 => Buffer::NoSizePointer,
        1 => Buffer::NullTable(u32::from(input.u16())),
        2 => Buffer::Claimed(u32::from(input.u16())),
        // The size protocol: ask, then give what was asked for, give or take.
        _ => {
            let mut needed = 0u32;
            let first = call(input_args(input, which), std::ptr::null_mut(), &mut needed);
            assert!(
                matches!(
                    first,
                    ERROR_INSUFFICIENT_BUFFER | ERROR_INVALID_PARAMETER | ERROR_NOT_SUPPORTED
                ),
                "a NULL table gave {first}"
            );
            let delta = i32::from(input.u8() as i8);
            Buffer::Claimed(needed.saturating_add_signed(delta).min(1 << 20))
        }
    };
    let args = input_args(input, which);
    match buffer {
        Buffer::NoSizePointer => {
            let mut table = vec![0u32; 64];
            // SAFETY: `table` holds 256 bytes; the size pointer is NULL,
            // which every call refuses before touching anything.
            let rc = unsafe { args.invoke(table.as_mut_ptr().cast(), std::ptr::null_mut()) };
            assert_eq!(rc, ERROR_INVALID_PARAMETER, "NULL size pointer, {args:?}");
        }
        Buffer::NullTable(claimed) => {
            let mut size = claimed;
            let rc = call(args, std::ptr::null_mut(), &mut size);
            assert!(
                matches!(
                    rc,
                    ERROR_INSUFFICIENT_BUFFER | ERROR_INVALID_PARAMETER | ERROR_NOT_SUPPORTED
                ),
                "NULL table, {args:?}: {rc}"
            );
            if rc == ERROR_INSUFFICIENT_BUFFER {
                assert!(size >= 4, "needed size {size}");
            }
        }
        Buffer::Claimed(claimed) => {
            // u32 words, as malloc would align them, and a canary after.
            let words = (claimed as usize).div_ceil(4) + 16;
            let mut table = vec![0u32; words];
            // SAFETY: u32 words are plain bytes.
            let bytes = unsafe {
                std::slice::from_raw_parts_mut(table.as_mut_ptr().cast::<u8>(), words * 4)
            };
            bytes[claimed as usize..].fill(CANARY);
            let mut size = claimed;
            let rc = call(args, bytes.as_mut_ptr(), &mut size);
            assert!(
                bytes[claimed as usize..].iter().all(|&b| b == CANARY),
                "{args:?} wrote past the {claimed} bytes it was given (rc {rc})"
            );
            match rc {
                NO_ERROR => {
                    assert!(size <= claimed, "{args:?}: needs {size} of {claimed}");
                    let entries = u32::from_ne_bytes(bytes[..4].try_into().expect("4 bytes"));
                    let row = args.row_size();
                    assert_eq!(
                        u64::from(size),
                        args.rows_at() + u64::from(entries) * row as u64,
                        "{args:?}: {entries} rows of {row} bytes in {size}"
                    );
                    if args.sorted_v4_basic() {
                        let keys: Vec<_> = bytes[4..size as usize]
                            .chunks_exact(20)
                            .map(|r| {
                                let w = |o: usize| {
                                    u32::from_ne_bytes(r[o..o + 4].try_into().expect("4 bytes"))
                                };
                                let port = |o: usize| u16::from_be(w(o) as u16);
                                (u32::from_be(w(4)), port(8), u32::from_be(w(12)), port(16))
                            })
                            .collect();
                        assert!(keys.windows(2).all(|k| k[0] <= k[1]), "unsorted: {keys:?}");
                    }
                }
                ERROR_INSUFFICIENT_BUFFER => {
                    assert!(size > claimed, "{args:?}: {size} <= {claimed}")
                }
                ERROR_INVALID_PARAMETER | ERROR_NOT_SUPPORTED => {}
                other => panic!("{args:?} returned {other}"),
            }
        }
    }
}

/// Which table function, with what.
#[derive(Clone, Copy, Debug)]
enum Args {
    Table {
        which: u8,
        order: i32,
    },
    Extended {
        order: i32,
        af: u32,
        class: u32,
        reserved: u32,
    },
}

fn input_args(input: &mut Input, which: u8) -> Args {
    let order = i32::from(input.u8() as i8);
    if which < 4 {
        return Args::Table { which, order };
    }
    let af = match input.u8() % 5 {
        0 | 1 => 2,
        2 | 3 => 23,
        _ => input.u32(),
    };
    let class = match input.u8() {
        c @ 0..=250 => u32::from(c % 10),
        _ => input.u32(),
    };
    let reserved = match input.u8() {
        0..=240 => 0,
        _ => input.u32(),
    };
    Args::Extended {
        order,
        af,
        class,
        reserved,
    }
}

impl Args {
    /// The bytes of one row of the table the call fills.
    fn row_size(self) -> usize {
        match self {
            Args::Table { which: 0, .. } => 20,
            Args::Table { which: 1, .. } => 28,
            Args::Table { which: 2, .. } => 52,
            Args::Table { .. } => 60,
            Args::Extended {
                af: 2,
                class: 0..=2,
                ..
            } => 20,
            Args::Extended {
                af: 2,
                class: 6..=8,
                ..
            } => 160,
            Args::Extended { af: 2, .. } => 24,
            Args::Extended { class: 0..=2, .. } => 52,
            Args::Extended { class: 6..=8, .. } => 192,
            Args::Extended { .. } => 56,
        }
    }

    /// Where the rows start: after the count, or at 8 for the
    /// TCP_TABLE_OWNER_MODULE_* tables, whose rows are 8-byte aligned.
    fn rows_at(self) -> u64 {
        match self {
            Args::Extended { class: 6..=8, .. } => 8,
            _ => 4,
        }
    }

    fn sorted_v4_basic(self) -> bool {
        matches!(
            self,
            Args::Table { which: 0, order } | Args::Extended { af: 2, class: 0..=2, order, .. }
                if order != 0
        )
    }

    /// # Safety
    ///
    /// `size` is NULL or valid for a u32; `table` is NULL or valid for
    /// writing `*size` bytes.
    unsafe fn invoke(self, table: *mut u8, size: *mut u32) -> u32 {
        // SAFETY: the contract of every call is this function's own.
        let rc = unsafe {
            match self {
                Args::Table { which: 0, order } => GetTcpTable(table.cast(), size, order),
                Args::Table { which: 1, order } => GetTcpTable2(table.cast(), size, order),
                Args::Table { which: 2, order } => GetTcp6Table(table.cast(), size, order),
                Args::Table { order, .. } => GetTcp6Table2(table.cast(), size, order),
                Args::Extended {
                    order,
                    af,
                    class,
                    reserved,
                } => GetExtendedTcpTable(table.cast(), size, order, af, class, reserved),
            }
        };
        assert_ne!(rc, ERROR_GEN_FAILURE_, "{self:?} panicked");
        rc
    }
}

fn call(args: Args, table: *mut u8, size: &mut u32) -> u32 {
    // SAFETY: `size` is a live u32; `table` is NULL or, from
    // `table_call`, a buffer of at least `*size` bytes.
    unsafe { args.invoke(table, size) }
}

fn set_tcp_entry(fixture: &mut Fixture, input: &mut Input) {
    let selector = input.u8();
    let state = match input.u8() {
        s @ 0..=15 => u32::from(s),
        16..=200 => MIB_TCP_STATE_DELETE_TCB_,
        _ => input.u32(),
    };
    let mut row = match selector {
        // NULL.
        0 => {
            // SAFETY: NULL is refused before anything is read.
            let rc = unsafe { iphlpapi::c_abi::SetTcpEntry(std::ptr::null_mut()) };
            assert_eq!(rc, ERROR_INVALID_PARAMETER);
            return;
        }
        // A real socket's row, ports with garbage in their upper halves.
        1..=127 => {
            let mut row = fixture.rows[usize::from(selector) % fixture.rows.len()];
            row.dwLocalPort |= u32::from(input.u16()) << 16;
            row.dwRemotePort |= u32::from(input.u16()) << 16;
            row
        }
        _ => MIB_TCPROW {
            dwState: 0,
            dwLocalAddr: input.u32(),
            dwLocalPort: input.u32(),
            dwRemoteAddr: input.u32(),
            dwRemotePort: input.u32(),
        },
    };
    row.dwState = state;
    // SAFETY: a live MIB_TCPROW.
    let rc = unsafe { iphlpapi::c_abi::SetTcpEntry(&mut row) };
    assert_ne!(rc, ERROR_GEN_FAILURE_, "SetTcpEntry({row:?}) panicked");
    if state != MIB_TCP_STATE_DELETE_TCB_ {
        assert_eq!(rc, ERROR_INVALID_PARAMETER, "{row:?}");
    }
    match rc {
        NO_ERROR => fixture.dirty = true,
        ERROR_INVALID_PARAMETER
        | ERROR_MR_MID_NOT_FOUND
        | ERROR_ACCESS_DENIED
        | ERROR_NOT_SUPPORTED => {}
        other => panic!("SetTcpEntry({row:?}) returned {other}"),
    }
}

const MIB_TCP_STATE_DELETE_TCB_: u32 = 12;

fn format_error(input: &mut Input) {
    let code = match input.u8() {
        c @ 0..=127 => u32::from(c),
        c @ 128..=191 => [0, 5, 31, 50, 65, 87, 122, 317, 1168][usize::from(c) % 9],
        _ => input.u32(),
    };
    let len = input.u8();
    if len == 255 {
        // SAFETY: NULL is refused before anything is written.
        let rc = unsafe { IpHlpFormatError(code, std::ptr::null_mut(), 16) };
        assert_eq!(rc, ERROR_INVALID_PARAMETER);
        return;
    }
    let len = usize::from(len);
    let mut buf = vec![CANARY as core::ffi::c_char; len + 16];
    // SAFETY: `buf` holds `len` bytes and more.
    let rc = unsafe { IpHlpFormatError(code, buf.as_mut_ptr(), len as u32) };
    assert!(
        buf[len..].iter().all(|&b| b as u8 == CANARY),
        "IpHlpFormatError({code}, {len}) wrote past the buffer"
    );
    match rc {
        NO_ERROR | ERROR_INSUFFICIENT_BUFFER if len > 0 => {
            assert!(buf[..len].contains(&0), "no NUL in {len} bytes (rc {rc})");
        }
        ERROR_INSUFFICIENT_BUFFER => {}
        other => panic!("IpHlpFormatError({code}, {len}) returned {other}"),
    }
}
