use std::net::{TcpListener, TcpStream};

use nstest::{connect, in_netns, listen, read_errno};

use crate::util::{tcpdrop, tcpdrop_not_elevated, tcpdrop_unprivileged, Run};

/// The connection a refused drop left alone, kept open.
struct Survivor {
    _sockets: (TcpListener, TcpStream, TcpStream),
    local: String,
    remote: String,
}

/// Drop one live connection with `run_drop`, which lacks the privilege: exit
/// 4, `last_line` last on stderr, no drop claimed, the connection alive.
fn refused(run_drop: impl Fn(&[&str]) -> Run, last_line: &str) -> Survivor {
    let listener = listen("127.0.0.1:0");
    let (mut client, server) = connect(&listener);
    let l = client.local_addr().unwrap().to_string();
    let r = client.peer_addr().unwrap().to_string();
    let run = run_drop(&[&l, &r]);
    assert_eq!(run.code, 4, "stdout: {} stderr: {}", run.stdout, run.stderr);
    assert!(
        !run.stdout.contains("dropped"),
        "claimed a drop: {}",
        run.stdout
    );
    assert_eq!(run.stderr.lines().last().unwrap_or(""), last_line);
    assert_eq!(read_errno(&mut client), None, "the connection was hit");
    Survivor {
        _sockets: (listener, client, server),
        local: l,
        remote: r,
    }
}

#[test]
fn unprivileged_drop_exits_4_and_the_connection_survives() {
    if !nstest::require_real_root("the tool runs as uid 65534 under setpriv") {
        return;
    }
    in_netns(|| {
        let survivor = refused(
            tcpdrop_unprivileged,
            "tcpdrop: dropping needs CAP_NET_ADMIN: run as root (nothing was dropped)",
        );
        // Listing needs no privilege.
        let run = tcpdrop_unprivileged(&["-l"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains(&survivor.local));
        // And the same drop as root works.
        assert_eq!(tcpdrop(&[&survivor.local, &survivor.remote]).code, 0);
    });
}

#[test]
fn permitted_but_not_effective_is_not_elevated_exit_4() {
    if !nstest::require_real_root("the tool runs as uid 65534 with a file capability") {
        return;
    }
    in_netns(|| {
        refused(
            tcpdrop_not_elevated,
            "tcpdrop: dropping needs CAP_NET_ADMIN in effect: this process may raise it but \
             has not (not elevated); raise it, or run as root (nothing was dropped)",
        );
    });
}
