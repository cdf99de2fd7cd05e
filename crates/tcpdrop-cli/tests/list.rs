use nstest::{connect, in_netns, listen, ss_rows};

use crate::util::{json_lines, tcpdrop};

#[test]
fn listing_agrees_with_ss() {
    in_netns(|| {
        let _sockets = nstest::every_kind_of_socket();
        let run = tcpdrop(&["-l"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let mut ours: Vec<(String, String, String)> = run
            .stdout
            .lines()
            .map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                (
                    cols[0].to_string(),
                    cols[3].to_string(),
                    cols[4].to_string(),
                )
            })
            .collect();
        ours.sort();
        assert_eq!(ours, ss_rows());
    });
}

#[test]
fn json_listing_filters_by_family() {
    in_netns(|| {
        let v4 = listen("127.0.0.1:0");
        let v6 = listen("[::1]:0");
        let _a = connect(&v4);
        let _b = connect(&v6);
        let run = tcpdrop(&["-l", "-6", "--json"]);
        assert_eq!(run.code, 0);
        let rows = json_lines(&run.stdout);
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r["family"] == "ipv6"));
        assert!(rows.iter().all(|r| r.get("result").is_none()));
        let run = tcpdrop(&["-l", "-4", "-s", "listening", "--json"]);
        let rows = json_lines(&run.stdout);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["state"], "LISTEN");
        assert_eq!(rows[0]["remote"], "0.0.0.0:0");
    });
}

#[test]
fn an_empty_selection_exits_1() {
    in_netns(|| {
        let run = tcpdrop(&["-l", "-s", "established"]);
        assert_eq!(run.code, 1);
        assert_eq!(run.stdout, "");
    });
}

#[test]
fn listing_nothing_succeeds_and_a_selection_that_matches_nothing_exits_1() {
    in_netns(|| {
        // An empty table is listed, successfully, as ss and BSD tcpdrop -l do.
        for args in [&["-l"][..], &["-l", "--json"], &["-l", "-p"], &["-l", "-H"]] {
            let run = tcpdrop(args);
            assert_eq!(
                (run.code, run.stdout.as_str()),
                (0, ""),
                "{args:?}: {}",
                run.stderr
            );
            assert_eq!(run.stderr, "", "{args:?}");
        }
        // A selection that matches nothing is exit 1, as pgrep and lsof -i.
        let listener = listen("127.0.0.1:0");
        for args in [
            &["-l", "dport = :1"][..],
            &["-l", "-6"],
            &["-l", "--uid", "4242"],
            &["-l", "127.0.0.1:1", "127.0.0.1:2"],
        ] {
            let run = tcpdrop(args);
            assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains("no "), "{args:?}: {}", run.stderr);
        }
        // And so is a drop that matches nothing.
        assert_eq!(tcpdrop(&["-a"]).code, 1);
        assert!(nstest::still_accepts(&listener));
    });
}
