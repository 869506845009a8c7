"""Find the socket behind a flow with netlink ``sock_diag``.

One ``NETLINK_SOCK_DIAG`` socket answers "which socket has this address
pair?" with the socket's owner uid and inode, in tens of microseconds
(``man 7 sock_diag``). A netlink socket belongs to the network namespace
it was created in, so the daemon builds :class:`SocketDiag` after it has
entered the namespace it protects.

Lookup order for a flow (each step only when the previous found nothing):

1. exact request (``SOCK_DIAG_BY_FAMILY`` with the 4-tuple);
2. for IPv4, the same request as AF_INET6 with IPv4-mapped addresses
   (``::ffff:a.b.c.d``), for dual-stack sockets of AF_INET6. Kernel 6.18
   already finds those in step 1 (a mapped TCP socket is hashed in the
   IPv4 table, and the UDP lookup scores dual-stack sockets too); the
   retry costs one round trip, only on a miss, and does not depend on it;
3. for UDP, the remote side as wildcard (``0.0.0.0:0`` / ``[::]:0``);
4. a dump filtered by local port in the kernel, bounded in size, matched
   here on the local address (for TCP, listening sockets are left out).

Step 4 is what lets the nameserver attribute a redirected query: after
iptables REDIRECT the nameserver sees ``client -> 127.0.0.1:53``, but the
client's socket, if connected, has the original destination (say
``192.0.2.53:53``) as its peer. The exact lookups refuse a socket whose
peer differs (for UDP the kernel scores sockets, for TCP it hashes the
4-tuple), so only the dump by local port and address, which ignores the
peer, finds it; its reply also tells the original destination.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from netwarden.errors import NetlinkError
from netwarden.network.packet import FlowKey, IPAddress, Protocol

log = logging.getLogger(__name__)

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
INET_DIAG_REQ_BYTECODE = 1
INET_DIAG_BC_S_EQ = 11  # linux/inet_diag.h, source (local) port equals
INET_DIAG_NOCOOKIE = 0xFFFFFFFF
ALL_STATES = 0xFFFFFFFF
TCP_LISTEN = 10  # include/net/tcp_states.h
CONNECTED_STATES = ALL_STATES & ~(1 << TCP_LISTEN)

# nlmsghdr + inet_diag_req_v2 with its inet_diag_sockid (linux/inet_diag.h).
# Ports are __be16 and addresses __be32[4]; we pass ports through htons and
# addresses as their 16 network-order bytes, so one native struct does it.
_REQUEST = struct.Struct("=IHHII BBBxI HH16s16sIII")
_NLMSGHDR = struct.Struct("=IHHII")
_NLMSGERR = struct.Struct("=i")
# inet_diag_msg: family, state, timer, retrans, sockid, expires, rqueue,
# wqueue, uid, inode.
_DIAG_MSG = struct.Struct("=BBBB HH16s16sIII IIIII")
_BYTECODE_PORT = struct.Struct("=BBH BBH")
_NLATTR = struct.Struct("=HH")

MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
RECEIVE_BUFFER = 65536
DUMP_MESSAGE_LIMIT = 4096  # sockets read from one dump before giving up


@dataclass(frozen=True, slots=True)
class SocketOwner:
    """Who owns a socket: its uid and its inode (0 for time-wait sockets).

    ``peer`` is the remote address the socket itself is connected to, when
    it is: for a DNS query redirected to the nameserver that is the server
    the program meant to ask, which the packet no longer shows.
    """

    uid: int
    inode: int
    # Identity is uid and inode; the peer is what the socket says of itself.
    peer: tuple[IPAddress, int] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class _DiagReply:
    family: int
    local_ip: bytes
    local_port: int
    owner: SocketOwner


def _packed(address: IPAddress | None, family: int) -> bytes:
    """The 16 bytes of ``address`` as the kernel's ``__be32[4]``."""
    if address is None:
        return bytes(16)
    raw = address.packed
    if family == socket.AF_INET6 and len(raw) == 4:
        return MAPPED_PREFIX + raw
    return raw.ljust(16, b"\x00")


class SocketDiag:
    """A ``NETLINK_SOCK_DIAG`` socket answering flow lookups.

    Safe to share between threads: requests are serialised by a lock.
    """

    def __init__(self) -> None:
        try:
            self._socket = socket.socket(
                socket.AF_NETLINK,
                socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        except OSError as err:
            message = f"cannot open sock_diag socket: {err}"
            raise NetlinkError(message, err.errno or 0) from err
        self._socket.bind((0, 0))
        self._buffer = bytearray(RECEIVE_BUFFER)
        self._sequence = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> SocketDiag:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def lookup(self, flow: FlowKey) -> SocketOwner | None:
        """The owner of the local socket of ``flow``, or None if none exists."""
        return self.lookup_local(
            flow.protocol,
            flow.local_ip,
            flow.local_port,
            flow.remote_ip,
            flow.remote_port,
        )

    def lookup_local(
        self,
        protocol: int,
        local_ip: IPAddress,
        local_port: int,
        remote_ip: IPAddress,
        remote_port: int,
    ) -> SocketOwner | None:
        """Find the socket bound to ``local_ip:local_port`` talking to remote.

        For UDP the remote side is a hint only (see the module docstring).
        """
        if protocol not in (Protocol.TCP, Protocol.UDP):
            return None
        families = self._families(local_ip)
        for family in families:
            owner = self._exact(
                protocol, family, local_ip, local_port, remote_ip, remote_port
            )
            if owner is not None:
                return owner
        if protocol == Protocol.UDP:
            for family in families:
                owner = self._exact(protocol, family, local_ip, local_port, None, 0)
                if owner is not None:
                    return owner
        return self._dump_by_local_port(protocol, families, local_ip, local_port)

    def lookup_redirected(
        self, protocol: int, local_ip: IPAddress, local_port: int
    ) -> SocketOwner | None:
        """The socket bound to ``local_ip:local_port``, whatever its peer.

        For a query the nameserver got through REDIRECT: the client socket's
        peer is the server it meant to ask, so step 1 of :meth:`lookup_local`
        cannot match and is skipped. An unconnected UDP socket (dnspython's,
        glibc's for some queries) is found by step 3, a round trip cheaper
        than the dump of step 4 that finds the rest.
        """
        if protocol not in (Protocol.TCP, Protocol.UDP):
            return None
        families = self._families(local_ip)
        if protocol == Protocol.UDP:
            for family in families:
                owner = self._exact(protocol, family, local_ip, local_port, None, 0)
                if owner is not None:
                    return owner
        return self._dump_by_local_port(protocol, families, local_ip, local_port)

    @staticmethod
    def _families(local_ip: IPAddress) -> tuple[int, ...]:
        # An AF_INET6 socket without IPV6_V6ONLY sends IPv4 with mapped
        # addresses (RFC 4291 section 2.5.5.2); the packet shows plain IPv4.
        if local_ip.version == 4:
            return (socket.AF_INET, socket.AF_INET6)
        return (socket.AF_INET6,)

    def _exact(
        self,
        protocol: int,
        family: int,
        local_ip: IPAddress,
        local_port: int,
        remote_ip: IPAddress | None,
        remote_port: int,
    ) -> SocketOwner | None:
        local = _packed(local_ip, family)
        remote = _packed(remote_ip, family)
        if protocol == Protocol.UDP:
            # udp_dump_one() passes idiag_src to the receive-path lookup as the
            # packet's source: "src and dst are swapped for historical reasons"
            # (net/ipv4/udp_diag.c), so the remote side goes first for UDP.
            src, sport, dst, dport = remote, remote_port, local, local_port
        else:
            src, sport, dst, dport = local, local_port, remote, remote_port
        with self._lock:
            sequence = self._send(
                protocol, family, NLM_F_REQUEST, src, sport, dst, dport, b""
            )
            for reply in self._replies(sequence):
                return reply.owner
        return None

    def _dump_by_local_port(
        self,
        protocol: int,
        families: tuple[int, ...],
        local_ip: IPAddress,
        local_port: int,
    ) -> SocketOwner | None:
        # The kernel filters by port with inet_diag bytecode; address
        # matching (including wildcard binds) is done here.
        bytecode = _BYTECODE_PORT.pack(INET_DIAG_BC_S_EQ, 8, 12, 0, 0, local_port)
        attribute = _NLATTR.pack(_NLATTR.size + len(bytecode), INET_DIAG_REQ_BYTECODE)
        for family in families:
            wanted = _packed(local_ip, family)
            with self._lock:
                sequence = self._send(
                    protocol,
                    family,
                    NLM_F_REQUEST | NLM_F_DUMP,
                    bytes(16),
                    0,
                    bytes(16),
                    0,
                    attribute + bytecode,
                    states=CONNECTED_STATES if protocol == Protocol.TCP else ALL_STATES,
                )
                found = self._pick_dumped(self._replies(sequence), wanted, local_port)
            if found is not None:
                return found
        return None

    @staticmethod
    def _pick_dumped(
        replies: Iterator[_DiagReply], wanted: bytes, local_port: int
    ) -> SocketOwner | None:
        """The socket bound exactly to ``wanted``, else one bound to any address."""
        exact: SocketOwner | None = None
        wildcard: SocketOwner | None = None
        for count, reply in enumerate(replies):
            if count >= DUMP_MESSAGE_LIMIT:
                log.debug("sock_diag dump for port %s cut at %s", local_port, count)
                break
            if reply.local_port != local_port:
                continue
            if reply.local_ip == wanted and exact is None:
                exact = reply.owner
            elif reply.local_ip == bytes(16) and wildcard is None:
                wildcard = reply.owner
        return exact or wildcard

    def _send(
        self,
        protocol: int,
        family: int,
        flags: int,
        src: bytes,
        sport: int,
        dst: bytes,
        dport: int,
        attributes: bytes,
        states: int = ALL_STATES,
    ) -> int:
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        length = _REQUEST.size + len(attributes)
        request = _REQUEST.pack(
            length,
            SOCK_DIAG_BY_FAMILY,
            flags,
            self._sequence,
            0,
            family,
            protocol,
            0,
            states,
            socket.htons(sport),
            socket.htons(dport),
            src,
            dst,
            0,
            INET_DIAG_NOCOOKIE,
            INET_DIAG_NOCOOKIE,
        )
        try:
            self._socket.send(request + attributes)
        except OSError as err:
            raise NetlinkError(
                f"sock_diag request failed: {err}", err.errno or 0
            ) from err
        return self._sequence

    def _replies(self, sequence: int) -> Iterator[_DiagReply]:
        """Yield the answers to request ``sequence`` until DONE or ENOENT.

        The generator must be drained (or closed) while the lock is held,
        so that a later request never reads this one's leftovers.
        """
        while True:
            size = self._receive()
            offset = 0
            while offset + _NLMSGHDR.size <= size:
                length, kind, _flags, seq, _pid = _NLMSGHDR.unpack_from(
                    self._buffer, offset
                )
                if length < _NLMSGHDR.size:
                    raise NetlinkError(f"sock_diag: bad message length {length}")
                body = offset + _NLMSGHDR.size
                offset += (length + 3) & ~3
                if seq != sequence:
                    continue  # a late answer to an earlier, abandoned request
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    self._raise_unless_enoent(body)
                    return
                if kind == SOCK_DIAG_BY_FAMILY:
                    yield self._parse(body)

    def _receive(self) -> int:
        try:
            return self._socket.recv_into(self._buffer)
        except OSError as err:
            raise NetlinkError(
                f"sock_diag receive failed: {err}", err.errno or 0
            ) from err

    def _raise_unless_enoent(self, body: int) -> None:
        (code,) = _NLMSGERR.unpack_from(self._buffer, body)
        if code == 0 or -code == errno.ENOENT:
            return
        raise NetlinkError(
            f"sock_diag: kernel refused lookup: {os.strerror(-code)}", -code
        )

    def _parse(self, body: int) -> _DiagReply:
        fields = _DIAG_MSG.unpack_from(self._buffer, body)
        family, sport, dport, src, dst = fields[0], *fields[4:8]
        uid, inode = fields[-2], fields[-1]
        peer = _peer(family, dst, socket.ntohs(dport))
        owner = SocketOwner(uid, inode, peer)
        return _DiagReply(family, src, socket.ntohs(sport), owner)


def _peer(family: int, raw: bytes, port: int) -> tuple[IPAddress, int] | None:
    """The connected remote address of a reply, None for unconnected sockets."""
    if port == 0:
        return None
    address: IPAddress
    if family == socket.AF_INET:
        address = ipaddress.IPv4Address(raw[:4])
    else:
        address = ipaddress.IPv6Address(raw)
        address = address.ipv4_mapped or address
    return address, port
