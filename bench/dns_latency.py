"""Serial latency of the netwarden nameserver on loopback.

Starts a real unbound serving DNS over TLS on 127.0.0.1 (a catch-all
local zone, so unbound itself answers at once), nameservers forwarding to
it, and times one query at a time from a client on the same event loop:

- direct DoT, fresh: dnspython asking unbound over a new TLS connection
  per query (the handshake cost, without netwarden);
- direct DoT, reused: netwarden's DoT transport asking unbound over its
  one kept connection (the query cost, without the nameserver);
- forwarded, reused: UDP to the nameserver, which asks unbound over its
  kept DoT connection (what the daemon does);
- forwarded, fresh: the same with a new DoT connection per query (what
  it did before connections were kept);
- blocked: UDP to the nameserver, answered 0.0.0.17 without upstream.

Each path is timed in several runs; the table shows the median of the
runs' medians and p90s, and the spread of the medians.

Usage: .venv/bin/python bench/dns_latency.py [--queries N] [--runs R]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import dns.asyncquery
import dns.message

from netwarden.dns.name_map import NameMap
from netwarden.dns.nameserver import Nameserver, Resolver
from netwarden.dns.resolver_url import ResolverURL, parse_resolver_url
from netwarden.dns.upstream import Upstreams, make_tls_context
from netwarden.lab.pki import issue_server_cert, make_test_ca
from netwarden.network.connection import Decision, Reason, Verdict

CONF = """\
server:
    interface: 127.0.0.1@{port}
    tls-port: {port}
    tls-service-key: "{directory}/key.pem"
    tls-service-pem: "{directory}/cert.pem"
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{directory}"
    pidfile: "{directory}/unbound.pid"
    use-syslog: no
    num-threads: 1
    module-config: "iterator"
    local-zone: "." redirect
    local-data: ". A 203.0.113.80"
remote-control:
    control-enable: no
"""


def start_unbound(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    ca = make_test_ca("bench CA")
    cert = issue_server_cert(ca, ["dns.test"], ["127.0.0.1"])
    (directory / "ca.pem").write_bytes(ca.cert_pem)
    (directory / "cert.pem").write_bytes(cert.cert_pem)
    (directory / "key.pem").write_bytes(cert.key_pem)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (directory / "unbound.conf").write_text(CONF.format(port=port, directory=directory))
    command = ["unbound", "-d", "-c", str(directory / "unbound.conf")]
    return subprocess.Popen(command, stderr=subprocess.DEVNULL), port


async def timed(ask: Callable[[], Awaitable[object]], count: int) -> list[float]:
    for _ in range(min(20, count)):  # warm up
        await ask()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await ask()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def wait_ready(url: ResolverURL, ca_file: Path) -> None:
    upstreams = Upstreams([url], ca_file, timeout=0.5)
    try:
        for _ in range(50):
            try:
                await upstreams.resolve(dns.message.make_query("ready.example", "A"))
                return
            except Exception:  # not up yet
                await asyncio.sleep(0.1)
    finally:
        await upstreams.close()
    raise SystemExit("unbound did not come up")


class FreshConnectionUpstreams:
    """Upstreams opening and closing a new DoT connection for every query."""

    def __init__(self, url: ResolverURL, ca_file: Path) -> None:
        self.url = url
        self.ca_file = ca_file

    async def resolve(self, query: dns.message.Message) -> dns.message.Message:
        upstreams = Upstreams([self.url], self.ca_file)
        try:
            return await upstreams.resolve(query)
        finally:
            await upstreams.close()


def decide(domain: str, process: object) -> Decision:
    verdict = Verdict.BLOCK if domain.startswith("tracker.") else Verdict.ACCEPT
    return Decision(verdict, Reason("bench"))


async def start_nameserver(upstreams: Resolver) -> Nameserver:
    nameserver = Nameserver(
        upstreams,
        decide,
        lambda *a: None,
        lambda r: None,
        NameMap(),
        [("127.0.0.1", 0)],
    )
    await nameserver.start()
    return nameserver


def via(nameserver: Nameserver, name: str) -> Callable[[], Awaitable[object]]:
    query = dns.message.make_query(name, "A")
    port = nameserver.addresses[0][1]
    return lambda: dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=3)


async def measure(
    directory: Path, port: int, count: int, runs: int
) -> dict[str, list[list[float]]]:
    ca_file = directory / "ca.pem"
    url = parse_resolver_url(f"dot://127.0.0.1:{port}?verify=dns.test")
    await wait_ready(url, ca_file)
    context = make_tls_context(ca_file)
    kept = Upstreams([url], ca_file)
    reusing = await start_nameserver(Upstreams([url], ca_file))
    fresh = await start_nameserver(FreshConnectionUpstreams(url, ca_file))
    query = dns.message.make_query("www.example.org", "A")

    def direct_fresh() -> Awaitable[object]:
        return dns.asyncquery.tls(
            query,
            "127.0.0.1",
            timeout=3,
            port=port,
            ssl_context=context,
            server_hostname="dns.test",
        )

    paths: dict[str, Callable[[], Awaitable[object]]] = {
        "direct DoT, fresh connection": direct_fresh,
        "direct DoT, reused connection": lambda: kept.resolve(query),
        "forwarded, reused DoT connection": via(reusing, "www.example.org"),
        "forwarded, fresh DoT connection": via(fresh, "www.example.org"),
        "blocked (no upstream)": via(reusing, "tracker.example.org"),
    }
    results: dict[str, list[list[float]]] = {label: [] for label in paths}
    try:
        for _ in range(runs):
            for label, ask in paths.items():
                results[label].append(await timed(ask, count))
        return results
    finally:
        await reusing.stop()
        await fresh.stop()
        await kept.close()


def print_table(results: dict[str, list[list[float]]], count: int) -> None:
    runs = len(next(iter(results.values())))
    print(
        f"{'path':34} {'median ms':>10} {'p90 ms':>8} {'medians min-max':>17}"
        f"  (n={count} x {runs} runs, serial)"
    )
    for label, samples in results.items():
        medians = [statistics.median(run) for run in samples]
        p90s = [statistics.quantiles(run, n=10)[-1] for run in samples]
        spread = f"{min(medians):.3f}-{max(medians):.3f}"
        print(
            f"{label:34} {statistics.median(medians):10.3f}"
            f" {statistics.median(p90s):8.3f} {spread:>17}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nwt-bench-") as tmp:
        process, port = start_unbound(Path(tmp))
        try:
            results = asyncio.run(measure(Path(tmp), port, args.queries, args.runs))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=5)
    print_table(results, args.queries)


if __name__ == "__main__":
    main()
