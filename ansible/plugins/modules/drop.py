#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: tcpdrop contributors
# SPDX-License-Identifier: MIT OR Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: drop
short_description: Drop (abort) TCP connections with tcpdrop
description:
  - Runs the C(tcpdrop) command installed on the host, with C(--json), to drop the TCP connections
    that the options select, and returns what tcpdrop reported for each.
  - A dropped connection's owner sees C(ECONNABORTED) and its peer gets a reset. tcpdrop drops only
    connections it has just found, naming each to the kernel by its socket cookie, so a connection
    that closed meanwhile is reported C(gone), never mistaken for another.
  - Something must be selected (O(tuples), O(filter), O(states), O(processes) or O(uids)); otherwise
    tcpdrop refuses, and so does the task.
  - Nothing matching is not a failure (the connections are already not there); the task is
    C(changed) only when something was dropped.
version_added: "0.1.0"
author:
  - tcpdrop contributors
requirements:
  - tcpdrop on the managed host (on E(PATH), or O(tcpdrop_path))
  - C(CAP_NET_ADMIN) to drop (root); C(CAP_SYS_ADMIN) as well for O(netns) or O(all_netns)
extends_documentation_fragment:
  - tcpdrop.linux.selection
options:
  method:
    description:
      - How to abort (tcpdrop C(--method)). C(auto) lets tcpdrop choose the kernel's C(SOCK_DESTROY)
        where it can and another way where it cannot.
    type: str
    choices: [auto, destroy, owner, inject, bpf]
    default: auto
attributes:
  check_mode:
    description: In check mode tcpdrop runs as a dry run (C(-n)); nothing is touched.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  platform:
    description: Linux hosts.
    platforms: linux
notes:
  - In check mode the rows are tcpdrop's dry run rows, C(would-drop), C(would-fail) and C(would-reset),
    and RV(counts) counts those; C(changed) says whether something would be dropped.
  - A failure (bad input, missing privilege, drops that failed) fails the task with tcpdrop's own
    message in C(msg); the rows printed before it are returned all the same.
seealso:
  - module: tcpdrop.linux.connections
"""

EXAMPLES = r"""
- name: A backend died, so cut its clients on every host
  tcpdrop.linux.drop:
    filter: dst 10.9.3.7 and dport = :5432
  register: dropped

- name: Exactly these two connections
  tcpdrop.linux.drop:
    tuples:
      - 10.0.0.5:443 10.0.0.9:51234
      - "[2001:db8::5]:443 [2001:db8::9]:40000"

- name: What would go, in every network namespace (containers included)
  tcpdrop.linux.drop:
    all_netns: true
    filter: dport = :6379
  check_mode: true
  register: would

- name: Established connections of php-fpm in the namespace "blue"
  tcpdrop.linux.drop:
    netns: blue
    processes: ["php-fpm*"]
    states: [established]

- name: Every host dropped what it should
  ansible.builtin.assert:
    that: dropped.counts.failed == 0
"""

RETURN = r"""
results:
  description:
    - tcpdrop's JSON rows, one per connection, as C(tcpdrop --json) prints them (see C(tcpdrop --help)).
    - Each has C(family), C(state), C(local), C(remote), C(mapped), C(uid), C(inode), C(cookie), C(recv_q),
      C(send_q), C(result) (C(dropped), C(gone), C(failed), C(not-found); in check mode C(would-drop),
      C(would-fail), C(would-reset)), C(method), C(error), C(reason) for C(gone), C(collateral) on a
      loopback peer the drop reset, and C(netns) with O(netns) or O(all_netns).
  returned: always
  type: list
  elements: dict
  sample:
    - family: ipv4
      state: ESTABLISHED
      local: 127.0.0.1:40112
      remote: 127.0.0.1:9301
      mapped: false
      uid: 0
      inode: 52311
      cookie: 8193
      recv_q: 0
      send_q: 0
      netns: web1
      result: dropped
      method: destroy
      error: null
counts:
  description:
    - How many rows had each outcome. C(gone) includes the loopback peers a drop reset, as tcpdrop's
      summary does; C(not_found) counts O(tuples) that matched no connection.
    - In check mode the keys are C(would_drop), C(would_fail) and C(would_reset).
  returned: always
  type: dict
  sample: {dropped: 3, gone: 3, failed: 0, not_found: 0}
summary:
  description: tcpdrop's summary line on stderr.
  returned: when tcpdrop printed one
  type: str
  sample: dropped 3, gone 3, failed 0
cmd:
  description: The command that ran.
  returned: always
  type: list
  elements: str
rc:
  description: tcpdrop's exit status (0 done, 1 nothing matched, 2 bad input, 3 some drops failed, 4 permission denied, 5 unsupported, 6 the output could not be written).
  returned: always
  type: int
stderr:
  description: What tcpdrop said on stderr.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tcpdrop.linux.plugins.module_utils.tcpdrop import (
    MUTUALLY_EXCLUSIVE,
    NOTHING_MATCHED,
    SELECTION_SPEC,
    message,
    run,
    selection_args,
    summary,
    warnings,
)


def count(rows, *names):
    """How many rows had each result, keyed by the result's name with
    ``_`` for ``-``."""
    return dict((name.replace("-", "_"), sum(1 for row in rows if row.get("result") == name)) for name in names)


def main():
    spec = dict(SELECTION_SPEC)
    spec["method"] = dict(type="str", choices=["auto", "destroy", "owner", "inject", "bpf"], default="auto")
    module = AnsibleModule(argument_spec=spec, mutually_exclusive=MUTUALLY_EXCLUSIVE, supports_check_mode=True)

    args, stdin = selection_args(module)
    if module.params["method"] != "auto":
        args = ["--method", module.params["method"]] + args
    if module.check_mode:
        args = ["--dry-run"] + args
    argv, rc, rows, err = run(module, args, stdin)

    if module.check_mode:
        counts = count(rows, "would-drop", "would-fail", "would-reset")
        changed = counts["would_drop"] > 0
    else:
        counts = count(rows, "dropped", "gone", "failed", "not-found")
        changed = counts["dropped"] > 0
    result = dict(changed=changed, results=rows, counts=counts, cmd=argv, rc=rc, stderr=err)
    line = summary(err)
    if line is not None:
        result["summary"] = line
    # Nothing matched: those connections are not there, which is what was asked.
    failed = rc not in (0, NOTHING_MATCHED)
    for warning in warnings(err, failed):
        module.warn(warning)
    if failed:
        module.fail_json(msg=message(err, rc), **result)
    # Said outright: Ansible takes a result with a non-zero rc and no
    # "failed" for a failure, and rc 1 here is not one.
    module.exit_json(failed=False, **result)


if __name__ == "__main__":
    main()
