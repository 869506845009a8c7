"""Real programs in a test namespace pair, attributed from inside it.

Namespace C (client, 192.0.2.1, 2001:db8::1) runs curl, dig and python
clients; namespace S (192.0.2.2, 2001:db8::2) runs a sink that accepts
and never answers, so each client keeps its socket open while the
attributor, started inside C (sock_diag sees only its own namespace),
looks it up. Needs root; under CI a missing capability fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import add_netns, require, require_command, require_root

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROGRAMS = HERE / "netns_programs.py"
SYSTEM_PYTHON = "/usr/bin/python3"
WAIT_SECONDS = 10

pytestmark = pytest.mark.lab


class NamespacePair:
    """Two namespaces joined by a veth pair; tracks every process it starts."""

    def __init__(self) -> None:
        tag = os.getpid()
        self.client_ns, self.server_ns = f"nwt-attr-c-{tag}", f"nwt-attr-s-{tag}"
        self.processes: list[subprocess.Popen[str]] = []
        self.sink_lines: queue.Queue[str] = queue.Queue()

    def build(self) -> None:
        for name in (self.client_ns, self.server_ns):
            add_netns(name)
        veth_c, veth_s = f"nwtc{os.getpid()}"[:15], f"nwts{os.getpid()}"[:15]
        self.ip(
            "link",
            "add",
            veth_c,
            "netns",
            self.client_ns,
            "type",
            "veth",
            "peer",
            "name",
            veth_s,
            "netns",
            self.server_ns,
        )
        for ns, dev, host in ((self.client_ns, veth_c, 1), (self.server_ns, veth_s, 2)):
            self.ip("-n", ns, "addr", "add", f"192.0.2.{host}/24", "dev", dev)
            self.ip(
                "-n", ns, "addr", "add", f"2001:db8::{host}/64", "dev", dev, "nodad"
            )
            self.ip("-n", ns, "link", "set", dev, "up")
            self.ip("-n", ns, "link", "set", "lo", "up")

    def teardown(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
        for name in (self.client_ns, self.server_ns):
            subprocess.run(
                ["ip", "netns", "del", name], capture_output=True, check=False
            )

    @staticmethod
    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def spawn(
        self, ns: str, *argv: str, user: int | None = None
    ) -> subprocess.Popen[str]:
        # `ip netns exec` and setpriv exec the command: its pid is Popen's pid.
        prefix = ["ip", "netns", "exec", ns]
        if user is not None:
            prefix += [
                "setpriv",
                f"--reuid={user}",
                f"--regid={user}",
                "--clear-groups",
            ]
        process = subprocess.Popen(
            [*prefix, *argv],
            cwd=HERE,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def start_sink(self) -> None:
        sink = self.spawn(self.server_ns, SYSTEM_PYTHON, str(PROGRAMS), "sink")
        assert read_line(sink) == "ready"
        threading.Thread(target=self._pump, args=(sink,), daemon=True).start()

    def _pump(self, sink: subprocess.Popen[str]) -> None:
        assert sink.stdout is not None
        for line in sink.stdout:
            self.sink_lines.put(line.strip())

    def forget_peers(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self.sink_lines.get_nowait()

    def next_peer(self, protocol: str) -> tuple[str, int]:
        deadline = time.monotonic() + WAIT_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            kind, address, port = self.sink_lines.get(timeout=left).split()
            if kind == protocol:
                return address, int(port)
        raise AssertionError(f"the sink saw no {protocol} peer")

    def attribute(self, flows: list[dict[str, Any]]) -> dict[str, Any]:
        result = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                self.client_ns,
                sys.executable,
                str(PROGRAMS),
                "attribute",
            ],
            input=json.dumps(flows),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
            check=False,
        )
        assert result.returncode == 0, result.stderr
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer


def read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=WAIT_SECONDS):
            raise AssertionError(f"{process.args} printed nothing")
    return process.stdout.readline().strip()


def flow(
    protocol: int, local: str, local_port: int, remote: str, remote_port: int
) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "local_ip": local,
        "local_port": local_port,
        "remote_ip": remote,
        "remote_port": remote_port,
    }


@pytest.fixture(scope="module")
def namespace_pair() -> Iterator[NamespacePair]:
    require_root()
    for command in ("curl", "dig", "setpriv"):
        require_command(command)
    require(Path(SYSTEM_PYTHON).exists(), "needs /usr/bin/python3 for clients")
    pair = NamespacePair()
    try:
        pair.build()
        pair.start_sink()
        yield pair
    finally:
        pair.teardown()


@pytest.fixture
def lab(namespace_pair: NamespacePair) -> NamespacePair:
    # A test starts with no peer seen: a line left by another test's client
    # must not answer this test's next_peer().
    namespace_pair.forget_peers()
    return namespace_pair


def python_client(lab: NamespacePair, *args: str) -> tuple[subprocess.Popen[str], int]:
    client = lab.spawn(
        lab.client_ns, SYSTEM_PYTHON, "./netns_programs.py", "client", *args
    )
    return client, int(read_line(client))


def only_process(lab: NamespacePair, flows: list[dict[str, Any]]) -> dict[str, Any]:
    (process,) = lab.attribute(flows)["processes"]
    assert process is not None, f"no process for {flows}"
    return process


def test_curl_as_other_user(lab: NamespacePair) -> None:
    curl = lab.spawn(
        lab.client_ns,
        "curl",
        "-s",
        "--max-time",
        "30",
        "http://192.0.2.2:8080/",
        user=65534,
    )
    address, port = lab.next_peer("tcp")
    process = only_process(lab, [flow(6, address, port, "192.0.2.2", 8080)])
    assert process["pid"] == curl.pid
    assert process["exe"] == "/usr/bin/curl"
    assert (process["uid"], process["user"]) == (65534, "nobody")
    assert process["script"] is None
    curl.kill()


def test_python_script_client(lab: NamespacePair) -> None:
    client, port = python_client(lab, "4", "tcp", "192.0.2.2", "8080")
    process = only_process(lab, [flow(6, "192.0.2.1", port, "192.0.2.2", 8080)])
    assert process["pid"] == client.pid
    assert process["exe"] == os.path.realpath(SYSTEM_PYTHON)
    assert process["script"] == str(PROGRAMS)
    assert process["uid"] == 0
    client.kill()


def test_dig_udp(lab: NamespacePair) -> None:
    dig = lab.spawn(
        lab.client_ns, "dig", "@192.0.2.2", "+tries=1", "+timeout=30", "example.test"
    )
    address, port = lab.next_peer("udp")
    process = only_process(lab, [flow(17, address, port, "192.0.2.2", 53)])
    assert (process["pid"], process["exe"]) == (
        dig.pid,
        os.path.realpath("/usr/bin/dig"),
    )
    dig.kill()


def test_python_udp_sendto_client(lab: NamespacePair) -> None:
    client, port = python_client(lab, "4", "udp-sendto", "192.0.2.2", "53")
    process = only_process(lab, [flow(17, "192.0.2.1", port, "192.0.2.2", 53)])
    assert (process["pid"], process["script"]) == (client.pid, str(PROGRAMS))
    client.kill()


def test_ipv6_tcp_curl(lab: NamespacePair) -> None:
    curl = lab.spawn(
        lab.client_ns,
        "curl",
        "-s",
        "-g",
        "--max-time",
        "30",
        "http://[2001:db8::2]:8080/",
    )
    address, port = lab.next_peer("tcp")
    assert address == "2001:db8::1"
    process = only_process(lab, [flow(6, address, port, "2001:db8::2", 8080)])
    assert (process["pid"], process["exe"]) == (curl.pid, "/usr/bin/curl")
    curl.kill()


def test_ipv4_mapped_socket(lab: NamespacePair) -> None:
    client, port = python_client(lab, "6", "tcp", "::ffff:192.0.2.2", "8080")
    process = only_process(lab, [flow(6, "192.0.2.1", port, "192.0.2.2", 8080)])
    assert process["pid"] == client.pid
    client.kill()


def test_redirected_dns_query_by_local_port(lab: NamespacePair) -> None:
    """As the nameserver sees it after REDIRECT: peer 127.0.0.1:53, not 192.0.2.53."""
    client, port = python_client(lab, "4", "udp", "192.0.2.53", "53")
    process = only_process(lab, [flow(17, "192.0.2.1", port, "127.0.0.1", 53)])
    assert process["pid"] == client.pid
    client.kill()


def test_twenty_concurrent_clients(lab: NamespacePair) -> None:
    clients = [
        python_client(
            lab,
            "4" if n % 2 else "6",
            "tcp",
            "192.0.2.2" if n % 2 else "2001:db8::2",
            "8080",
        )
        for n in range(20)
    ]
    flows = [
        flow(6, "192.0.2.1", port, "192.0.2.2", 8080)
        if n % 2
        else flow(6, "2001:db8::1", port, "2001:db8::2", 8080)
        for n, (_, port) in enumerate(clients)
    ]
    answer = lab.attribute(flows)
    pids = [process and process["pid"] for process in answer["processes"]]
    assert pids == [client.pid for client, _ in clients]
    print(
        f"in netns: lookup median {answer['lookup_median_us']:.1f} us, "
        f"attribute (cached) median {answer['attribute_median_us']:.1f} us"
    )
    for client, _ in clients:
        client.kill()
