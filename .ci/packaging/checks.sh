# shellcheck shell=bash
# Sourced by the packaging tests (.ci/packaging/*): named checks that are
# counted, a closing line "NAME: N passed, N failed", and the connections the
# smoke checks drop, held by a Python process in the test's own namespace.

passed=0
failed=0

# check NAME COMMAND...: run COMMAND; it passes when it exits 0.
check() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAILED: $name" >&2
  fi
}

# summary NAME: the closing line; exits 1 when a check failed.
summary() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# hold_connection DIR PORT: in the current network namespace, a listener on
# 127.0.0.1:PORT and one connection to it, held until the client's recv
# fails; DIR/ports then holds "CLIENT_PORT", DIR/outcome the error the
# client saw (ECONNABORTED when the connection was dropped by SOCK_DESTROY,
# ECONNRESET when reset). Returns once the connection is established.
hold_connection() {
  local dir=$1 port=$2
  python3 - "$dir" "$port" <<'PY' &
import errno, os, socket, sys
d, port = sys.argv[1], int(sys.argv[2])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen()
client = socket.create_connection(("127.0.0.1", port))
server, _ = listener.accept()
with open(d + "/ports.tmp", "w") as f:
    f.write("%d\n" % client.getsockname()[1])
os.rename(d + "/ports.tmp", d + "/ports")
client.settimeout(60)
try:
    data = client.recv(1)
    outcome = "EOF" if data == b"" else "DATA"
except socket.timeout:
    outcome = "TIMEOUT"
except OSError as e:
    outcome = errno.errorcode.get(e.errno, str(e.errno))
with open(d + "/outcome", "w") as f:
    f.write(outcome + "\n")
PY
  local _
  for _ in $(seq 100); do
    [ -s "$dir/ports" ] && return 0
    sleep 0.05
  done
  echo "the test's connection on port $port did not come up" >&2
  return 1
}

# wait_for_file FILE: up to 10 s for FILE to have content.
wait_for_file() {
  local _
  for _ in $(seq 200); do
    [ -s "$1" ] && return 0
    sleep 0.05
  done
  return 1
}

# established LOCAL REMOTE: ss sees that connection established.
established() {
  [ -n "$(ss -Htn state established src "$1" dst "$2")" ]
}

# in_netns SCRIPT ARGS...: run SCRIPT in a new network namespace with lo up
# (and a mount namespace of its own, for what it mounts);
# its checks count here (it writes its counts to $CHECKS_STATE).
in_netns() {
  local state
  state=$(mktemp)
  CHECKS_STATE=$state unshare --net --mount -- bash -c 'ip link set lo up && exec "$@"' in_netns "$@" || true
  if [ -s "$state" ]; then
    read -r p f <"$state"
    passed=$((passed + p))
    failed=$((failed + f))
  else
    failed=$((failed + 1))
    echo "FAILED: $1 $2 (in its own network namespace) did not finish" >&2
  fi
  rm -f "$state"
}

# netns_done: at the end of a script run by in_netns, hand its counts back.
netns_done() {
  echo "$passed $failed" >"$CHECKS_STATE"
}
