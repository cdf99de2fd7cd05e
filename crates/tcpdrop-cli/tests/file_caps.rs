//! A copy of tcpdrop with file capabilities (`setcap ... tcpdrop`), run by
//! a normal user (nobody, with no capability of its own): what the copy
//! says when a capability it has is not the one that is missing, and what
//! it must not do for that user.

use nstest::{carries_data, connect, in_netns, listen};

use crate::util::{json_lines, CapCopy};

/// The `--json` row of `local` in `stdout`.
fn row_of(stdout: &str, local: &str) -> serde_json::Value {
    json_lines(stdout)
        .into_iter()
        .find(|r| r["local"] == local)
        .unwrap_or_else(|| panic!("no row for {local}: {stdout}"))
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
