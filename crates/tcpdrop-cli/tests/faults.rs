//! What the command says when the kernel fails in ways a test kernel cannot
//! be made to: no destroy support, a drop failing midway, an overrun or an
//! interrupted dump. Each is made with sockdiag's fault injection, and each
//! test checks the message, the exit code and that nothing was touched
//! beyond what is reported.

use nstest::{connect, in_netns, listen, read_errno, ss_rows};

use crate::util::{json_lines, tcpdrop, tcpdrop_with_faults};

const ECONNABORTED: i32 = 103;

#[test]
fn a_kernel_that_cannot_destroy_gives_exit_5_and_claims_nothing() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let l = client.local_addr().unwrap().to_string();
        let r = client.peer_addr().unwrap().to_string();
        let before = ss_rows();
        // Forced: destroy is the only way tried.
        for args in [
            vec!["--method", "destroy", l.as_str(), r.as_str()],
            vec!["--method", "destroy", "-a"],
        ] {
            let run = tcpdrop_with_faults("destroy=EOPNOTSUPP", &args);
            assert_eq!(run.code, 5, "{args:?}: {}", run.stderr);
            assert!(!run.stdout.contains("dropped"), "{}", run.stdout);
            assert_eq!(
                run.stderr.lines().last().unwrap_or(""),
                "tcpdrop: the kernel cannot destroy sockets (it needs CONFIG_INET_DIAG_DESTROY=y \
                 and the inet_diag/tcp_diag modules) (nothing was dropped)",
                "{args:?}"
            );
            // A dry run asks the kernel's support probe, and says the same.
            let dry = tcpdrop_with_faults("destroy=EOPNOTSUPP", &[&["-n"], &args[..]].concat());
            assert_eq!(dry.code, 5, "{args:?}: {}", dry.stderr);
            assert!(dry.stdout.starts_with("would-fail "), "{}", dry.stdout);
            assert!(
                dry.stderr.ends_with("(nothing would be dropped)\n"),
                "{}",
                dry.stderr
            );
        }
        assert_eq!(ss_rows(), before);
        assert_eq!(read_errno(&mut client), None);
    });
}

#[test]
fn without_destroy_support_auto_drops_through_the_holder() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let l = client.local_addr().unwrap().to_string();
        let r = client.peer_addr().unwrap().to_string();
        let run = tcpdrop_with_faults("destroy=EOPNOTSUPP", &["--json", &l, &r]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let row = rows.iter().find(|r| r["local"] == l.as_str()).unwrap();
        assert_eq!(row["result"], "dropped", "{rows:?}");
        assert_eq!(row["method"], "owner", "{rows:?}");
        // connect(AF_UNSPEC) on the holder's socket: its next call fails.
        assert!(read_errno(&mut client).is_some());
        assert!(nstest::still_accepts(&listener));
    });
}

#[test]
fn a_drop_failing_midway_reports_each_connection_as_it_ended() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let mut clients: Vec<_> = (0..3).map(|_| connect(&listener)).collect();
        let dport = format!("dport = :{port}");
        // The first destroy reaches the kernel; the kernel "fails" the rest.
        let run = tcpdrop_with_faults("destroy=EIO@1", &["--json", &dport]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let chosen: Vec<_> = rows
            .iter()
            .filter(|r| r.get("collateral").is_none())
            .collect();
        assert_eq!(chosen.len(), 3, "each chosen connection once: {rows:?}");
        let dropped: Vec<_> = chosen.iter().filter(|r| r["result"] == "dropped").collect();
        let failed: Vec<_> = chosen.iter().filter(|r| r["result"] == "failed").collect();
        assert_eq!((dropped.len(), failed.len()), (1, 2), "{rows:?}");
        for row in &failed {
            assert!(
                row["error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Input/output error"),
                "{row}"
            );
        }
        assert!(run.stderr.contains("dropped 1,"), "{}", run.stderr);
        assert!(run.stderr.contains("failed 2"), "{}", run.stderr);
        assert_eq!(
            run.stderr.lines().last().unwrap_or(""),
            "tcpdrop: 2 of 3 drops failed"
        );
        // From the owners' side: exactly the one reported dropped was.
        let aborted: Vec<String> = clients
            .iter_mut()
            .filter(|(c, _)| read_errno(&mut c.try_clone().unwrap()) == Some(ECONNABORTED))
            .map(|(c, _)| c.local_addr().unwrap().to_string())
            .collect();
        assert_eq!(
            aborted,
            vec![dropped[0]["local"].as_str().unwrap().to_string()]
        );
    });
}

#[test]
fn an_overrun_dump_is_one_clear_error_and_nothing_is_touched() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let before = ss_rows();
        for args in [vec!["-a"], vec!["-l"]] {
            let run = tcpdrop_with_faults("dump=ENOBUFS", &args);
            assert_eq!(run.code, 3, "{args:?}: {}", run.stderr);
            assert_eq!(run.stdout, "", "{args:?}");
            assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
            assert!(run.stderr.starts_with("tcpdrop: "), "{}", run.stderr);
            assert!(
                run.stderr.contains("No buffer space available"),
                "{}",
                run.stderr
            );
        }
        assert_eq!(ss_rows(), before);
        assert_eq!(read_errno(&mut client), None);
    });
}

#[test]
fn an_interrupted_dump_is_repeated_and_a_lasting_one_reported() {
    in_netns(|| {
        // An interruption before any row was seen costs nothing: the dump is
        // repeated (here both dumps of an empty namespace are clean the
        // second time, and listing an empty table is a success, not an
        // error).
        let run = tcpdrop_with_faults("dump=INTR*1", &["-l"]);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""));

        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let l = client.local_addr().unwrap().to_string();
        let before = ss_rows();
        // Interrupted every time: reported in one line, nothing dropped.
        let run = tcpdrop_with_faults("dump=INTR", &["-a"]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert_eq!(run.stdout, "");
        assert_eq!(
            run.stderr,
            "tcpdrop: netlink: the dump kept being interrupted by concurrent changes\n"
        );
        assert_eq!(ss_rows(), before);
        assert_eq!(read_errno(&mut client), None);
        // Without faults the same drop works: the run above failed only by injection.
        assert_eq!(
            tcpdrop(&[&l, &client.peer_addr().unwrap().to_string()]).code,
            0
        );
    });
}

#[test]
fn a_kernel_without_the_one_walk_dump_gets_two_dumps_and_the_same_answers() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let v6 = listen("[::1]:0");
        let (mut client, _server) = connect(&listener);
        let _v6_pair = connect(&v6);
        let mut plain: Vec<String> = json_lines(&tcpdrop(&["-l", "--json"]).stdout)
            .iter()
            .map(|r| r.to_string())
            .collect();
        plain.sort();
        assert_eq!(plain.len(), 6);
        // TCPDIAG_GETSOCK refused: the per-family dumps answer instead.
        let run = tcpdrop_with_faults("both=EINVAL", &["-l", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let mut fallback: Vec<String> = json_lines(&run.stdout)
            .iter()
            .map(|r| r.to_string())
            .collect();
        fallback.sort();
        assert_eq!(fallback, plain);
        let l = client.local_addr().unwrap().to_string();
        let r = client.peer_addr().unwrap().to_string();
        let run = tcpdrop_with_faults("both=EINVAL", &[&l, &r]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
    });
}
