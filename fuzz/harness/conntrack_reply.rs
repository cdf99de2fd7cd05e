//! The ctnetlink reply parser on arbitrary bytes: shared by the
//! `conntrack_reply` fuzz target and `crates/conntrack/tests/live/corpus.rs`.
//!
//! Whatever the bytes (truncated, oversized or misaligned messages, unknown
//! types, attributes and nests with lying lengths, addresses of the wrong
//! family), parsing ends with records or `Error::Invalid`: never a panic,
//! never more messages than the bytes can hold, each one where its header
//! says. A flow it reads is encoded again, with the crate's `AttrWriter`
//! and `encode_tuple` as a record and with `encode_delete` and `encode_get`
//! as the requests that name it, and must read back the same.

use conntrack::{
    attrs, ctnetlink_type, encode_delete, encode_get, encode_tuple, parse_datagram, parse_tuple,
    AttrWriter, Error, Family, Flow, Reply, Tuple, CTA_ID, CTA_MARK, CTA_PROTOINFO,
    CTA_PROTOINFO_TCP, CTA_PROTOINFO_TCP_STATE, CTA_STATUS, CTA_TIMEOUT, CTA_TUPLE_ORIG,
    CTA_TUPLE_REPLY, CTA_ZONE, IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_GET, IPCTNL_MSG_CT_NEW,
    NFGENMSG_LEN, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_MULTI, NLM_F_REQUEST,
};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

/// Parse `data` as a datagram, as the payload of one conntrack record, and
/// as a tuple's attributes.
pub fn run(data: &[u8]) {
    datagram(data);
    // The same bytes as the payload of an IPCTNL_MSG_CT_NEW message framed
    // around them: every input reaches `Flow::parse`, and reads the same
    // there as inside a datagram.
    if let Ok(len) = u32::try_from(data.len() + NLMSG_HDRLEN) {
        let mut framed = Vec::with_capacity(data.len() + NLMSG_HDRLEN);
        framed.extend_from_slice(&len.to_ne_bytes());
        framed.extend_from_slice(&ctnetlink_type(IPCTNL_MSG_CT_NEW).to_ne_bytes());
        framed.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
        framed.extend_from_slice(&[0; 8]);
        framed.extend_from_slice(data);
        datagram(&framed);
        let direct = Flow::parse(data);
        let mut messages = parse_datagram(&framed);
        match (messages.next(), &direct) {
            (Some(Ok((_, Reply::Record(flow)))), Ok(direct)) => assert_eq!(&flow, direct),
            (Some(Err(_)), Err(_)) => {}
            (framed, direct) => panic!("framed: {framed:?}, alone: {direct:?}"),
        }
    }
    for family in [Family::Inet, Family::Inet6] {
        match parse_tuple(data, family) {
            Ok(tuple) => tuple_round_trip(&tuple, family),
            Err(err) => invalid(&err),
        }
    }
}

fn datagram(data: &[u8]) {
    let mut messages = 0usize;
    let mut failed = false;
    // Where the next message starts: each starts at its predecessor's
    // length rounded up to four.
    let mut at = 0usize;
    for message in parse_datagram(data) {
        assert!(!failed, "the iterator went on after an error");
        messages += 1;
        // Each message takes at least a header; an error ends the datagram.
        assert!(
            messages <= data.len() / NLMSG_HDRLEN + 1,
            "{messages} messages out of {} bytes",
            data.len()
        );
        let (header, reply) = match message {
            Ok(message) => message,
            Err(err) => {
                invalid(&err);
                failed = true;
                continue;
            }
        };
        let len = header.len as usize;
        let end = at + len;
        assert!(
            len >= NLMSG_HDRLEN && end <= data.len(),
            "{header:?} at {at}"
        );
        // The header is the bytes where the message starts.
        let raw = &data[at..at + NLMSG_HDRLEN];
        assert_eq!(raw[..4], header.len.to_ne_bytes());
        assert_eq!(raw[4..6], header.kind.to_ne_bytes());
        assert_eq!(raw[6..8], header.flags.to_ne_bytes());
        assert_eq!(raw[8..12], header.seq.to_ne_bytes());
        assert_eq!(raw[12..], header.pid.to_ne_bytes());
        let payload = &data[at + NLMSG_HDRLEN..end];
        match (header.kind, reply) {
            (NLMSG_ERROR, Reply::Ack { errno }) | (NLMSG_DONE, Reply::Done { errno }) => {
                assert!(errno >= 0, "negative errno {errno}");
            }
            (NLMSG_OVERRUN, Reply::Overrun) => {}
            (kind, Reply::Record(flow)) if kind == ctnetlink_type(IPCTNL_MSG_CT_NEW) => {
                assert_eq!(Flow::parse(payload).ok().as_ref(), Some(&flow));
                flow_round_trip(&flow);
            }
            // NLMSG_NOOP, requests, and types this crate does not read.
            (kind, Reply::Other)
                if !matches!(kind, NLMSG_ERROR | NLMSG_DONE | NLMSG_OVERRUN)
                    && kind != ctnetlink_type(IPCTNL_MSG_CT_NEW) => {}
            (kind, reply) => panic!("message type {kind:#x} read as {reply:?}"),
        }
        at = ((end + 3) & !3).min(data.len());
    }
    if !failed {
        assert_eq!(
            at,
            data.len(),
            "a datagram read without error is read to its end"
        );
    }
}

/// The parser's errors are all `Error::Invalid`, each naming its cause.
fn invalid(err: &Error) {
    assert!(
        matches!(err, Error::Invalid(why) if !why.is_empty()),
        "{err:?}"
    );
}

/// A flow's addresses are of its family; written again as a record it
/// reads back the same, and the requests that name it carry it.
fn flow_round_trip(flow: &Flow) {
    for tuple in [&flow.orig, &flow.reply] {
        assert_eq!(Family::of(tuple.src), flow.family, "{flow:?}");
        assert_eq!(Family::of(tuple.dst), flow.family, "{flow:?}");
        tuple_round_trip(tuple, flow.family);
    }

    let record = record(flow);
    let read: Vec<_> = parse_datagram(&record).collect();
    assert_eq!(read.len(), 1, "{read:?}");
    match &read[0] {
        Ok((header, Reply::Record(again))) => {
            assert_eq!(header.len as usize, record.len());
            assert_eq!(again, flow);
        }
        other => panic!("{flow:?} written as a record reads as {other:?}"),
    }

    let mut delete = Vec::new();
    encode_delete(&flow.key(), 7, &mut delete).expect("a parsed flow's key encodes");
    let top = request(
        &delete,
        IPCTNL_MSG_CT_DELETE,
        NLM_F_REQUEST | NLM_F_ACK,
        flow.family,
    );
    assert_eq!(request_tuple(&top, flow.family), flow.orig);
    assert_eq!(find(&top, CTA_ID), Some(flow.id.to_be_bytes().to_vec()));
    assert_eq!(
        find(&top, CTA_ZONE),
        (flow.zone != 0).then(|| flow.zone.to_be_bytes().to_vec())
    );
    assert_eq!(
        find(&top, CTA_TUPLE_REPLY),
        None,
        "a delete names one tuple"
    );

    let mut get = Vec::new();
    encode_get(&flow.reply, flow.zone, 8, &mut get).expect("a parsed flow's tuple encodes");
    let top = request(&get, IPCTNL_MSG_CT_GET, NLM_F_REQUEST, flow.family);
    assert_eq!(request_tuple(&top, flow.family), flow.reply);
    assert_eq!(find(&top, CTA_ID), None);
}

/// `tuple` encoded reads back as itself.
fn tuple_round_trip(tuple: &Tuple, family: Family) {
    let mut out = Vec::new();
    encode_tuple(&mut AttrWriter::new(&mut out), tuple).expect("a parsed tuple encodes");
    assert_eq!(parse_tuple(&out, family).ok().as_ref(), Some(tuple));
}

/// `flow` as the kernel would send it in a dump: an `IPCTNL_MSG_CT_NEW`
/// message with every field the parser reads.
fn record(flow: &Flow) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, below
    out.extend_from_slice(&ctnetlink_type(IPCTNL_MSG_CT_NEW).to_ne_bytes());
    out.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&[flow.family.raw(), 0, 0, 0]);
    let mut w = AttrWriter::new(&mut out);
    w.nest(CTA_TUPLE_ORIG, |w| encode_tuple(w, &flow.orig))
        .unwrap();
    w.nest(CTA_TUPLE_REPLY, |w| encode_tuple(w, &flow.reply))
        .unwrap();
    w.put(CTA_STATUS, &flow.status.0.to_be_bytes()).unwrap();
    w.put(CTA_MARK, &flow.mark.to_be_bytes()).unwrap();
    w.put(CTA_ID, &flow.id.to_be_bytes()).unwrap();
    w.put(CTA_ZONE, &flow.zone.to_be_bytes()).unwrap();
    if let Some(timeout) = flow.timeout {
        w.put(CTA_TIMEOUT, &timeout.to_be_bytes()).unwrap();
    }
    if let Some(state) = flow.tcp_state {
        w.nest(CTA_PROTOINFO, |w| {
            w.nest(CTA_PROTOINFO_TCP, |w| {
                w.put(CTA_PROTOINFO_TCP_STATE, &[state.raw()])
            })
        })
        .unwrap();
    }
    let len = out.len() as u32;
    out[..4].copy_from_slice(&len.to_ne_bytes());
    out
}

/// The top-level attributes of a request this crate encoded, after
/// checking its header and `nfgenmsg`.
fn request(bytes: &[u8], operation: u8, flags: u16, family: Family) -> Vec<(u16, Vec<u8>)> {
    let read: Vec<_> = parse_datagram(bytes).collect();
    assert_eq!(read.len(), 1, "{read:?}");
    let (header, reply) = read[0].as_ref().expect("our request reads back");
    assert_eq!(header.len as usize, bytes.len());
    assert_eq!(header.kind, ctnetlink_type(operation));
    assert_eq!(header.flags, flags);
    assert_eq!(reply, &Reply::Other);
    let payload = &bytes[NLMSG_HDRLEN..];
    assert_eq!(payload[..NFGENMSG_LEN], [family.raw(), 0, 0, 0]);
    attrs(&payload[NFGENMSG_LEN..])
        .map(|attr| {
            let (kind, data) = attr.expect("our attributes read back");
            (kind, data.to_vec())
        })
        .collect()
}

/// The tuple in a request's `CTA_TUPLE_ORIG`.
fn request_tuple(top: &[(u16, Vec<u8>)], family: Family) -> Tuple {
    let orig = find(top, CTA_TUPLE_ORIG).expect("a request names its tuple");
    parse_tuple(&orig, family).expect("our tuple reads back")
}

fn find(top: &[(u16, Vec<u8>)], kind: u16) -> Option<Vec<u8>> {
    let mut found = top.iter().filter(|(k, _)| *k == kind);
    let first = found.next().map(|(_, data)| data.clone());
    assert!(found.next().is_none(), "attribute {kind} twice");
    first
}
