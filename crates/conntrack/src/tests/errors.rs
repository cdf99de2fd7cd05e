//! The kernel's errnos sorted into the cases a caller tells apart, each
//! keeping its errno and naming its remedy.

use linux_raw_sys::errno as e;

use crate::client::dump_error;
use crate::Error;

/// Whether an error is of the case expected.
type Is = fn(&Error) -> bool;

#[test]
fn errnos_are_sorted_into_cases() {
    let cases: [(u32, Is); 7] = [
        (e::ENOENT, |err| {
            matches!(err, Error::NotFound { stale: false })
        }),
        (e::EPERM, |err| {
            matches!(err, Error::PermissionDenied { .. })
        }),
        (e::EACCES, |err| {
            matches!(err, Error::PermissionDenied { .. })
        }),
        (e::EOPNOTSUPP, |err| {
            matches!(err, Error::NotSupported { .. })
        }),
        (e::EPROTONOSUPPORT, |err| {
            matches!(err, Error::NotSupported { .. })
        }),
        (e::EINVAL, |err| matches!(err, Error::Invalid(_))),
        (e::EBUSY, |err| matches!(err, Error::Io(_))),
    ];
    for (errno, is) in cases {
        let err = Error::from_errno(errno as i32);
        assert!(is(&err), "{errno}: {err:?}");
        assert_eq!(err.errno(), Some(errno as i32), "{err:?} keeps its errno");
    }
}

#[test]
fn einval_to_a_dump_means_no_ctnetlink() {
    // A dump carries only nfgenmsg: nfnetlink answers EINVAL when no
    // subsystem serves NFNL_SUBSYS_CTNETLINK.
    let err = dump_error(e::EINVAL as i32);
    assert!(matches!(err, Error::NotSupported { errno } if errno == e::EINVAL as i32));
    assert!(matches!(
        dump_error(e::EPERM as i32),
        Error::PermissionDenied { .. }
    ));
}

#[test]
fn messages_name_the_cause_and_the_remedy() {
    let denied = Error::from_errno(e::EPERM as i32).to_string();
    assert!(
        denied.contains("CAP_NET_ADMIN") && denied.contains("root"),
        "{denied}"
    );
    let unsupported = Error::from_errno(e::EOPNOTSUPP as i32).to_string();
    assert!(
        unsupported.contains("nf_conntrack_netlink"),
        "{unsupported}"
    );
}
