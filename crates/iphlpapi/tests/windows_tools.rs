//! Our own Windows tools, written to the calls and types the corpus of real
//! ones uses (README, "The C ABI"), built unchanged with `cc prog.c
//! $(pkg-config --cflags --libs iphlpapi-compat)` and run in fresh network
//! namespaces without LD_LIBRARY_PATH: a netstat clone prints what `ss`
//! prints, owners included, and a program that closes one of its own
//! connections closes exactly that one.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use nstest::{carries_data, connect, in_netns, listen, normalize_ss_addr, ss, ss_rows};

use crate::compat::{build_unchanged, installed_command, run_installed};
use crate::util::Holder;

/// `ss`'s name for a state as Windows' netstat writes it.
fn ss_state(netstat: &str) -> &'static str {
    match netstat {
        "CLOSED" => "UNCONN",
        "LISTENING" => "LISTEN",
        "SYN_SENT" => "SYN-SENT",
        "SYN_RECEIVED" => "SYN-RECV",
        "ESTABLISHED" => "ESTAB",
        "FIN_WAIT_1" => "FIN-WAIT-1",
        "FIN_WAIT_2" => "FIN-WAIT-2",
        "CLOSE_WAIT" => "CLOSE-WAIT",
        "CLOSING" => "CLOSING",
        "LAST_ACK" => "LAST-ACK",
        "TIME_WAIT" => "TIME-WAIT",
        other => panic!("state {other} in the netstat clone's output"),
    }
}

type Row = (String, String, String);

/// `ss -tanp`'s rows with the pid of the first process holding each (0
/// when none does: TIME-WAIT).
fn ss_owners() -> HashMap<Row, u32> {
    ss(&["-tanpH", "state", "all"])
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 5 {
                return None;
            }
            let pid = line
                .split("pid=")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .map_or(0, |pid| pid.parse().unwrap());
            let row = (
                cols[0].to_string(),
                normalize_ss_addr(cols[3]),
                normalize_ss_addr(cols[4]),
            );
            Some((row, pid))
        })
        .collect()
}

#[test]
fn a_netstat_clone_built_unchanged_prints_what_ss_prints_with_each_owner() {
    let exe = build_unchanged("win_netstat");
    in_netns(|| {
        let _sockets = nstest::every_kind_of_socket();
        // A connection another program holds (for as long as the listing
        // takes: it can be slow on a busy machine, /proc is read whole).
        let listener = listen("127.0.0.1:0");
        let (other, _other_peer) = Holder::new(&listener);

        let out = run_installed(&exe, &[]);
        let owners = ss_owners();
        let mut rows: Vec<Row> = Vec::new();
        for line in out.lines().filter(|l| l.starts_with("  TCP ")) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [_, local, remote, state, pid] = f[..] else {
                panic!("{line}");
            };
            let row = (
                ss_state(state).to_string(),
                normalize_ss_addr(local),
                normalize_ss_addr(remote),
            );
            assert_eq!(
                Some(&pid.parse::<u32>().unwrap()),
                owners.get(&row),
                "{line}\n{owners:?}"
            );
            rows.push(row);
        }
        assert!(out.contains("Active Connections"), "{out}");
        let pids: Vec<u32> = rows.iter().map(|r| owners[r]).collect();
        assert!(pids.contains(&other.pid()), "{out}");
        assert!(pids.contains(&std::process::id()), "{out}");
        assert!(
            rows.iter().any(|r| r.0 == "TIME-WAIT") && pids.contains(&0),
            "{out}"
        );
        rows.sort();
        assert_eq!(rows, ss_rows());
    });
}

#[test]
fn a_program_that_closes_its_own_connection_with_set_tcp_entry_closes_exactly_that_one() {
    let exe = build_unchanged("win_selfdrop");
    in_netns(|| {
        // A bystander that is not the program's.
        let theirs = listen("127.0.0.1:0");
        let (mut bystander, mut bystander_peer) = connect(&theirs);

        let mut child = installed_command(&exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run win_selfdrop");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut said = HashMap::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line == "waiting" {
                break;
            }
            let (name, value) = line.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            said.insert(name.to_string(), value.parse::<u32>().unwrap());
        }
        let want = [
            // Two connections, both ends in the program.
            ("own_rows_before", 4),
            ("found", 1),
            ("SetTcpEntry", 0),
            // The owner sees WSAECONNABORTED, its peer WSAECONNRESET.
            ("owner", 10053),
            ("peer", 10054),
            ("kept_carries_data", 1),
            ("dropped_rows", 0),
            ("kept_rows", 1),
            ("own_rows_after", 2),
        ];
        for (name, value) in want {
            assert_eq!(said.get(name), Some(&value), "{name}: {said:?}");
        }

        // From outside, while the program still holds its sockets: the
        // dropped connection is gone at both ends, its listener and the
        // other connection are there, and a bystander still carries data.
        let (listener, dropped, kept) = (said["listener"], said["dropped"], said["kept"]);
        let rows = ss_rows();
        let at = |port: u32| format!("127.0.0.1:{port}");
        let row = |state: &str, local: u32, remote: &str| {
            (state.to_string(), at(local), remote.to_string())
        };
        assert!(
            rows.contains(&row("LISTEN", listener, "0.0.0.0:0")),
            "{rows:?}"
        );
        assert!(
            rows.contains(&row("ESTAB", kept, &at(listener))),
            "{rows:?}"
        );
        assert!(
            rows.contains(&row("ESTAB", listener, &at(kept))),
            "{rows:?}"
        );
        assert!(
            !rows
                .iter()
                .any(|r| r.1 == at(dropped) || r.2 == at(dropped)),
            "{rows:?}"
        );
        assert!(carries_data(&mut bystander, &mut bystander_peer));

        child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let rest: Vec<String> = lines.map(Result::unwrap).collect();
        assert_eq!(rest, ["closed"]);
        assert!(child.wait().unwrap().success());
    });
}
