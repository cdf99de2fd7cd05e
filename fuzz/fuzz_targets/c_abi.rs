//! The C ABI's entry points (`GetTcpTable` family, `GetExtendedTcpTable`,
//! `SetTcpEntry`, `IpHlpFormatError`) with arbitrary sizes, classes,
//! families, orders and rows. Pointers are NULL or real buffers.
//!
//! The process first moves to a network namespace of its own, so
//! `SetTcpEntry` can only ever drop the harness's own loopback connections.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;

#[path = "../harness/c_abi.rs"]
mod harness;

static FIXTURE: Mutex<Option<harness::Fixture>> = Mutex::new(None);

fuzz_target!(
    init: {
        // SAFETY: unshare(2) changes only this thread's namespace, and
        // libFuzzer runs every input on this thread.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {} (run as root)",
            std::io::Error::last_os_error()
        );
        nstest::lo_up();
        *FIXTURE.lock().expect("fixture") = Some(harness::Fixture::new());
    },
    |data: &[u8]| {
        let mut fixture = FIXTURE.lock().expect("fixture");
        harness::run(fixture.as_mut().expect("made in init"), data);
    }
);
