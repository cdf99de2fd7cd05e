//! `--netns` and `--all-netns` against named namespaces the tests make
//! (`ip netns add`, deleted again even when a test fails).

use std::net::TcpStream;
use std::process::Command;

use nstest::{
    carries_data, connect, connect_from, in_netns, listen, read_errno, spawn_owner, NamedNetns,
    ProcessNetns,
};

use crate::util::{json_lines, tcpdrop, tcpdrop_unprivileged, Run, Watching};

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;

#[test]
fn netns_drops_inside_the_named_namespace_and_nothing_here() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        let ns = NamedNetns::add();
        let (listener_in, mut client_in, _server_in) = ns.run(|| {
            let listener = listen("127.0.0.1:0");
            let (client, server) = connect(&listener);
            (listener, client, server)
        });
        // The very same tuple in the caller's namespace.
        let server_addr = listener_in.local_addr().unwrap();
        let client_addr = client_in.local_addr().unwrap();
        let listener_here = listen(&server_addr.to_string());
        let (mut client_here, _server_here) =
            connect_from(client_addr, server_addr, &listener_here);
        let run = tcpdrop(&[
            "--netns",
            ns.name(),
            "--json",
            &format!("dport = :{}", server_addr.port()),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        assert_eq!(rows[0]["result"], "dropped", "{rows:?}");
        assert_eq!(rows[0]["netns"], ns.name());
        assert_eq!(read_errno(&mut client_in), Some(ECONNABORTED));
        assert_eq!(
            read_errno(&mut client_here),
            None,
            "the caller's twin was hit"
        );
    });
}

#[test]
fn netns_with_process_drops_that_process_in_that_namespace() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        let ns = NamedNetns::add();
        let (listener_in, inside) = ns.run(|| {
            let listener = listen("127.0.0.1:0");
            let child = spawn_owner(listener.local_addr().unwrap(), "tdnginx", None);
            (listener, child)
        });
        let _inside_server = listener_in.accept().unwrap();
        // A namesake here, on the same port.
        let listener_here = listen(&listener_in.local_addr().unwrap().to_string());
        let here = spawn_owner(listener_here.local_addr().unwrap(), "tdnginx", None);
        let _here_server = listener_here.accept().unwrap();
        let run = tcpdrop(&["--netns", ns.name(), "--process", "tdnginx", "-a", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let picked: Vec<_> = rows
            .iter()
            .filter(|r| r.get("collateral").is_none())
            .collect();
        assert_eq!(picked.len(), 1, "{rows:?}");
        assert_eq!(picked[0]["local"], inside.local_addr().to_string());
        assert_eq!(inside.read_outcome(), Some(ECONNABORTED));
        let listed = tcpdrop(&["-l", "--process", "tdnginx", "--json"]);
        assert_eq!(listed.code, 0, "{}", listed.stderr);
        let rows = json_lines(&listed.stdout);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["local"], here.local_addr().to_string());
    });
}

#[test]
fn all_netns_drops_in_every_namespace_and_tags_each_row() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        let blue = NamedNetns::add();
        let red = NamedNetns::add();
        // --all-netns sees every namespace of the host, other tests' and
        // other programs' included: the listeners are on an address that
        // nothing else uses, so the drop takes only this test's connections.
        let ip = unusual_loopback(false);
        let (listener_blue, mut client_blue, _sb) = blue.run(|| {
            let listener = listen(&format!("{ip}:0"));
            let (client, server) = connect(&listener);
            (listener, client, server)
        });
        let port = listener_blue.local_addr().unwrap().port();
        let at = format!("{ip}:{port}");
        let (_listener_red, mut client_red, _sr) = red.run(|| {
            let listener = listen(&at);
            let (client, server) = connect(&listener);
            (listener, client, server)
        });
        let listener_here = listen(&at);
        let (mut client_here, _sh) = connect(&listener_here);
        // Only these three connections: to this test's listeners.
        let filter = format!("dst {ip} and dport = :{port}");
        let run = tcpdrop(&["--all-netns", "--json", &filter]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let mut tags: Vec<String> = rows
            .iter()
            .filter(|r| r.get("collateral").is_none())
            .map(|r| {
                assert_eq!(r["result"], "dropped", "{r}");
                r["netns"].as_str().unwrap().to_string()
            })
            .collect();
        tags.sort();
        assert_eq!(tags.len(), 3, "{rows:?}");
        assert!(tags.contains(&blue.name().to_string()), "{tags:?}");
        assert!(tags.contains(&red.name().to_string()), "{tags:?}");
        assert!(
            tags.iter()
                .any(|t| t.starts_with("/proc/") && t.ends_with("/ns/net")),
            "the caller's namespace is not tagged by a process: {tags:?}"
        );
        for client in [&mut client_blue, &mut client_red, &mut client_here] {
            assert_eq!(read_errno(client), Some(ECONNABORTED));
        }
        // Human output leads with the namespace.
        let (mut again, _s) = connect(&listener_here);
        let run = tcpdrop(&["--all-netns", "-l", &filter]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.starts_with("/proc/"), "{}", run.stdout);
        assert_eq!(read_errno(&mut again), None);
    });
}

#[test]
fn all_netns_rows_line_up_whatever_their_namespaces_labels() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        // A short name, listed before the long /proc/PID/ns/net of the
        // caller's namespace, with short addresses there and longer ones
        // here; addresses nothing else uses, as the drop below sees every
        // namespace of the host.
        let short = NamedNetns::with_name(&format!("td{}", std::process::id()));
        let (short_ip, long_ip) = (unusual_loopback(false), unusual_loopback(true));
        let (listener_short, _pair_short) = short.run(|| {
            let listener = listen(&format!("{short_ip}:0"));
            let pair = connect(&listener);
            (listener, pair)
        });
        let port = listener_short.local_addr().unwrap().port();
        let listener_here = listen(&format!("{long_ip}:{port}"));
        let _pair_here = connect(&listener_here);
        let filter = format!("( src {short_ip} or src {long_ip} ) and sport = :{port}");
        let run = tcpdrop(&["--all-netns", "-l", &filter]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 4, "{}", run.stdout);
        assert!(lines.iter().any(|l| l.starts_with(short.name())));
        assert!(lines.iter().any(|l| l.starts_with("/proc/")));
        // Where the State column and the Remote column start, on each row
        // (Recv-Q and Send-Q are right-aligned, so their starts vary).
        assert_eq!(
            column_starts(&lines, &[1, 5]).len(),
            1,
            "misaligned:\n{}",
            run.stdout
        );

        // A drop prints each namespace's rows as soon as they are known,
        // so only a namespace column sized before the first row aligns them.
        let run = tcpdrop(&["--all-netns", &filter]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        // "dropped (destroy)" is one column: keep its words together.
        let joined = run.stdout.replace("dropped (", "dropped_(");
        let lines: Vec<&str> = joined.lines().collect();
        assert_eq!(lines.len(), 4, "{}", run.stdout);
        // Result and State.
        assert_eq!(
            column_starts(&lines, &[1, 2]).len(),
            1,
            "misaligned:\n{}",
            run.stdout
        );
    });
}

/// The rows that dropped a connection (not the peers reset with them),
/// by the namespace each carries.
pub(crate) fn dropped_in(rows: &[serde_json::Value], netns: &str) -> usize {
    rows.iter()
        .filter(|r| r.get("collateral").is_none() && r["result"] == "dropped")
        .filter(|r| r["netns"] == netns)
        .count()
}

/// Whether process `pid` holds the network namespace `netns` (device and
/// inode of its nsfs file) open: a descriptor on it, whether opened as
/// `/run/netns/NAME` or as `/proc/PID/ns/net`.
fn holds_netns(pid: u32, netns: (u64, u64)) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read the watcher's descriptors")
        .flatten()
        .any(|fd| std::fs::metadata(fd.path()).is_ok_and(|m| (m.dev(), m.ino()) == netns))
}

/// `--watch --all-netns` looks for namespaces each round: a named one and
/// one only a process holds (a container's), both made after it started,
/// are watched from then on; one deleted while it watches is let go (its
/// descriptor closed) without a word, and the watch goes on; what the
/// filter does not name lives on; SIGTERM ends it with exit 0.
#[test]
fn watch_all_netns_follows_namespaces_made_and_deleted_while_it_watches() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        // It watches every namespace of the host: only this test's address.
        let ip = unusual_loopback(false);
        let filter = format!("dst {ip}");
        let watcher = Watching::start(&["--watch=200ms", "--all-netns", "--json", &filter]);
        // Past its first look for namespaces.
        std::thread::sleep(std::time::Duration::from_millis(500));

        let named = NamedNetns::add();
        let held = ProcessNetns::spawn();
        let pairs = |ip: std::net::Ipv4Addr| {
            move || {
                let listener = listen(&format!("{ip}:0"));
                let target = connect(&listener);
                let bystander_listener = listen("127.0.0.1:0");
                let bystander = connect(&bystander_listener);
                (listener, target, bystander_listener, bystander)
            }
        };
        let (_l1, (mut named_client, _s1), _b1, (mut named_by, mut named_by_server)) =
            named.run(pairs(ip));
        let (_l2, (mut held_client, _s2), _b2, (mut held_by, mut held_by_server)) =
            held.run(pairs(ip));
        let held_label = held.path();
        watcher.rows_until("a drop in each new namespace", |rows| {
            dropped_in(rows, named.name()) == 1 && dropped_in(rows, &held_label) == 1
        });
        assert_eq!(read_errno(&mut named_client), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut held_client), Some(ECONNABORTED));
        let dst = ip.to_string();
        let ss_named = Command::new("ss")
            .args(["-N", named.name(), "-Htn", "dst", &dst])
            .output()
            .expect("run ss");
        assert!(ss_named.status.success());
        assert_eq!(
            String::from_utf8_lossy(&ss_named.stdout),
            "",
            "ss -N still shows it"
        );
        assert_eq!(held.run(|| nstest::ss(&["-Htn", "dst", &dst])), "");
        assert!(carries_data(&mut named_by, &mut named_by_server));
        assert!(carries_data(&mut held_by, &mut held_by_server));

        // A namespace deleted while watched is let go.
        let doomed = NamedNetns::add();
        let inode = {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(format!("/run/netns/{}", doomed.name())).unwrap();
            (meta.dev(), meta.ino())
        };
        let doomed_name = doomed.name().to_string();
        let (_l3, (mut doomed_client, _s3), _b3, _by3) = doomed.run(pairs(ip));
        watcher.rows_until("a drop in the namespace to delete", |rows| {
            dropped_in(rows, &doomed_name) == 1
        });
        assert_eq!(read_errno(&mut doomed_client), Some(ECONNABORTED));
        assert!(
            holds_netns(watcher.pid(), inode),
            "it never held namespace {doomed_name}"
        );
        drop(doomed);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while holds_netns(watcher.pid(), inode) {
            assert!(
                std::time::Instant::now() < deadline,
                "it still holds namespace {doomed_name} 10 s after `ip netns del`"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }

        // And goes on watching: a namespace made after that.
        let late = NamedNetns::add();
        let (_l4, (mut late_client, _s4), _b4, _by4) = late.run(pairs(ip));
        watcher.rows_until("a drop in a namespace made after the deletion", |rows| {
            dropped_in(rows, late.name()) == 1
        });
        assert_eq!(read_errno(&mut late_client), Some(ECONNABORTED));

        let run = watcher.terminate();
        assert_eq!(run.code, 0, "{}", run.stderr);
        // No word of the namespace deleted, nor any error; only, where a
        // security module hides some process's namespace even from root
        // (as in some sandboxes), the line that says so.
        assert!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("tcpdrop:"))
                .all(|l| l.starts_with("tcpdrop: could not see which network namespace")),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.lines().any(|l| l.starts_with("dropped 4, ")),
            "{}",
            run.stderr
        );
        // Exactly the four connections named, nothing else anywhere.
        let rows = json_lines(&run.stdout);
        let dropped: Vec<_> = rows
            .iter()
            .filter(|r| r.get("collateral").is_none())
            .collect();
        assert_eq!(dropped.len(), 4, "{rows:?}");
        assert!(carries_data(&mut named_by, &mut named_by_server));
        assert!(carries_data(&mut held_by, &mut held_by_server));
    });
}

/// Without CAP_SYS_ADMIN, `setns` enters no namespace, but the caller's
/// own needs none: `--all-netns` lists that one, says on stderr how many it
/// could not enter and why, and does not call a selection it could not
/// look for "no match" (exit 4, not 1). `-N` of a namespace it may not
/// enter is a refusal (4), not bad usage (2). (It used to list nothing and
/// exit 0.)
#[test]
fn all_netns_without_privilege_lists_its_own_namespace_and_says_what_it_could_not_enter() {
    if !nstest::require_real_root("the tool runs as uid 65534; `ip netns add` mounts") {
        return;
    }
    in_netns(|| {
        let other = NamedNetns::add();
        // Only the other namespace has a connection to this address.
        let ip = unusual_loopback(false);
        let (_listener_other, (mut client_other, mut server_other)) = other.run(|| {
            let listener = listen(&format!("{ip}:0"));
            let pair = connect(&listener);
            (listener, pair)
        });
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let mine = client.local_addr().unwrap().to_string();

        let run = tcpdrop_unprivileged(&["--all-netns", "-l", "--json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let row = rows
            .iter()
            .find(|r| r["local"] == mine.as_str())
            .unwrap_or_else(|| panic!("its own namespace was not listed: {rows:?}"));
        let label = row["netns"].as_str().unwrap();
        assert!(
            label.starts_with("/proc/") && label.ends_with("/ns/net"),
            "{label}"
        );
        let said = run
            .stderr
            .lines()
            .find(|l| l.starts_with("tcpdrop: could not enter "))
            .unwrap_or_else(|| panic!("no word of the namespaces not entered: {}", run.stderr));
        // "could not enter N of M network namespaces: ...": at least the
        // one this test made, and at least one entered.
        let counts: Vec<usize> = said
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .take(2)
            .collect();
        assert!(
            counts.len() == 2 && counts[0] >= 1 && counts[0] < counts[1],
            "{said}"
        );
        assert!(
            said.contains("network namespaces: entering a network namespace needs CAP_SYS_ADMIN"),
            "{said}"
        );
        assert!(said.ends_with("run as root"), "{said}");

        // What it looked for is only where it could not look: not "no match".
        let run = tcpdrop_unprivileged(&["--all-netns", "-l", &format!("dst {ip}")]);
        assert_eq!(run.code, 4, "{}", run.stderr);
        assert!(run.stderr.contains("could not enter"), "{}", run.stderr);

        // -N: its own namespace needs no setns; another's is refused (4).
        let run = tcpdrop_unprivileged(&["-N", "/proc/self/ns/net", "-l"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains(&mine), "{}", run.stdout);
        let run = tcpdrop_unprivileged(&["-N", other.name(), "-l"]);
        assert_eq!(run.code, 4, "{}", run.stderr);
        assert_eq!(
            run.stderr.trim_end(),
            format!(
                "tcpdrop: network namespace /run/netns/{}: entering a network namespace \
                 needs CAP_SYS_ADMIN: run as root",
                other.name()
            )
        );
        assert!(carries_data(&mut client, &mut server));
        assert!(carries_data(&mut client_other, &mut server_other));
    });
}

/// The distinct byte offsets at which the words numbered `words` start,
/// over `lines`: one entry when the columns line up.
fn column_starts(lines: &[&str], words: &[usize]) -> std::collections::BTreeSet<Vec<usize>> {
    lines
        .iter()
        .map(|line| {
            let mut starts = Vec::new();
            let mut in_word = false;
            for (i, c) in line.char_indices() {
                if c != ' ' && !in_word {
                    starts.push(i);
                }
                in_word = c != ' ';
            }
            words.iter().map(|&w| starts[w]).collect()
        })
        .collect()
}

/// A loopback address (all of 127/8 is on `lo`) that no other test or
/// program is likely to use: `127.D.x.y` (9 characters or fewer) or, when
/// `long`, `127.2xx.2xx.2xx` (15), from this process's id and a count.
fn unusual_loopback(long: bool) -> std::net::Ipv4Addr {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(N.fetch_add(1, Ordering::Relaxed));
    let [a, b, c, _] = n.to_le_bytes();
    if long {
        std::net::Ipv4Addr::new(127, 200 + a % 50, 200 + b % 50, 200 + c % 50)
    } else {
        std::net::Ipv4Addr::new(127, 1 + a % 9, b % 10, c % 10)
    }
}

/// The same established tuple in `ns` and in the caller's namespace:
/// ((client, server) in `ns`, (client, server) here).
fn twins(
    ns: &NamedNetns,
    server: &'static str,
    from: &'static str,
) -> ((TcpStream, TcpStream), (TcpStream, TcpStream)) {
    let from: std::net::SocketAddr = from.parse().unwrap();
    let pair = || {
        let listener = listen(server);
        connect_from(from, listener.local_addr().unwrap(), &listener)
    };
    (ns.run(pair), pair())
}

#[test]
fn netns_inject_resets_inside_the_named_namespace_and_not_the_callers_twin() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        let ns = NamedNetns::add();
        for (server, from) in [
            ("127.0.0.1:9311", "127.0.0.1:42311"),
            ("[::1]:9312", "[::1]:42312"),
        ] {
            let ((mut client_in, mut server_in), (mut client_here, mut server_here)) =
                twins(&ns, server, from);
            let to = client_here.peer_addr().unwrap().to_string();
            let run = tcpdrop(&["-N", ns.name(), "--method", "inject", from, &to]);
            assert_eq!(run.code, 0, "{from}: {}{}", run.stdout, run.stderr);
            assert!(run.stdout.contains("dropped (inject)"), "{}", run.stdout);
            assert_eq!(
                read_errno(&mut client_in),
                Some(ECONNRESET),
                "{from}: the target"
            );
            assert_eq!(
                read_errno(&mut server_in),
                Some(ECONNRESET),
                "{from}: its peer"
            );
            assert!(
                carries_data(&mut client_here, &mut server_here),
                "{from}: the caller's twin on the same tuple was reset"
            );
        }
    });
}

/// A TIME-WAIT socket from `from` to `server` in the calling thread's
/// namespace (the client closes first).
fn time_wait_from(server: &str, from: &str) {
    let listener = listen(server);
    let (client, mut accepted) = connect_from(
        from.parse().unwrap(),
        listener.local_addr().unwrap(),
        &listener,
    );
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(std::io::Read::read(&mut accepted, &mut buf).unwrap(), 0);
    drop(accepted);
    std::thread::sleep(std::time::Duration::from_millis(50));
    drop(client);
}

/// The TIME-WAIT rows `ss` shows in the calling thread's namespace.
fn time_wait_rows() -> String {
    nstest::ss(&["-Htn", "state", "time-wait"])
}

#[test]
fn netns_time_wait_without_cap_net_admin_is_reset_there_and_the_callers_twin_stays() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        let ns = NamedNetns::add();
        let (server, from) = ("127.0.0.1:9313", "127.0.0.1:42313");
        ns.run(|| time_wait_from(server, from));
        time_wait_from(server, from);
        assert!(ns.run(time_wait_rows).contains(from));
        assert!(time_wait_rows().contains(from));
        // Root, but without CAP_NET_ADMIN: destroy is out, no process holds
        // a TIME-WAIT socket, so auto injects.
        let run: Run = Command::new("setpriv")
            .args(["--inh-caps=-net_admin", "--bounding-set=-net_admin"])
            .arg(env!("CARGO_BIN_EXE_tcpdrop"))
            .args(["-N", ns.name(), from, server])
            .output()
            .expect("run setpriv (util-linux)")
            .into();
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("dropped (inject)"), "{}", run.stdout);
        assert!(
            !ns.run(time_wait_rows).contains(from),
            "the target is still there"
        );
        assert!(
            time_wait_rows().contains(from),
            "the caller's TIME-WAIT twin on the same tuple was reset"
        );
    });
}
