use std::net::TcpStream;

use nstest::{
    connect, in_netns, listen, listen_dual, read_errno, ss_rows, still_accepts, time_wait,
};

use crate::util::{json_lines, tcpdrop};

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;

#[test]
fn four_word_form_drops_exactly_that_connection() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let (mut bystander, _bystander_server) = connect(&listener);
        let l = client.local_addr().unwrap();
        let r = client.peer_addr().unwrap();
        let run = tcpdrop(&[
            &l.ip().to_string(),
            &l.port().to_string(),
            &r.ip().to_string(),
            &r.port().to_string(),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut server), Some(ECONNRESET));
        assert_eq!(read_errno(&mut bystander), None, "a bystander was hit");
        assert!(still_accepts(&listener));
        assert!(
            run.stdout.lines().any(|l| l.starts_with("dropped")),
            "{}",
            run.stdout
        );
        // The server end, reset as a side effect, is reported too.
        assert!(
            run.stdout.contains("reset by the drop of its other end"),
            "{}",
            run.stdout
        );
        assert_eq!(run.stderr.trim(), "dropped 1, gone 1, failed 0");
    });
}

#[test]
fn two_word_form_with_ipv6_and_json() {
    in_netns(|| {
        let listener = listen("[::1]:0");
        let (mut client, _server) = connect(&listener);
        let l = client.local_addr().unwrap().to_string();
        let r = client.peer_addr().unwrap().to_string();
        let run = tcpdrop(&["--json", &l, &r]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let chosen = &rows[0];
        assert_eq!(chosen["result"], "dropped");
        assert_eq!(chosen["family"], "ipv6");
        assert_eq!(chosen["state"], "ESTABLISHED");
        assert_eq!(chosen["local"], l);
        assert_eq!(chosen["remote"], r);
        assert_eq!(chosen["mapped"], false);
        assert!(chosen["cookie"].as_u64().unwrap() > 0);
        assert!(chosen["inode"].as_u64().unwrap() > 0);
        assert_eq!(chosen["error"], serde_json::Value::Null);
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
    });
}

#[test]
fn a_mapped_connection_is_dropped_by_its_ipv4_tuple() {
    in_netns(|| {
        let dual = listen_dual(0);
        let port = dual.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut server, _) = dual.accept().unwrap();
        // Name the server end, which lives on the IPv6 socket, by IPv4.
        let local = format!("127.0.0.1:{port}");
        let remote = client.local_addr().unwrap().to_string();
        let run = tcpdrop(&["--json", &local, &remote]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        assert_eq!(rows[0]["mapped"], true);
        assert_eq!(rows[0]["family"], "ipv4");
        assert_eq!(read_errno(&mut server), Some(ECONNABORTED));
        assert!(still_accepts(&dual));
    });
}

#[test]
fn time_wait_is_dropped() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = time_wait(&listener);
        let remote = listener.local_addr().unwrap();
        assert!(ss_rows().iter().any(|r| r.0 == "TIME-WAIT"));
        let run = tcpdrop(&[&local.to_string(), &remote.to_string()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            !ss_rows().iter().any(|r| r.0 == "TIME-WAIT"),
            "TIME-WAIT survived"
        );
    });
}

#[test]
fn a_missing_connection_exits_1_and_the_listener_keeps_accepting() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let run = tcpdrop(&[&format!("127.0.0.1:{port}"), "127.0.0.1:9"]);
        assert_eq!(run.code, 1);
        assert_eq!(
            run.stderr.trim(),
            format!("tcpdrop: no such connection: 127.0.0.1:{port} 127.0.0.1:9")
        );
        assert!(still_accepts(&listener));
    });
}

#[test]
fn drop_all_spares_listeners_unless_named() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut a, _as) = connect(&listener);
        let (mut b, _bs) = connect(&listener);
        let run = tcpdrop(&["-a", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            read_errno(&mut a).map(|e| e == ECONNABORTED || e == ECONNRESET),
            Some(true)
        );
        assert_eq!(
            read_errno(&mut b).map(|e| e == ECONNABORTED || e == ECONNRESET),
            Some(true)
        );
        assert!(still_accepts(&listener));
        let rows = json_lines(&run.stdout);
        // Four sockets chosen (two connections, both ends): each reported once.
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert!(rows.iter().all(|r| r["state"] != "LISTEN"));

        let run = tcpdrop(&["-s", "listening"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            !still_accepts(&listener),
            "the listener was named and should be gone"
        );
    });
}

#[test]
fn dry_run_touches_nothing() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let before = ss_rows();
        let run = tcpdrop(&["-n", "-a", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r["result"] == "would-drop"));
        assert_eq!(ss_rows(), before);
        assert_eq!(read_errno(&mut client), None);
    });
}

#[test]
fn state_selection_drops_only_that_state() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let tw = time_wait(&listener);
        let (mut client, _server) = connect(&listener);
        let run = tcpdrop(&["-s", "time-wait", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["local"], tw.to_string());
        assert_eq!(read_errno(&mut client), None);
    });
}

#[test]
fn a_filter_drops_what_it_selects_and_spares_listeners() {
    in_netns(|| {
        let web = listen("127.0.0.1:0");
        let other = listen("127.0.0.1:0");
        let (mut to_web, _web_server) = connect(&web);
        let (mut to_other, _other_server) = connect(&other);
        let port = web.local_addr().unwrap().port();
        let dport = format!("dport = :{port}");
        // Only the client end matches `dport`: the server end's remote port is ephemeral.
        let run = tcpdrop(&["--json", &dport]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let chosen: Vec<_> = rows
            .iter()
            .filter(|r| r.get("collateral").is_none())
            .collect();
        assert_eq!(chosen.len(), 1, "{rows:?}");
        assert_eq!(chosen[0]["remote"], web.local_addr().unwrap().to_string());
        assert_eq!(read_errno(&mut to_web), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut to_other), None);
        assert!(still_accepts(&web));

        // `sport` selects the listener too, but it goes only when named.
        let sport = format!("sport = :{port}");
        tcpdrop(&[&sport]);
        assert!(still_accepts(&web));
        let run = tcpdrop(&["state", "listening", &sport]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(!still_accepts(&web));
        assert!(still_accepts(&other));
    });
}

/// `-n` names the loopback peer a drop would reset (`would-reset`,
/// `collateral`), touching nothing; the real run then reports that very
/// peer as reset by the drop. A TIME-WAIT socket's peer is not named: an
/// abort sends it nothing.
#[test]
fn a_dry_run_names_the_loopback_peers_the_drop_would_reset() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let port = listener.local_addr().unwrap().port();
        let filter = format!("dport = :{port}");
        let dry = tcpdrop(&["-n", "--json", &filter]);
        assert_eq!(dry.code, 0, "{}", dry.stderr);
        let rows = json_lines(&dry.stdout);
        assert_eq!(rows.len(), 2, "{rows:?}");
        let chosen = &rows[0];
        assert_eq!(chosen["result"], "would-drop");
        assert_eq!(chosen["local"], client.local_addr().unwrap().to_string());
        let peer = &rows[1];
        assert_eq!(peer["result"], "would-reset", "{peer}");
        assert_eq!(peer["collateral"], true, "{peer}");
        assert_eq!(peer["local"], server.local_addr().unwrap().to_string());
        assert!(
            dry.stderr.contains("would reset 1 loopback peer\n"),
            "{}",
            dry.stderr
        );
        // Nothing was touched.
        assert!(nstest::carries_data(&mut client, &mut server));

        let real = tcpdrop(&["--json", &filter]);
        assert_eq!(real.code, 0, "{}", real.stderr);
        let rows = json_lines(&real.stdout);
        let reset = rows
            .iter()
            .find(|r| r["collateral"] == true)
            .expect("the peer");
        assert_eq!(reset["local"], peer["local"], "{rows:?}");
        assert_eq!(read_errno(&mut server), Some(ECONNRESET));

        // TIME-WAIT: no peer to reset.
        let local = time_wait(&listener);
        let dry = tcpdrop(&["-n", "--json", "-s", "time-wait", &filter]);
        let rows = json_lines(&dry.stdout);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["local"], local.to_string());
    });
}
