"""One program floods DNS over TCP; how do other programs' lookups fare?

Runs inside the device namespace of a lab that is up, as a program there:

    netwarden lab up
    netwarden lab exec -- .venv/bin/python bench/dns_tcp_flood.py

The flood opens ``--connections`` TCP connections to a resolver address on
port 53 (redirected to netwarden's nameserver), pipelines ``--queries``
queries on each for names EasyPrivacy blocks, and never reads an answer
(a small receive buffer). Meanwhile a victim runs ``dig`` over UDP and
over TCP, one at a time, for ``--seconds``; the table shows how many
lookups succeeded and their median and worst time. ``--connections 0``
gives the figures without a flood. Everything is bounded in count and time.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import struct
import subprocess
import threading
import time

import dns.message

RESOLVER = ("192.0.2.53", 53)
BLOCKED = "a" * 60 + "." + "b" * 60 + ".www.googletagmanager.com"
MAX_VICTIM_LOOKUPS = 20


def flood(connection: socket.socket, queries: int) -> None:
    try:
        for n in range(queries):
            wire = dns.message.make_query(f"q{n}.{BLOCKED}", "A").to_wire()
            connection.sendall(struct.pack("!H", len(wire)) + wire)
    except OSError:
        pass  # closed by netwarden: a client that reads nothing may be


def open_flood(count: int, queries: int) -> list[socket.socket]:
    connections = []
    for _ in range(count):
        connection = socket.socket()
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        connection.settimeout(5)
        connection.connect(RESOLVER)
        connections.append(connection)
    for connection in connections:
        threading.Thread(target=flood, args=(connection, queries), daemon=True).start()
    return connections


def lookup(transport: str, name: str) -> tuple[float, bool]:
    argv = ["dig", "+tries=1", "+time=3", "+short", name]
    if transport == "tcp":
        argv.insert(1, "+tcp")
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return time.monotonic() - started, done.returncode == 0 and bool(done.stdout)


def victim(seconds: float) -> dict[str, list[tuple[float, bool]]]:
    results: dict[str, list[tuple[float, bool]]] = {"udp": [], "tcp": []}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(results["tcp"]) < MAX_VICTIM_LOOKUPS:
        results["udp"].append(lookup("udp", "example.org"))
        results["tcp"].append(lookup("tcp", "example.net"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=130)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    connections = open_flood(args.connections, args.queries)
    time.sleep(1 if connections else 0)
    try:
        results = victim(args.seconds)
    finally:
        for connection in connections:
            connection.close()
    print(f"flood: {args.connections} connections x {args.queries} queries")
    for transport, timings in results.items():
        times = [taken for taken, _ in timings]
        answered = sum(ok for _, ok in timings)
        print(
            f"victim dig over {transport}: {answered}/{len(timings)} answered,"
            f" median {statistics.median(times) * 1000:.0f} ms,"
            f" worst {max(times) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
