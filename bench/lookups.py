"""Cost of the two lookups on every new connection's path.

- the domain index: is a name (or a parent) on EasyPrivacy; half the
  names are listed subdomains, half are not listed;
- sock_diag: the exact lookup of a connected TCP socket on loopback.

Neither has a counterpart in the peers' tools to set beside it; the
connection-level figures that do are in ``lab_throughput.py``. Each is
timed in several rounds; the table shows the median of the rounds'
medians and their spread.

Usage: .venv/bin/python bench/lookups.py [--rounds R] [--list FILE]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path

from netwarden.attribution.sock_diag import SocketDiag
from netwarden.intel.domain_index import DomainIndex
from netwarden.intel.filterlist import load_filter_list
from netwarden.lab.daemon_config import DEBIAN_EASYPRIVACY
from netwarden.network.packet import FlowKey, Protocol

SHARED_LIST = Path(__file__).resolve().parents[2] / "shared/data/filterlists"
SHARED_LIST /= "easyprivacy.txt"
CALLS_PER_ROUND = 10_000


def round_median_us(call: Callable[[int], object], calls: int) -> float:
    timings = []
    for n in range(calls):
        started = time.perf_counter()
        call(n)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e6


def domain_lookup(list_file: Path) -> Callable[[int], object]:
    index = DomainIndex([load_filter_list(list_file, name="EasyPrivacy")])
    names = [f"host{n}.sub.hotjar.com" for n in range(CALLS_PER_ROUND // 2)]
    names += [f"host{n}.not-listed.example" for n in range(CALLS_PER_ROUND // 2)]
    return lambda n: index.is_blocked(names[n])


def sock_diag_lookup(
    diag: SocketDiag, client: socket.socket
) -> Callable[[int], object]:
    local, remote = client.getsockname(), client.getpeername()
    flow = FlowKey(
        Protocol.TCP, ip_address(local[0]), local[1], ip_address(remote[0]), remote[1]
    )
    return lambda n: diag.lookup(flow)


def report(name: str, medians: list[float]) -> None:
    print(
        f"{name:<34} {statistics.median(medians):8.2f} µs"
        f"   (rounds {min(medians):.2f}-{max(medians):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    default_list = SHARED_LIST if SHARED_LIST.is_file() else DEBIAN_EASYPRIVACY
    parser.add_argument("--list", type=Path, default=default_list)
    args = parser.parse_args()

    lookup = domain_lookup(args.list)
    report(
        "domain index, per name",
        [round_median_us(lookup, CALLS_PER_ROUND) for _ in range(args.rounds)],
    )
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname()) as client:
        diag = SocketDiag()
        try:
            lookup = sock_diag_lookup(diag, client)
            medians = [round_median_us(lookup, 1000) for _ in range(args.rounds)]
        finally:
            diag.close()
    report("sock_diag exact TCP lookup", medians)


if __name__ == "__main__":
    main()
