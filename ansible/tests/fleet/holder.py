"""One test host's connections, held open, and checked on request.

Run inside a network namespace (``ip netns exec NS python3 holder.py``).
It listens on the backends' ports and a bystander's, connects CLIENTS
clients to each, says ``{"ready": ...}`` on stdout, then answers each
``check`` line on stdin with how every client fares: ``alive`` when a byte
still goes both ways, or the error its owner sees (``ECONNABORTED`` once
tcpdrop aborted it; ``EOF`` or another error after that).
"""

import errno
import json
import socket
import sys

# The backends (to be dropped) and the bystander (to be left alone).
BACKENDS = [("127.0.0.1", 9301), ("127.0.0.1", 9302), ("::1", 9303)]
BYSTANDERS = [("127.0.0.1", 8080)]
CLIENTS = 2


def pairs_to(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(16)
    pairs = []
    for _ in range(CLIENTS):
        client = socket.create_connection((host, port))
        server, _ = listener.accept()
        pairs.append((client, server))
    return listener, pairs


def fate(client, server):
    """``alive`` if a byte goes each way, else what the client's owner sees."""
    client.settimeout(2)
    server.settimeout(2)
    try:
        server.sendall(b"x")
    except OSError:
        pass  # the peer was reset with it: the client says more
    try:
        got = client.recv(1)
        if not got:
            return "EOF"
        client.sendall(b"y")
        if server.recv(1) != b"y":
            return "EOF"
        return "alive"
    except socket.timeout:
        return "timeout"
    except OSError as err:
        return errno.errorcode.get(err.errno, str(err.errno))


def main():
    held = {}
    for host, port in BACKENDS + BYSTANDERS:
        held["%s:%d" % (host, port)] = pairs_to(host, port)
    ready = {
        name: [client.getsockname()[1] for client, _ in pairs]
        for name, (_, pairs) in held.items()
    }
    print(json.dumps({"ready": ready}), flush=True)
    for line in sys.stdin:
        if line.strip() == "check":
            report = {
                name: [fate(client, server) for client, server in pairs]
                for name, (_, pairs) in held.items()
            }
            print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
