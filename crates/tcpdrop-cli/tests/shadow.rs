//! Shadowed tuples (SPEC §5) from the command: a connection bound to a
//! device shares its 4-tuple with an unbound one, which every lookup by
//! the tuple finds first (see `nstest::shadow`). `tcpdrop --pid` selects
//! the bound one by the child process that holds it; each `--method` must
//! say what happened to it, never "gone", and leave the other connection
//! on the tuple, the bystander, carrying data.

use std::ops::ControlFlow;

use nstest::shadow::Shadow;
use nstest::{carries_data, hand_over, in_netns, segments_in, OwnerChild};
use tcpdrop::{Connection, ListOptions, Query, Selection, Session};

use crate::util::{json_lines, tcpdrop, Run};

const ECONNRESET: i32 = 104;
const EPIPE: i32 = 32;

/// A shadowed connection held by a child, and what `tcpdrop --json --pid
/// CHILD [--method METHOD]` did: (the run, its row, the shadow, the child,
/// the shadowed socket's cookie, the bystander's segment counts before).
struct Dropped {
    /// The dry run of the same command, made first.
    dry: Run,
    run: Run,
    row: serde_json::Value,
    shadow: Shadow,
    holder: OwnerChild,
    cookie: u64,
    before: (u32, u32),
}

fn drop_by_pid(method: Option<&str>) -> Dropped {
    let (shadow, bound) = Shadow::established(false);
    let (local, remote) = shadow.tuple();
    let rows = every_socket();
    let cookie = rows
        .iter()
        .find(|c| c.has_tuple(&local, &remote) && c.ifindex != 0)
        .map(|c| c.cookie)
        .expect("the bound socket is listed");
    let holder = hand_over(bound, "shadowed");
    let before = settled(&shadow);
    let pid = holder.pid().to_string();
    let mut args = vec!["--json", "--pid", &pid];
    if let Some(method) = method {
        args.extend(["--method", method]);
    }
    let dry = tcpdrop(&[&["-n"], &args[..]].concat());
    let run = tcpdrop(&args);
    let rows = json_lines(&run.stdout);
    let row = match &rows[..] {
        [row] if row["cookie"] == cookie => row.clone(),
        _ => panic!(
            "{method:?}: one row, the shadowed socket's: {rows:?}\n{}",
            run.stderr
        ),
    };
    Dropped {
        dry,
        run,
        row,
        shadow,
        holder,
        cookie,
        before,
    }
}

/// The bystander's segment counts once nothing is in flight.
fn settled(shadow: &Shadow) -> (u32, u32) {
    let count = || (segments_in(&shadow.client), segments_in(&shadow.server));
    let mut last = count();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if count() == last {
            return last;
        }
        last = count();
    }
}

/// Every socket of this namespace, as the library lists it.
fn every_socket() -> Vec<Connection> {
    let mut rows = Vec::new();
    let every = Selection::all(Query::all()).listeners(true);
    Session::new()
        .unwrap()
        .list(every, ListOptions::default(), |conn, _| {
            rows.push(conn);
            ControlFlow::Continue(())
        })
        .unwrap();
    rows
}

fn still_there(cookie: u64) -> bool {
    let rows = every_socket();
    rows.iter().any(|c| c.cookie == cookie)
}

/// Owner (forced or chosen by auto) dropped it: exit 0, its holder saw it.
fn dropped_through_its_holder(method: Option<&str>) {
    let mut d = drop_by_pid(method);
    assert_eq!(
        d.run.code, 0,
        "{method:?}: {}\n{}",
        d.run.stdout, d.run.stderr
    );
    assert_eq!(d.row["result"], "dropped", "{method:?}: {}", d.row);
    assert_eq!(d.row["method"], "owner", "{method:?}: {}", d.row);
    // The dry run said so, and exited as the drop did.
    assert_eq!(d.dry.code, 0, "{method:?}: {}", d.dry.stderr);
    assert_eq!(json_lines(&d.dry.stdout)[0]["result"], "would-drop");
    let seen = d.holder.read_outcome();
    assert!(
        matches!(seen, Some(ECONNRESET | EPIPE)),
        "{method:?}: the holder's read ended with {seen:?}"
    );
    assert!(!still_there(d.cookie));
    assert!(
        carries_data(&mut d.shadow.client, &mut d.shadow.server),
        "{method:?}: the bystander carries data"
    );
}

/// Destroy or inject failed, saying why: exit 3, both sockets untouched.
fn failed_as_shadowed(method: &str) {
    let mut d = drop_by_pid(Some(method));
    assert_eq!(
        d.run.code, 3,
        "{method}: {}\n{}",
        d.run.stdout, d.run.stderr
    );
    assert_eq!(d.row["result"], "failed", "{method}: {}", d.row);
    // The dry run said the same before, and exited as the drop did.
    assert_eq!(d.dry.code, 3, "{method}: {}", d.dry.stderr);
    let dry = &json_lines(&d.dry.stdout)[0];
    assert_eq!(dry["result"], "would-fail", "{method}: {dry}");
    assert_eq!(dry["error"], d.row["error"], "{method}");
    let error = d.row["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("another socket on the same 4-tuple") && error.contains("--method owner"),
        "{method}: {error}"
    );
    assert!(still_there(d.cookie), "{method}: the shadowed socket lives");
    assert_eq!(
        settled(&d.shadow),
        d.before,
        "{method}: nothing reached the bystander"
    );
    assert!(
        carries_data(&mut d.shadow.client, &mut d.shadow.server),
        "{method}: the bystander carries data"
    );
}

#[test]
fn auto_drops_a_shadowed_connection_through_its_holder() {
    in_netns(|| dropped_through_its_holder(None));
}

#[test]
fn owner_drops_a_shadowed_connection() {
    in_netns(|| dropped_through_its_holder(Some("owner")));
}

#[test]
fn destroy_fails_on_a_shadowed_connection_and_says_why() {
    in_netns(|| failed_as_shadowed("destroy"));
}

#[test]
fn inject_fails_on_a_shadowed_connection_and_sends_it_nothing() {
    in_netns(|| failed_as_shadowed("inject"));
}
