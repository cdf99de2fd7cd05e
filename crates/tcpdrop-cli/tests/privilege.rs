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
            "tcpdrop: no way to abort it (destroy: needs CAP_NET_ADMIN; owner: needs \
             CAP_SYS_PTRACE; inject: needs CAP_NET_RAW): run as root (nothing was dropped)",
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
            "tcpdrop: no way to abort it (destroy: CAP_NET_ADMIN is permitted but not in effect \
             (not elevated); owner: needs CAP_SYS_PTRACE; inject: needs CAP_NET_RAW): raise \
             CAP_NET_ADMIN, or run as root (nothing was dropped)",
        );
    });
}

/// kill(1) semantics: a user with no privilege at all drops a connection
/// its own process holds (through that process's descriptor), and not one
/// another user's process holds.
#[test]
fn a_normal_user_drops_its_own_connection_and_not_anothers() {
    if !nstest::require_real_root("the tool runs as uid 65534 under setpriv") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let mine = nstest::spawn_owner_with(to, b"mine", Some(65534), Some(true));
        let (_server, _) = listener.accept().unwrap();
        let local = mine.local_addr().to_string();
        let run = tcpdrop_unprivileged(&["--json", &local, &to.to_string()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = crate::util::json_lines(&run.stdout);
        let row = rows.iter().find(|r| r["local"] == local.as_str()).unwrap();
        assert_eq!(
            (&row["result"], &row["method"]),
            (&"dropped".into(), &"owner".into())
        );
        // The holder's blocked read fails: the connection is gone.
        assert!(mine.read_outcome().is_some());

        // Another user's (root's, here) connection: refused, untouched.
        refused(
            tcpdrop_unprivileged,
            "tcpdrop: no way to abort it (destroy: needs CAP_NET_ADMIN; owner: needs \
             CAP_SYS_PTRACE; inject: needs CAP_NET_RAW): run as root (nothing was dropped)",
        );
    });
}
