//! Honest in the small corners: owners that cannot be read, process names
//! that are not text, an output that goes away or fills up, colour on a
//! terminal that has none. Each test builds real sockets in a fresh network
//! namespace and checks the effect from outside.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use nstest::{connect, in_netns, listen, read_errno, so_error, spawn_owner, spawn_owner_named};

use crate::util::{
    closed_pipe, json_lines, tcpdrop, tcpdrop_bytes, tcpdrop_in_landlock, tcpdrop_net_admin_only,
    tcpdrop_writing_to,
};

const ECONNABORTED: i32 = 103;

/// What the tool says when `n` selected sockets' owners could not be read.
fn unreadable_line(n: usize) -> String {
    format!(
        "tcpdrop: the owners of {n} selected socket{} could not be read: reading other users' \
         processes' /proc/PID/fd needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE; run as root",
        if n == 1 { "" } else { "s" }
    )
}

/// Whether `ss` lists `local` as an established end.
fn established(local: &str) -> bool {
    nstest::ss_rows()
        .iter()
        .any(|r| r.0 == "ESTAB" && r.1 == local)
}

#[test]
fn owners_that_cannot_be_read_are_counted_shown_as_unknown_and_exit_4() {
    if !nstest::require_real_root("the tool runs as uid 65534 with CAP_NET_ADMIN only") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let child = spawn_owner(listener.local_addr().unwrap(), "tdroot", None);
        let _server = listener.accept().unwrap();
        let local = child.local_addr().to_string();
        let mine = format!("sport = :{}", child.local_addr().port());

        // A service account with only CAP_NET_ADMIN cannot read root's
        // /proc/PID/fd: that is the reason nothing matched, not "no match".
        let run = tcpdrop_net_admin_only(&["--process", "tdroot", "-a"]);
        assert_eq!(run.code, 4, "{}", run.stderr);
        assert_eq!(
            run.stderr.trim_end(),
            format!(
                "{} (nothing matched among the owners that could be read)",
                unreadable_line(2)
            )
        );
        let pid = child.pid().to_string();
        let run = tcpdrop_net_admin_only(&["--pid", &pid, &mine]);
        assert_eq!(run.code, 4, "{}", run.stderr);
        assert!(
            run.stderr.starts_with(&unreadable_line(1)),
            "{}",
            run.stderr
        );
        assert!(
            established(&local),
            "a refused selection touched the socket"
        );
        // A socket that fails a condition needing no process is no mystery.
        let run = tcpdrop_net_admin_only(&["--process", "tdroot", "--uid", "4242", "-a"]);
        assert_eq!(run.code, 1, "{}", run.stderr);

        // -p shows ? for an owner it could not read (not -, "nobody"), and
        // says how many; JSON says null.
        let run = tcpdrop_net_admin_only(&["-l", "-p", &mine]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.trim_end().ends_with(" ?"), "{}", run.stdout);
        assert_eq!(run.stderr.trim_end(), unreadable_line(1));
        let run = tcpdrop_net_admin_only(&["-l", "-p", "--json", &mine]);
        let rows = json_lines(&run.stdout);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(rows[0]["owners"].is_null(), "{rows:?}");

        // Root reads it, and the same selection drops it.
        let run = tcpdrop(&["-l", "-p", &mine]);
        assert!(
            run.stdout.trim_end().ends_with(&format!("tdroot/{pid}")),
            "{}",
            run.stdout
        );
        assert_eq!(run.stderr, "");
        let run = tcpdrop(&["--process", "tdroot", "-a"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(child.read_outcome(), Some(ECONNABORTED));
    });
}

/// Root that a security module confines (Landlock here: a process in a
/// Landlock domain may not ptrace, so may not read /proc/PID/fd of, one
/// outside it) cannot read the owners: `-l -p` says the kernel refused
/// although it has the capabilities, not "needs CAP_SYS_PTRACE; run as
/// root", which it already is.
#[test]
fn owners_a_security_module_hides_from_root_are_not_blamed_on_a_capability() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let child = spawn_owner(listener.local_addr().unwrap(), "tdhidden", None);
        let _server = listener.accept().unwrap();
        let mine = format!("sport = :{}", child.local_addr().port());
        let Some(run) = tcpdrop_in_landlock(&["-l", "-p", &mine]) else {
            nstest::skip("this kernel has no Landlock to confine root with");
            return;
        };
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.trim_end().ends_with(" ?"), "{}", run.stdout);
        let said = run.stderr.trim_end();
        assert!(
            said.starts_with(
                "tcpdrop: the owners of 1 selected socket could not be read: the kernel refused /proc/"
            ),
            "{said}"
        );
        // (Re-run in a user namespace, it names the capabilities it has
        // there, and that namespace as the other possible cause.)
        assert!(said.contains(" although this process has CAP_"), "{said}");
        assert!(
            said.contains(": a security module (Landlock, SELinux, AppArmor or Yama) forbids it"),
            "{said}"
        );
        assert!(
            said.ends_with("running as root does not change that"),
            "{said}"
        );
        // Unconfined, the same root reads it.
        let run = tcpdrop(&["-l", "-p", &mine]);
        assert!(run
            .stdout
            .trim_end()
            .ends_with(&format!("tdhidden/{}", child.pid())));
    });
}

#[test]
fn process_names_are_escaped_and_matched_on_their_bytes() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        // Not UTF-8, with an escape sequence that would turn a terminal red.
        let name: &[u8] = b"td\xff\x1b[31mx";
        let child = spawn_owner_named(listener.local_addr().unwrap(), name, None);
        let _server = listener.accept().unwrap();
        let shown = format!("td\\xff\\x1b[31mx/{}", child.pid());

        // An ASCII pattern matches the name on its bytes.
        let (code, out, err) = tcpdrop_bytes(&[
            OsStr::new("-l"),
            OsStr::new("-p"),
            OsStr::new("--process"),
            OsStr::new("td*"),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(!out.contains(&0x1b), "a raw ESC was written: {out:?}");
        assert!(!out.contains(&0xff), "a raw 0xff was written: {out:?}");
        let text = String::from_utf8(out).expect("escaped output is UTF-8");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.trim_end().ends_with(&shown), "{text}");
        let (_, out, _) = tcpdrop_bytes(&[
            OsStr::new("-l"),
            OsStr::new("--json"),
            OsStr::new("-p"),
            OsStr::new("--process"),
            OsStr::new("td?\x1b*"),
        ]);
        let rows = json_lines(&String::from_utf8(out).unwrap());
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["owners"][0]["command"], "td\\xff\\x1b[31mx");

        // The exact name, as bytes, drops it; the outcome line is escaped too.
        let (code, out, err) = tcpdrop_bytes(&[
            OsStr::new("-p"),
            OsStr::new("-a"),
            OsStr::new("--process"),
            OsStr::from_bytes(name),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(!out.contains(&0x1b), "{out:?}");
        assert!(String::from_utf8_lossy(&out).contains(&shown));
        assert_eq!(child.read_outcome(), Some(ECONNABORTED));
    });
}

#[test]
fn a_closed_stdout_still_drops_everything_chosen_and_prints_the_summary() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let filter = format!("dport = :{}", listener.local_addr().unwrap().port());
        // More rows than the printer holds back (1024), so the pipe breaks
        // in the middle of the drops, not at their end.
        let pairs: Vec<_> = (0..600).map(|_| connect(&listener)).collect();
        let (code, err) = tcpdrop_writing_to(closed_pipe(), &[], &[&filter]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(err, "dropped 600, gone 600, failed 0\n");
        for (client, _server) in &pairs {
            assert_eq!(so_error(client), ECONNABORTED);
        }

        // --watch stops at the broken pipe after its first round, and still
        // says what it did.
        let more: Vec<_> = (0..5).map(|_| connect(&listener)).collect();
        let args = ["--watch=100ms", "--timeout", "20s", &filter];
        let (code, err) = tcpdrop_writing_to(closed_pipe(), &[], &args);
        assert_eq!(code, 0, "{err}");
        assert_eq!(err, "dropped 5, gone 5, failed 0 in 1 round\n");
        for (client, _server) in &more {
            assert_eq!(so_error(client), ECONNABORTED);
        }
    });
}

#[test]
fn a_full_disk_is_an_output_error_exit_6_not_a_failed_drop() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let full = || {
            let file = File::options().write(true).open("/dev/full").unwrap();
            Stdio::from(file)
        };
        let enospc = "tcpdrop: cannot write the output: No space left on device (os error 28) \
                      (free some space, or send it elsewhere)";
        let (code, err) = tcpdrop_writing_to(full(), &[], &["-l"]);
        assert_eq!((code, err.trim_end()), (6, enospc));

        // A drop is made all the same; the summary says so, and the exit
        // status is the output's, not "some drops failed".
        let l = client.local_addr().unwrap().to_string();
        let r = client.peer_addr().unwrap().to_string();
        let (code, err) = tcpdrop_writing_to(full(), &[], &[&l, &r]);
        assert_eq!(code, 6, "{err}");
        assert_eq!(
            err,
            format!(
                "dropped 1, gone 1, failed 0\n{enospc} (the drops went on: dropped 1, gone 1, \
                 failed 0)\n"
            )
        );
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
    });
}

#[test]
fn a_dry_run_refuses_exactly_as_the_real_run_would() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let real = tcpdrop(&[]);
        let dry = tcpdrop(&["-n"]);
        assert_eq!(real.code, 2, "{}", real.stderr);
        assert!(real.stderr.contains("nothing to drop"), "{}", real.stderr);
        assert_eq!((dry.code, &dry.stderr), (real.code, &real.stderr));
        assert_eq!(
            dry.stdout, "",
            "the dry run listed what the real run refuses"
        );
        // With a selection that matches nothing, both exit 1 the same way.
        let real = tcpdrop(&["-a", "-6"]);
        let dry = tcpdrop(&["-n", "-a", "-6"]);
        assert_eq!(real.code, 1, "{}", real.stderr);
        assert_eq!(dry.code, 1, "{}", dry.stderr);
        assert!(dry.stderr.ends_with(&real.stderr), "{}", dry.stderr);
        assert_eq!(read_errno(&mut client), None);
    });
}

/// `tcpdrop ARGS` on a terminal (a pty from script(1)) with `TERM=term`;
/// what the terminal showed.
fn on_a_terminal(term: &str, args: &str) -> String {
    let out = Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_tcpdrop")))
        .arg("/dev/null")
        .env("TERM", term)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn term_dumb_turns_colour_off() {
    if !nstest::require_tool("script", "bsdutils") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let _pair = connect(&listener);
        // The would-drop outcome is painted cyan on a terminal that can ...
        let shown = on_a_terminal("xterm", "-n -a");
        assert!(shown.contains("\x1b[36mwould-drop\x1b[0m"), "{shown:?}");
        // ... and not on one that says it cannot.
        let shown = on_a_terminal("dumb", "-n -a");
        assert!(shown.contains("would-drop"), "{shown:?}");
        assert!(!shown.contains('\x1b'), "{shown:?}");
    });
}
