use std::net::{TcpListener, TcpStream};

use nstest::{carries_data, connect, in_netns, listen, read_errno};

use crate::util::{json_lines, tcpdrop, tcpdrop_not_elevated, tcpdrop_unprivileged, Run};

/// What a user with no privilege at all is told when nothing it may drop
/// is chosen: every way and what it lacks (the owner way: reading another
/// user's /proc/PID/fd to find the holder, then its descriptor).
const NO_WAY: &str = "no way to abort it (destroy: needs CAP_NET_ADMIN; owner: needs \
                      CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE; inject: needs CAP_NET_RAW): run \
                      as root";

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
            &format!("tcpdrop: {NO_WAY} (nothing was dropped)"),
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
             (not elevated); owner: needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE; inject: needs \
             CAP_NET_RAW): raise CAP_NET_ADMIN, or run as root (nothing was dropped)",
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
            &format!("tcpdrop: {NO_WAY} (nothing was dropped)"),
        );
    });
}

/// A dry run says what the real run would refuse: a normal user's `-n -a`
/// marks root's connections `would-fail` with the reason, its own
/// `would-drop`, and exits as the real run then does. (It used to list
/// every one `would-drop` and exit 0, where the real run exits 4.)
#[test]
fn a_dry_run_marks_what_would_be_refused_and_exits_as_the_real_run() {
    if !nstest::require_real_root("the tool runs as uid 65534 under setpriv") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let mine = nstest::spawn_owner_with(to, b"mine", Some(65534), Some(true));
        let (_mine_server, _) = listener.accept().unwrap();
        let (mut client, mut server) = connect(&listener);
        let my_end = mine.local_addr().to_string();

        let dry = tcpdrop_unprivileged(&["-n", "-a", "--json"]);
        let rows = json_lines(&dry.stdout);
        assert_eq!(rows.len(), 4, "{rows:?}");
        for row in &rows {
            if row["local"] == my_end.as_str() {
                assert_eq!(row["result"], "would-drop", "{row}");
                assert!(row["error"].is_null(), "{row}");
            } else {
                assert_eq!(row["result"], "would-fail", "{row}");
                assert_eq!(row["error"], NO_WAY, "{row}");
            }
        }
        // Every failure a refusal, as the real run decides: its own status.
        assert_eq!(dry.code, 4, "{}", dry.stderr);
        assert_eq!(
            dry.stderr,
            "would drop 1, would fail 3\ntcpdrop: 3 of 4 drops would fail (refused: see each row)\n"
        );
        // The columns say the same, with the reason.
        let text = tcpdrop_unprivileged(&["-n", "-a"]);
        assert_eq!(text.code, 4, "{}", text.stderr);
        let lines: Vec<&str> = text.stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{}", text.stdout);
        for line in lines {
            // Result, State, Recv-Q, Send-Q, Local, ...
            if line.split_whitespace().nth(4) == Some(my_end.as_str()) {
                assert!(line.starts_with("would-drop "), "{line}");
            } else {
                assert!(line.starts_with("would-fail "), "{line}");
                assert!(line.ends_with(&format!("({NO_WAY})")), "{line}");
            }
        }
        // Nothing was touched.
        assert!(carries_data(&mut client, &mut server));
        assert!(
            nstest::ss_rows().iter().any(|r| r.1 == my_end),
            "its own was touched"
        );

        // The real run: the same rows fail, the same exit status.
        let real = tcpdrop_unprivileged(&["-a", "--json"]);
        assert_eq!(real.code, dry.code, "{}", real.stderr);
        let rows = json_lines(&real.stdout);
        let row = rows.iter().find(|r| r["local"] == my_end.as_str()).unwrap();
        assert_eq!(row["result"], "dropped", "{rows:?}");
        assert!(mine.read_outcome().is_some());
        assert!(
            carries_data(&mut client, &mut server),
            "root's connection was hit"
        );

        // Only root's: all refused, one line, as the real run says it.
        let only_root = format!("sport = :{}", client.local_addr().unwrap().port());
        let dry = tcpdrop_unprivileged(&["-n", &only_root]);
        let real = tcpdrop_unprivileged(&[&only_root]);
        assert_eq!(
            (dry.code, real.code),
            (4, 4),
            "{} / {}",
            dry.stderr,
            real.stderr
        );
        assert!(dry.stdout.starts_with("would-fail "), "{}", dry.stdout);
        assert_eq!(
            dry.stderr.lines().last().unwrap_or(""),
            format!("tcpdrop: {NO_WAY} (nothing would be dropped)")
        );
        assert_eq!(
            real.stderr.lines().last().unwrap_or(""),
            format!("tcpdrop: {NO_WAY} (nothing was dropped)")
        );
        assert!(
            carries_data(&mut client, &mut server),
            "root's connection was hit"
        );
    });
}

#[test]
fn a_forced_bpf_without_cap_bpf_exits_4_and_the_connection_survives() {
    if !nstest::require_real_root("the tool runs as uid 65534 under setpriv")
        || !nstest::require_bpf()
    {
        return;
    }
    let line = "tcpdrop: aborting sockets from a BPF socket iterator (bpf) needs CAP_BPF \
                and CAP_PERFMON: run as root (nothing was touched) (nothing was dropped)";
    in_netns(|| {
        let bpf = |args: &[&str]| {
            let mut all = vec!["--method", "bpf"];
            all.extend_from_slice(args);
            tcpdrop_unprivileged(&all)
        };
        refused(bpf, line);
        // CAP_NET_ADMIN is not what bpf needs either.
        let bpf = |args: &[&str]| {
            let mut all = vec!["--method", "bpf"];
            all.extend_from_slice(args);
            crate::util::tcpdrop_net_admin_only(&all)
        };
        refused(bpf, line);
    });
}
