//! `SetTcpEntry` from C on a real kernel without `SOCK_DESTROY`
//! (user-mode Linux 6.1, see `nstest::uml`): Windows code that aborts a
//! connection works there too, through the holder's descriptor.

use nstest::{connect, in_netns, listen, still_accepts};

use crate::util::{program, run, Link};

/// Where the outer test tells the inner one the C program is.
const PROGRAM: &str = "IPHLPAPI_UML_SETTCPENTRY";

#[test]
fn set_tcp_entry_from_c_on_a_kernel_without_sock_destroy() {
    if let Some(reason) = nstest::uml::unavailable() {
        nstest::skip(&reason);
        return;
    }
    // Built on the host: a compiler inside UML would be slow.
    let built = program("settcpentry", Link::Shared);
    let exe = std::env::current_exe().unwrap();
    let out = nstest::uml::run(
        &[(PROGRAM, built.to_str().unwrap())],
        &[
            exe.to_str().unwrap(),
            "uml::uml_inner_",
            "--ignored",
            "--test-threads=1",
        ],
    );
    assert!(
        out.status == 0 && out.output.contains("test result: ok. 1 passed"),
        "inside UML (status {}):\n{}",
        out.status,
        out.output
    );
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by set_tcp_entry_from_c_on_a_kernel_without_sock_destroy"]
fn uml_inner_set_tcp_entry_aborts_and_a_missing_row_is_317() {
    assert!(nstest::uml::inside(), "runs inside user-mode Linux only");
    let path = std::path::PathBuf::from(std::env::var_os(PROGRAM).expect("the program's path"));
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (client, _server) = connect(&listener);
        let (l, r) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let args = |l: std::net::SocketAddr, r: std::net::SocketAddr| {
            vec![
                "12".to_string(),
                l.ip().to_string(),
                l.port().to_string(),
                r.ip().to_string(),
                r.port().to_string(),
            ]
        };
        let a = args(l, r);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        assert_eq!(
            run(&path, &a),
            "code 0: The operation completed successfully.\n"
        );
        let gone = tcpdrop::Session::new()
            .unwrap()
            .find(l, r)
            .unwrap()
            .is_none();
        assert!(gone, "the connection is still there");
        // A missing row: 317, and the listener on its port is untouched.
        let a = args(
            listener.local_addr().unwrap(),
            "127.0.0.1:9".parse().unwrap(),
        );
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = run(&path, &a);
        assert!(out.starts_with("code 317"), "{out}");
        assert!(still_accepts(&listener));
    });
}
