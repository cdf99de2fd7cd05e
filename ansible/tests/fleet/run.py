"""The fleet test of the tcpdrop.linux collection, as root.

    python run.py TCPDROP WORKDIR

with the Python of a venv that has ansible-core. It builds the collection
and installs it under WORKDIR (ansible-galaxy collection build + install),
checks that ansible-doc renders both modules, then makes HOSTS network
namespaces, each a host of the inventory (ansible_connection: local and
its netns) holding connections to three backends (ports 9301-9303, IPv4
and IPv6) and to a bystander (8080), and runs playbook.yml phase by phase
with the TCPDROP binary found on PATH, checking the connections from
outside (their owners, ss) after each phase:

- check: check mode reports what would go, on every host; every
  connection still carries data afterwards;
- drop: each host drops exactly its backends' clients and reports them,
  the fleet's counts add up; their owners see ECONNABORTED, ss shows them
  gone, the bystanders carry data; a second drop changes nothing;
- privilege: tcpdrop run without privilege fails the task with its message;
- bad: a misspelt filter fails the play on every host, tcpdrop's parse
  error in msg, and touches nothing;
- tuples: one bystander connection named by its tuple is dropped, and only
  it.

Exits non-zero, saying what broke, if anything did; the namespaces and
the processes holding the connections are removed whatever happens.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION = os.path.dirname(os.path.dirname(HERE))
HOSTS = 3
# holder.py: 3 backends and 1 bystander, 2 clients each.
BACKEND_CLIENTS = 6
BYSTANDER_CLIENTS = 2
BACKENDS = ("127.0.0.1:9301", "127.0.0.1:9302", "::1:9303")
BYSTANDERS = ("127.0.0.1:8080",)


def fail(text):
    raise SystemExit("fleet test: FAILED: " + text)


def bin_of(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def run(argv, env, expect=0):
    """Run a command, show its output, and fail unless it exits `expect`."""
    print("+ " + " ".join(argv), flush=True)
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(done.stdout, flush=True)
    if done.returncode != expect:
        fail("%s exited %d, not %d" % (" ".join(argv), done.returncode, expect))
    return done.stdout


class Host:
    """One inventory host: a named network namespace and the process
    holding its connections."""

    def __init__(self, name, netns):
        self.name = name
        self.netns = netns
        subprocess.run(["ip", "netns", "add", netns], check=True)
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        self.holder = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, os.path.join(HERE, "holder.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.holder.stdout.readline()
        if not line:
            fail("%s: the connections could not be made" % netns)
        json.loads(line)

    def fates(self):
        """How each client fares now: {"127.0.0.1:9301": ["alive", ...], ...}."""
        self.holder.stdin.write("check\n")
        self.holder.stdin.flush()
        return json.loads(self.holder.stdout.readline())

    def ss(self, port):
        """The connections ss shows to `port` in this namespace."""
        out = subprocess.run(
            ["ss", "-N", self.netns, "-Htn", "dport = :%d" % port],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
        return [line for line in out.splitlines() if line.strip()]

    def remove(self):
        if self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait()
        subprocess.run(["ip", "netns", "del", self.netns], stderr=subprocess.DEVNULL)


def expect_fates(hosts, backends, bystanders, phase):
    """Every backend client is `backends` (a fate), every bystander `bystanders`."""
    for host in hosts:
        fates = host.fates()
        for name, seen in fates.items():
            want = backends if name in BACKENDS else bystanders
            if any(fate != want for fate in seen):
                fail("after %s, on %s, the clients of %s are %s, not all %s" % (phase, host.name, name, seen, want))


def expect_ss(hosts, backends, phase):
    """ss shows `backends` clients of each backend port and every bystander client."""
    for host in hosts:
        for name in BACKENDS:
            port = int(name.rsplit(":", 1)[1])
            if len(host.ss(port)) != backends:
                fail("after %s, ss -N %s shows %s to port %d" % (phase, host.netns, host.ss(port), port))
        if len(host.ss(8080)) != BYSTANDER_CLIENTS:
            fail("after %s, ss -N %s lost bystanders: %s" % (phase, host.netns, host.ss(8080)))


def unprivileged(tcpdrop, workdir):
    """A tcpdrop that runs as nobody without capabilities (a copy nobody
    can reach, behind setpriv)."""
    directory = tempfile.mkdtemp(prefix="tcpdrop-fleet-")
    os.chmod(directory, 0o755)
    copy = os.path.join(directory, "tcpdrop")
    shutil.copy(tcpdrop, copy)
    os.chmod(copy, 0o755)
    wrapper = os.path.join(workdir, "tcpdrop-as-nobody")
    with open(wrapper, "w") as out:
        out.write(
            "#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "
            "--inh-caps=-all --bounding-set=-all %s \"$@\"\n" % copy
        )
    os.chmod(wrapper, 0o755)
    return wrapper, directory


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    tcpdrop = os.path.abspath(sys.argv[1])
    workdir = os.path.abspath(sys.argv[2])
    if os.geteuid() != 0:
        fail("run as root: the hosts are network namespaces")
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    collections = os.path.join(workdir, "collections")
    env = dict(os.environ)
    env.update(
        PATH=os.path.dirname(tcpdrop) + os.pathsep + os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        ANSIBLE_COLLECTIONS_PATH=collections,
        ANSIBLE_HOME=os.path.join(workdir, "home"),
        ANSIBLE_LOCAL_TEMP=os.path.join(workdir, "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        PYTHONWARNINGS="ignore",
    )

    # Built and installed as a user would.
    run([bin_of("ansible-galaxy"), "collection", "build", COLLECTION, "--output-path", workdir], env)
    archive = os.path.join(workdir, "tcpdrop-linux-0.1.0.tar.gz")
    run([bin_of("ansible-galaxy"), "collection", "install", archive, "-p", collections], env)
    for module, option in (("tcpdrop.linux.drop", "all_netns"), ("tcpdrop.linux.connections", "owners")):
        text = run([bin_of("ansible-doc"), module], env)
        if module not in text or option not in text or "RETURN VALUES" not in text:
            fail("ansible-doc %s does not render its options and return values" % module)

    hosts = []
    wrapper, copydir = unprivileged(tcpdrop, workdir)
    try:
        for i in range(HOSTS):
            hosts.append(Host("web%d" % (i + 1), "tdfleet-%d-%d" % (os.getpid(), i + 1)))
        inventory = os.path.join(workdir, "inventory.json")
        with open(inventory, "w") as out:
            json.dump(
                {
                    "fleet": {
                        "hosts": {h.name: {"netns": h.netns} for h in hosts},
                        "vars": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                            "backend_clients": BACKEND_CLIENTS,
                            "bystander_clients": BYSTANDER_CLIENTS,
                            "tcpdrop_unprivileged": wrapper,
                        },
                    }
                },
                out,
            )
        playbook = [bin_of("ansible-playbook"), "-i", inventory, os.path.join(HERE, "playbook.yml")]

        def phase(tag, expect=0):
            """Run the phase; what each host's failed task said, by host."""
            out = run(playbook + ["--tags", tag], env, expect)
            recap = [line for line in out.splitlines() if line.startswith(tuple(h.name + " " for h in hosts))]
            if len(recap) != HOSTS:
                fail("%s: the recap does not show every host: %s" % (tag, recap))
            failed = {}
            for line in out.splitlines():
                for host in hosts:
                    head = "fatal: [%s]: FAILED! => " % host.name
                    if line.startswith(head):
                        failed[host.name] = json.loads(line[len(head):])
            return failed

        phase("check")
        expect_fates(hosts, "alive", "alive", "check mode")
        expect_ss(hosts, BACKEND_CLIENTS // len(BACKENDS), "check mode")

        phase("drop")
        expect_fates(hosts, "ECONNABORTED", "alive", "the drop")
        expect_ss(hosts, 0, "the drop")

        phase("privilege")

        # Ansible exits 2 when hosts failed.
        failed = phase("bad", expect=2)
        for host in hosts:
            result = failed.get(host.name)
            if result is None:
                fail("a bad filter did not fail %s" % host.name)
            msg = result.get("msg", "")
            if not msg.startswith("tcpdrop: unknown word 'dprt' in the filter: did you mean dport?") or result.get("rc") != 2:
                fail("a bad filter on %s: %s" % (host.name, result))
            if "Traceback" in json.dumps(result):
                fail("a bad filter on %s gave a traceback: %s" % (host.name, result))
        # EOF now: the backends' clients were aborted and read once.
        expect_fates(hosts, "EOF", "alive", "the bad filter")

        phase("tuples")
        for host in hosts:
            fates = host.fates()[BYSTANDERS[0]]
            if sorted(fates) != ["ECONNABORTED", "alive"]:
                fail("after the drop by tuple, on %s, the bystander's clients are %s" % (host.name, fates))
    finally:
        for host in hosts:
            host.remove()
        shutil.rmtree(copydir, ignore_errors=True)
    print("fleet test: %d hosts: check mode, drop, privilege, bad filter, tuples: passed" % HOSTS)


if __name__ == "__main__":
    main()
