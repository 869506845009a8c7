"""The daemon's start and stop in a namespace of the test's own.

Start-up refuses bad configuration before touching netfilter; a clean
stop removes every rule; a crash leaves the rules (the queue's bypass flag
lets traffic pass meanwhile) and the next start replaces them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import add_netns, require_command, require_root

from netwarden.api.client import ApiClient
from netwarden.errors import ApiError

GOOD_CONFIG = """\
# upstream that does not exist: these tests make no DNS queries
dns/nameservers = dns://192.0.2.1
filter/endpoints = - 203.0.113.66
"""


@pytest.fixture
def netns() -> Iterator[str]:
    require_root()
    require_command("iptables-save")
    name = f"nwt{os.getpid() % 100000}r"
    add_netns(name)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def start_daemon(
    netns: str, config_dir: Path, state_dir: Path
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "netwarden", "run", "--netns", netns]
    argv += ["--config-dir", str(config_dir), "--state-dir", str(state_dir)]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_until_serving(daemon: subprocess.Popen[str], state_dir: Path) -> None:
    client = ApiClient(state_dir / "api.sock", timeout=1)
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            assert daemon.poll() is None, daemon.communicate()[1]
            try:
                client.get("/v1/status")
                return
            except ApiError:
                time.sleep(0.1)
    finally:
        client.close()
    pytest.fail("the daemon did not serve its API within 20 s")


def netwarden_rules(netns: str) -> list[str]:
    lines = []
    for save in ("iptables-save", "ip6tables-save"):
        dump = subprocess.run(
            ["ip", "netns", "exec", netns, save],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines += [
            f"{save}: {line}" for line in dump.splitlines() if "NETWARDEN" in line
        ]
    return lines


def jumps(netns: str) -> list[str]:
    return [line for line in netwarden_rules(netns) if line.split()[2] == "OUTPUT"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "dns/nameservers = dns://192.0.2.1\n\nfilter/endpoints = - 10.0.0.300\n",
            "netwarden.conf:3: filter/endpoints:",
        ),
        ("filter/endpoints = - example.com tcp/99999\n", "netwarden.conf:1:"),
        ("filter/defaultAction = maybe\n", "netwarden.conf:1: filter/defaultAction"),
        ("filter/colour = blue\n", "netwarden.conf:1: filter/colour"),
        ("intel/listFile = EasyPrivacy missing.txt\n", "missing.txt"),
        ("dns/nameservers = doh://192.0.2.1\n", "dns/nameservers"),
    ],
)
def test_bad_config_is_refused_before_any_rule(
    netns: str, tmp_path: Path, config: str, expected: str
) -> None:
    (tmp_path / "netwarden.conf").write_text(config)

    daemon = start_daemon(netns, tmp_path, tmp_path / "state")
    _, stderr = daemon.communicate(timeout=30)

    assert daemon.returncode == 2
    assert "refusing to start" in stderr
    assert expected in stderr
    assert netwarden_rules(netns) == []


def test_clean_stop_removes_every_rule(netns: str, tmp_path: Path) -> None:
    (tmp_path / "netwarden.conf").write_text(GOOD_CONFIG)
    daemon = start_daemon(netns, tmp_path, tmp_path / "state")
    try:
        wait_until_serving(daemon, tmp_path / "state")
        assert len(jumps(netns)) == 6  # mangle, nat, filter; IPv4 and IPv6
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)

    assert daemon.returncode == 0
    assert netwarden_rules(netns) == []
    assert not (tmp_path / "state" / "api.sock").exists()


def test_restart_after_a_crash_replaces_leftovers(netns: str, tmp_path: Path) -> None:
    (tmp_path / "netwarden.conf").write_text(GOOD_CONFIG)
    crashed = start_daemon(netns, tmp_path, tmp_path / "state")
    wait_until_serving(crashed, tmp_path / "state")
    crashed.kill()  # SIGKILL: no chance to clean up
    crashed.communicate(timeout=30)
    left = netwarden_rules(netns)
    assert len(jumps(netns)) == 6, "a crash leaves the rules in place"

    again = start_daemon(netns, tmp_path, tmp_path / "state")
    try:
        wait_until_serving(again, tmp_path / "state")
        assert sorted(netwarden_rules(netns)) == sorted(left), "replaced, not doubled"
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=30)
    assert netwarden_rules(netns) == []


@pytest.mark.parametrize("shared", ["namespace", "state directory"])
def test_a_second_daemon_is_refused_and_the_first_keeps_its_rules(
    netns: str, tmp_path: Path, shared: str
) -> None:
    (tmp_path / "netwarden.conf").write_text(GOOD_CONFIG)
    first = start_daemon(netns, tmp_path, tmp_path / "one")
    other_netns = f"{netns}b"
    add_netns(other_netns)
    other = os.stat(f"/run/netns/{other_netns}")  # the namespace's own inode
    other_lock = Path(f"/run/netwarden/netns-{other.st_dev}-{other.st_ino}.lock")
    # The namespace is new: a lock file for its inode is a killed run's.
    other_lock.unlink(missing_ok=True)
    try:
        wait_until_serving(first, tmp_path / "one")
        if shared == "namespace":
            second = start_daemon(netns, tmp_path, tmp_path / "two")
        else:
            second = start_daemon(other_netns, tmp_path, tmp_path / "one")
        _, stderr = second.communicate(timeout=30)

        assert second.returncode == 1
        assert f"another netwarden daemon (pid {first.pid})" in stderr
        assert shared in stderr
        assert len(jumps(netns)) == 6, "the first daemon's rules are untouched"
        assert netwarden_rules(other_netns) == []
        assert not other_lock.exists(), "a refused daemon leaves no lock file behind"
        client = ApiClient(tmp_path / "one" / "api.sock")
        assert client.get("/v1/status")["pid"] == first.pid
        client.close()
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
        subprocess.run(["ip", "netns", "delete", other_netns], check=False)


def test_sighup_stops_cleanly(netns: str, tmp_path: Path) -> None:
    (tmp_path / "netwarden.conf").write_text(GOOD_CONFIG)
    daemon = start_daemon(netns, tmp_path, tmp_path / "state")
    wait_until_serving(daemon, tmp_path / "state")

    daemon.send_signal(signal.SIGHUP)  # the terminal of `netwarden run` closed
    daemon.communicate(timeout=30)

    assert daemon.returncode == 0
    assert netwarden_rules(netns) == []


RESPONDER = """
import socket, sys
import dns.message, dns.rrset
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("192.0.2.1", 53))
print("ready", flush=True)
for _ in range(100):  # bounded: the test asks a handful of questions
    wire, client = sock.recvfrom(4096)
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    name = query.question[0].name
    response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "203.0.113.7"))
    sock.sendto(response.to_wire(), client)
"""


def test_plain_dns_upstream_is_not_redirected_to_netwarden_itself(
    netns: str, tmp_path: Path
) -> None:
    # Every port-53 query is redirected to netwarden; its own upstream
    # queries on port 53 carry the accept mark and must reach the upstream.
    # Nothing listens on 127.0.0.53: only netwarden can answer there.
    subprocess.run(
        ["ip", "-n", netns, "addr", "add", "192.0.2.1/32", "dev", "lo"], check=True
    )
    responder = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", RESPONDER],
        stdout=subprocess.PIPE,
        text=True,
    )
    (tmp_path / "netwarden.conf").write_text(GOOD_CONFIG)
    daemon = start_daemon(netns, tmp_path, tmp_path / "state")
    try:
        assert responder.stdout is not None
        assert responder.stdout.readline().strip() == "ready"
        wait_until_serving(daemon, tmp_path / "state")
        answer = subprocess.run(
            ["ip", "netns", "exec", netns, "dig", "+short", "+time=5", "+tries=1",
             "@127.0.0.53", "plain.example"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert answer.stdout.split() == ["203.0.113.7"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)
        responder.kill()
        responder.communicate(timeout=10)


def test_a_start_that_fails_late_removes_what_it_installed(
    netns: str, tmp_path: Path
) -> None:
    # The API starts last, after the rules; a socket path longer than
    # AF_UNIX allows makes it fail there with a plain OSError.
    (tmp_path / "netwarden.conf").write_text(GOOD_CONFIG)
    state = tmp_path / ("s" * 120)

    daemon = start_daemon(netns, tmp_path, state)
    _, stderr = daemon.communicate(timeout=30)

    assert daemon.returncode == 1
    assert "start failed" in stderr
    assert netwarden_rules(netns) == []
