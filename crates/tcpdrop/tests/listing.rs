use nstest::{in_netns, listen_dual, ss_rows};
use ssfilter::Filter;
use std::net::TcpStream;
use tcpdrop::{Connection, Family, ListOptions, Query, Selection, Session, State};

// The filter language's varied population and the filters it runs in the
// kernel (`crates/ssfilter/tests/bytecode.rs`), for the library's own path.
#[path = "../../ssfilter/tests/population.rs"]
mod population;

fn our_rows() -> Vec<(String, String, String)> {
    let mut session = Session::new().expect("session");
    let mut rows: Vec<_> = crate::listed(&mut session, Selection::all(Query::all()))
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
        let conns = crate::listed(&mut Session::new().unwrap(), Selection::all(Query::all()));
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

#[test]
fn listing_with_info_counts_the_bytes_each_end_sent_and_received() {
    use std::io::{Read, Write};
    use std::ops::ControlFlow;
    in_netns(|| {
        let listener = nstest::listen("127.0.0.1:0");
        let (mut client, mut server) = nstest::connect(&listener);
        client.write_all(&[7u8; 3000]).unwrap();
        let mut got = [0u8; 3000];
        server.read_exact(&mut got).unwrap();
        server.write_all(&[9u8; 500]).unwrap();
        let mut back = [0u8; 500];
        client.read_exact(&mut back).unwrap();
        let filter = ssfilter::Filter::parse(&["state established"]).unwrap();
        let mut rows = Vec::new();
        let selection = Selection::matching(Query::all(), filter).listeners(true);
        let options = ListOptions { tcp_info: true };
        Session::new()
            .unwrap()
            .list(selection, options, |conn, info| {
                let info = info.copied().unwrap_or_default();
                rows.push((conn.local, info.bytes_sent, info.bytes_received, info.rtt));
                ControlFlow::Continue(())
            })
            .unwrap();
        let of = |end| rows.iter().find(|r| r.0 == end).copied();
        let c = of(client.local_addr().unwrap()).expect("the client's row");
        let s = of(server.local_addr().unwrap()).expect("the server's row");
        assert_eq!((c.1, c.2), (Some(3000), Some(500)), "{rows:?}");
        assert_eq!((s.1, s.2), (Some(500), Some(3000)), "{rows:?}");
        assert!(c.3.is_some_and(|rtt| rtt > 0), "{rows:?}");
        assert_eq!(rows.len(), 2, "only the filter's rows: {rows:?}");
    });
}

fn sorted(mut rows: Vec<Connection>) -> Vec<Connection> {
    rows.sort_by_key(|c| (c.local, c.remote, c.cookie));
    rows
}

/// The library's path for a filter (a kernel program or the request's
/// ports, then the reference check) lists exactly what [`Filter::matches`]
/// selects from the whole listing.
#[test]
fn a_listing_by_filter_selects_what_the_filter_matches() {
    in_netns(|| {
        // Both families, dual-stack, a half-closed pair, TIME-WAIT sockets.
        let _population = population::populate();
        let mut session = Session::new().expect("session");
        let all = crate::listed(&mut session, Selection::all(Query::all()));
        assert!(all.len() >= 30, "population too small: {}", all.len());
        for text in population::KERNEL_FILTERS {
            let words: Vec<&str> = text.split(' ').collect();
            let filter = Filter::parse(&words).unwrap_or_else(|e| panic!("{text}: {e}"));
            let want = sorted(all.iter().filter(|c| filter.matches(c)).cloned().collect());
            let matching = Selection::matching(Query::all(), filter.clone());
            let got = sorted(crate::listed(&mut session, matching));
            assert_eq!(got, want, "a listing by filter vs matches for '{text}'");
        }
    });
}
