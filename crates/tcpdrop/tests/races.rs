//! Exactness under races: between finding a connection and aborting it,
//! the connection closes and a newer one takes its 4-tuple. The window is
//! opened on purpose by `tcpdrop::testing::before_abort` (the `race-hook`
//! feature, test builds only). The newcomer must be left alone, never
//! reported dropped, and every socket reported at most once, for every way
//! of selecting, IPv4 and IPv6.

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;

use nstest::{abort_close, carries_data, connect, connect_from, in_netns, listen, still_accepts};
use ssfilter::Filter;
use tcpdrop::{GoneReason, Method, Outcome, Query, Selection, Session};

use crate::drop_safety::drop_by;

#[derive(Clone, Copy, Debug)]
enum Form {
    /// The tuple, by exact lookup.
    Tuple,
    /// A filter of port equalities (dumps pinned to the ports).
    PortFilter,
    /// A filter that runs as bytecode.
    Bytecode,
    /// Everything (`-a`).
    All,
}

fn free_port(host: &str) -> u16 {
    let probe = TcpListener::bind(format!("{host}:0")).unwrap();
    probe.local_addr().unwrap().port()
}

fn cookie(session: &mut Session, s: &TcpStream) -> u64 {
    let conn = session
        .find(s.local_addr().unwrap(), s.peer_addr().unwrap())
        .unwrap()
        .expect("listed");
    conn.cookie
}

fn race(form: Form, host: &str) {
    race_by(None, form, host);
}

/// The race, dropping by `method` (`None`: auto).
fn race_by(method: Option<Method>, form: Form, host: &str) {
    in_netns(|| {
        let listener = Rc::new(listen(&format!("{host}:0")));
        let to = listener.local_addr().unwrap();
        let from: SocketAddr = format!("{host}:{}", free_port(host)).parse().unwrap();
        let (old_c, old_s) = connect_from(from, to, &listener);
        let (mut by_c, mut by_s) = connect(&listener);
        let mut session = Session::new().unwrap();
        let old_cookies = [cookie(&mut session, &old_c), cookie(&mut session, &old_s)];

        let newcomer: Rc<RefCell<Option<(TcpStream, TcpStream)>>> = Rc::default();
        let (slot, l2) = (newcomer.clone(), listener.clone());
        tcpdrop::testing::before_abort(move || {
            // Both ends abort (no TIME-WAIT holds the tuple), and a new
            // connection takes the very same 4-tuple.
            abort_close(old_c);
            abort_close(old_s);
            *slot.borrow_mut() = Some(connect_from(from, to, &l2));
        });
        let ports = format!("sport = :{} and dport = :{}", from.port(), to.port());
        let selection = match form {
            Form::Tuple => Selection::tuple(from, to),
            Form::PortFilter => {
                let filter = Filter::parse(&[ports.as_str()]).unwrap();
                assert!(filter.ports().is_some());
                Selection::matching(Query::all(), filter)
            }
            Form::Bytecode => {
                let text = format!("src {host} and {ports}");
                let filter = Filter::parse(&[text.as_str()]).unwrap();
                assert!(filter.ports().is_none());
                Selection::matching(Query::all(), filter)
            }
            Form::All => Selection::all(Query::all()),
        };
        let report = drop_by(selection, method);
        let (mut new_c, mut new_s) = newcomer.take().expect("the hook ran");
        let new_cookies = [cookie(&mut session, &new_c), cookie(&mut session, &new_s)];

        // The newcomer is untouched, and nowhere in the report.
        assert!(
            carries_data(&mut new_c, &mut new_s),
            "{form:?}: the newcomer was hit: {report:?}"
        );
        let mut seen = HashSet::new();
        for (conn, outcome) in &report.results {
            assert!(
                !new_cookies.contains(&conn.cookie),
                "{form:?}: newcomer reported: {report:?}"
            );
            assert!(
                seen.insert(conn.cookie),
                "{form:?}: reported twice: {report:?}"
            );
            if old_cookies.contains(&conn.cookie) {
                assert!(
                    matches!(outcome, Outcome::Gone(GoneReason::Replaced)),
                    "{form:?}: the old socket is replaced, nothing else: {report:?}"
                );
            }
        }
        for conn in &report.collateral {
            assert!(!new_cookies.contains(&conn.cookie), "{form:?}: {report:?}");
            assert!(
                seen.insert(conn.cookie),
                "{form:?}: reported twice: {report:?}"
            );
            // The old server end closed by its own owner's abort: no drop
            // of this run reset it.
            assert!(!old_cookies.contains(&conn.cookie), "{form:?}: {report:?}");
        }
        // The old client end was chosen in every form, and reported once.
        assert!(
            report
                .results
                .iter()
                .any(|(c, _)| c.cookie == old_cookies[0]),
            "{form:?}: {report:?}"
        );
        match form {
            Form::All => {
                // The bystander is dropped (it was selected), the listener not.
                assert!(!carries_data(&mut by_c, &mut by_s));
            }
            _ => assert!(
                carries_data(&mut by_c, &mut by_s),
                "{form:?}: a bystander was hit"
            ),
        }
        assert!(still_accepts(&listener));
    });
}

#[test]
fn a_newcomer_on_a_reused_tuple_survives_a_tuple_drop() {
    race(Form::Tuple, "127.0.0.1");
    race(Form::Tuple, "[::1]");
}

#[test]
fn a_newcomer_on_a_reused_tuple_survives_a_port_filter_drop() {
    race(Form::PortFilter, "127.0.0.1");
    race(Form::PortFilter, "[::1]");
}

#[test]
fn a_newcomer_on_a_reused_tuple_survives_a_bytecode_filter_drop() {
    race(Form::Bytecode, "127.0.0.1");
    race(Form::Bytecode, "[::1]");
}

#[test]
fn a_newcomer_on_a_reused_tuple_survives_a_drop_of_everything() {
    race(Form::All, "127.0.0.1");
    race(Form::All, "[::1]");
}

/// The same races with every socket aborted by the kernel's own walk
/// (bpf): the newcomer's cookie is not in the program's map.
#[test]
fn a_newcomer_on_a_reused_tuple_survives_every_form_of_drop_by_bpf() {
    if !nstest::require_bpf() {
        return;
    }
    for form in [Form::Tuple, Form::PortFilter, Form::Bytecode, Form::All] {
        race_by(Some(Method::Bpf), form, "127.0.0.1");
        race_by(Some(Method::Bpf), form, "[::1]");
    }
}
