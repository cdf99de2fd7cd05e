//! The TCP sockets of the calling thread's namespace, straight from
//! `sock_diag`, as the rows a filter reads.

use ssfilter::{Row, StateSet};

/// Every socket in `states`, both tables, that the kernel lets through
/// `program` (all of them without one), given with the filter it was
/// compiled from; sorted. A program the kernel refuses fails the test,
/// naming the filter and the error.
pub(crate) fn dump(states: StateSet, program: Option<(&str, &[u8])>) -> Vec<Row> {
    let mut client = sockdiag::Client::new().expect("diag socket");
    let mut rows = Vec::new();
    for table in [sockdiag::Family::Inet, sockdiag::Family::Inet6] {
        let mut request = sockdiag::DumpRequest::tcp(table, states.kernel_mask());
        request.bytecode = program.map(|(_, bytes)| bytes.to_vec());
        for record in client.dump(&request).expect("dump") {
            let record = record.unwrap_or_else(|e| {
                let filter = program.map_or("", |(filter, _)| filter);
                panic!("{filter}: kernel refused: {e}")
            });
            rows.extend(Row::from_diag(&record));
        }
    }
    sorted(rows)
}

/// `rows` in the order of their ends (then state and family).
pub(crate) fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by_key(|r| (r.local, r.remote, r.state, r.inet6));
    rows
}
