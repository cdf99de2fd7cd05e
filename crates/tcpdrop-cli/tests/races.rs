//! The command under the race its first promise is about: between finding
//! a connection and aborting it, the connection closes and a newer one
//! takes its 4-tuple. Test builds pause where `TCPDROP_RACE_HOOK` says
//! (the library's `race-hook` feature), so the window opens on purpose.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nstest::{abort_close, carries_data, connect_from, in_netns, listen, still_accepts};

use crate::util::json_lines;

/// Run `tcpdrop --json ARGS`, and when it pauses between finding and
/// aborting, replace the connection `from`→`to` by a new one on the same
/// tuple. Returns the output's JSON rows, the exit code and the newcomer.
fn race(
    args: &[String],
    listener: &TcpListener,
    old: (TcpStream, TcpStream),
    from: SocketAddr,
) -> (Vec<serde_json::Value>, i32, (TcpStream, TcpStream)) {
    let dir = std::env::temp_dir().join(format!(
        "tcpdrop-race-{}-{}",
        std::process::id(),
        from.port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
        .arg("--json")
        .args(args)
        .env("TCPDROP_RACE_HOOK", &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("paused").exists() {
        assert!(Instant::now() < deadline, "tcpdrop never paused");
        std::thread::sleep(Duration::from_millis(2));
    }
    abort_close(old.0);
    abort_close(old.1);
    let newcomer = connect_from(from, listener.local_addr().unwrap(), listener);
    std::fs::write(dir.join("resume"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        json_lines(&stdout),
        out.status.code().unwrap_or(-1),
        newcomer,
    )
}

fn check(form: &str, host: &str) {
    check_by(&[], form, host);
}

/// The race, with `extra` arguments before the selection (`--method ...`).
fn check_by(extra: &[&str], form: &str, host: &str) {
    in_netns(|| {
        let listener = listen(&format!("{host}:0"));
        let to = listener.local_addr().unwrap();
        let port = TcpListener::bind(format!("{host}:0"))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let from: SocketAddr = format!("{host}:{port}").parse().unwrap();
        let old = connect_from(from, to, &listener);
        let mut args: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        args.extend(match form {
            "tuple" => vec![from.to_string(), to.to_string()],
            "filter" => vec![format!("sport = :{port} and dport = :{}", to.port())],
            _ => vec!["-a".to_string()],
        });
        let (rows, code, (mut new_c, mut new_s)) = race(&args, &listener, old, from);
        assert!(
            carries_data(&mut new_c, &mut new_s),
            "{form} {host}: newcomer hit: {rows:?}"
        );
        // The old connection is reported once, as replaced; nothing is
        // reported dropped (the only connection was the raced one).
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            assert_ne!(row["result"], "dropped", "{form} {host}: {rows:?}");
            let key = (row["local"].to_string(), row["remote"].to_string());
            assert!(
                seen.insert(key),
                "{form} {host}: a tuple reported twice: {rows:?}"
            );
            assert_ne!(
                row["reason"], "reset by the drop of its other end",
                "{form} {host}: {rows:?}"
            );
        }
        let client_row = rows
            .iter()
            .find(|r| r["local"] == from.to_string().as_str())
            .unwrap_or_else(|| panic!("{form} {host}: the old connection is reported: {rows:?}"));
        assert_eq!(client_row["result"], "gone", "{rows:?}");
        assert_eq!(
            client_row["reason"], "replaced by a newer connection, left alone",
            "{rows:?}"
        );
        assert_eq!(code, 0, "{form} {host}: {rows:?}");
        assert!(still_accepts(&listener));
    });
}

#[test]
fn the_tuple_form_spares_a_newcomer_on_the_reused_tuple() {
    check("tuple", "127.0.0.1");
    check("tuple", "[::1]");
}

#[test]
fn a_filter_spares_a_newcomer_on_the_reused_tuple() {
    check("filter", "127.0.0.1");
    check("filter", "[::1]");
}

#[test]
fn dropping_everything_spares_a_newcomer_on_the_reused_tuple() {
    check("all", "127.0.0.1");
    check("all", "[::1]");
}

#[test]
fn every_form_by_bpf_spares_a_newcomer_on_the_reused_tuple() {
    if !nstest::require_bpf() {
        return;
    }
    for form in ["tuple", "filter", "all"] {
        check_by(&["--method", "bpf"], form, "127.0.0.1");
        check_by(&["--method", "bpf"], form, "[::1]");
    }
}
