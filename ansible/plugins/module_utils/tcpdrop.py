# -*- coding: utf-8 -*-
# Copyright: tcpdrop contributors
# SPDX-License-Identifier: MIT OR Apache-2.0
"""What the tcpdrop.linux modules share: their options, the command line
they give the installed ``tcpdrop``, and the reading of its ``--json`` rows
and exit status. The modules run tcpdrop; they never do its work."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

# The options both modules take: what to select, where, and which binary.
SELECTION_SPEC = dict(
    tuples=dict(type="list", elements="str"),
    filter=dict(type="str"),
    states=dict(type="list", elements="str"),
    processes=dict(type="list", elements="str"),
    uids=dict(type="list", elements="str"),
    family=dict(type="str", choices=["ipv4", "ipv6"]),
    netns=dict(type="str"),
    all_netns=dict(type="bool", default=False),
    tcpdrop_path=dict(type="path"),
)

MUTUALLY_EXCLUSIVE = [["tuples", "filter"], ["netns", "all_netns"]]

# tcpdrop's exit statuses (tcpdrop --help, "Exit status").
NOTHING_MATCHED = 1


def selection_args(module):
    """The options and words that select connections, and the text for
    standard input (the tuples, one a line, read with ``-f -``)."""
    params = module.params
    args = []
    stdin = None
    for state in params["states"] or []:
        args += ["--state", state]
    for name in params["processes"] or []:
        args += ["--process", name]
    for uid in params["uids"] or []:
        args += ["--uid", uid]
    if params["family"] == "ipv4":
        args.append("-4")
    elif params["family"] == "ipv6":
        args.append("-6")
    if params["netns"]:
        args += ["--netns", params["netns"]]
    if params["all_netns"]:
        args.append("--all-netns")
    if params["tuples"]:
        for item in params["tuples"]:
            # One tuple a line: a line break inside one would name another.
            if "\n" in item or "\r" in item:
                module.fail_json(msg="tuples: %r holds a line break: give one connection per item" % item)
        args += ["-f", "-"]
        stdin = "\n".join(params["tuples"]) + "\n"
    if params["filter"] is not None:
        # One argument: tcpdrop reads its words as ss does.
        args += ["--", params["filter"]]
    return args, stdin


def binary(module):
    """The tcpdrop to run: ``tcpdrop_path``, or the one on PATH."""
    if module.params["tcpdrop_path"]:
        return module.params["tcpdrop_path"]
    return module.get_bin_path("tcpdrop", required=True)


def run(module, args, stdin=None):
    """Run ``tcpdrop ARGS --json``: (argv, exit status, rows, stderr).

    A line of standard output that is not JSON fails the module, saying
    which (it would be a tcpdrop this collection does not know)."""
    argv = [binary(module), "--json"] + args
    rc, out, err = module.run_command(argv, data=stdin, binary_data=True, check_rc=False)
    rows = []
    for line in out.splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            module.fail_json(
                msg="tcpdrop printed a line that is not JSON: %r" % line,
                cmd=argv,
                rc=rc,
                stdout=out,
                stderr=err,
            )
    return argv, rc, rows, err


def message(err, rc):
    """tcpdrop's own words for why it stopped: its last ``tcpdrop:`` line
    (the failure is said last), else all it said."""
    said = [line for line in err.splitlines() if line.startswith("tcpdrop: ")]
    if said:
        return said[-1]
    if err.strip():
        return err.strip()
    return "tcpdrop exited with status %d and said nothing" % rc


def warnings(err, failed):
    """What tcpdrop said on stderr that a play should hear of: the
    network namespaces it could not enter or see, and, when it did not
    fail, the owners it could not read (the failure itself is ``msg``)."""
    said = [line for line in err.splitlines() if line.startswith("tcpdrop: ")]
    if failed and said:
        said = said[:-1]
    return [line for line in said if "could not" in line]


def summary(err):
    """The summary line (``dropped N, gone G, failed F``), if printed."""
    for line in err.splitlines():
        if line.startswith("dropped ") or line.startswith("would drop "):
            return line
    return None
