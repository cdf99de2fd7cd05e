//! Filters compiled to `inet_diag` bytecode, run by the kernel: over a
//! varied population, the kernel's selection must be exactly the one
//! [`Filter::matches`] makes in user space (a superset when the filter has
//! `state` conditions, which the bytecode cannot express), and every
//! program must pass the kernel's audit.

use nstest::in_netns;
use tcpdrop::filter::Filter;
use tcpdrop::{Connection, Query, Selection, Session};

/// Filters with every kind of term and their edges; the last ones hold
/// `state` conditions inside the expression.
const FILTERS: &[&str] = &[
    "sport = :80",
    "dport != :22",
    "dport = :0",
    "dport = *",
    "dport != *",
    "sport < :1024",
    "sport > :1024",
    "sport <= :443",
    "sport >= :8080",
    "sport > :65534",
    "sport < :1",
    "dport >= :40000 and dport <= :42000",
    "src 127.0.0.1",
    "src 127.0.0.1:80",
    "src 127.0.0.0/8",
    "src 127.1/16",
    "dst 127.0.0.0/8:80",
    "dst 127.0.0.5",
    "src 0.0.0.0/0",
    "not src 0.0.0.0/0",
    "src 0.0.0.0",
    "dst 0.0.0.0",
    "src [::1]",
    "src [::1]:8080",
    "dst [fd00::/16]",
    "src [::/0]",
    "not src [::/0]",
    "src [::ffff:127.0.0.1]",
    "dst [::ffff:127.0.0.0/104]",
    "src *:22",
    "dst *:443",
    "not dst 127.0.0.0/8",
    "sport = :22 or sport = :80",
    "( sport = :22 or sport = :80 ) and not dst 127.0.0.1",
    "not ( dport = :22 or src [::1] )",
    "src 127.0.0.0/8 dport = :22",
    "not not sport = :443",
    "sport = :80 or sport = :443 or sport = :22 or sport = :8080 or sport = :1024",
    "( src 127.0.0.1 or src [::1] ) and ( dport > :1023 or sport = :22 )",
    "state established sport = :22",
    "dport = :22 or ( src 127.0.0.0/8 and state established )",
    "not ( state time-wait or sport = :80 )",
    "sport = :1 or exclude listening",
];

/// The sockets the kernel lets through `program`, in `states`, both tables.
fn kernel_rows(filter: &Filter, program: &[u8]) -> Vec<Connection> {
    let mut client = sockdiag::Client::new().expect("diag socket");
    let mut rows = Vec::new();
    for table in [sockdiag::Family::Inet, sockdiag::Family::Inet6] {
        let mut request = sockdiag::DumpRequest::tcp(table, filter.states().kernel_mask());
        request.bytecode = Some(program.to_vec());
        for record in client.dump(&request).expect("dump") {
            let record = record.unwrap_or_else(|e| panic!("{filter}: kernel refused: {e}"));
            rows.extend(Connection::from_diag(&record));
        }
    }
    sorted(rows)
}

fn sorted(mut rows: Vec<Connection>) -> Vec<Connection> {
    rows.sort_by_key(|c| (c.local, c.remote, c.cookie));
    rows
}

#[test]
fn the_kernel_runs_compiled_filters_as_the_evaluator_does() {
    in_netns(|| {
        // The filter differential test's population: both families,
        // dual-stack, a half-closed pair, TIME-WAIT sockets.
        let _population = crate::filter::populate();
        let mut session = Session::new().expect("session");
        let all = crate::listed(&mut session, Selection::all(Query::all()));
        assert!(all.len() >= 30, "population too small: {}", all.len());
        for text in FILTERS {
            let words: Vec<&str> = text.split(' ').collect();
            let filter = Filter::parse(&words).unwrap_or_else(|e| panic!("{text}: {e}"));
            let want = sorted(all.iter().filter(|c| filter.matches(c)).cloned().collect());
            // The library's path: kernel program, then the reference check.
            let matching = Selection::matching(Query::all(), filter.clone());
            let got = sorted(crate::listed(&mut session, matching));
            assert_eq!(got, want, "a listing by filter vs matches for '{text}'");
            let Some(program) = filter.bytecode(false) else {
                assert!(
                    ["dport = *"].contains(text),
                    "'{text}' compiled to no program"
                );
                continue;
            };
            // The kernel alone: exactly the reference, or a superset.
            let raw = kernel_rows(&filter, program.as_bytes());
            if program.is_exact() {
                assert_eq!(raw, want, "kernel vs matches for '{text}'");
            } else {
                assert!(
                    want.iter().all(|c| raw.contains(c)),
                    "kernel dropped rows '{text}' matches"
                );
            }
            // The swapped program passes the audit too.
            if let Some(swapped) = filter.bytecode(true) {
                kernel_rows(&filter, swapped.as_bytes());
            }
        }
    });
}
