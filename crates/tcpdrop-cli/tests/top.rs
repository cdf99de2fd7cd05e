//! `tcpdrop --top` as a person uses it: the real binary in a tmux pane,
//! keys typed with `send-keys`, the screen read with `capture-pane`, in a
//! fresh network namespace with real connections; every effect checked
//! from outside (the owners of the dropped connections see ECONNABORTED,
//! the others still carry data; ss agrees with the rows).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nstest::{carries_data, connect, in_netns, listen, spawn_owner};

use crate::util::binary_for_nobody;

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;

/// A tmux server of its own (its own socket), started from the test's
/// thread so that it and the view run in the test's network namespace.
struct Tmux {
    /// The server's socket file (`-S`), which kill-server leaves behind.
    /// Not `-L`'s `/tmp/tmux-UID/`: in the user namespace a normal user's
    /// test runs in, UID is 0 and that directory is real root's.
    path: String,
}

impl Tmux {
    /// Run `command` (a shell command line) in a new detached session of
    /// `width` × `height`.
    fn start(command: &str, width: u16, height: u16) -> Tmux {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir()
            .join(format!(
                "tcpdrop-top-{}-{}.sock",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ))
            .display()
            .to_string();
        let tmux = Tmux { path };
        let status = Command::new("tmux")
            .args(["-S", &tmux.path, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg(command)
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session");
        tmux
    }

    /// The view of the tcpdrop binary with `args`; the pane then says how
    /// it exited and what the terminal's modes are.
    fn top(args: &str, width: u16, height: u16) -> Tmux {
        Tmux::top_with(env!("CARGO_BIN_EXE_tcpdrop"), args, width, height)
    }

    fn top_with(program: &str, args: &str, width: u16, height: u16) -> Tmux {
        Tmux::start(
            &format!("{program} --top {args}; echo EXIT=$?; stty -a; sleep 600"),
            width,
            height,
        )
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-S", &self.path])
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Type keys, as tmux names them (`j`, `Space`, `Enter`, `C-c`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Type `text` literally.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", text]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    /// The screen once `ready` holds of it, within 10 s.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 10 s for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn format(&self, what: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "0", what])
            .trim()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The rows on screen as (State, Local, Remote), sorted.
fn rows(screen: &str) -> Vec<(String, String, String)> {
    let states = [
        "ESTAB",
        "LISTEN",
        "TIME-WAIT",
        "SYN-SENT",
        "SYN-RECV",
        "FIN-WAIT-1",
        "FIN-WAIT-2",
        "CLOSE-WAIT",
        "LAST-ACK",
        "CLOSING",
        "UNCONN",
    ];
    let mut rows: Vec<_> = screen
        .lines()
        .skip(2)
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| states.contains(w))?;
            match words.get(at..at + 3)? {
                [state, local, remote] => {
                    Some((state.to_string(), local.to_string(), remote.to_string()))
                }
                _ => None,
            }
        })
        .collect();
    rows.sort();
    rows
}

/// Where the row whose local end is `local` is on screen (0 is the first row).
fn row_index(screen: &str, local: &str) -> usize {
    screen
        .lines()
        .skip(2)
        .position(|line| {
            // State, Local, ...; a mark `*` before a marked row.
            let words: Vec<&str> = line.split_whitespace().filter(|w| *w != "*").collect();
            words.get(1) == Some(&local)
        })
        .unwrap_or_else(|| panic!("no row of {local}:\n{screen}"))
}

fn has_tmux() -> bool {
    nstest::require_tool("tmux", "tmux")
}

#[test]
fn top_rows_match_ss_and_a_filter_narrows_them() {
    if !has_tmux() {
        return;
    }
    in_netns(|| {
        let _sockets = nstest::every_kind_of_socket();
        let web = listen("127.0.0.1:0");
        let port = web.local_addr().unwrap().port();
        let _conns: Vec<_> = (0..3).map(|_| connect(&web)).collect();
        let view = Tmux::top("", 160, 40);
        let screen = view.wait_for("the rows", |s| !rows(s).is_empty());
        // Rows come from one dump; ss, a moment later, from another: the
        // sockets are still, so they must agree.
        assert_eq!(rows(&screen), nstest::ss_rows(), "{screen}");
        assert!(
            screen.lines().next().unwrap().contains("every 1s"),
            "{screen}"
        );

        view.keys(&["/"]);
        view.type_text(&format!("sport = :{port}"));
        view.keys(&["Enter"]);
        let screen = view.wait_for("the filter to apply", |s| {
            s.lines()
                .next()
                .is_some_and(|l| l.contains("filter: sport"))
                && rows(s).iter().all(|r| r.1.ends_with(&format!(":{port}")))
        });
        let narrowed = rows(&screen);
        let want = nstest::ss_rows_with(&["-tanH", "sport", "=", &format!(":{port}")]);
        assert_eq!(narrowed.len(), want.len(), "{screen}\n{want:?}");
        // The listener and the three server ends.
        assert_eq!(narrowed.len(), 4, "{screen}");

        // A filter error is shown inline; the filter in force stays.
        view.keys(&["/", "C-u"]);
        view.type_text("dport = :80x");
        view.keys(&["Enter"]);
        let screen = view.wait_for("the filter error", |s| s.contains("is not a service name"));
        assert!(screen.contains("'80x'"), "{screen}");
        view.keys(&["Escape"]);
        let screen = view.wait_for("the prompt to close", |s| !s.contains("not a service name"));
        assert_eq!(rows(&screen), narrowed, "{screen}");

        // Too small a terminal gets a message; a resize redraws.
        view.tmux(&["resize-window", "-t", "0", "-x", "40", "-y", "6"]);
        view.wait_for("the message", |s| s.contains("Terminal too small (40×6)"));
        view.tmux(&["resize-window", "-t", "0", "-x", "160", "-y", "40"]);
        let screen = view.wait_for("the rows again", |s| rows(s) == narrowed);
        assert!(!screen.contains("too small"), "{screen}");
    });
}

#[test]
fn top_marking_two_rows_and_confirming_drops_exactly_those_two() {
    if !has_tmux() {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        // Three connections held by child processes, whose reads tell how
        // their connection ended; one held here.
        let mut children = Vec::new();
        let mut servers = Vec::new();
        for name in ["tdtop-a", "tdtop-b", "tdtop-c"] {
            let child = spawn_owner(to, name, None);
            let (server, _) = listener.accept().unwrap();
            children.push(child);
            servers.push(server);
        }
        let (mut kept_client, mut kept_server) = connect(&listener);
        let view = Tmux::top("-s established", 200, 30);
        // a and c are dropped; b and the one held here are not.
        let a = children[0].local_addr().to_string();
        let c = children[2].local_addr().to_string();
        view.wait_for("the owners of the rows", |s| {
            s.contains(&a) && s.contains(&c) && s.contains("tdtop-b/")
        });
        // Paused: the rows stay where they are while keys are typed.
        view.keys(&["p"]);
        let screen = view.wait_for("the pause", |s| s.contains("PAUSED"));
        assert!(screen.contains("tdtop-a/"), "{screen}");
        let (first, second) = {
            let (x, y) = (row_index(&screen, &a), row_index(&screen, &c));
            (x.min(y), x.max(y))
        };
        view.keys(&["Home"]);
        for _ in 0..first {
            view.keys(&["j"]);
        }
        // Space marks and moves down one.
        view.keys(&["Space"]);
        for _ in first + 1..second {
            view.keys(&["j"]);
        }
        view.keys(&["Space"]);
        let screen = view.wait_for("two marks", |s| s.contains("2 marked"));
        let marked: Vec<&str> = screen.lines().filter(|l| l.starts_with("* ")).collect();
        assert_eq!(marked.len(), 2, "{screen}");
        assert!(
            marked.iter().all(|l| l.contains(&a) || l.contains(&c)),
            "{screen}"
        );
        view.keys(&["d"]);
        let screen = view.wait_for("the confirmation", |s| s.contains("Drop 2 connections?"));
        assert!(
            screen.contains("Their loopback peers will be reset too"),
            "{screen}"
        );
        view.keys(&["y"]);
        let screen = view.wait_for("the outcome", |s| s.contains("dropped 2, gone"));
        assert!(screen.contains("dropped (destroy)"), "{screen}");
        assert!(screen.contains("failed 0"), "{screen}");

        // From outside: the two owners saw their connection aborted, their
        // peers were reset...
        let owner_c = children.pop().unwrap();
        let owner_b = children.pop().unwrap();
        let owner_a = children.pop().unwrap();
        assert_eq!(owner_a.read_outcome(), Some(ECONNABORTED));
        assert_eq!(owner_c.read_outcome(), Some(ECONNABORTED));
        assert_eq!(nstest::read_errno(&mut servers[0]), Some(ECONNRESET));
        assert_eq!(nstest::read_errno(&mut servers[2]), Some(ECONNRESET));
        // ... and the others still carry data.
        servers[1].write_all(b"x").unwrap();
        assert_eq!(
            owner_b.read_outcome(),
            None,
            "tdtop-b's connection was touched"
        );
        assert!(carries_data(&mut kept_client, &mut kept_server));
    });
}

#[test]
fn top_a_drop_the_user_may_not_do_fails_with_its_reason_on_the_row() {
    if !has_tmux() || !nstest::require_real_root("runs the view as user nobody (setpriv)") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let local = client.local_addr().unwrap().to_string();
        let program = format!(
            "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all {}",
            binary_for_nobody().display()
        );
        let view = Tmux::top_with(&program, "", 250, 20);
        let screen = view.wait_for("the rows", |s| s.contains(&local));
        // Listing needs no privilege: every socket is there.
        assert_eq!(rows(&screen), nstest::ss_rows(), "{screen}");
        view.keys(&["Home"]);
        for _ in 0..row_index(&screen, &local) {
            view.keys(&["j"]);
        }
        view.keys(&["d"]);
        view.wait_for("the confirmation", |s| s.contains("Drop 1 connection?"));
        view.keys(&["y"]);
        let screen = view.wait_for("the failure", |s| s.contains("failed 1"));
        let row = screen
            .lines()
            .find(|l| l.contains(&local) && l.contains("failed ("))
            .unwrap_or_else(|| panic!("no failed row:\n{screen}"));
        assert!(row.contains("needs CAP_NET_ADMIN"), "{row}");
        let status = screen.lines().rev().nth(1).unwrap_or_default();
        assert!(
            status.starts_with("dropped 0, gone 0, failed 1"),
            "{screen}"
        );
        assert!(status.contains("needs CAP_NET_ADMIN"), "{status}");
        assert!(carries_data(&mut client, &mut server));
    });
}

#[test]
fn top_q_and_ctrl_c_quit_with_status_0_and_restore_the_terminal() {
    if !has_tmux() {
        return;
    }
    in_netns(|| {
        let _listener = listen("127.0.0.1:0");
        for quit in ["q", "C-c"] {
            let view = Tmux::top("", 120, 20);
            view.wait_for("the view", |s| s.contains("LISTEN"));
            assert_eq!(view.format("#{alternate_on}"), "1");
            view.keys(&[quit]);
            // stty -a's last line ends with echoke (or -echoke).
            let screen = view.wait_for("the exit and the modes", |s| {
                s.contains("EXIT=") && s.contains("echoke")
            });
            assert!(screen.contains("EXIT=0"), "{quit}: {screen}");
            // The main screen, the cursor shown, the line discipline cooked.
            assert_eq!(view.format("#{alternate_on}"), "0", "{quit}");
            assert_eq!(view.format("#{cursor_flag}"), "1", "{quit}");
            let modes: Vec<&str> = screen.split_whitespace().collect();
            for mode in ["icanon", "echo", "isig", "icrnl", "opost"] {
                assert!(
                    modes.contains(&mode),
                    "{quit}: no {mode} after the view:\n{screen}"
                );
            }
        }
    });
}

#[test]
fn top_without_a_terminal_exits_2_saying_it_needs_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
        .arg("--top")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run tcpdrop");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a terminal"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn top_refuses_what_it_cannot_show() {
    for (args, want) in [
        (&["--top", "-l"][..], "cannot be used with"),
        (
            &["--top", "127.0.0.1:1", "127.0.0.1:2"],
            "not one connection",
        ),
        (&["--top", "dport", "=", ":80x"], "is not a service name"),
        (&["--top=0s"], "--top"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tcpdrop"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tcpdrop");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
