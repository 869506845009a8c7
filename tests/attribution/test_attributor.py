"""Attributor over a fake socket table and a fake /proc tree."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import pytest

from netwarden.attribution.attributor import Attributor
from netwarden.attribution.fake_proc import FakeProcTree
from netwarden.attribution.proc_fd import InodeIndex
from netwarden.attribution.process import Process
from netwarden.attribution.process_info import read_process
from netwarden.attribution.sock_diag import SocketOwner
from netwarden.network.packet import FlowKey, IPAddress, Protocol


class FakeSocketDiag:
    """Answers lookups from a dict of flow -> owner."""

    def __init__(self) -> None:
        self.owners: dict[FlowKey, SocketOwner] = {}

    def lookup(self, flow: FlowKey) -> SocketOwner | None:
        return self.owners.get(flow)

    def lookup_redirected(
        self, protocol: int, local_ip: IPAddress, local_port: int
    ) -> SocketOwner | None:
        return next(
            (
                owner
                for flow, owner in self.owners.items()
                if (flow.protocol, flow.local_ip, flow.local_port)
                == (protocol, local_ip, local_port)
            ),
            None,
        )


def flow(local_port: int, remote: str = "192.0.2.80") -> FlowKey:
    return FlowKey(
        Protocol.TCP,
        ipaddress.ip_address("192.0.2.1"),
        local_port,
        ipaddress.ip_address(remote),
        80,
    )


class CountingReader:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, pid: int, proc_root: Path) -> Process | None:
        self.calls.append(pid)
        return read_process(pid, proc_root)


@pytest.fixture
def tree(tmp_path: Path) -> FakeProcTree:
    fake = FakeProcTree(tmp_path / "proc")
    fake.add_process(
        100,
        exe="/usr/bin/curl",
        cmdline=["curl", "x"],
        uid=0,
        sockets={3: 5001, 4: 5002},
    )
    fake.add_process(
        200,
        exe="/usr/bin/python3.11",
        cmdline=["python3", "c.py"],
        cwd="/srv",
        uid=0,
        sockets={3: 6001},
    )
    return fake


def make(
    tree: FakeProcTree, reader: CountingReader | None = None
) -> tuple[Attributor, FakeSocketDiag]:
    diag = FakeSocketDiag()
    attributor = Attributor(diag, InodeIndex(tree.root), reader or CountingReader())
    return attributor, diag


def test_attributes_flow_to_process(tree: FakeProcTree) -> None:
    attributor, diag = make(tree)
    diag.owners[flow(40000)] = SocketOwner(0, 6001)
    process = attributor.attribute(flow(40000))
    assert process is not None
    assert (process.pid, process.exe, process.script) == (
        200,
        "/usr/bin/python3.11",
        "/srv/c.py",
    )


def test_no_socket_or_timewait_gives_none(tree: FakeProcTree) -> None:
    attributor, diag = make(tree)
    assert attributor.attribute(flow(40000)) is None
    diag.owners[flow(40001)] = SocketOwner(0, 0)
    assert attributor.attribute(flow(40001)) is None


def test_orphan_inode_gives_none(tree: FakeProcTree) -> None:
    attributor, diag = make(tree)
    diag.owners[flow(40000)] = SocketOwner(0, 999999)
    assert attributor.attribute(flow(40000)) is None


def test_process_details_cached_per_pid_and_start(tree: FakeProcTree) -> None:
    reader = CountingReader()
    attributor, diag = make(tree, reader)
    diag.owners[flow(40000)] = SocketOwner(0, 5001)
    diag.owners[flow(40001)] = SocketOwner(0, 5002)
    first = attributor.attribute(flow(40000))
    second = attributor.attribute(flow(40001))
    assert first is second
    assert reader.calls == [100]


def test_pid_reuse_reads_new_process(tree: FakeProcTree) -> None:
    reader = CountingReader()
    attributor, diag = make(tree, reader)
    diag.owners[flow(40000)] = SocketOwner(0, 5001)
    assert attributor.attribute(flow(40000)).exe == "/usr/bin/curl"  # type: ignore[union-attr]
    tree.remove_process(100)
    tree.add_process(
        100, exe="/usr/bin/wget", uid=0, sockets={3: 5001}, start_ticks=99999
    )
    process = attributor.attribute(flow(40000))
    assert process is not None and process.exe == "/usr/bin/wget"
    assert reader.calls == [100, 100]


def test_cache_is_bounded(tree: FakeProcTree) -> None:
    diag = FakeSocketDiag()
    attributor = Attributor(diag, InodeIndex(tree.root), cache_size=1)
    attributor.process(100)
    attributor.process(200)
    assert len(attributor._cache) == 1


def test_logs_each_lookup_at_debug(
    tree: FakeProcTree, caplog: pytest.LogCaptureFixture
) -> None:
    attributor, diag = make(tree)
    diag.owners[flow(40000)] = SocketOwner(0, 5001)
    with caplog.at_level(logging.DEBUG, logger="netwarden.attribution"):
        attributor.attribute(flow(40000))
        attributor.attribute(flow(40009))
    text = caplog.text
    assert "tcp 192.0.2.1:40000 -> 192.0.2.80:80: pid 100 /usr/bin/curl" in text
    assert "192.0.2.1:40009 -> 192.0.2.80:80: no socket owner" in text
