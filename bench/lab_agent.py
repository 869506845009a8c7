"""The half of a lab benchmark that runs inside a lab namespace.

The host-side scripts (lab_throughput.py, dns_lab.py) start this file with
``ip netns exec <namespace> python bench/lab_agent.py COMMAND ...``: ``serve``
in the internet namespace, the clients in the device namespace. Every
client times itself (so process start-up and ``ip netns exec`` are not
measured) and prints one JSON object: ``samples_ms``, ``elapsed_s``,
``errors``. Every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from collections.abc import Callable

CHUNK = 256 * 1024
WARM_UP = 5  # untimed rounds: the first packets of a new process cost more


def serve_tcp_byte(listener: socket.socket) -> None:
    """Accept; read one byte, answer one byte, close (connection setup test)."""
    while True:
        conn, _ = listener.accept()
        with conn:
            if conn.recv(1):
                conn.sendall(b"y")


def serve_udp_echo(sock: socket.socket) -> None:
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(data, peer)


def serve_bulk(listener: socket.socket) -> None:
    """Accept; read an 8-byte length, send that many bytes, close."""
    payload = b"x" * CHUNK
    while True:
        conn, _ = listener.accept()
        with conn:
            header = conn.recv(8, socket.MSG_WAITALL)
            remaining = int.from_bytes(header, "big") if len(header) == 8 else 0
            while remaining > 0:
                sent = conn.send(payload[: min(remaining, CHUNK)])
                remaining -= sent


def listen_tcp(address: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(128)
    return listener


def serve(args: argparse.Namespace) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((args.address, args.udp_port))
    workers: list[tuple[Callable[[socket.socket], None], socket.socket]] = [
        (serve_tcp_byte, listen_tcp(args.address, args.tcp_port)),
        (serve_bulk, listen_tcp(args.address, args.bulk_port)),
        (serve_udp_echo, udp),
    ]
    for target, sock in workers:
        threading.Thread(target=target, args=(sock,), daemon=True).start()
    print("ready", flush=True)
    # Ends when the host closes our stdin or signals us (by pid).
    sys.stdin.read()


def timed_loop(
    step: Callable[[int], float | None], count: int, deadline: float
) -> dict[str, object]:
    """Run ``step(i)`` up to ``count`` times before ``deadline``; None = error."""
    samples: list[float] = []
    errors = 0
    for i in range(WARM_UP):
        step(-1 - i)
    started = time.perf_counter()
    for i in range(count):
        if time.monotonic() > deadline:
            break
        sample = step(i)
        if sample is None:
            errors += 1
        else:
            samples.append(sample)
    elapsed = time.perf_counter() - started
    return {"samples_ms": samples, "elapsed_s": elapsed, "errors": errors}


def tcp_connect_step(
    address: str, port: int, cycles: list[float]
) -> Callable[[int], float | None]:
    """One new connection: the sample is connect()'s duration in ms.

    The whole cycle (connect, one byte each way, close) goes to ``cycles``.
    """

    def step(_: int) -> float | None:
        started = time.perf_counter()
        try:
            with socket.create_connection((address, port), timeout=3) as sock:
                connected = time.perf_counter()
                sock.sendall(b"x")
                sock.recv(1)
        except OSError:
            return None
        cycles.append((time.perf_counter() - started) * 1000)
        return (connected - started) * 1000

    return step


def udp_flow_step(address: str, port: int) -> Callable[[int], float | None]:
    """A new socket (a new flow) per request: the sample is its round trip."""

    def step(_: int) -> float | None:
        started = time.perf_counter()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(3)
                sock.sendto(b"ping", (address, port))
                sock.recvfrom(2048)
        except OSError:
            return None
        return (time.perf_counter() - started) * 1000

    return step


def bulk_step(address: str, port: int, size: int) -> Callable[[int], float | None]:
    """Download ``size`` bytes on a new connection; the sample is MB/s."""

    def step(index: int) -> float | None:
        if index < 0:
            return None  # no warm-up: each transfer is long
        started = time.perf_counter()
        received = 0
        try:
            with socket.create_connection((address, port), timeout=10) as sock:
                sock.sendall(size.to_bytes(8, "big"))
                while received < size:
                    data = sock.recv(CHUNK)
                    if not data:
                        break
                    received += len(data)
        except OSError:
            return None
        if received < size:
            return None
        return size / (time.perf_counter() - started) / 1e6

    return step


def dns_step(server: str, port: int, names: list[str]) -> Callable[[int], float | None]:
    """One UDP query for ``names[i]`` (a warm-up asks a name of its own)."""
    import dns.exception
    import dns.message
    import dns.query

    def step(index: int) -> float | None:
        name = names[index] if index >= 0 else f"warm{-index}.bench.example"
        query = dns.message.make_query(name, "A")
        started = time.perf_counter()
        try:
            dns.query.udp(query, server, port=port, timeout=3)
        except (dns.exception.DNSException, OSError):
            return None
        return (time.perf_counter() - started) * 1000

    return step


def dns_names(mode: str, count: int, tag: str) -> list[str]:
    if mode == "repeated":
        return [f"repeated.{tag}.bench.example"] * count
    return [f"n{i}.{tag}.bench.example" for i in range(count)]


def run_client(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.max_seconds
    cycles: list[float] = []
    if args.command == "tcp-connect":
        step = tcp_connect_step(args.address, args.port, cycles)
    elif args.command == "udp-flow":
        step = udp_flow_step(args.address, args.port)
    elif args.command == "bulk":
        step = bulk_step(args.address, args.port, args.bytes)
    else:
        names = dns_names(args.mode, args.count, args.tag)
        step = dns_step(args.address, args.port, names)
    result = timed_loop(step, args.count, deadline)
    result["cycles_ms"] = cycles[WARM_UP:]
    print(json.dumps(result))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    server = sub.add_parser("serve")
    server.add_argument("--address", required=True)
    for option in ("--tcp-port", "--udp-port", "--bulk-port"):
        server.add_argument(option, type=int, required=True)
    for name in ("tcp-connect", "udp-flow", "bulk", "dns"):
        client = sub.add_parser(name)
        client.add_argument("--address", required=True)
        client.add_argument("--port", type=int, required=True)
        client.add_argument("--count", type=int, default=200)
        client.add_argument("--max-seconds", type=float, default=60.0)
        client.add_argument("--bytes", type=int, default=200_000_000)
        client.add_argument("--mode", choices=("distinct", "repeated"))
        client.add_argument("--tag", default="t")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args(sys.argv[1:])
    if args.command == "serve":
        serve(args)
    else:
        run_client(args)


if __name__ == "__main__":
    main()
