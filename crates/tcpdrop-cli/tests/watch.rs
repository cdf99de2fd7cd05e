//! `--watch`: connections opened after it started are dropped as they come,
//! until `--count`, `--timeout` or a signal.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nstest::{connect, in_netns, listen, read_errno};

const ECONNABORTED: i32 = 103;

fn watch(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tcpdrop --watch")
}

/// Wait for `child` to exit by itself (within 10 s): code, stdout, stderr.
fn finish(mut child: Child) -> (i32, String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tcpdrop --watch did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code().unwrap_or(-1), out, err)
}

#[test]
fn watch_drops_new_connections_and_stops_at_count() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let filter = format!("dport = :{port}");
        let child = watch(&["--watch=100ms", "--count", "3", "--json", &filter]);
        let mut servers = Vec::new();
        for _ in 0..3 {
            // Each connection is opened well after the watch started.
            std::thread::sleep(Duration::from_millis(300));
            let (mut client, server) = connect(&listener);
            servers.push(server);
            assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        }
        let (code, out, err) = finish(child);
        assert_eq!(code, 0, "{err}");
        let rows: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let dropped = rows.iter().filter(|r| r["result"] == "dropped").count();
        assert_eq!(dropped, 3, "{out}");
        let summary = err.lines().last().unwrap_or("");
        assert!(
            summary.starts_with("dropped 3, gone 3, failed 0 in ")
                && (summary.ends_with(" rounds") || summary.ends_with(" 1 round")),
            "{err}"
        );
        // It stopped at the count: a fourth connection lives.
        let (mut fourth, _s) = connect(&listener);
        assert_eq!(read_errno(&mut fourth), None);
    });
}

#[test]
fn watch_stops_at_timeout_and_says_nothing_matched() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut bystander, _s) = connect(&listener);
        let start = Instant::now();
        let child = watch(&["--watch=100ms", "--timeout", "600ms", "dport = :1"]);
        let (code, _out, err) = finish(child);
        assert!(start.elapsed() >= Duration::from_millis(600));
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("dropped 0, gone 0, failed 0 in "), "{err}");
        assert!(err.contains("no connection matched in "), "{err}");
        assert_eq!(read_errno(&mut bystander), None);
    });
}

/// SIGTERM is how systemd and Kubernetes stop a watch that holds a
/// policy: nothing to drop is a success then (0). A person's ^C (SIGINT)
/// still hears that nothing matched (1).
#[test]
fn watch_stops_on_sigterm_and_sigint_with_a_summary() {
    in_netns(|| {
        for (signal, status) in [(libc::SIGTERM, 0), (libc::SIGINT, 1)] {
            let child = watch(&["--watch=100ms", "-a", "-4"]);
            std::thread::sleep(Duration::from_millis(300));
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
            let (code, _out, err) = finish(child);
            assert!(err.contains("dropped 0, gone 0, failed 0 in "), "{err}");
            assert_eq!(code, status, "signal {signal}: {err}");
        }
    });
}
