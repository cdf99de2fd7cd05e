//! `tcpdrop -f FILE`: many named connections, each found by an exact
//! lookup, dropped in batches, one result line each.

use std::io::Write;
use std::process::{Command, Stdio};

use nstest::{connect, in_netns, listen, read_errno, still_accepts};

use crate::util::{json_lines, tcpdrop};

const ECONNABORTED: i32 = 103;

fn run_with_stdin(args: &[&str], input: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_file_of_tuples_drops_each_one_with_a_line_each() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let mut pairs: Vec<_> = (0..6).map(|_| connect(&listener)).collect();
        let port = listener.local_addr().unwrap().port();
        // Both forms, a comment, a blank line, and a tuple that is missing.
        let mut text = String::from("# stuck clients\n\n");
        for (i, (client, _)) in pairs.iter().enumerate().take(4) {
            let (l, r) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
            if i % 2 == 0 {
                text.push_str(&format!("{l} {r}\n"));
            } else {
                text.push_str(&format!(
                    "{} {} {} {}\n",
                    l.ip(),
                    l.port(),
                    r.ip(),
                    r.port()
                ));
            }
        }
        text.push_str(&format!("127.0.0.1:9 127.0.0.1:{port}\n"));
        let path = std::env::temp_dir().join(format!("tcpdrop-f-{}.txt", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let run = tcpdrop(&["--json", "-f", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(&path);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let dropped = rows.iter().filter(|r| r["result"] == "dropped").count();
        let missing: Vec<_> = rows.iter().filter(|r| r["result"] == "not-found").collect();
        assert_eq!(dropped, 4, "{rows:?}");
        assert_eq!(missing.len(), 1, "{rows:?}");
        assert_eq!(missing[0]["local"], "127.0.0.1:9");
        assert!(run.stderr.contains("dropped 4"), "{}", run.stderr);
        assert!(run.stderr.contains("not found 1"), "{}", run.stderr);
        for (i, (client, _)) in pairs.iter_mut().enumerate() {
            let want = if i < 4 { Some(ECONNABORTED) } else { None };
            assert_eq!(read_errno(client), want, "connection {i}");
        }
        assert!(still_accepts(&listener));
    });
}

#[test]
fn standard_input_is_read_with_a_dash() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let line = format!(
            "{} {}\n",
            client.local_addr().unwrap(),
            client.peer_addr().unwrap()
        );
        let (code, _, stderr) = run_with_stdin(&["-f", "-"], &line);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
    });
}

#[test]
fn a_malformed_line_is_named_by_its_number_and_nothing_is_dropped() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let good = format!(
            "{} {}",
            client.local_addr().unwrap(),
            client.peer_addr().unwrap()
        );
        let input = format!("{good}\n10.0.0.1:80\n# fine\n1.2.3.4 99999 5.6.7.8 1\n");
        let (code, stdout, stderr) = run_with_stdin(&["-f", "-"], &input);
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains("line 2:"), "{stderr}");
        assert!(stderr.contains("line 4:"), "{stderr}");
        assert!(stderr.contains("nothing was dropped"), "{stderr}");
        assert_eq!(read_errno(&mut client), None, "the good line was touched");
        assert_eq!(read_errno(&mut server), None);
    });
}

#[test]
fn a_file_naming_only_missing_connections_exits_1() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let input = format!("127.0.0.1:9 127.0.0.1:{port}\n127.0.0.1:10 127.0.0.1:{port}\n");
        let (code, _, stderr) = run_with_stdin(&["-f", "-"], &input);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains("no such connection: 127.0.0.1:9"),
            "{stderr}"
        );
        assert!(still_accepts(&listener));
    });
}

/// The `-f` example of `tcpdrop --help`, run as it is written (only
/// `tcpdrop` is this build): `ss`'s rows, cut to their address columns by
/// `awk`, drop the connections to port 6379.
#[test]
fn the_help_example_piping_ss_into_f_runs_as_written() {
    let help = tcpdrop(&["--help"]).stdout;
    let example = help
        .lines()
        .find_map(|line| line.split_once("or from ss: ").map(|(_, e)| e.trim()))
        .expect("the -f example in --help");
    assert!(example.ends_with("| tcpdrop -f -"), "{example}");
    let pipeline = format!(
        "{}| '{}' -f -",
        example.trim_end_matches("| tcpdrop -f -"),
        env!("CARGO_BIN_EXE_tcpdrop")
    );
    in_netns(|| {
        let listener = listen("127.0.0.1:6379");
        let (mut client, _server) = connect(&listener);
        let out = Command::new("sh").args(["-c", &pipeline]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{pipeline}\n{stdout}{stderr}");
        assert!(stdout.starts_with("dropped"), "{stdout}");
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        assert!(still_accepts(&listener));
    });
}
