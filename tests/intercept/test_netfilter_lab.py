"""Real netfilter in namespaces this test creates: rules, queue, verdicts.

A device namespace with the rules and the queue reader, and a peer
namespace with servers, joined by a veth pair (192.0.2.0/24,
2001:db8::/64). The traffic runs in netfilter_scenario.py inside the
device namespace; this test builds and removes the namespaces and judges
the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import add_netns, require_command, require_root

SCENARIO = Path(__file__).with_name("netfilter_scenario.py")
pytestmark = pytest.mark.lab


@dataclass(frozen=True)
class Namespaces:
    device: str
    peer: str


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def build_pair(pair: Namespaces) -> None:
    suffix = str(os.getpid())[-6:]
    add_netns(pair.device)
    add_netns(pair.peer)
    ip("link", "add", f"nwd{suffix}", "netns", pair.device, "type", "veth",
       "peer", "name", f"nwp{suffix}", "netns", pair.peer)  # fmt: skip
    for netns, link, host in (
        (pair.device, f"nwd{suffix}", 2),
        (pair.peer, f"nwp{suffix}", 1),
    ):
        ip("-n", netns, "link", "set", "lo", "up")
        ip("-n", netns, "link", "set", link, "up")
        ip("-n", netns, "addr", "add", f"192.0.2.{host}/24", "dev", link)
        ip("-n", netns, "addr", "add", f"2001:db8::{host}/64", "dev", link, "nodad")


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    require_root()
    for command in ("iptables-restore", "ip6tables-restore", "iptables-save"):
        require_command(command)
    pair = Namespaces(f"nwt-icdev-{os.getpid()}", f"nwt-icpeer-{os.getpid()}")
    try:
        build_pair(pair)
        yield pair
    finally:
        for netns in (pair.device, pair.peer):
            subprocess.run(
                ["ip", "netns", "del", netns], capture_output=True, check=False
            )


def in_netns(netns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv]


@pytest.fixture
def peer_servers(namespaces: Namespaces) -> Iterator[None]:
    server = subprocess.Popen(
        in_netns(namespaces.peer, sys.executable, str(SCENARIO), "peer"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        yield
    finally:
        server.kill()
        server.wait(timeout=10)


@pytest.fixture
def report(namespaces: Namespaces, peer_servers: None) -> dict[str, object]:
    done = subprocess.run(
        in_netns(namespaces.device, sys.executable, str(SCENARIO)),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    result["saved_after"] = saved_rules(namespaces.device)
    return result


def saved_rules(netns: str) -> str:
    return "".join(
        subprocess.run(
            in_netns(netns, command), capture_output=True, text=True, check=True
        ).stdout
        for command in ("iptables-save", "ip6tables-save")
    )


def test_netfilter_end_to_end(report: dict[str, object]) -> None:
    results = report["results"]
    queued = report["queued"]
    assert isinstance(results, dict) and isinstance(queued, dict)
    for version in (4, 6):
        # Accepted: the whole megabyte arrives, and only the SYN was queued.
        assert results[f"tcp{version}:8080"] == "1000000"
        assert 1 <= queued[f"tcp{version}:8080"] <= 3
        # Blocked TCP: reset by the filter rules on the very first packet.
        assert results[f"tcp{version}:8081"] == "ECONNREFUSED"
        assert queued[f"tcp{version}:8081"] == 1
        # UDP: accepted flows work, blocked ones get ICMP port unreachable.
        assert results[f"udp{version}:9000"] == "peer:hello"
        assert queued[f"udp{version}:9000"] == 1
        assert results[f"udp{version}:9001"] == "ECONNREFUSED"
        # DNS to any server goes to our nameserver and is never queued...
        assert results[f"udp{version}:53"] == "local:hello"
        assert f"udp{version}:53" not in queued
        # ...except the nameserver's own sockets, marked MARK_ACCEPT.
        assert results[f"udp{version}:53:own"] == "peer:hello"
    # Dropped: silence; each retransmitted SYN is a new attempt (rules.py).
    assert results["tcp4:8082"] == "TimeoutError"
    # Answers of our nameserver (reply direction) never reach the queue.
    assert not any(key.endswith(":5353") or key.endswith(":0") for key in queued)


def test_queue_counters_and_busy_queue(report: dict[str, object]) -> None:
    stats = report["stats"]
    assert isinstance(stats, dict)
    assert stats["received"] == stats["accepted"] >= 10
    assert stats["unparsable"] == stats["decide_errors"] == stats["overflows"] == 0
    assert "queue 7" in str(report["second_bind"])
    assert report["jumps_after_two_installs"] == 3


def test_removal_leaves_nothing_of_ours(report: dict[str, object]) -> None:
    assert "NETWARDEN" not in str(report["saved_after"])
