"""The nameserver against a real unbound serving DNS over TLS on loopback."""

import asyncio
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.query
import pytest
from support import require_command

from netwarden.dns.name_map import NameMap
from netwarden.dns.nameserver import Nameserver, QueryRecord
from netwarden.dns.resolver_url import parse_resolver_url
from netwarden.dns.upstream import Upstreams
from netwarden.network.connection import Decision, Reason, Verdict

CATCH_ALL_V4 = "203.0.113.80"
CATCH_ALL_V6 = "2001:db8::80"
PORT_ATTEMPTS = 5

UNBOUND_CONF = """\
server:
    verbosity: 1
    interface: 127.0.0.1@{port}
    tls-port: {port}
    tls-service-key: "{key}"
    tls-service-pem: "{cert}"
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{directory}"
    pidfile: "{directory}/unbound.pid"
    use-syslog: no
    logfile: ""
    num-threads: 1
    module-config: "iterator"
    local-zone: "." redirect
    local-data: ". A {v4}"
    local-data: ". AAAA {v6}"
remote-control:
    control-enable: no
"""


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_over_dot(port: int, pki: Any, process: subprocess.Popen[bytes]) -> bool:
    """Wait up to 10 s for unbound to answer; False if it exited first."""
    context = ssl.create_default_context(cafile=pki.ca_file)
    deadline = time.monotonic() + 10
    for _ in range(100):
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        try:
            query = dns.message.make_query("ready.example", "A")
            dns.query.tls(
                query,
                "127.0.0.1",
                timeout=0.5,
                port=port,
                ssl_context=context,
                server_hostname=pki.server_name,
            )
            return True
        except (OSError, dns.exception.DNSException):
            time.sleep(0.1)
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def start_unbound(pki: Any, directory: Path) -> tuple[int, subprocess.Popen[bytes]]:
    # A port free over TCP a moment ago may be taken over UDP, or by then
    # over TCP: unbound then exits, and another port is tried.
    errors = ""
    for _ in range(PORT_ATTEMPTS):
        port = free_tcp_port()
        config = directory / "unbound.conf"
        config.write_text(
            UNBOUND_CONF.format(
                port=port,
                key=pki.key_file,
                cert=pki.cert_file,
                directory=directory,
                v4=CATCH_ALL_V4,
                v6=CATCH_ALL_V6,
            )
        )
        log = directory / "unbound.log"
        with log.open("wb") as output:  # a file: a pipe could fill and stall it
            process = subprocess.Popen(
                ["unbound", "-d", "-c", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=output,
            )
        if answers_over_dot(port, pki, process):
            return port, process
        stop(process)
        errors = log.read_text(errors="replace")
        if "address already in use" not in errors.lower():
            break
    pytest.fail(f"unbound did not answer over DoT: {errors}")


@pytest.fixture
def unbound(pki, tmp_path: Path) -> Iterator[int]:
    require_command("unbound")
    port, process = start_unbound(pki, tmp_path)
    try:
        yield port
    finally:
        stop(process)


def test_queries_are_answered_through_real_unbound_over_dot(pki, unbound: int) -> None:
    url = parse_resolver_url(
        f"dot://127.0.0.1:{unbound}?verify={pki.server_name}&name=lab"
    )
    records: list[QueryRecord] = []

    def decide(domain: str, process: object) -> Decision:
        verdict = Verdict.BLOCK if domain == "tracker.example" else Verdict.ACCEPT
        return Decision(verdict, Reason("test"))

    async def scenario() -> list[str]:
        nameserver = Nameserver(
            Upstreams([url], pki.ca_file, timeout=3),
            decide,
            lambda *args: None,
            records.append,
            NameMap(),
            [("127.0.0.1", 0)],
        )
        await nameserver.start()
        try:
            port = nameserver.addresses[0][1]
            found = []
            for name, rdtype in [
                ("www.debian.org", "A"),
                ("www.debian.org", "AAAA"),
                ("tracker.example", "A"),
            ]:
                query = dns.message.make_query(name, rdtype)
                response = await dns.asyncquery.udp(
                    query, "127.0.0.1", port=port, timeout=5
                )
                found += [rdata.address for rrset in response.answer for rdata in rrset]
            lookup = nameserver.name_map.lookup(
                None, ip_address(CATCH_ALL_V4), time.time()
            )
            assert lookup == "www.debian.org"
            return found
        finally:
            await nameserver.stop()

    assert asyncio.run(scenario()) == [CATCH_ALL_V4, CATCH_ALL_V6, "0.0.0.17"]
    assert [r.rcode for r in records] == ["NOERROR"] * 3
