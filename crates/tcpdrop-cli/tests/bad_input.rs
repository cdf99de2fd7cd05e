use nstest::{connect, in_netns, listen, read_errno, ss_rows};

use crate::util::tcpdrop;

/// Every case: exit 2, exactly one line on stderr containing `want`,
/// nothing on stdout, and no socket touched.
#[test]
fn bad_input_exits_2_with_one_clear_line_and_touches_nothing() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let before = ss_rows();
        let l = client.local_addr().unwrap();
        let r = client.peer_addr().unwrap();
        let lp = l.port().to_string();
        let rp = r.port().to_string();
        // Rejected arguments of 100 KB are echoed cut, not whole.
        let huge_word = "a".repeat(100_000);
        let huge_filter = format!("src {huge_word}");
        let huge_option = format!("--{huge_word}");
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (
                vec!["127.0.0.1", &lp, "127.0.0.999", &rp],
                "'127.0.0.999' is not an IP address",
            ),
            (
                vec!["127.0.0.1", "70000", "127.0.0.1", &rp],
                "port 70000 is out of range (0-65535)",
            ),
            (
                vec!["127.0.0.1", "-1", "127.0.0.1", &rp],
                "unexpected argument '-1'",
            ),
            (
                vec!["127.0.0.1", "x1", "127.0.0.1", &rp],
                "'x1' is not a service name in /etc/services: give the port number",
            ),
            (
                vec!["127.0.0.1", "1.5", "127.0.0.1", &rp],
                "'1.5' is not a port number",
            ),
            (vec!["127.0.0.1", &lp], "half a connection"),
            (vec!["127.0.0.1", &lp, "127.0.0.1"], "half a connection"),
            (vec!["127.0.0.1:1", "[::1]:2"], "mixed address families"),
            (vec!["-s", "establishd"], "unknown state 'establishd'"),
            (
                vec!["[fe80::1%nosuchif]:80", "[fe80::2]:90"],
                "unknown interface 'nosuchif'",
            ),
            (
                vec!["-a", "127.0.0.1:1", "127.0.0.1:2"],
                "-a drops everything",
            ),
            (vec![], "nothing to drop"),
            (
                vec!["--netns", "no-such-namespace", "-l"],
                "no-such-namespace",
            ),
            (
                vec!["--netns", "/etc/hostname", "-l"],
                "not a network namespace",
            ),
            (vec!["--frobnicate"], "unexpected argument '--frobnicate'"),
            (vec!["-4", "-6", "-l"], "cannot be used with"),
            (
                vec!["dport", "=", "1.5"],
                "filter: expected ':PORT' after 'dport =', found '1.5'",
            ),
            (vec!["( src 127.0.0.1"], "filter:"),
            (
                vec!["src", "nosuchhost.invalid"],
                "filter: 'nosuchhost.invalid' is not a host name in /etc/hosts",
            ),
            // A dry run refuses what the real run refuses.
            (vec!["-n"], "nothing to drop"),
            (vec!["--count", "5", "-a"], "--count needs --watch"),
            (vec!["--timeout", "5s", "-a"], "--timeout needs --watch"),
            (
                vec!["[fe80::1%99999]:80", "[fe80::2]:90"],
                "%99999: no interface has index 99999",
            ),
            (
                vec!["127.0.0.1", "080", "127.0.0.1", &rp],
                "port '080' has a leading zero: write it as 80",
            ),
            (vec![&huge_word, "1", "2", "3"], "is not a host name"),
            (vec!["-s", &huge_word], "unknown state"),
            (vec!["--uid", &huge_word], "unknown user"),
            (vec![&huge_filter], "filter:"),
            (vec![&huge_option], "unexpected argument"),
        ];
        for (args, want) in cases {
            let run = tcpdrop(&args);
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
            assert!(
                run.stderr.starts_with("tcpdrop: "),
                "{args:?}: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains(want),
                "{args:?}: want {want:?}, got {}",
                run.stderr
            );
            assert_eq!(run.stdout, "", "{args:?}");
            assert!(
                run.stderr.len() < 400,
                "{} bytes: {}",
                run.stderr.len(),
                &run.stderr[..400]
            );
        }
        assert_eq!(ss_rows(), before, "a socket changed");
        assert_eq!(read_errno(&mut client), None);
    });
}
