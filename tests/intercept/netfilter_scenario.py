"""Run inside a test namespace: install the rules, read the queue, make traffic.

Started by test_netfilter_lab.py with ``ip netns exec``; prints one JSON
object with what happened. The peer namespace (``192.0.2.1``,
``2001:db8::1``) runs :func:`serve_peer` from this file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

from netwarden.errors import NetlinkError
from netwarden.intercept.backend import IptablesBackend
from netwarden.intercept.marks import MARK_ACCEPT
from netwarden.intercept.nfqueue import NfQueue
from netwarden.intercept.queue_reader import QueueReader
from netwarden.intercept.rules import InterceptPlan
from netwarden.network.connection import Verdict
from netwarden.network.packet import FlowKey

QUEUE = 7
DNS_PORT = 5353
PEERS = {4: "192.0.2.1", 6: "2001:db8::1"}
VERDICT_BY_PORT = {8080: Verdict.ACCEPT, 8081: Verdict.BLOCK, 8082: Verdict.DROP}
VERDICT_BY_PORT |= {9000: Verdict.ACCEPT, 9001: Verdict.BLOCK}
BULK = 1_000_000
TIMEOUT = 3.0


def family(version: int) -> socket.AddressFamily:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def serve_peer() -> None:
    """TCP 8080 counts bytes until EOF; UDP 9000 and 53 echo with a prefix."""
    tcp = socket.create_server(("", 8080), family=socket.AF_INET6, dualstack_ipv6=True)
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    udp.bind(("", 9000))
    dns = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    dns.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    dns.bind(("", 53))
    print("ready", flush=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        readable, _, _ = select.select([tcp, udp, dns], [], [], 1.0)
        for sock in readable:
            if sock is tcp:
                count_bytes(tcp)
            else:
                data, peer = sock.recvfrom(2048)
                sock.sendto(b"peer:" + data, peer)


def count_bytes(server: socket.socket) -> None:
    connection, _ = server.accept()
    with connection:
        connection.settimeout(TIMEOUT)
        total = 0
        while chunk := connection.recv(65536):
            total += len(chunk)
        connection.sendall(str(total).encode())


def serve_local_dns(stop: threading.Event) -> None:
    """Our stand-in nameserver on loopback, both families."""
    sockets = []
    for host, fam in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
        sock = socket.socket(fam, socket.SOCK_DGRAM)
        sock.bind((host, DNS_PORT))
        sockets.append(sock)
    while not stop.is_set():
        readable, _, _ = select.select(sockets, [], [], 0.1)
        for sock in readable:
            data, peer = sock.recvfrom(2048)
            sock.sendto(b"local:" + data, peer)


def tcp_bulk(version: int, port: int) -> str:
    try:
        with socket.create_connection((PEERS[version], port), timeout=TIMEOUT) as sock:
            sock.sendall(b"x" * BULK)
            sock.shutdown(socket.SHUT_WR)
            return sock.recv(100).decode()
    except OSError as err:
        return errno.errorcode.get(err.errno or 0, type(err).__name__)


def udp_exchange(version: int, port: int, mark: int = 0) -> str:
    with socket.socket(family(version), socket.SOCK_DGRAM) as sock:
        if mark:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, mark)
        sock.settimeout(TIMEOUT)
        sock.connect((PEERS[version], port))
        try:
            sock.send(b"hello")
            return sock.recv(100).decode()
        except OSError as err:
            return errno.errorcode.get(err.errno or 0, type(err).__name__)


def client_runs() -> dict[str, str]:
    results = {}
    for version in (4, 6):
        for port in (8080, 8081):
            results[f"tcp{version}:{port}"] = tcp_bulk(version, port)
        for port in (9000, 9001, 53):
            results[f"udp{version}:{port}"] = udp_exchange(version, port)
        results[f"udp{version}:53:own"] = udp_exchange(version, 53, MARK_ACCEPT)
    results["tcp4:8082"] = tcp_bulk(4, 8082)
    return results


async def run_scenario(queue: NfQueue) -> dict[str, object]:
    queued: Counter[str] = Counter()

    async def decide(flow: FlowKey) -> Verdict:
        queued[f"{flow.protocol_label}{flow.version}:{flow.remote_port}"] += 1
        await asyncio.sleep(0)  # exercise the asynchronous path
        return VERDICT_BY_PORT.get(flow.remote_port, Verdict.ACCEPT)

    reader = QueueReader(queue, decide)
    reader.attach(asyncio.get_running_loop())
    try:
        results = await asyncio.to_thread(client_runs)
    finally:
        await reader.close()
    return {"results": results, "queued": dict(queued)}


def second_bind_error() -> str:
    try:
        NfQueue(QUEUE).close()
    except NetlinkError as err:
        return str(err)
    return "no error"


def jumps_installed() -> int:
    saved = subprocess.run(
        ["iptables-save"], capture_output=True, text=True, check=True
    ).stdout
    return saved.count("-A OUTPUT -j NETWARDEN-")


def main() -> None:
    signal.alarm(60)  # bound the whole scenario
    backend = IptablesBackend()
    plan = InterceptPlan(QUEUE, DNS_PORT)
    backend.install(plan)
    backend.install(plan)  # a second install replaces the first
    stop = threading.Event()
    threading.Thread(target=serve_local_dns, args=(stop,), daemon=True).start()
    try:
        queue = NfQueue(QUEUE)
        try:
            report = asyncio.run(run_scenario(queue))
            report["second_bind"] = second_bind_error()
        finally:
            queue.close()
        report["stats"] = dataclasses.asdict(queue.stats)
        report["jumps_after_two_installs"] = jumps_installed()
    finally:
        stop.set()
        backend.remove()
    print(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[1:] == ["peer"]:
        serve_peer()
    else:
        main()
