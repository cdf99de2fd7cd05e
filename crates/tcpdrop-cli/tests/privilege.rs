use nstest::{connect, in_netns, listen, read_errno};

use crate::util::{tcpdrop, tcpdrop_not_elevated, tcpdrop_unprivileged};

#[test]
fn unprivileged_drop_exits_4_and_the_connection_survives() {
    if !nstest::require_real_root("the tool runs as uid 65534 under setpriv") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let l = client.local_addr().unwrap().to_string();
        let r = client.peer_addr().unwrap().to_string();
        let run = tcpdrop_unprivileged(&[&l, &r]);
        assert_eq!(run.code, 4, "stdout: {} stderr: {}", run.stdout, run.stderr);
        assert!(
            !run.stdout.contains("dropped"),
            "claimed a drop: {}",
            run.stdout
        );
        let last = run.stderr.lines().last().unwrap_or("");
        assert_eq!(
            last,
            "tcpdrop: dropping needs CAP_NET_ADMIN: run as root (nothing was dropped)"
        );
        assert_eq!(read_errno(&mut client), None, "the connection was hit");
        // Listing needs no privilege.
        let run = tcpdrop_unprivileged(&["-l"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains(&l));
        // And the same drop as root works.
        assert_eq!(tcpdrop(&[&l, &r]).code, 0);
    });
}

#[test]
fn permitted_but_not_effective_is_not_elevated_exit_4() {
    if !nstest::require_real_root("the tool runs as uid 65534 with a file capability") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let l = client.local_addr().unwrap().to_string();
        let r = client.peer_addr().unwrap().to_string();
        let run = tcpdrop_not_elevated(&[&l, &r]);
        assert_eq!(run.code, 4, "stdout: {} stderr: {}", run.stdout, run.stderr);
        assert!(
            !run.stdout.contains("dropped"),
            "claimed a drop: {}",
            run.stdout
        );
        assert_eq!(
            run.stderr.lines().last().unwrap_or(""),
            "tcpdrop: dropping needs CAP_NET_ADMIN in effect: this process may raise it but \
             has not (not elevated); raise it, or run as root (nothing was dropped)"
        );
        assert_eq!(read_errno(&mut client), None, "the connection was hit");
    });
}
