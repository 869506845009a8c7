"""Programs the namespace tests run: a sink server, a client, an attributor.

Run as ``python netns_programs.py ROLE ...`` inside a test namespace.

* ``sink``: accepts TCP on port 8080 and reads UDP on port 53 (IPv4 and
  IPv6, dual-stack), never answers, and prints ``proto ip port`` of each
  peer, so clients stay waiting with their sockets open.
* ``client FAMILY PROTO HOST PORT``: opens one socket (``udp-sendto``
  sends without connecting), prints its local port, holds it until stdin
  closes or 60 s pass.
* ``attribute``: reads flows as JSON on stdin, attributes each with a
  fresh SocketDiag, InodeIndex and Attributor, prints the results and the
  lookup timings as JSON.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import selectors
import socket
import statistics
import sys
import time
from collections.abc import Callable

HOLD_SECONDS = 60


def sink() -> None:
    tcp = socket.create_server(
        ("::", 8080), family=socket.AF_INET6, dualstack_ipv6=True
    )
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    udp.bind(("::", 53))
    held = []
    selector = selectors.DefaultSelector()
    selector.register(tcp, selectors.EVENT_READ, "tcp")
    selector.register(udp, selectors.EVENT_READ, "udp")
    print("ready", flush=True)
    deadline = time.monotonic() + 3 * HOLD_SECONDS
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            if key.data == "tcp":
                connection, peer = tcp.accept()
                held.append(connection)
            else:
                _, peer = udp.recvfrom(4096)
            address = ipaddress.ip_address(peer[0].split("%")[0])
            if address.version == 6 and address.ipv4_mapped:
                address = address.ipv4_mapped
            print(key.data, address, peer[1], flush=True)


def client(family: str, protocol: str, host: str, port: int) -> None:
    family_number = socket.AF_INET6 if family == "6" else socket.AF_INET
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family_number, kind)
    if protocol == "udp-sendto":
        sock.sendto(b"hello", (host, port))
    else:
        sock.connect((host, port))
    print(sock.getsockname()[1], flush=True)
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ)
    selector.select(timeout=HOLD_SECONDS)


def attribute() -> None:
    from netwarden.attribution.attributor import Attributor
    from netwarden.attribution.proc_fd import InodeIndex
    from netwarden.attribution.sock_diag import SocketDiag
    from netwarden.network.packet import FlowKey

    flows = [
        FlowKey(
            f["protocol"],
            ipaddress.ip_address(f["local_ip"]),
            f["local_port"],
            ipaddress.ip_address(f["remote_ip"]),
            f["remote_port"],
        )
        for f in json.load(sys.stdin)
    ]
    diag = SocketDiag()
    attributor = Attributor(diag, InodeIndex())
    results = [attributor.attribute(flow) for flow in flows]
    print(
        json.dumps(
            {
                "processes": [dataclasses.asdict(p) if p else None for p in results],
                "lookup_median_us": _median_us(lambda: diag.lookup(flows[0])),
                "attribute_median_us": _median_us(
                    lambda: attributor.attribute(flows[0])
                ),
            }
        )
    )


def _median_us(call: Callable[[], object], rounds: int = 1000) -> float:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1e6


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "sink":
        sink()
    elif role == "client":
        client(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        attribute()
