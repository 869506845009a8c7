"""The netfilter rules of the iptables backend, as ``iptables-restore`` text.

Pure: text in, text out; :mod:`.backend` applies it. netwarden owns three
chains, each reached by one jump inserted first in the built-in ``OUTPUT``
chain of its table, and touches no other rule:

``NETWARDEN-OUTPUT`` (mangle)
    Queues the packets of undecided TCP and UDP connections. DNS is not
    queued: it is redirected to our nameserver, which decides per query.
    Packets in the reply direction are not queued either: they answer a
    connection that was not ours to decide here (an inbound one, or a DNS
    query redirected before it could be queued, whose answers would
    otherwise reach Python one by one). A connection whose connmark
    carries our bits is decided and stays in the kernel. Packets that
    already carry the accept mark come from netwarden's own sockets
    (``SO_MARK``, which needs CAP_NET_ADMIN): its upstream DNS must never
    depend on attributing itself.
    ``--queue-bypass`` lets packets through while no program is bound to
    the queue (the daemon is stopped or crashed: fail-open).
``NETWARDEN-DNS`` (nat)
    Redirects every port-53 query, whatever server it was sent to, to our
    nameserver on loopback. Packets that already carry ``MARK_ACCEPT`` (the
    nameserver's own plain-DNS upstream sockets set it with ``SO_MARK``)
    are not redirected, or they would loop back to it.
``NETWARDEN-VERDICT`` (filter)
    Saves our bits of the packet mark, set by the queue verdict, into the
    connmark, then rejects or drops by the connmark. The save must live in
    a later table than the queue: an accepted NFQUEUE verdict ends the
    mangle table for that packet. Saving first means the very first packet
    of a blocked connection is already rejected here.
    Packets in the reply direction pass: the TCP reset or ICMP error that
    REJECT sends back to the local socket is attached to the very
    connection it rejects (``nf_ct_attach``), and would be dropped by the
    connmark rules otherwise, leaving the program to time out.

A rejected or dropped first packet never confirms its conntrack entry, so
the connmark of a blocked connection is lost and its next attempt is
queued again (one decision per attempt, not per flow).
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass

from netwarden.intercept.marks import MARK_ACCEPT, MARK_BLOCK, MARK_DROP, MARK_MASK

CHAIN_PREFIX = "NETWARDEN-"
QUEUE_CHAIN = "NETWARDEN-OUTPUT"
DNS_CHAIN = "NETWARDEN-DNS"
VERDICT_CHAIN = "NETWARDEN-VERDICT"
OWN_TABLES = (("mangle", QUEUE_CHAIN), ("nat", DNS_CHAIN), ("filter", VERDICT_CHAIN))


class Family(enum.Enum):
    IPV4 = 4
    IPV6 = 6

    @property
    def restore_command(self) -> str:
        return "iptables-restore" if self is Family.IPV4 else "ip6tables-restore"

    @property
    def save_command(self) -> str:
        return "iptables-save" if self is Family.IPV4 else "ip6tables-save"

    @property
    def port_unreachable(self) -> str:
        if self is Family.IPV4:
            return "icmp-port-unreachable"
        return "icmp6-port-unreachable"


@dataclass(frozen=True, slots=True)
class InterceptPlan:
    """What to install: the queue for first packets and the nameserver port."""

    queue_num: int
    dns_port: int

    def __post_init__(self) -> None:
        if not 0 <= self.queue_num <= 0xFFFF:
            raise ValueError(f"queue number {self.queue_num} is outside 0..65535")
        if not 1 <= self.dns_port <= 0xFFFF:
            raise ValueError(f"DNS port {self.dns_port} is outside 1..65535")


def _mark(value: int) -> str:
    return f"{value:#x}/{MARK_MASK:#x}"


def _queue_rules(plan: InterceptPlan) -> list[str]:
    queue = f"-j NFQUEUE --queue-num {plan.queue_num} --queue-bypass"
    return [
        f"-A {QUEUE_CHAIN} -p udp --dport 53 -j RETURN",
        f"-A {QUEUE_CHAIN} -p tcp --dport 53 -j RETURN",
        f"-A {QUEUE_CHAIN} -m conntrack --ctdir REPLY -j RETURN",
        f"-A {QUEUE_CHAIN} -m mark --mark {_mark(MARK_ACCEPT)} -j RETURN",
        f"-A {QUEUE_CHAIN} -m connmark ! --mark {_mark(0)} -j RETURN",
        f"-A {QUEUE_CHAIN} -p tcp {queue}",
        f"-A {QUEUE_CHAIN} -p udp {queue}",
    ]


def _dns_rules(plan: InterceptPlan) -> list[str]:
    redirect = f"-j REDIRECT --to-ports {plan.dns_port}"
    return [
        f"-A {DNS_CHAIN} -m mark --mark {_mark(MARK_ACCEPT)} -j RETURN",
        f"-A {DNS_CHAIN} -p udp --dport 53 {redirect}",
        f"-A {DNS_CHAIN} -p tcp --dport 53 {redirect}",
    ]


def _verdict_rules(family: Family) -> list[str]:
    save = f"--save-mark --nfmask {MARK_MASK:#x} --ctmask {MARK_MASK:#x}"
    blocked = f"-m connmark --mark {_mark(MARK_BLOCK)}"
    unreachable = f"--reject-with {family.port_unreachable}"
    return [
        f"-A {VERDICT_CHAIN} -m mark ! --mark {_mark(0)} -j CONNMARK {save}",
        f"-A {VERDICT_CHAIN} -m conntrack --ctdir REPLY -j RETURN",
        f"-A {VERDICT_CHAIN} -p tcp {blocked} -j REJECT --reject-with tcp-reset",
        f"-A {VERDICT_CHAIN} {blocked} -j REJECT {unreachable}",
        f"-A {VERDICT_CHAIN} -m connmark --mark {_mark(MARK_DROP)} -j DROP",
    ]


def install_text(plan: InterceptPlan, family: Family) -> str:
    """``iptables-restore --noflush`` input installing our chains for ``family``."""
    tables = (
        ("mangle", QUEUE_CHAIN, _queue_rules(plan)),
        ("nat", DNS_CHAIN, _dns_rules(plan)),
        ("filter", VERDICT_CHAIN, _verdict_rules(family)),
    )
    lines: list[str] = []
    for table, chain, rules in tables:
        lines += [f"*{table}", f":{chain} - [0:0]", *rules, f"-I OUTPUT -j {chain}"]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def removal_text(saved: str) -> str:
    """Restore input deleting every trace of ours found in ``iptables-save`` output.

    Built from what is really there, so it works when nothing is installed
    (empty text), after a clean install, and after a crash left duplicate
    jumps or half a table behind.
    """
    lines: list[str] = []
    for table, ours in _our_parts(saved).items():
        chains, jumps = ours
        lines.append(f"*{table}")
        lines += ["-D" + jump[2:] for jump in jumps]
        lines += [f"-F {chain}" for chain in chains]
        lines += [f"-X {chain}" for chain in chains]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n" if lines else ""


def _our_parts(saved: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per table: our chains, and the rules of other chains that jump to them."""
    parts: dict[str, tuple[list[str], list[str]]] = {}
    table = ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":" + CHAIN_PREFIX):
            parts.setdefault(table, ([], []))[0].append(line[1:].split()[0])
        elif _is_foreign_jump_to_ours(line):
            parts.setdefault(table, ([], []))[1].append(line.strip())
    return parts


def _is_foreign_jump_to_ours(line: str) -> bool:
    words = line.split()
    if len(words) < 2 or words[0] != "-A" or words[1].startswith(CHAIN_PREFIX):
        return False
    return any(
        flag in ("-j", "-g") and target.startswith(CHAIN_PREFIX)
        for flag, target in itertools.pairwise(words)
    )
