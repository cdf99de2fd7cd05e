//! A copy of tcpdrop with file capabilities (`setcap ... tcpdrop`), run by
//! a normal user (nobody, with no capability of its own): what each
//! capability lets every user who can run the copy do, and what the copy
//! says when a capability it has is not the one that is missing. The
//! README's section on such installs cites these tests.

use nstest::{carries_data, connect, in_netns, listen, read_errno, spawn_owner, NamedNetns};

use crate::util::{json_lines, CapCopy};

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;
const EPIPE: i32 = 32;

/// The `--json` row of `local` in `stdout`.
fn row_of(stdout: &str, local: &str) -> serde_json::Value {
    json_lines(stdout)
        .into_iter()
        .find(|r| r["local"] == local)
        .unwrap_or_else(|| panic!("no row for {local}: {stdout}"))
}

/// `cap_net_admin`: every user drops any connection of the namespace, any
/// user's, by `SOCK_DESTROY`.
#[test]
fn cap_net_admin_lets_every_user_drop_any_connection() {
    if !nstest::require_real_root("setcap, and a copy run as uid 65534") {
        return;
    }
    in_netns(|| {
        let copy = CapCopy::new("cap_net_admin+ep");
        let listener = listen("127.0.0.1:0");
        let root = spawn_owner(listener.local_addr().unwrap(), "tdroot", None);
        let _server = listener.accept().unwrap();
        let local = root.local_addr().to_string();
        let to = listener.local_addr().unwrap().to_string();
        let run = copy.run_as_nobody(&["--json", &local, &to]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let row = row_of(&run.stdout, &local);
        assert_eq!(
            (&row["result"], &row["method"]),
            (&"dropped".into(), &"destroy".into())
        );
        assert_eq!(root.read_outcome(), Some(ECONNABORTED));
    });
}

/// `cap_net_raw`: every user resets any connection of the namespace, any
/// user's, TIME-WAIT included, by an injected RST.
#[test]
fn cap_net_raw_lets_every_user_reset_any_connection() {
    if !nstest::require_real_root("setcap, and a copy run as uid 65534") {
        return;
    }
    in_netns(|| {
        let copy = CapCopy::new("cap_net_raw+ep");
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let local = client.local_addr().unwrap().to_string();
        let to = listener.local_addr().unwrap().to_string();
        let run = copy.run_as_nobody(&["--json", &local, &to]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let row = row_of(&run.stdout, &local);
        assert_eq!(
            (&row["result"], &row["method"]),
            (&"dropped".into(), &"inject".into())
        );
        let seen = read_errno(&mut client);
        assert!(matches!(seen, Some(ECONNRESET | EPIPE)), "{seen:?}");
        let tw = nstest::time_wait(&listener).to_string();
        let run = copy.run_as_nobody(&["--json", &tw, &to]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(row_of(&run.stdout, &tw)["result"], "dropped");
    });
}

/// `cap_bpf,cap_perfmon`: every user drops any full connection of the
/// namespace, any user's, by `--method bpf` (the kernel's own walk, no
/// `CAP_NET_ADMIN`); a TIME-WAIT socket is refused (exit 3), not touched.
#[test]
fn cap_bpf_and_cap_perfmon_let_every_user_drop_by_bpf() {
    if !nstest::require_real_root("setcap, and a copy run as uid 65534") || !nstest::require_bpf() {
        return;
    }
    in_netns(|| {
        let copy = CapCopy::new("cap_bpf,cap_perfmon+ep");
        let listener = listen("127.0.0.1:0");
        let root = spawn_owner(listener.local_addr().unwrap(), "tdroot", None);
        let _server = listener.accept().unwrap();
        let local = root.local_addr().to_string();
        let to = listener.local_addr().unwrap().to_string();
        let run = copy.run_as_nobody(&["--json", "--method", "bpf", &local, &to]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let row = row_of(&run.stdout, &local);
        assert_eq!(
            (&row["result"], &row["method"]),
            (&"dropped".into(), &"bpf".into())
        );
        assert_eq!(root.read_outcome(), Some(ECONNABORTED));
        let tw = nstest::time_wait(&listener).to_string();
        let run = copy.run_as_nobody(&["--json", "--method", "bpf", &tw, &to]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert_eq!(row_of(&run.stdout, &tw)["result"], "failed");
        let there = tcpdrop::Session::new()
            .unwrap()
            .find(tw.parse().unwrap(), to.parse().unwrap())
            .unwrap();
        assert!(there.is_some(), "the TIME-WAIT socket was touched");
    });
}

/// `cap_sys_ptrace` alone, as in `setcap cap_net_admin,cap_net_raw,
/// cap_sys_ptrace+ep`: another user's /proc/PID/fd is its owner's alone
/// (mode 0500), so the copy cannot open it without `CAP_DAC_READ_SEARCH`.
/// `-p` and `--method owner` say that, not "needs CAP_SYS_PTRACE" (which
/// the copy has) nor "no process holds this socket" (one does), and the
/// owner way refuses (exit 4) without touching the connection.
#[test]
fn cap_sys_ptrace_alone_does_not_read_other_users_descriptors_and_says_what_does() {
    if !nstest::require_real_root("setcap, and a copy run as uid 65534") {
        return;
    }
    in_netns(|| {
        let copy = CapCopy::new("cap_net_admin,cap_net_raw,cap_sys_ptrace+ep");
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let local = client.local_addr().unwrap().to_string();
        let to = listener.local_addr().unwrap().to_string();
        let mine = format!("sport = :{}", client.local_addr().unwrap().port());

        let run = copy.run_as_nobody(&["-l", "-p", &mine]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.trim_end().ends_with(" ?"), "{}", run.stdout);
        assert_eq!(
            run.stderr.trim_end(),
            "tcpdrop: the owners of 1 selected socket could not be read: reading other users' \
             processes' /proc/PID/fd needs CAP_DAC_READ_SEARCH as well as CAP_SYS_PTRACE, which \
             this process has (the directory is its owner's alone); run as root"
        );

        let holder = "finding its holder among other users' processes (/proc/PID/fd) needs \
                      CAP_DAC_READ_SEARCH: run as root (nothing was touched)";
        for dry in [true, false] {
            let mut args = vec!["--json", "--method", "owner", &local, &to];
            if dry {
                args.insert(0, "-n");
            }
            let run = copy.run_as_nobody(&args);
            assert_eq!(run.code, 4, "{args:?}: {}", run.stderr);
            let row = row_of(&run.stdout, &local);
            assert_eq!(row["error"], holder, "{args:?}");
        }
        assert!(
            carries_data(&mut client, &mut server),
            "the connection was hit"
        );
    });
}

/// `cap_sys_ptrace` with `cap_dac_read_search`: every user sees every
/// process's sockets (`-p`) and aborts any connection through its holder's
/// own descriptor (`pidfd_getfd`), any user's process's.
#[test]
fn cap_sys_ptrace_and_cap_dac_read_search_let_every_user_take_any_holders_descriptor() {
    if !nstest::require_real_root("setcap, and a copy run as uid 65534") {
        return;
    }
    in_netns(|| {
        let copy = CapCopy::new("cap_sys_ptrace,cap_dac_read_search+ep");
        let listener = listen("127.0.0.1:0");
        let root = spawn_owner(listener.local_addr().unwrap(), "tdroot", None);
        let _server = listener.accept().unwrap();
        let local = root.local_addr().to_string();
        let to = listener.local_addr().unwrap().to_string();
        let run = copy.run_as_nobody(&[
            "-l",
            "-p",
            &format!("sport = :{}", root.local_addr().port()),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout
                .trim_end()
                .ends_with(&format!("tdroot/{}", root.pid())),
            "{}",
            run.stdout
        );
        let run = copy.run_as_nobody(&["--json", &local, &to]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let row = row_of(&run.stdout, &local);
        assert_eq!(
            (&row["result"], &row["method"]),
            (&"dropped".into(), &"owner".into())
        );
        let seen = root.read_outcome();
        assert!(matches!(seen, Some(ECONNRESET | EPIPE)), "{seen:?}");
    });
}

/// `cap_sys_admin` (for `-N`, `--all-netns`): every user enters every
/// network namespace, and with `cap_net_admin` drops connections there.
#[test]
fn cap_sys_admin_lets_every_user_into_every_network_namespace() {
    if !nstest::require_real_root("setcap, a copy run as uid 65534, `ip netns add`") {
        return;
    }
    in_netns(|| {
        let copy = CapCopy::new("cap_sys_admin,cap_net_admin+ep");
        let other = NamedNetns::add();
        let (_listener, mut client, _server) = other.run(|| {
            let listener = listen("127.0.0.1:0");
            let (client, server) = connect(&listener);
            (listener, client, server)
        });
        let local = client.local_addr().unwrap().to_string();
        let to = client.peer_addr().unwrap().to_string();
        let run = copy.run_as_nobody(&["-N", other.name(), "--json", &local, &to]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(row_of(&run.stdout, &local)["result"], "dropped");
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        // It enters every namespace it finds; those of other users'
        // processes it cannot even see without cap_sys_ptrace, and says so.
        let run = copy.run_as_nobody(&["--all-netns", "-l"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(!run.stderr.contains("could not enter"), "{}", run.stderr);
        assert!(
            run.stderr.contains("could not see which network namespace"),
            "{}",
            run.stderr
        );
    });
}

/// A copy for one group only, made as the README says: `install -m 750 -g
/// GROUP`, then `setcap` (a change of group clears file capabilities, so
/// setcap comes last). A member runs it and drops; anyone else cannot run
/// it at all.
#[test]
fn a_group_restricted_copy_serves_its_group_only() {
    if !nstest::require_real_root("setcap, chgrp, and a copy run as uid 65534") {
        return;
    }
    in_netns(|| {
        const GROUP: u32 = 4242;
        let copy = CapCopy::new("cap_net_admin+ep");
        std::os::unix::fs::chown(&copy.path, None, Some(GROUP)).unwrap();
        assert_eq!(copy.getcap(), "", "chgrp kept the file capabilities");
        let status = std::process::Command::new("install")
            .args(["-m", "750", "-g", &GROUP.to_string()])
            .arg(env!("CARGO_BIN_EXE_tcpdrop"))
            .arg(&copy.path)
            .status()
            .expect("run install (coreutils)");
        assert!(status.success());
        copy.setcap("cap_net_admin+ep");
        assert_eq!(copy.getcap(), "cap_net_admin=ep");

        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let local = client.local_addr().unwrap().to_string();
        let to = listener.local_addr().unwrap().to_string();
        let outsider = copy.run_as_nobody(&[&local, &to]);
        assert_eq!(outsider.code, 126, "{}", outsider.stderr);
        assert!(
            outsider.stderr.contains("Permission denied"),
            "{}",
            outsider.stderr
        );
        assert!(carries_data(&mut client, &mut server));
        let member = copy.run_as_nobody_in(&[GROUP], &[&local, &to]);
        assert_eq!(member.code, 0, "{}", member.stderr);
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
    });
}

/// `cap_dac_read_search` would let every user read any file through
/// `-f FILE`, whose malformed lines its error quotes: the file is opened
/// with the permissions of the user who ran the copy, so a file that user
/// may not read is refused, and not a byte of it is shown.
#[test]
fn f_file_is_read_with_the_users_own_permissions_not_the_copys() {
    if !nstest::require_real_root("setcap, and a copy run as uid 65534") {
        return;
    }
    let copy = CapCopy::new("cap_dac_read_search+ep");
    let secret = copy.path.with_file_name("secret");
    std::fs::write(&secret, "the-secret-line\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = secret.to_str().unwrap();
    let run = copy.run_as_nobody(&["-f", path]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("secret-line"), "{}", run.stderr);
    assert_eq!(
        run.stderr.trim_end(),
        format!("tcpdrop: -f {path}: Permission denied (os error 13)")
    );
    // What the user may read, the copy reads.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = copy.run_as_nobody(&["-f", path]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("'the-secret-line'"), "{}", run.stderr);
}
