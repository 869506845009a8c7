"""SocketDiag against real loopback sockets in the current namespace.

sock_diag needs no privilege to read; these tests open sockets on
loopback only and send at most a datagram to a closed loopback port.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
        # The socket still names the server the program meant to ask.
        assert owner is not None and owner.peer == (ip("127.0.0.53"), 53)


def test_tcp_redirected_query_found_by_local_port(
    diag: SocketDiag, listener: socket.socket
) -> None:
    """A TCP client whose packets were redirected: the 4-tuple does not match."""
    with socket.create_connection(listener.getsockname()) as client:
        local_ip, local_port = client.getsockname()
        owner = diag.lookup_local(
            Protocol.TCP, ip(local_ip), local_port, ip("127.0.0.2"), 53
        )
        assert owner == owner_of(client)
        assert owner is not None
        assert owner.peer == (ip("127.0.0.1"), listener.getsockname()[1])


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM])
def test_a_redirected_client_is_found_by_its_local_side_alone(
    diag: SocketDiag, listener: socket.socket, kind: int
) -> None:
    protocol = Protocol.TCP if kind == socket.SOCK_STREAM else Protocol.UDP
    with socket.socket(socket.AF_INET, kind) as client:
        client.connect(listener.getsockname())
        local_ip, local_port = client.getsockname()
        owner = diag.lookup_redirected(protocol, ip(local_ip), local_port)
        assert owner == owner_of(client)
        assert owner is not None
        assert owner.peer == (ip("127.0.0.1"), listener.getsockname()[1])
    assert diag.lookup_redirected(Protocol.ICMP, ip(local_ip), local_port) is None


def test_peer_of_connected_tcp_and_none_when_unconnected(
    diag: SocketDiag, listener: socket.socket
) -> None:
    with socket.create_connection(listener.getsockname()) as client:
        owner = diag.lookup(tcp_flow(client))
        assert owner is not None
        assert owner.peer == (ip("127.0.0.1"), listener.getsockname()[1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as unconnected:
        unconnected.bind(("127.0.0.1", 0))
        port = unconnected.getsockname()[1]
        owner = diag.lookup_local(
            Protocol.UDP, ip("127.0.0.1"), port, ip("127.0.0.1"), 53
        )
        assert owner is not None and owner.peer is None


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


def test_kernel_refusal_is_netlink_error(diag: SocketDiag) -> None:
    import errno

    from netwarden.attribution import sock_diag as wire
    from netwarden.errors import NetlinkError

    bad_bytecode = wire._NLATTR.pack(8, wire.INET_DIAG_REQ_BYTECODE) + b"\xff" * 4
    flags = wire.NLM_F_REQUEST | wire.NLM_F_DUMP
    with diag._lock:
        sequence = diag._send(
            Protocol.TCP,
            socket.AF_INET,
            flags,
            bytes(16),
            0,
            bytes(16),
            0,
            bad_bytecode,
        )
        with pytest.raises(NetlinkError) as caught:
            list(diag._replies(sequence))
    assert caught.value.errno == errno.EINVAL
    # The socket stays usable after a refused request.
    assert (
        diag.lookup(FlowKey(Protocol.TCP, ip("127.0.0.1"), 1, ip("127.0.0.1"), 2))
        is None
    )


addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
    st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
)


@given(addresses)
def test_address_words_round_trip(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    from netwarden.attribution.sock_diag import _packed

    own_family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    raw = _packed(address, own_family)
    assert len(raw) == 16
    parsed = ipaddress.ip_address(raw[:4] if address.version == 4 else raw)
    assert parsed == address
    if address.version == 4:
        mapped = ipaddress.IPv6Address(_packed(address, socket.AF_INET6))
        assert mapped.ipv4_mapped == address


@given(
    addresses,
    st.integers(0, 65535),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
)
def test_reply_parse_inverts_kernel_layout(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    port: int,
    uid: int,
    inode: int,
) -> None:
    from netwarden.attribution import sock_diag as wire

    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    local = wire._packed(address, family)
    message = wire._DIAG_MSG.pack(
        family,
        1,
        0,
        0,
        socket.htons(port),
        socket.htons(80),
        local,
        bytes(16),
        0,
        0xFFFFFFFF,
        0xFFFFFFFF,
        0,
        0,
        0,
        uid,
        inode,
    )
    with SocketDiag() as parser:
        parser._buffer[: len(message)] = message
        reply = parser._parse(0)
    assert (reply.family, reply.local_ip, reply.local_port) == (family, local, port)
    assert reply.owner == SocketOwner(uid, inode)
