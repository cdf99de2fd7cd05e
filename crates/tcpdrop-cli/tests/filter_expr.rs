//! ss filter expressions on the command line, `state` conditions inside
//! them included, against the real kernel and `ss`.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use nstest::{connect_from, in_netns, listen, read_errno, ss_rows, ss_rows_with};

use crate::util::{json_lines, tcpdrop};

const ECONNABORTED: i32 = 103;

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// `ss ARGS` as a set of (local, remote).
fn ss_pairs(args: &[&str]) -> BTreeSet<(String, String)> {
    ss_rows_with(args)
        .into_iter()
        .map(|(_, local, remote)| (local, remote))
        .collect()
}

#[test]
fn a_state_condition_inside_the_expression_selects_as_ss_would() {
    in_netns(|| {
        let https = listen("127.0.0.1:443");
        let other = listen("127.0.0.2:0");
        let plain = listen("127.0.0.1:0");
        let (mut to_https, _hs) = connect_from(addr("127.0.0.1:0"), addr("127.0.0.1:443"), &https);
        // Established from 127.0.0.2 on the server side: selected by the
        // state condition.
        let (_c, mut from_two) =
            connect_from(addr("127.0.0.3:0"), other.local_addr().unwrap(), &other);
        // TIME-WAIT at 127.0.0.2: the address matches, the state does not.
        let (client, mut server) =
            connect_from(addr("127.0.0.2:0"), plain.local_addr().unwrap(), &plain);
        let tw = client.local_addr().unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(server.read(&mut buf).unwrap(), 0);
        drop(server);
        std::thread::sleep(Duration::from_millis(50));
        drop(client);
        assert!(ss_rows()
            .iter()
            .any(|r| r.0 == "TIME-WAIT" && r.1 == tw.to_string()));

        let filter = "dport = :443 or ( src 127.0.0.2 and state established )";
        // What ss selects, asked in the two pieces it can read.
        let mut want = ss_pairs(&["-tanH", "state", "all", "dport = :443"]);
        want.extend(ss_pairs(&[
            "-tanH",
            "state",
            "established",
            "src 127.0.0.2",
        ]));
        assert_eq!(want.len(), 2, "{want:?}");
        let run = tcpdrop(&["-l", "--json", filter]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let ours: BTreeSet<(String, String)> = json_lines(&run.stdout)
            .iter()
            .map(|r| {
                (
                    r["local"].as_str().unwrap().to_string(),
                    r["remote"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(ours, want);

        let run = tcpdrop(&[filter]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(read_errno(&mut to_https), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut from_two), Some(ECONNABORTED));
        assert!(
            ss_rows()
                .iter()
                .any(|r| r.0 == "TIME-WAIT" && r.1 == tw.to_string()),
            "the TIME-WAIT socket was dropped"
        );
    });
}

#[test]
fn a_filter_syntax_error_names_its_position_and_touches_nothing() {
    in_netns(|| {
        let listener = listen("127.0.0.1:443");
        let (mut client, _server) =
            connect_from(addr("127.0.0.1:0"), addr("127.0.0.1:443"), &listener);
        let before = ss_rows();
        for (args, want) in [
            (
                vec!["dport = :443 or ( src 10.0.0.0/8 and state establishd )"],
                "found 'establishd': did you mean established?",
            ),
            (
                vec!["dport = :443 or ( src 10.0.0.0/8 and state establishd )"],
                "(word 1, byte 43)",
            ),
            (
                vec!["dport", "=", ":443", "or", "(", "src", "10.0.0.0/8"],
                "expected ')', found the end of the filter (to close the '(' of word 5 byte 0) (word 7, byte 10)",
            ),
            (
                vec!["state established or dport = :443"],
                "(word 1, byte 18)",
            ),
            (vec!["-a", "dport", ">", "*"], "filter:"),
        ] {
            let run = tcpdrop(&args);
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
            assert!(run.stderr.contains(want), "{args:?}: want {want:?}, got {}", run.stderr);
            assert_eq!(run.stdout, "");
        }
        assert_eq!(ss_rows(), before);
        assert_eq!(read_errno(&mut client), None);
    });
}
