# -*- coding: utf-8 -*-
# Copyright: tcpdrop contributors
# SPDX-License-Identifier: MIT OR Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The options tcpdrop.linux.drop and tcpdrop.linux.connections share:
    which connections, in which network namespace, with which tcpdrop."""

    DOCUMENTATION = r"""
options:
  tuples:
    description:
      - Exactly these connections, one per item, in either of tcpdrop's forms
        C(LADDR:LPORT RADDR:RPORT) (IPv6 as C([ADDR]:PORT)) or C(LADDR LPORT RADDR RPORT).
      - Passed to tcpdrop as a file of tuples (C(tcpdrop -f -)), every item checked before anything is done.
      - Mutually exclusive with O(filter).
    type: list
    elements: str
  filter:
    description:
      - An C(ss) filter expression, as tcpdrop reads it, for example C(dport = :5432 and dst 10.0.0.0/8).
      - A mistake in it (C(dprot)) fails the task with tcpdrop's message, which names the word.
      - Mutually exclusive with O(tuples).
    type: str
  states:
    description:
      - Only connections in these states (tcpdrop C(--state)); C(ss)'s names such as C(established),
        C(time-wait), or a group such as C(connected).
      - A listening socket is chosen only when C(listening) is named.
    type: list
    elements: str
  processes:
    description:
      - Only sockets owned by a process with one of these command names (tcpdrop C(--process));
        C(*) and C(?) match as in a shell.
    type: list
    elements: str
  uids:
    description:
      - Only sockets of these users, by name or number (tcpdrop C(--uid)).
    type: list
    elements: str
  family:
    description:
      - Only IPv4 (tcpdrop C(-4)) or only IPv6 (C(-6)) connections.
    type: str
    choices: [ipv4, ipv6]
  netns:
    description:
      - Work in this network namespace, a name from C(ip netns list) or a path such as
        C(/proc/PID/ns/net) (tcpdrop C(--netns)). Entering it needs C(CAP_SYS_ADMIN).
      - Mutually exclusive with O(all_netns).
    type: str
  all_netns:
    description:
      - Work in every network namespace of the host (tcpdrop C(--all-netns)); each row carries its C(netns).
    type: bool
    default: false
  tcpdrop_path:
    description:
      - The tcpdrop binary to run. By default the one found on E(PATH).
    type: path
"""
