use nstest::{in_netns, listen_dual, ss_rows};
use std::net::TcpStream;
use tcpdrop::{Family, Query, Session, State};

fn our_rows() -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = Session::new()
        .expect("session")
        .list(&Query::all())
        .expect("list")
        .into_iter()
        .map(|c| {
            (
                c.state.ss_name().to_string(),
                c.local.to_string(),
                c.remote.to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn listing_matches_ss_with_every_kind_of_socket() {
    in_netns(|| {
        let _sockets = nstest::every_kind_of_socket();
        let ours = our_rows();
        assert_eq!(ours, ss_rows());
        let states: Vec<&str> = ours.iter().map(|r| r.0.as_str()).collect();
        for want in ["LISTEN", "ESTAB", "TIME-WAIT"] {
            assert!(states.contains(&want), "no {want} row in {ours:?}");
        }
    });
}

#[test]
fn mapped_connections_are_shown_as_ipv4_and_flagged() {
    in_netns(|| {
        let dual = listen_dual(0);
        let port = dual.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_server, _) = dual.accept().unwrap();
        let conns = Session::new().unwrap().list(&Query::all()).unwrap();
        let server_side = conns
            .iter()
            .find(|c| c.state == State::Established && c.local.port() == port)
            .expect("accepted mapped connection listed");
        assert!(server_side.mapped);
        assert_eq!(server_side.family, Family::Ipv4);
        assert_eq!(server_side.remote, client.local_addr().unwrap());
        assert_eq!(server_side.socket_family(), sockdiag::Family::Inet6);
    });
}
