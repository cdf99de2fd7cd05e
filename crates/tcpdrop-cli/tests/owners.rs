//! Choosing connections by their owners: `--pid`, `--process`, `--uid`,
//! with child processes that each own one connection.

use nstest::{in_netns, listen, spawn_owner, ss_rows, time_wait, OwnerChild};

use crate::util::{json_lines, tcpdrop};

const ECONNABORTED: i32 = 103;

/// The rows a drop chose (not the peers it reset).
fn chosen(rows: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    rows.iter()
        .filter(|r| r.get("collateral").is_none())
        .collect()
}

/// Whether `ss` still lists `child`'s connection as established.
fn still_established(child: &OwnerChild) -> bool {
    let local = child.local_addr().to_string();
    ss_rows().iter().any(|r| r.0 == "ESTAB" && r.1 == local)
}

#[test]
fn pid_drops_only_the_chosen_childs_connection() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let a = spawn_owner(to, "tdchild-a", None);
        let _a_server = listener.accept().unwrap();
        let b = spawn_owner(to, "tdchild-b", None);
        let _b_server = listener.accept().unwrap();
        let run = tcpdrop(&["--pid", &a.pid().to_string(), "--json", "-p"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let picked = chosen(&rows);
        assert_eq!(picked.len(), 1, "{rows:?}");
        assert_eq!(picked[0]["local"], a.local_addr().to_string());
        assert_eq!(picked[0]["result"], "dropped");
        assert_eq!(picked[0]["owners"][0]["pid"], a.pid());
        assert_eq!(picked[0]["owners"][0]["command"], "tdchild-a");
        assert!(
            still_established(&b),
            "the other child's connection was hit"
        );
        assert_eq!(a.read_outcome(), Some(ECONNABORTED));
        assert!(still_established(&b));
    });
}

#[test]
fn process_selects_by_command_name_or_pattern() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let a = spawn_owner(to, "tdchild-a", None);
        let _a_server = listener.accept().unwrap();
        let b = spawn_owner(to, "tdchild-b", None);
        let _b_server = listener.accept().unwrap();
        // A pattern selects both; a dry run touches neither.
        let run = tcpdrop(&["-n", "--process", "tdchild-?", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let peers: Vec<_> = rows.iter().filter(|r| r["collateral"] == true).collect();
        let mut locals: Vec<String> = chosen(&rows)
            .iter()
            .map(|r| r["local"].as_str().unwrap().to_string())
            .collect();
        locals.sort();
        let mut want = vec![a.local_addr().to_string(), b.local_addr().to_string()];
        want.sort();
        assert_eq!(locals, want);
        // Their server ends here, which the drops would reset, are named.
        let mut remotes: Vec<String> = peers
            .iter()
            .map(|r| {
                assert_eq!(r["result"], "would-reset", "{r}");
                r["remote"].as_str().unwrap().to_string()
            })
            .collect();
        remotes.sort();
        assert_eq!(remotes, want);
        // No process is called just "tdchild".
        let run = tcpdrop(&["--process", "tdchild"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(still_established(&a) && still_established(&b));
        // The exact name drops only b's.
        let run = tcpdrop(&["--process", "tdchild-b", "-a", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        assert_eq!(chosen(&rows).len(), 1, "{rows:?}");
        assert_eq!(b.read_outcome(), Some(ECONNABORTED));
        assert!(still_established(&a));
        // Human output shows the owners as command/pid.
        let run = tcpdrop(&["-l", "-p", "--process", "tdchild-a"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout
                .trim_end()
                .ends_with(&format!("tdchild-a/{}", a.pid())),
            "{}",
            run.stdout
        );
    });
}

#[test]
fn uid_selects_by_the_user_that_made_the_socket() {
    if !nstest::require_real_root("a child switches to uid 65534") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let nobody = spawn_owner(to, "tdchild-nobody", Some(65534));
        let _n_server = listener.accept().unwrap();
        let root = spawn_owner(to, "tdchild-root", None);
        let _r_server = listener.accept().unwrap();
        // TIME-WAIT rows show uid 0 but belong to no one: never chosen.
        time_wait(&listener);
        let run = tcpdrop(&["-n", "--uid", "0", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        // The chosen rows, not the loopback peers they would reset.
        let rows = json_lines(&run.stdout);
        let rows = chosen(&rows);
        assert!(rows.iter().all(|r| r["state"] != "TIME-WAIT"), "{rows:?}");
        assert!(rows.iter().all(|r| r["uid"] == 0));

        let run = tcpdrop(&["--uid", "nobody", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let picked = chosen(&rows);
        assert_eq!(picked.len(), 1, "{rows:?}");
        assert_eq!(picked[0]["uid"], 65534);
        assert_eq!(picked[0]["local"], nobody.local_addr().to_string());
        assert_eq!(nobody.read_outcome(), Some(ECONNABORTED));
        assert!(still_established(&root));
    });
}
