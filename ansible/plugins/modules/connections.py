#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: tcpdrop contributors
# SPDX-License-Identifier: MIT OR Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: connections
short_description: List TCP connections with tcpdrop
description:
  - Runs the C(tcpdrop) command installed on the host as C(tcpdrop -l --json) and returns its rows,
    the host's TCP connections that the options select, for facts and assertions
    (before and after a M(tcpdrop.linux.drop), say).
  - Never changes anything. Listing needs no privilege; another network namespace needs C(CAP_SYS_ADMIN).
  - Nothing matching is not a failure; the list is empty.
version_added: "0.1.0"
author:
  - tcpdrop contributors
requirements:
  - tcpdrop on the managed host (on E(PATH), or O(tcpdrop_path))
extends_documentation_fragment:
  - tcpdrop.linux.selection
options:
  owners:
    description:
      - Add each socket's owning processes to its row (tcpdrop C(-p)), as C(owners), a list of
        C(pid) and C(command), or null where they could not be read.
    type: bool
    default: false
attributes:
  check_mode:
    description: Lists in check mode as well; it never changes anything.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  platform:
    description: Linux hosts.
    platforms: linux
seealso:
  - module: tcpdrop.linux.drop
"""

EXAMPLES = r"""
- name: Clients of the database, in every network namespace
  tcpdrop.linux.connections:
    all_netns: true
    filter: dport = :5432
    states: [established]
  register: db

- name: None is left
  ansible.builtin.assert:
    that: db.count == 0

- name: Who holds connections to port 443
  tcpdrop.linux.connections:
    filter: dport = :443
    owners: true
  register: https

- name: Their local addresses
  ansible.builtin.debug:
    msg: "{{ https.connections | map(attribute='local') | list }}"
"""

RETURN = r"""
connections:
  description:
    - tcpdrop's JSON rows, one per connection, as C(tcpdrop -l --json) prints them (see C(tcpdrop --help)),
      with C(family), C(state), C(local), C(remote), C(mapped), C(uid), C(inode), C(cookie), C(recv_q), C(send_q);
      C(owners) with O(owners); C(netns) with O(netns) or O(all_netns).
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
count:
  description: How many connections were listed.
  returned: always
  type: int
  sample: 1
cmd:
  description: The command that ran.
  returned: always
  type: list
  elements: str
rc:
  description: tcpdrop's exit status (0 listed, 1 the selection matched nothing).
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
    warnings,
)


def main():
    spec = dict(SELECTION_SPEC)
    spec["owners"] = dict(type="bool", default=False)
    module = AnsibleModule(argument_spec=spec, mutually_exclusive=MUTUALLY_EXCLUSIVE, supports_check_mode=True)

    args, stdin = selection_args(module)
    args = ["--list"] + (["--processes"] if module.params["owners"] else []) + args
    argv, rc, rows, err = run(module, args, stdin)
    result = dict(changed=False, connections=rows, count=len(rows), cmd=argv, rc=rc, stderr=err)
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
