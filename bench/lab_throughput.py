"""Bulk TCP throughput and new-connection cost in the lab, with and without netwarden.

Two labs at once (lab_pair.py): "no firewall" (no daemon) and netwarden.
A server (lab_agent.py serve) runs in each lab's internet namespace on
203.0.113.80; the clients run in the device namespace:

- bulk TCP: the device downloads --bulk-mb MB over one new connection from a
  raw socket server (netwarden queues only the connection's first packet);
- HTTP bulk: the same through the lab web server (Python http.server) and
  curl, to show which of the two is the bottleneck;
- TCP setup: --count sequential new connections (connect, one byte each
  way, close); the median connect() time and connections per second. Each
  SYN goes through NFQUEUE, attribution and a decision;
- UDP new flow: --count sequential request/response pairs, each from a new
  socket, so each is a new flow through NFQUEUE.

Usage: .venv/bin/python bench/lab_throughput.py [--rounds 5] [--count 300]
"""

from __future__ import annotations

import argparse
import subprocess
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from lab_pair import (
    LabPair,
    agent_server,
    lab_pair,
    machine_line,
    median,
    print_table,
    run_agent,
    samples,
)

SERVER = "203.0.113.80"
TCP_PORT, UDP_PORT, BULK_PORT = 9001, 9002, 9003
BULK_TRANSFERS = 3  # per round and lab

Measure = Callable[[str], dict[str, float]]


def bulk(namespace: str, size: int) -> dict[str, float]:
    argv = ["bulk", f"--address={SERVER}", f"--port={BULK_PORT}"]
    result = run_agent(
        namespace, [*argv, f"--count={BULK_TRANSFERS}", f"--bytes={size}"]
    )
    return {"bulk TCP, raw sockets (MB/s)": median(samples(result))}


def http_bulk(namespace: str, size: int) -> dict[str, float]:
    url = f"http://{SERVER}/bytes/{size}"
    argv = ["curl", "-sS", "--max-time", "60", "-o", "/dev/null", "-w"]
    command = ["ip", "netns", "exec", namespace, *argv, "%{speed_download}", url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=90)
    return {"bulk HTTP, lab web server + curl (MB/s)": float(out.stdout) / 1e6}


def tcp_setup(namespace: str, count: int) -> dict[str, float]:
    argv = ["tcp-connect", f"--address={SERVER}", f"--port={TCP_PORT}"]
    result = run_agent(namespace, [*argv, f"--count={count}"])
    elapsed = result["elapsed_s"]
    assert isinstance(elapsed, float)
    return {
        "TCP connect, median (ms)": median(samples(result)),
        "TCP whole cycle, median (ms)": median(samples(result, "cycles_ms")),
        "TCP connections/s (sequential)": len(samples(result)) / elapsed,
        "TCP failed connections": float(result["errors"]),  # type: ignore[arg-type]
    }


def udp_flows(namespace: str, count: int) -> dict[str, float]:
    argv = ["udp-flow", f"--address={SERVER}", f"--port={UDP_PORT}"]
    result = run_agent(namespace, [*argv, f"--count={count}"])
    return {
        "UDP new flow round trip, median (ms)": median(samples(result)),
        "UDP lost requests": float(result["errors"]),  # type: ignore[arg-type]
    }


def measures(args: argparse.Namespace) -> list[Measure]:
    size = args.bulk_mb * 1_000_000
    return [
        lambda ns: bulk(ns, size),
        lambda ns: http_bulk(ns, size),
        lambda ns: tcp_setup(ns, args.count),
        lambda ns: udp_flows(ns, args.count),
    ]


def run_rounds(pair: LabPair, args: argparse.Namespace) -> dict[str, dict[str, list]]:
    """figures[column][row] = one value per round."""
    figures: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for index in range(args.rounds):
        for column, lab in pair.ordered(index):
            for measure in measures(args):
                for row, value in measure(lab.names.device).items():
                    figures[column][row].append(value)
        print(f"round {index + 1}/{args.rounds} done; {machine_line()}", flush=True)
    return figures


def report(figures: dict[str, dict[str, list]], args: argparse.Namespace) -> None:
    rows = []
    for row, base_values in figures["base"].items():
        base = median(base_values)
        netwarden = median(figures["netwarden"][row])
        ratio = netwarden / base if base else float("nan")
        rows.append((row, [base, netwarden, ratio]))
    title = (
        f"medians of {args.rounds} rounds (per round: {args.count} connections/"
        f"flows, {BULK_TRANSFERS} transfers of {args.bulk_mb} MB)"
    )
    print_table(title, ["no firewall", "netwarden", "ratio nw/none"], rows)
    print(machine_line())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--bulk-mb", type=int, default=200)
    parser.add_argument("--filter-list", type=Path, default=None)
    args = parser.parse_args()
    print(machine_line())
    serve = ["serve", f"--address={SERVER}", f"--tcp-port={TCP_PORT}"]
    serve += [f"--udp-port={UDP_PORT}", f"--bulk-port={BULK_PORT}"]
    with lab_pair("t", args.filter_list) as pair, ExitStack() as servers:
        for lab in (pair.base, pair.netwarden):
            servers.enter_context(agent_server(lab.names.internet, serve))
        figures = run_rounds(pair, args)
    report(figures, args)


if __name__ == "__main__":
    main()
