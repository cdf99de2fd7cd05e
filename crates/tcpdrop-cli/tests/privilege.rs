use nstest::{connect, in_netns, listen, read_errno};

use crate::util::{tcpdrop, tcpdrop_unprivileged};

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
