#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (run as root in a fresh
network namespace: it captures real sock_diag and ctnetlink replies and
real TCP segments there, and loads nftables rules for conntrack).

    unshare -n python3 fuzz/seeds.py                  # every target
    unshare -n python3 fuzz/seeds.py packet conntrack_reply

netlink_reply: real dump datagrams (IPv4, IPv6, v4-mapped, listeners,
TIME-WAIT, with and without INET_DIAG_INFO), real SOCK_DESTROY acks, and
crafted broken ones. conntrack_reply: real conntrack dumps (TCP in several
states, UDP, ICMP and ICMPv6, DNAT, SNAT, zone and mark), lookups, delete
acks and errors, and crafted broken ones. packet: real segments captured on
lo (handshake with options, data, FIN, RST), segments laid out as
Segment::write lays them out, and truncated and malformed ones. filter,
tuple, c_abi: hand-written inputs.
"""
import os, socket, struct, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, "corpus", target), exist_ok=True)
    path = os.path.join(HERE, "corpus", target, name)
    with open(path, "wb") as f:
        f.write(data)


def nlmsg(kind, flags, seq, payload):
    return struct.pack("=IHHII", 16 + len(payload), kind, flags, seq, 0) + payload


def req_v2(family, ext, states, sport=0, dport=0, cookie=0):
    sockid = struct.pack(">HH", sport, dport) + bytes(32) + struct.pack("=III", 0, cookie & 0xFFFFFFFF, cookie >> 32)
    return struct.pack("=BBBBI", family, 6, ext, 0, states) + sockid


def capture():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    keep = []
    l4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l4.bind(("127.0.0.1", 8080)); l4.listen(8); keep.append(l4)
    l6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    l6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    l6.bind(("::", 8443)); l6.listen(8); keep.append(l6)
    for addr in [("127.0.0.1", 8080), ("::1", 8443), ("127.0.0.1", 8443)]:
        fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        c = socket.socket(fam, socket.SOCK_STREAM); c.connect(addr); keep.append(c)
        c.send(b"hello")
    for l in (l4, l6):
        for _ in range(2 if l is l6 else 1):
            keep.append(l.accept()[0])
    # A TIME-WAIT socket.
    c = socket.socket(); c.connect(("127.0.0.1", 8080)); s, _ = l4.accept()
    c.close(); time.sleep(0.05); s.close(); time.sleep(0.05)
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
    nl.bind((0, 0))
    seq = 1
    n = 0
    for family in (socket.AF_INET, socket.AF_INET6):
        for ext in (0, 1 << 1):  # INET_DIAG_INFO is attribute 2: bit 1
            nl.send(nlmsg(20, 0x301, seq, req_v2(family, ext, 0x1FFE)))
            while True:
                data = nl.recv(65536)
                write("netlink_reply", f"dump-{family}-{ext}-{n}", data)
                n += 1
                kind = struct.unpack_from("=H", data, 4)[0]
                if kind in (2, 3):
                    break
                # Also the first message alone, and its payload alone.
                length = struct.unpack_from("=I", data, 0)[0]
                if n < 12:
                    write("netlink_reply", f"record-{family}-{ext}-{n}", data[:length])
            seq += 1
    # A batch of destroys that find nothing: one ENOENT ack each.
    batch = b"".join(nlmsg(21, 0x5, seq + i, req_v2(socket.AF_INET, 0, 0xFFFFFFFF)) for i in range(3))
    nl.send(batch)
    for i in range(3):
        write("netlink_reply", f"ack-enoent-{i}", nl.recv(65536))


def crafted():
    rec = bytearray(72)
    rec[0] = socket.AF_INET; rec[1] = 1
    rec[4:8] = struct.pack(">HH", 8080, 40000)
    rec[8:12] = bytes([127, 0, 0, 1]); rec[24:28] = bytes([127, 0, 0, 1])
    rec[44:52] = struct.pack("=II", 0x1234, 0)
    rec = bytes(rec)
    attr = lambda kind, data: struct.pack("=HH", 4 + len(data), kind) + data + bytes(-len(data) % 4)
    cases = {
        "empty": b"",
        "short-header": nlmsg(20, 2, 1, rec)[:10],
        "len-below-header": struct.pack("=IHHII", 8, 20, 2, 1, 0),
        "len-beyond-datagram": struct.pack("=IHHII", 4096, 20, 2, 1, 0) + rec,
        "len-max": struct.pack("=IHHII", 0xFFFFFFFF, 20, 2, 1, 0) + rec,
        "short-record": nlmsg(20, 2, 1, rec[:40]),
        "unknown-family": nlmsg(20, 2, 1, bytes([99]) + rec[1:]),
        "unknown-type": nlmsg(0x7777, 0, 1, b"xyz!"),
        "unaligned-then-done": nlmsg(20, 2, 1, rec + b"\x01") + nlmsg(3, 2, 1, b"\0\0\0\0"),
        "attr-len-small": nlmsg(20, 2, 1, rec + struct.pack("=HH", 2, 2)),
        "attr-len-large": nlmsg(20, 2, 1, rec + struct.pack("=HH", 400, 2) + bytes(4)),
        "attrs-known-unknown": nlmsg(20, 2, 1, rec + attr(2, bytes(7)) + attr(8, b"\1") + attr(26, b"\0") + attr(99, b"zz")),
        "tcp-info-huge": nlmsg(20, 2, 1, rec + attr(2, bytes(1000))),
        "error-positive": nlmsg(2, 0, 1, struct.pack("=i", 5) + bytes(16)),
        "error-min": nlmsg(2, 0, 1, struct.pack("=i", -2**31) + bytes(16)),
        "error-short": nlmsg(2, 0, 1, b"\xfe\xff"),
        "done-empty": nlmsg(3, 2, 1, b""),
        "done-error": nlmsg(3, 2, 1, struct.pack("=i", -16)),
        "overrun": nlmsg(4, 0, 1, b""),
        "noop": nlmsg(1, 0, 1, b""),
        "dump-intr": nlmsg(20, 0x12, 1, rec) + nlmsg(3, 0x12, 1, bytes(4)),
        "wrong-seq": nlmsg(20, 2, 77, rec) + nlmsg(3, 2, 77, bytes(4)),
        "trailing-garbage": nlmsg(3, 2, 1, bytes(4)) + b"\x01\x02\x03",
        "bare-record": rec,
    }
    for name, data in cases.items():
        write("netlink_reply", "crafted-" + name, data)
    for i, text in enumerate([
        "dport = :443", "state established\n( dport = :443 or src 10.0.0.0/8 )",
        "sport >= :1024 and sport <= :2048", "not dst [::1]", "src 10.8/16:80",
        "exclude time-wait\nexclude listening\ndst *:22", "( sport gt :0x50 ) || ! dport neq 010",
        "src [fe80::1]/64", "dst 127.0.0.1/255.0.0.0", "state all state listening",
        "sport = *", "src any", "( ( (", "dport = :99999", "state bogus",
    ]):
        fam = bytes([i % 2]) + rec[1:]
        write("filter", f"seed-{i}", fam + text.encode())
    for i, text in enumerate([
        "10.0.0.1\n80\n10.0.0.2\n5000", "10.0.0.1:80\n10.0.0.2:5000",
        "[fe80::1%lo]:22\n[fe80::9%lo]:40112", "fe80::1%2\n80\nfe80::2%2\n9",
        "[::ffff:127.0.0.1]:80\n127.0.0.1:9", "::1:80\n::1:90", "10.0.0.1:80",
        "dport = :443", "1\n2\n3\n4\n5", "[::1]:080\n[::2]:65535",
    ]):
        write("tuple", f"seed-{i}", text.encode())
    calls = {
        # GetTcpTable: ask, then exactly what was asked for, sorted.
        "size-protocol-v4": bytes([0, 3, 1, 0, 1]),
        "size-protocol-v6-short": bytes([2, 3, 0, 0xFF, 0]),
        "extended-all-classes": b"".join(bytes([4, 3, 1, 1, af, c, 0, 0]) for af in (0, 2) for c in range(4)),
        "null-size": bytes([1, 0, 0]),
        "null-table": bytes([3, 1, 0x40, 0, 1]),
        "set-real-rows": bytes([5, 1, 12, 0, 0, 0, 0, 5, 2, 12, 0, 0, 0, 0, 5, 3, 5]),
        "set-raw-row": bytes([5, 200, 12]) + bytes(range(20)),
        "format": bytes([6, 87, 40, 6, 200, 3, 6, 5, 255]),
    }
    for name, data in calls.items():
        write("c_abi", name, data)


# ctnetlink (NETLINK_NETFILTER = 12, NFNL_SUBSYS_CTNETLINK = 1): the
# numbers are those of include/uapi/linux/netfilter/nfnetlink_conntrack.h.
CT_NEW, CT_GET, CT_DELETE = 0x100, 0x101, 0x102


def nla(kind, data):
    return struct.pack("=HH", 4 + len(data), kind) + data + bytes(-len(data) % 4)


def nest(kind, *parts):
    return nla(kind | 0x8000, b"".join(parts))


def ct_tuple(src, dst, sport, dport, proto=6):
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    a, b = (3, 4) if fam == socket.AF_INET6 else (1, 2)
    ip = nest(1, nla(a, socket.inet_pton(fam, src)), nla(b, socket.inet_pton(fam, dst)))
    ports = nla(2, struct.pack(">H", sport)) + nla(3, struct.pack(">H", dport))
    return ip + nest(2, nla(1, bytes([proto])), ports)


def ct_msg(kind, flags, seq, family, body=b""):
    return nlmsg(kind, flags, seq, struct.pack("=BBH", family, 0, 0) + body)


def nl_messages(data):
    """(kind, message bytes) of each message in a datagram."""
    out, at = [], 0
    while at + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, at)
        if length < 16:
            break
        out.append((kind, data[at:at + length]))
        at += (length + 3) & ~3
    return out


def top_attr(payload, want):
    """The payload of the first attribute `want` among `payload`'s."""
    at = 0
    while at + 4 <= len(payload):
        length, kind = struct.unpack_from("=HH", payload, at)
        if length < 4:
            break
        if kind & 0x3FFF == want:
            return payload[at + 4:at + length]
        at += (length + 3) & ~3
    return None


CT_RULES = """
table inet seeds {
    chain raw_out {
        type filter hook output priority raw;
        tcp dport 7777 ct zone set 5
        tcp sport 7777 ct zone set 5
    }
    chain out {
        type filter hook output priority filter;
        tcp dport 7777 ct mark set 0x42
        ct state new accept
    }
    chain in {
        type filter hook input priority filter;
        tcp dport 6666 drop
    }
}
table ip seeds_nat {
    chain out { type nat hook output priority -100; tcp dport 9999 dnat to 127.0.0.1:8081; }
    chain post { type nat hook postrouting priority 100; ip daddr 127.0.0.2 snat to 127.0.0.3; }
}
table ip6 seeds_nat6 {
    chain out { type nat hook output priority -100; tcp dport 9999 dnat to [::1]:8444; }
}
"""


def icmp_echo(kind):
    body = struct.pack("!BBHHH", kind, 0, 0, 0x4242, 1) + b"seed"
    if kind == 8:  # ICMP's; the kernel fills in ICMPv6's (IPV6_CHECKSUM)
        body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    return body


def capture_conntrack():
    """Dumps, lookups and deletes of a conntrack table that holds TCP in
    several states, UDP, ICMP and ICMPv6, DNAT, SNAT, a zone and a mark."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["nft", "-f", "-"], input=CT_RULES.encode(), check=True)
    keep = []

    def listen(fam, addr, port):
        s = socket.socket(fam, socket.SOCK_STREAM)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((addr, port)); s.listen(16); keep.append(s)
        return s

    l4 = listen(socket.AF_INET, "0.0.0.0", 8081)
    l6 = listen(socket.AF_INET6, "::", 8444)
    lz = listen(socket.AF_INET, "127.0.0.1", 7777)
    ends = {}
    for name, addr, listener in [
        ("v4", ("127.0.0.1", 8081), l4), ("v6", ("::1", 8444), l6),
        ("mapped", ("127.0.0.1", 8444), l6), ("dnat", ("127.0.0.1", 9999), l4),
        ("dnat6", ("::1", 9999), l6), ("snat", ("127.0.0.2", 8081), l4),
        ("zone", ("127.0.0.1", 7777), lz),
    ]:
        c = socket.create_connection(addr, timeout=2); keep.append(c)
        s, _ = listener.accept(); keep.append(s)
        c.send(b"hello"); s.recv(5); s.send(b"back"); c.recv(4)
        ends[name] = c.getsockname()[:2]
    # Closing: TIME_WAIT on one side, and an end reset.
    c = socket.create_connection(("127.0.0.1", 8081)); s, _ = l4.accept()
    c.close(); time.sleep(0.05); s.close()
    c = socket.create_connection(("::1", 8444)); s, _ = l6.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
    # SYN_SENT: the input chain drops what goes to 6666.
    syn = socket.socket(); syn.setblocking(False); keep.append(syn)
    try:
        syn.connect(("127.0.0.1", 6666))
    except BlockingIOError:
        pass
    ends["syn"] = syn.getsockname()[:2]
    for fam, addr in [(socket.AF_INET, ("127.0.0.1", 5353)), (socket.AF_INET6, ("::1", 5353))]:
        u = socket.socket(fam, socket.SOCK_DGRAM); u.sendto(b"q", addr); keep.append(u)
    r4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    r4.sendto(icmp_echo(8), ("127.0.0.1", 0))
    r6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    r6.sendto(icmp_echo(128), ("::1", 0))
    keep += [r4, r6]
    time.sleep(0.1)

    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
    nl.bind((0, 0))
    nl.settimeout(2)
    seq = 100
    records = 0
    for family in (0, socket.AF_INET, socket.AF_INET6):
        seq += 1
        nl.send(ct_msg(CT_GET, 0x301, seq, family))
        n = 0
        while True:
            data = nl.recv(65536)
            write("conntrack_reply", f"dump-{family}-{n}", data)
            n += 1
            kinds = [kind for kind, _ in nl_messages(data)]
            if family == 0:
                # Each record alone, and a few as bare payloads and tuples.
                for kind, msg in nl_messages(data):
                    if kind != CT_NEW:
                        continue
                    write("conntrack_reply", f"record-{records}", msg)
                    if records % 3 == 0:
                        write("conntrack_reply", f"payload-{records}", msg[16:])
                        orig = top_attr(msg[20:], 1)
                        if orig is not None:
                            write("conntrack_reply", f"tuple-{records}", orig)
                    records += 1
            if 2 in kinds or 3 in kinds:
                break

    def ask(name, msg, answers=1):
        nl.send(msg)
        for i in range(answers):
            write("conntrack_reply", f"{name}-{i}" if answers > 1 else name, nl.recv(65536))

    v4, v6, sy = ends["v4"], ends["v6"], ends["syn"]
    get_v4 = nest(1, ct_tuple(v4[0], "127.0.0.1", v4[1], 8081))
    ask("get-v4", ct_msg(CT_GET, 1, 201, 2, get_v4))
    ask("get-v4-ack", ct_msg(CT_GET, 5, 202, 2, get_v4), 2)
    ask("get-v6", ct_msg(CT_GET, 1, 203, 10, nest(1, ct_tuple(v6[0], "::1", v6[1], 8444))))
    zone = nest(1, ct_tuple(ends["zone"][0], "127.0.0.1", ends["zone"][1], 7777)) + nla(18, struct.pack(">H", 5))
    ask("get-zone", ct_msg(CT_GET, 1, 204, 2, zone))
    ask("get-missing", ct_msg(CT_GET, 1, 205, 2, nest(1, ct_tuple("127.0.0.9", "127.0.0.1", 1, 2))))
    syn_tuple = nest(1, ct_tuple(sy[0], "127.0.0.1", sy[1], 6666))
    ask("delete-wrong-id", ct_msg(CT_DELETE, 5, 206, 2, syn_tuple + nla(12, struct.pack(">I", 1))))
    ask("delete-ack", ct_msg(CT_DELETE, 5, 207, 2, syn_tuple))
    ask("delete-enoent", ct_msg(CT_DELETE, 5, 208, 2, syn_tuple))
    ask("get-bad-family", ct_msg(CT_GET, 1, 209, 7, get_v4))


def ct_record(family, orig, reply, status=0x18E, ct_id=0x1234, zone=None, mark=0,
              timeout=431999, state=3, extra=b"", kind=CT_NEW, flags=2, seq=1):
    body = nest(1, orig) + nest(2, reply) + nla(3, struct.pack(">I", status))
    body += nla(8, struct.pack(">I", mark)) + nla(12, struct.pack(">I", ct_id))
    if zone is not None:
        body += nla(18, struct.pack(">H", zone))
    if timeout is not None:
        body += nla(7, struct.pack(">I", timeout))
    if state is not None:
        body += nest(4, nest(1, nla(1, bytes([state])), nla(2, bytes([7]))))
    return ct_msg(kind, flags, seq, family, body + extra)


def crafted_conntrack():
    o4 = ct_tuple("10.0.0.1", "10.0.1.1", 40000, 443)
    r4 = ct_tuple("10.0.1.1", "192.168.1.1", 443, 40000)
    o6 = ct_tuple("fd00::1", "fd00:1::1", 40000, 443)
    r6 = ct_tuple("fd00:1::1", "fd00::1", 443, 40000)
    rec = ct_record(2, o4, r4)
    raw = lambda length, kind, data: struct.pack("=HH", length, kind) + data
    ip4 = lambda *attrs: nest(1, *attrs)
    tcp_proto = nest(2, nla(1, b"\x06"), nla(2, struct.pack(">H", 1)), nla(3, struct.pack(">H", 2)))
    v4src, v4dst = nla(1, bytes([10, 0, 0, 1])), nla(2, bytes([10, 0, 0, 2]))
    icmp = nest(1, v4src, v4dst) + nest(2, nla(1, b"\x01"), nla(4, struct.pack(">H", 7)), nla(5, b"\x08"), nla(6, b"\x00"))
    cases = {
        "empty": b"",
        "short-header": rec[:10],
        "len-below-header": struct.pack("=IHHII", 8, CT_NEW, 2, 1, 0),
        "len-beyond-datagram": struct.pack("=IHHII", 4096, CT_NEW, 2, 1, 0) + rec[16:],
        "len-max": struct.pack("=IHHII", 0xFFFFFFFF, CT_NEW, 2, 1, 0) + rec[16:],
        "nfgenmsg-short": nlmsg(CT_NEW, 2, 1, b"\x02\x00"),
        "record-v4-nat": rec,
        "record-v6": ct_record(10, o6, r6, zone=3, mark=7, state=9),
        "record-unknown-state": ct_record(2, o4, r4, state=200),
        "record-offloaded": ct_record(2, o4, r4, status=0x418E, timeout=None, state=None),
        "record-icmp": ct_record(2, icmp, icmp, state=None),
        "unknown-family": ct_record(7, o4, r4),
        "family-v6-addresses-v4": ct_record(10, o4, r4),
        "family-v4-addresses-v6": ct_record(2, o6, r6),
        "address-3-bytes": ct_record(2, ip4(nla(1, b"\x0a\0\0"), v4dst) + tcp_proto, r4),
        "address-16-in-v4": ct_record(2, ip4(nla(1, bytes(16)), v4dst) + tcp_proto, r4),
        "no-src-address": ct_record(2, ip4(v4dst) + tcp_proto, r4),
        "no-tuple-ip": ct_record(2, tcp_proto, r4),
        "no-tuple-proto": ct_record(2, ip4(v4src, v4dst), r4),
        "no-proto-num": ct_record(2, ip4(v4src, v4dst) + nest(2, nla(2, b"\0\1")), r4),
        "proto-num-2-bytes": ct_record(2, ip4(v4src, v4dst) + nest(2, nla(1, b"\6\0")), r4),
        "port-1-byte": ct_record(2, ip4(v4src, v4dst) + nest(2, nla(1, b"\6"), nla(2, b"\1")), r4),
        "no-reply": ct_msg(CT_NEW, 2, 1, 2, nest(1, o4) + nla(12, b"\0\0\0\1")),
        "no-orig": ct_msg(CT_NEW, 2, 1, 2, nest(2, r4) + nla(12, b"\0\0\0\1")),
        "no-id": ct_msg(CT_NEW, 2, 1, 2, nest(1, o4) + nest(2, r4)),
        "status-3-bytes": ct_msg(CT_NEW, 2, 1, 2, nest(1, o4) + nest(2, r4) + nla(3, b"\0\0\1") + nla(12, b"\0\0\0\1")),
        "zone-4-bytes": ct_record(2, o4, r4, extra=nla(18, bytes(4))),
        "state-2-bytes": ct_record(2, o4, r4, state=None, extra=nest(4, nest(1, nla(1, b"\3\0")))),
        "protoinfo-dccp": ct_record(2, o4, r4, state=None, extra=nest(4, nest(2, nla(1, b"\3")))),
        "protoinfo-twice": ct_record(2, o4, r4, extra=nest(4, nest(1, nla(2, b"\7")))),
        "unknown-attrs": ct_record(2, o4, r4, extra=nla(40, b"xyz") + nla(0x3FFF, b"") + nla(0x4000 | 3, b"\0\0\0\2")),
        "orig-twice": ct_record(2, o4, r4, extra=nest(1, ct_tuple("1.2.3.4", "5.6.7.8", 1, 2))),
        "attr-len-2": ct_msg(CT_NEW, 2, 1, 2, raw(2, 1, b"")),
        "attr-len-3": ct_msg(CT_NEW, 2, 1, 2, raw(3, 1, b"\0\0\0\0")),
        "attr-len-beyond": ct_msg(CT_NEW, 2, 1, 2, raw(0xFF00, 0x8001, o4)),
        "nest-beyond-parent": ct_msg(CT_NEW, 2, 1, 2, raw(12, 0x8001, raw(40, 0x8001, v4src))),
        "attr-header-cut": ct_msg(CT_NEW, 2, 1, 2, nest(1, o4) + b"\x08\x00"),
        "nested-flag-missing": ct_msg(CT_NEW, 2, 1, 2, nla(1, o4) + nla(2, r4) + nla(12, b"\0\0\0\1")),
        "delete-typed-record": ct_record(2, o4, r4, kind=CT_DELETE),
        "get-typed-record": ct_record(2, o4, r4, kind=CT_GET, flags=0),
        "other-subsystem": ct_record(2, o4, r4, kind=0x200),
        "error-positive": nlmsg(2, 0, 1, struct.pack("=i", 5) + bytes(16)),
        "error-min": nlmsg(2, 0, 1, struct.pack("=i", -2**31) + bytes(16)),
        "error-short": nlmsg(2, 0, 1, b"\xfe\xff"),
        "ack": nlmsg(2, 0x100, 1, bytes(4) + bytes(16)),
        "done-empty": nlmsg(3, 2, 1, b""),
        "done-error": nlmsg(3, 2, 1, struct.pack("=i", -4)),
        "overrun": nlmsg(4, 0, 1, b""),
        "noop": nlmsg(1, 0, 1, b""),
        "dump-intr": ct_record(2, o4, r4, flags=0x12) + nlmsg(3, 0x12, 1, bytes(4)),
        "two-records-then-done": rec + ct_record(10, o6, r6) + nlmsg(3, 2, 1, bytes(4)),
        "error-then-record": nlmsg(2, 0, 1, b"\x01\x00") + rec,
        "trailing-garbage": nlmsg(3, 2, 1, bytes(4)) + b"\x01\x02\x03",
        "unaligned-then-done": nlmsg(CT_NEW, 2, 1, rec[16:] + b"\x01") + b"\0\0\0" + nlmsg(3, 2, 1, bytes(4)),
        "bare-payload": rec[16:],
        "bare-tuple-v4": o4,
        "bare-tuple-v6": o6,
    }
    for name, data in cases.items():
        write("conntrack_reply", "crafted-" + name, data)


def csum(data):
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def segment(src, dst, sport, dport, seq, ack, flags, window=0, payload=b"",
            options=b"", ip_options=b"", frag=0x4000, proto=6):
    """A TCP segment in an IP packet, laid out as Segment::write lays it out
    (IPv4 for dotted addresses, IPv6 otherwise, v4-mapped ones included),
    with TCP and IP options if asked for."""
    offset = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, window, 0, 0)
    tcp += options + payload
    if ":" in src:
        s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
        pseudo = s + d + struct.pack("!I3xB", len(tcp), 6)
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        return struct.pack("!IHBB", 0x60000000, len(tcp), proto, 64) + s + d + tcp
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    pseudo = s + d + struct.pack("!xBH", 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ihl = 5 + len(ip_options) // 4
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(tcp), 0, frag, 64, proto, 0, s, d)
    ip += ip_options
    return ip[:10] + struct.pack("!H", csum(ip)) + ip[12:] + tcp


def capture_packets():
    """TCP segments as inject's packet socket sees them on lo (SOCK_DGRAM,
    from the IP header on): handshakes with options, data, FIN, RST, over
    IPv4, IPv6 and v4-mapped connections."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3))
    cap.bind(("lo", 0))
    l4 = socket.socket(); l4.bind(("127.0.0.1", 8090)); l4.listen(4)
    l6 = socket.socket(socket.AF_INET6)
    l6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    l6.bind(("::", 8091)); l6.listen(4)
    for addr, listener in [(("127.0.0.1", 8090), l4), (("::1", 8091), l6), (("127.0.0.1", 8091), l6)]:
        c = socket.create_connection(addr); s, _ = listener.accept()
        c.send(b"hello"); s.recv(5); s.send(bytes(300)); c.recv(300)
        c.close(); time.sleep(0.02); s.close()
    c = socket.create_connection(("127.0.0.1", 8090)); s, _ = l4.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close(); s.close()
    for addr in [("127.0.0.1", 8092), ("::1", 8092)]:  # nobody listens: RST
        try:
            socket.create_connection(addr)
        except ConnectionRefusedError:
            pass
    time.sleep(0.1)
    cap.setblocking(False)
    n = 0
    while True:
        try:
            data, addr = cap.recvfrom(65536)
        except BlockingIOError:
            break
        if addr[2] != socket.PACKET_OUTGOING:  # lo shows each packet twice
            continue
        write("packet", f"captured-{n}", data)
        if len(data) > 128:
            write("packet", f"captured-{n}-cut-128", data[:128])
        n += 1


def crafted_packets():
    rst = segment("10.0.0.1", "10.0.0.2", 80, 4660, 0x01020304, 0x0A0B0C0D, 0x14)
    rst6 = segment("fd00::1", "fd00::2", 80, 4660, 0x01020304, 0x0A0B0C0D, 0x04)
    syn_options = (b"\x02\x04\x05\xb4" b"\x04\x02" b"\x08\x0a" + struct.pack("!II", 1, 0)
                   + b"\x01" b"\x03\x03\x07")
    big = segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x18, 64240, payload=bytes(1000))
    cases = {
        "v4-rst-ack": rst,
        "v6-rst": rst6,
        "v4-probe": segment("192.168.1.1", "10.0.0.2", 40000, 443, 0xFFFFFFFF, 0, 0x10, 502),
        "v4-payload": segment("10.0.0.1", "10.0.0.2", 80, 4660, 7, 9, 0x18, 512, payload=b"xyz"),
        "v6-payload": segment("fd00::1", "fd00::2", 80, 4660, 7, 9, 0x18, 512, payload=b"xyz"),
        "v6-header-v4-mapped": segment("::ffff:10.0.0.1", "::ffff:10.0.0.2", 80, 4660, 1, 2, 0x14),
        "v6-header-one-mapped": segment("::ffff:10.0.0.1", "fd00::2", 80, 4660, 1, 2, 0x14),
        "v6-link-local": segment("fe80::1", "fe80::2", 22, 40112, 1, 2, 0x11, 100),
        "v4-syn-options": segment("10.0.0.1", "10.0.0.2", 40000, 80, 1, 0, 0x02, 64240, options=syn_options),
        "v6-syn-ack-options": segment("fd00::2", "fd00::1", 80, 40000, 9, 2, 0x12, 65535, options=syn_options),
        "v4-ip-options": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x10, ip_options=b"\x01\x01\x01\x00"),
        "v4-ihl-15": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x10, ip_options=bytes(40)),
        "v4-offset-15": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x10, options=b"\x01" * 40),
        "v4-more-fragments": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x10, frag=0x2000),
        "v4-fragment-offset": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x10, frag=0x0001),
        "v4-no-df": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x10, frag=0),
        "v4-udp": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x10, proto=17),
        "v6-hop-by-hop": segment("fd00::1", "fd00::2", 80, 4660, 1, 2, 0x10, proto=0),
        "version-5": b"\x55" + rst[1:],
        "v4-ihl-4": b"\x44" + rst[1:],
        "v4-total-short": rst[:2] + struct.pack("!H", 30) + rst[4:],
        "v4-total-max-snap": rst[:2] + struct.pack("!H", 0xFFFF) + rst[4:],
        "v4-cut-128": big[:128],
        "v4-payload-1380": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x18, payload=bytes(1380)),
        "v6-payload-1381": segment("fd00::1", "fd00::2", 80, 4660, 1, 2, 0x18, payload=bytes(1381)),
        "v6-payload-len-0": rst6[:4] + b"\0\0" + rst6[6:],
        "v4-offset-4": rst[:32] + b"\x40" + rst[33:],
        "v4-options-cut": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0x10, options=bytes(40))[:40],
        "v4-ethernet-padding": rst + bytes(6),
        "v4-partial-checksum": rst[:36] + struct.pack("!H", ~csum(rst[12:20] + b"\0\x06\0\x14") & 0xFFFF) + rst[38:],
        "v4-bad-checksum": rst[:36] + b"\xde\xad" + rst[38:],
        "v4-all-flags": segment("10.0.0.1", "10.0.0.2", 80, 4660, 1, 2, 0xFF, 0xFFFF),
        "empty": b"",
        "v4-nibble-only": b"\x45",
        "v6-nibble-only": b"\x60",
    }
    for cut in (19, 20, 39):
        cases[f"v4-cut-{cut}"] = rst[:cut]
    for cut in (39, 40, 59):
        cases[f"v6-cut-{cut}"] = rst6[:cut]
    for name, data in cases.items():
        write("packet", "crafted-" + name, data)


if __name__ == "__main__":
    wanted = set(sys.argv[1:])
    if not wanted or wanted & {"netlink_reply", "filter", "tuple", "c_abi"}:
        capture()
        crafted()
    if not wanted or "packet" in wanted:
        capture_packets()
        crafted_packets()
    if not wanted or "conntrack_reply" in wanted:
        capture_conntrack()
        crafted_conntrack()
