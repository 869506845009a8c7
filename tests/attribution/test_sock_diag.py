"""SocketDiag against real loopback sockets in the current namespace.

sock_diag needs no privilege to read; these tests open sockets on
loopback only and send at most a datagram to a closed loopback port.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import statistics
import time
from collections.abc import Iterator

import pytest

from netwarden.attribution.sock_diag import SocketDiag, SocketOwner
from netwarden.network.packet import FlowKey, Protocol

ip = ipaddress.ip_address


def inode(sock: socket.socket) -> int:
    return os.fstat(sock.fileno()).st_ino


def owner_of(sock: socket.socket) -> SocketOwner:
    return SocketOwner(os.geteuid(), inode(sock))


@pytest.fixture
def diag() -> Iterator[SocketDiag]:
    with SocketDiag() as sock_diag:
        yield sock_diag


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def tcp_flow(sock: socket.socket) -> FlowKey:
    local, remote = sock.getsockname(), sock.getpeername()
    return FlowKey(Protocol.TCP, ip(local[0]), local[1], ip(remote[0]), remote[1])


def test_tcp_exact_lookup(diag: SocketDiag, listener: socket.socket) -> None:
    with socket.create_connection(listener.getsockname()) as client:
        assert diag.lookup(tcp_flow(client)) == owner_of(client)


def test_tcp_ipv6_lookup(diag: SocketDiag) -> None:
    with (
        socket.create_server(("::1", 0), family=socket.AF_INET6) as server,
        socket.create_connection(server.getsockname()[:2]) as client,
    ):
        assert diag.lookup(tcp_flow(client)) == owner_of(client)


def test_ipv4_mapped_socket_found_by_ipv4_flow(
    diag: SocketDiag, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    with socket.socket(socket.AF_INET6) as client:
        client.connect(("::ffff:127.0.0.1", port))
        local_port = client.getsockname()[1]
        flow = FlowKey(Protocol.TCP, ip("127.0.0.1"), local_port, ip("127.0.0.1"), port)
        assert diag.lookup(flow) == owner_of(client)


def test_missing_socket_is_none(diag: SocketDiag) -> None:
    flow = FlowKey(Protocol.TCP, ip("127.0.0.1"), 1, ip("127.0.0.1"), 2)
    assert diag.lookup(flow) is None
    flow6 = FlowKey(Protocol.UDP, ip("::1"), 1, ip("::1"), 2)
    assert diag.lookup(flow6) is None


def test_protocols_without_sockets_are_none(diag: SocketDiag) -> None:
    flow = FlowKey(Protocol.ICMP, ip("127.0.0.1"), 0, ip("127.0.0.1"), 0)
    assert diag.lookup(flow) is None


def test_udp_unconnected_sendto(diag: SocketDiag) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(b"q", ("127.0.0.1", 9))
        port = client.getsockname()[1]
        flow = FlowKey(Protocol.UDP, ip("127.0.0.1"), port, ip("127.0.0.1"), 9)
        assert diag.lookup(flow) == owner_of(client)


def test_udp_ipv6_connected(diag: SocketDiag) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as client:
        client.connect(("::1", 53))
        port = client.getsockname()[1]
        flow = FlowKey(Protocol.UDP, ip("::1"), port, ip("::1"), 53)
        assert diag.lookup(flow) == owner_of(client)


def test_udp_redirected_query_found_by_local_port(diag: SocketDiag) -> None:
    """A client connected to a foreign resolver, as the nameserver sees it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.connect(("127.0.0.53", 53))
        port = client.getsockname()[1]
        owner = diag.lookup_local(
            Protocol.UDP, ip("127.0.0.1"), port, ip("127.0.0.1"), 53
        )
        assert owner == owner_of(client)


def test_udp_dump_prefers_exact_local_address(diag: SocketDiag) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.7", 0))
        client.connect(("127.0.0.8", 53))
        port = client.getsockname()[1]
        owner = diag.lookup_local(
            Protocol.UDP, ip("127.0.0.7"), port, ip("127.0.0.1"), 53
        )
        assert owner == owner_of(client)
        assert (
            diag.lookup_local(Protocol.UDP, ip("127.0.0.9"), port, ip("127.0.0.1"), 53)
            is None
        )


def test_inbound_flow_finds_listener(diag: SocketDiag, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    flow = FlowKey(Protocol.TCP, ip("127.0.0.1"), port, ip("127.0.0.1"), 51111)
    assert diag.lookup(flow) == owner_of(listener)


def test_lookup_after_close_raises_netlink_error(listener: socket.socket) -> None:
    from netwarden.errors import NetlinkError

    diag = SocketDiag()
    diag.close()
    with pytest.raises(NetlinkError):
        diag.lookup(FlowKey(Protocol.TCP, ip("127.0.0.1"), 1, ip("127.0.0.1"), 2))


def test_exact_lookup_is_fast(diag: SocketDiag, listener: socket.socket) -> None:
    with socket.create_connection(listener.getsockname()) as client:
        flow = tcp_flow(client)
        timings = []
        for _ in range(1000):
            start = time.perf_counter()
            diag.lookup(flow)
            timings.append(time.perf_counter() - start)
    median_us = statistics.median(timings) * 1e6
    print(f"sock_diag exact TCP lookup median {median_us:.1f} us")
    assert median_us < 200  # tens of microseconds; generous for busy CI hosts
