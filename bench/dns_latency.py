"""Serial latency of the netwarden nameserver on loopback.

Starts a real unbound serving DNS over TLS on 127.0.0.1 (a catch-all
local zone, so unbound itself answers at once), a Nameserver forwarding to
it, and times one query at a time from a client on the same event loop:

- direct DoT: dnspython asking unbound over a fresh TLS connection (what
  one forwarded query costs upstream, without netwarden);
- forwarded: UDP to the nameserver, which asks unbound over DoT;
- blocked: UDP to the nameserver, answered 0.0.0.17 without upstream.

Usage: .venv/bin/python bench/dns_latency.py [--queries N]
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
from netwarden.dns.nameserver import Nameserver
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
    for _ in range(50):
        try:
            await upstreams.resolve(dns.message.make_query("ready.example", "A"))
            return
        except Exception:  # not up yet
            await asyncio.sleep(0.1)
    raise SystemExit("unbound did not come up")


async def measure(directory: Path, port: int, count: int) -> dict[str, list[float]]:
    ca_file = directory / "ca.pem"
    url = parse_resolver_url(f"dot://127.0.0.1:{port}?verify=dns.test")
    await wait_ready(url, ca_file)

    def decide(domain: str, process: object) -> Decision:
        verdict = Verdict.BLOCK if domain.startswith("tracker.") else Verdict.ACCEPT
        return Decision(verdict, Reason("bench"))

    nameserver = Nameserver(
        Upstreams([url], ca_file),
        decide,
        lambda *a: None,
        lambda r: None,
        NameMap(),
        [("127.0.0.1", 0)],
    )
    await nameserver.start()
    ns_port = nameserver.addresses[0][1]
    context = make_tls_context(ca_file)

    def via_nameserver(name: str) -> Callable[[], Awaitable[object]]:
        query = dns.message.make_query(name, "A")
        return lambda: dns.asyncquery.udp(query, "127.0.0.1", port=ns_port, timeout=3)

    def direct_dot() -> Awaitable[object]:
        query = dns.message.make_query("www.example.org", "A")
        return dns.asyncquery.tls(
            query,
            "127.0.0.1",
            timeout=3,
            port=port,
            ssl_context=context,
            server_hostname="dns.test",
        )

    try:
        return {
            "direct DoT to unbound": await timed(direct_dot, count),
            "forwarded (UDP -> nameserver -> DoT)": await timed(
                via_nameserver("www.example.org"), count
            ),
            "blocked (UDP -> nameserver)": await timed(
                via_nameserver("tracker.example.org"), count
            ),
        }
    finally:
        await nameserver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nwt-bench-") as tmp:
        process, port = start_unbound(Path(tmp))
        try:
            results = asyncio.run(measure(Path(tmp), port, args.queries))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=5)
    print(f"{'path':40} {'median ms':>10} {'p90 ms':>8}  (n={args.queries}, serial)")
    for label, samples in results.items():
        p90 = statistics.quantiles(samples, n=10)[-1]
        print(f"{label:40} {statistics.median(samples):10.3f} {p90:8.3f}")


if __name__ == "__main__":
    main()
