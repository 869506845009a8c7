"""End to end: the daemon protecting a lab, exercised by real programs.

One lab (its own namespaces, unbound over DoT, a web server, the daemon)
is brought up for the module; real clients run inside its device
namespace, and the assertions read what they got and what the daemon's
connection table says, through the CLI and its API socket.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import running_lab

from netwarden.errors import LabError
from netwarden.lab import plan, processes
from netwarden.lab.commands import show_status
from netwarden.lab.lab import DAEMON_NAME, Lab
from netwarden.lab.webserver import BANNER

CONFIG_RULES = (
    "filter/endpoints = - 203.0.113.81   # the CNAME target's web server",
    "filter/endpoints = - .ruled.example",
    "filter/endpoints = + .hotjar.com    # a listed tracker, let through",
)
TRACKER = "www.googletagmanager.com"  # EasyPrivacy: ||googletagmanager.com^
FETCH_SCRIPT = Path(__file__).resolve().parents[1] / (
    "src/netwarden/lab/scripts/fetch.py"
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, easyprivacy: Path) -> Iterator[Lab]:
    with running_lab(
        tmp_path_factory.mktemp("lab") / "lab", easyprivacy, "d", CONFIG_RULES
    ) as lab:
        yield lab


def cli(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "netwarden", "--socket", str(lab.api_socket)]
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, timeout=30, check=False
    )


def connections(lab: Lab) -> list[dict[str, Any]]:
    result = cli(lab, "connections", "--json", "--limit", "10000")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def status(lab: Lab) -> dict[str, Any]:
    result = cli(lab, "status", "--json")
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def rows_for(lab: Lab, **match: Any) -> list[dict[str, Any]]:
    return [
        row
        for row in connections(lab)
        if all(row.get(key) == value for key, value in match.items())
    ]


def run(lab: Lab, *argv: str) -> subprocess.CompletedProcess[str]:
    return lab.run(list(argv), timeout=20)


def test_allowed_site_is_reached_and_recorded(lab: Lab) -> None:
    result = run(lab, "curl", "-sS", "--max-time", "5", "http://www.example.com/")

    assert result.returncode == 0, result.stderr
    assert f"{BANNER}: host=www.example.com" in result.stdout
    tcp = rows_for(lab, domain="www.example.com", kind="ip", remote_port=80)
    assert tcp, "the connection is in the table with its domain"
    assert tcp[-1]["exe"] == "/usr/bin/curl"
    assert tcp[-1]["profile"] == "/usr/bin/curl"
    assert tcp[-1]["remote_ip"] in (plan.WEB_V4, plan.WEB_V6)
    assert tcp[-1]["verdict"] == "accept"
    assert tcp[-1]["protocol"] == "tcp" and tcp[-1]["direction"] == "outbound"
    queries = rows_for(lab, domain="www.example.com", kind="dns")
    assert queries and queries[-1]["exe"] == "/usr/bin/curl"


def test_tracker_from_easyprivacy_is_blocked_with_the_list_named(lab: Lab) -> None:
    result = run(lab, "curl", "-sS", "--max-time", "5", f"http://{TRACKER}/")

    assert result.returncode != 0
    queries = rows_for(lab, domain=TRACKER, kind="dns")
    assert queries and all(row["verdict"] == "block" for row in queries)
    assert "EasyPrivacy" in queries[-1]["reason"]
    assert "googletagmanager.com" in queries[-1]["reason"]
    answer = run(lab, "dig", "+short", TRACKER, "A")
    assert answer.stdout.split() == ["0.0.0.17"]
    answer = run(lab, "dig", "+short", TRACKER, "AAAA")
    assert answer.stdout.split() == ["::17"]


def test_foreign_resolver_is_answered_by_netwarden(lab: Lab) -> None:
    # Nothing listens on the foreign resolver's address: an answer can only
    # come from netwarden's nameserver, to which the query was redirected.
    for transport in ("+notcp", "+tcp"):
        result = run(
            lab, "dig", "+short", "+time=3", "+tries=1", transport,
            f"@{plan.FOREIGN_RESOLVER_V4}", "foreign.example.org",
        )  # fmt: skip
        assert result.stdout.split() == [plan.WEB_V4], result.stdout

    rows = rows_for(lab, domain="foreign.example.org", kind="dns")
    assert {row["protocol"] for row in rows} == {"udp", "tcp"}
    assert all(row["exe"] == "/usr/bin/dig" for row in rows)
    assert all(row["remote_ip"] == plan.FOREIGN_RESOLVER_V4 for row in rows)
    assert all(row["remote_port"] == 53 for row in rows)


def test_ipv6_resolver_and_connection(lab: Lab) -> None:
    foreign_v6 = "2001:db8:99::53"  # routed to the lab's internet, no host
    answer = run(
        lab, "dig", "+short", "+time=3", "+tries=1", f"@{foreign_v6}",
        "six.example", "AAAA",
    )  # fmt: skip
    assert answer.stdout.split() == [plan.WEB_V6]

    result = run(lab, "curl", "-6", "-sS", "--max-time", "5", "http://six.example/")

    assert "host=six.example" in result.stdout
    rows = rows_for(lab, domain="six.example", kind="ip")
    assert rows and rows[-1]["remote_ip"] == plan.WEB_V6


def test_python_script_is_named_by_interpreter_and_script(lab: Lab) -> None:
    result = run(lab, "/usr/bin/python3", str(FETCH_SCRIPT), "http://script.example/")

    assert result.returncode == 0, result.stderr
    rows = rows_for(lab, domain="script.example", kind="ip")
    assert rows
    assert Path(rows[-1]["exe"]).name.startswith("python3")
    assert rows[-1]["script"] == str(FETCH_SCRIPT)
    assert rows[-1]["profile"] == str(FETCH_SCRIPT)


def test_ip_rule_rejects_and_names_the_rule(lab: Lab) -> None:
    started = time.monotonic()
    result = run(
        lab, "curl", "-sS", "--max-time", "10", f"http://{plan.CNAME_TARGET_V4}/"
    )

    assert result.returncode == 7, result.stderr  # connection refused
    assert time.monotonic() - started < 5, "a rejected connection fails fast"
    rows = rows_for(lab, remote_ip=plan.CNAME_TARGET_V4, kind="ip")
    assert rows and rows[-1]["verdict"] == "block"
    assert "netwarden.conf" in rows[-1]["reason"]
    assert "- 203.0.113.81" in rows[-1]["reason"]


def test_domain_rules_block_and_permit_before_lists(lab: Lab) -> None:
    blocked = run(lab, "dig", "+short", "www.ruled.example")
    permitted = run(lab, "dig", "+short", "www.hotjar.com")  # on EasyPrivacy

    assert blocked.stdout.split() == ["0.0.0.17"]
    assert permitted.stdout.split() == [plan.WEB_V4]
    reasons = {
        row["domain"]: row["reason"] for row in connections(lab) if row["kind"] == "dns"
    }
    assert "blocked by rule" in reasons["www.ruled.example"]
    assert "permitted by rule" in reasons["www.hotjar.com"]


def test_decided_connections_stay_in_the_kernel(lab: Lab) -> None:
    before = status(lab)["queue"]["received"]
    urls = [f"http://keepalive.example/{n}" for n in range(30)]

    many = run(lab, "curl", "-sS", "--max-time", "10", *urls)
    bulk = run(
        lab, "curl", "-sS", "--max-time", "20", "-o", "/dev/null",
        "-w", "%{size_download}", "http://bulk.example/bytes/50000000",
    )  # fmt: skip

    assert many.stdout.count(BANNER) == 30
    assert bulk.stdout == "50000000"
    queued = status(lab)["queue"]["received"] - before
    # Two TCP connections (30 requests over one, 50 MB over the other): only
    # their first packets are queued, the rest follow the connmark in the
    # kernel. The daemon's own DoT connections for the names add a few.
    assert queued <= 8, f"{queued} packets reached the queue"


def test_unparsable_packet_is_counted_and_the_daemon_lives_on(lab: Lab) -> None:
    before = status(lab)["queue"]["unparsable"]
    # An IPv4 header saying TCP, followed by 4 bytes: no room for the ports
    # and offset. Sent raw, it passes the OUTPUT hook and reaches the queue.
    code = (
        "import socket,struct\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW)\n"
        "hdr=struct.pack('!BBHHHBBH4s4s',0x45,0,24,1,0,64,6,0,"
        "socket.inet_aton('10.213.0.2'),socket.inet_aton('203.0.113.80'))\n"
        "s.sendto(hdr+b'\\x00\\x50\\x00',('203.0.113.80',0))\n"
    )
    sent = run(lab, "/usr/bin/python3", "-c", code)
    assert sent.returncode == 0, sent.stderr

    deadline = time.monotonic() + 5
    while status(lab)["queue"]["unparsable"] == before:
        assert time.monotonic() < deadline, "the packet was never counted"
        time.sleep(0.1)
    again = run(lab, "curl", "-sS", "--max-time", "5", "http://after.example/")
    assert "host=after.example" in again.stdout


def test_malformed_dns_is_counted_and_answering_goes_on(lab: Lab) -> None:
    before = status(lab)["dns"]["malformed"]
    code = (
        "import socket\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "s.sendto(b'\\x12\\x34garbage-that-is-no-dns',('192.0.2.53',53))\n"
        "s.settimeout(3); print(s.recv(512)[:4].hex())\n"
    )
    reply = run(lab, "/usr/bin/python3", "-c", code)

    assert reply.returncode == 0, reply.stderr
    assert reply.stdout.strip().startswith("1234"), "FORMERR under the same id"
    assert status(lab)["dns"]["malformed"] == before + 1
    assert run(lab, "dig", "+short", "still.example").stdout.split() == [plan.WEB_V4]


def test_connections_json_contract_and_limit(lab: Lab) -> None:
    result = cli(lab, "connections", "--json", "--limit", "2")

    rows = json.loads(result.stdout)
    assert len(rows) == 2
    for key in (
        "id", "pid", "exe", "profile", "domain", "remote_ip", "remote_port",
        "protocol", "direction", "verdict", "reason", "started",
    ):  # fmt: skip
        assert key in rows[0]
    refused = cli(lab, "connections", "--limit", "0")
    assert refused.returncode == 2 and "--limit" in refused.stderr


def test_table_lists_columns(lab: Lab) -> None:
    result = cli(lab, "connections", "--limit", "5")

    assert result.returncode == 0
    assert result.stdout.split()[:5] == ["ID", "PID", "EXE", "PROFILE", "DOMAIN"]


def test_api_socket_is_reachable_only_by_root(lab: Lab) -> None:
    mode = lab.api_socket.stat().st_mode & 0o777
    assert mode == 0o600
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(str(lab.api_socket))  # reachable from the host netns


def test_status_tells_a_stopped_daemon_from_a_running_one(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    (daemon,) = [
        record
        for record in processes.read_records(lab.pid_dir)
        if record.name == DAEMON_NAME
    ]
    assert show_status(lab) == 0
    os.kill(daemon.pid, signal.SIGSTOP)  # the lab's daemon, started by the test
    try:
        assert show_status(lab) == 1
        assert "does not answer" in capsys.readouterr().out
    finally:
        os.kill(daemon.pid, signal.SIGCONT)
    assert show_status(lab) == 0


def test_restart_applies_an_edited_config_and_refuses_a_bad_one(lab: Lab) -> None:
    # Last in this module: it restarts the daemon that the others share.
    config = lab.config_dir / "netwarden.conf"
    original = config.read_text()
    assert run(lab, "dig", "+short", "www.edited.example").stdout.split() == [
        plan.WEB_V4
    ]
    try:
        config.write_text(original + "filter/endpoints = - .edited.example\n")
        lab.restart_daemon()
        blocked = run(lab, "dig", "+short", "www.edited.example")
        assert blocked.stdout.split() == ["0.0.0.17"]

        config.write_text(original + "filter/endpoints = - 10.1.2.300\n")
        with pytest.raises(LabError, match=r"netwarden.conf:\d+: filter/endpoints"):
            lab.restart_daemon()
    finally:
        config.write_text(original)
        lab.restart_daemon()
    assert status(lab)["connections"] == 0, "a new daemon with an empty table"
