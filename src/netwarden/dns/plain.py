"""Plain DNS to an upstream over UDP and TCP, from sockets carrying a mark.

The daemon redirects every port-53 query of the machine to its own
nameserver, its own included. Its upstream sockets therefore carry a
firewall mark (``SO_MARK``) that the redirect rule lets pass; without it a
``dns://`` upstream would be asked through netwarden itself, forever.
dnspython's query functions create their sockets themselves, so these two
exchanges are written here on asyncio's socket calls, with dnspython still
parsing and checking the messages.
"""

from __future__ import annotations

import asyncio
import socket
import struct

import dns.exception
import dns.flags
import dns.message

from netwarden.network.packet import IPAddress

MAX_UDP_ANSWER = 65535
_LENGTH = struct.Struct("!H")  # RFC 1035 section 4.2.2: two-byte length prefix


def open_socket(
    ip: IPAddress, kind: socket.SocketKind, mark: int | None
) -> socket.socket:
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        sock.setblocking(False)
        if mark is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
    except OSError:
        sock.close()
        raise
    return sock


async def udp_exchange(
    query: dns.message.Message, ip: IPAddress, port: int, mark: int | None
) -> dns.message.Message:
    """One query over UDP; datagrams that do not answer it are ignored.

    The caller bounds the time; a connected socket only receives from the
    server it asked (RFC 5452 section 9.1 on accepting answers).
    """
    loop = asyncio.get_running_loop()
    with open_socket(ip, socket.SOCK_DGRAM, mark) as sock:
        await loop.sock_connect(sock, (str(ip), port))
        await loop.sock_sendall(sock, query.to_wire())
        while True:
            wire = await loop.sock_recv(sock, MAX_UDP_ANSWER)
            try:
                response = dns.message.from_wire(wire, ignore_trailing=True)
            except dns.exception.DNSException:
                continue  # garbage is not an answer; keep waiting
            if query.is_response(response):
                return response


async def tcp_exchange(
    query: dns.message.Message, ip: IPAddress, port: int, mark: int | None
) -> dns.message.Message:
    loop = asyncio.get_running_loop()
    with open_socket(ip, socket.SOCK_STREAM, mark) as sock:
        await loop.sock_connect(sock, (str(ip), port))
        wire = query.to_wire()
        await loop.sock_sendall(sock, _LENGTH.pack(len(wire)) + wire)
        (length,) = _LENGTH.unpack(await _receive_exactly(loop, sock, _LENGTH.size))
        response = dns.message.from_wire(await _receive_exactly(loop, sock, length))
    if not query.is_response(response):
        # dnspython leaves its exception classes untyped.
        raise dns.exception.FormError("the answer is not for this query")  # type: ignore[no-untyped-call]
    return response


async def exchange_with_fallback(
    query: dns.message.Message, ip: IPAddress, port: int, mark: int | None
) -> dns.message.Message:
    """UDP first; a truncated answer is asked again over TCP (RFC 7766 s. 5)."""
    response = await udp_exchange(query, ip, port, mark)
    if response.flags & dns.flags.TC:
        return await tcp_exchange(query, ip, port, mark)
    return response


async def _receive_exactly(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int
) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            raise EOFError("the upstream closed the TCP connection mid-answer")
        data += chunk
    return data
