"""The lab itself, without the daemon: real namespaces, unbound, web server.

Needs root (skips without it, fails under CI=true). Each lab gets its own
``nwt-<pid>-...`` namespaces and a directory under the test's tmp path, so
these tests never touch a lab that is running for the demo.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from support import require_command, require_root

from netwarden.errors import LabError
from netwarden.lab import plan, processes
from netwarden.lab.commands import show_status
from netwarden.lab.lab import MARKER, Lab
from netwarden.lab.namespaces import NETNS_ETC_DIR, create_namespace, namespace_pids

pytestmark = pytest.mark.lab

_labs = count()


def _require_lab_tools() -> None:
    require_root()
    for command in ("unbound", "dig", "kdig", "curl"):
        require_command(command)


def _new_lab(tmp_path: Path, **options: object) -> Lab:
    prefix = f"nwt-{os.getpid()}-{next(_labs)}"
    return Lab(tmp_path / "lab", prefix=prefix, start_daemon=False, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _require_lab_tools()
    lab = _new_lab(tmp_path_factory.mktemp("lab"))
    try:
        lab.up()
        yield lab
    finally:
        lab.down()


def _output(lab: Lab, *argv: str) -> str:
    result = lab.run(argv, timeout=20)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _dig(lab: Lab, server: str, name: str, rtype: str = "A") -> list[str]:
    answer = _output(
        lab, "dig", "+short", "+time=2", "+tries=1", f"@{server}", name, rtype
    )
    return answer.splitlines()


def _kdig_tls(
    lab: Lab, server: str, name: str, tls_name: str = "dns.lab.test"
) -> list[str]:
    return _output(
        lab,
        "kdig",
        "+short",
        "+time=2",
        "+retry=0",
        f"@{server}",
        "+tls",
        f"+tls-ca={lab.ca_file}",
        f"+tls-hostname={tls_name}",
        name,
    ).splitlines()


@pytest.mark.parametrize("server", [plan.RESOLVER_V4, plan.RESOLVER_V6])
def test_every_name_answers_with_the_web_server(lab: Lab, server: str) -> None:
    assert _dig(lab, server, "www.example.com") == [plan.WEB_V4]
    assert _dig(lab, server, "tracker.example.net", "AAAA") == [plan.WEB_V6]
    assert _dig(lab, server, "anything.lab.test") == [plan.WEB_V4]


def test_fixed_names(lab: Lab) -> None:
    assert _dig(lab, plan.RESOLVER_V4, "lan.lab.test") == [plan.LAN_HOST_V4]
    assert _dig(lab, plan.RESOLVER_V4, "private.lab.test") == [plan.PRIVATE_ANSWER_V4]
    assert _dig(lab, plan.RESOLVER_V4, "cname.lab.test") == [
        "alias.lab.test.",
        "target.lab.test.",
        plan.CNAME_TARGET_V4,
    ]


@pytest.mark.parametrize("server", [plan.RESOLVER_V4, plan.RESOLVER_V6])
def test_dot_with_the_lab_ca(lab: Lab, server: str) -> None:
    assert _kdig_tls(lab, server, "www.example.com") == [plan.WEB_V4]
    assert _kdig_tls(lab, server, "cname.lab.test")[-1] == plan.CNAME_TARGET_V4


def test_dot_certificate_is_checked(lab: Lab) -> None:
    with pytest.raises(AssertionError):
        _kdig_tls(lab, plan.RESOLVER_V4, "www.example.com", tls_name="wrong.lab.test")


@pytest.mark.parametrize("family", ["-4", "-6"])
def test_web_server_names_the_host(lab: Lab, family: str) -> None:
    body = _output(
        lab, "curl", "-sS", family, "--max-time", "5", "http://www.example.com/"
    )
    assert body == "netwarden lab web server: host=www.example.com"


def test_lan_host_and_cname_target_serve_too(lab: Lab) -> None:
    for name in ("lan.lab.test", "cname.lab.test"):
        body = _output(lab, "curl", "-sS", "--max-time", "5", f"http://{name}/")
        assert body == f"netwarden lab web server: host={name}"


def test_nothing_listens_on_the_foreign_resolver(lab: Lab) -> None:
    argv = ("dig", "+time=1", "+tries=1", f"@{plan.FOREIGN_RESOLVER_V4}", "example.org")
    assert lab.run(argv, timeout=20).returncode != 0


def test_device_resolv_conf_names_the_lab_resolver(lab: Lab) -> None:
    assert _output(lab, "cat", "/etc/resolv.conf").endswith(
        f"nameserver {plan.RESOLVER_V4}"
    )


def test_exec_passes_the_exit_code_through(lab: Lab) -> None:
    assert lab.exec(["sh", "-c", "exit 7"]) == 7
    assert lab.exec(["true"]) == 0


def test_no_veth_end_in_the_host_namespace(lab: Lab) -> None:
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True)
    names = {
        line.split(":")[1].strip().split("@")[0] for line in links.stdout.splitlines()
    }
    assert not names & {plan.DEVICE_UPLINK, plan.ROUTER_DOWNLINK}


def test_is_up(lab: Lab) -> None:
    assert lab.is_up()


# Tearing down and recovering.


def _lab_traces(lab: Lab, pids: list[int]) -> list[str]:
    """What of ``lab`` is still there; empty when everything is gone."""
    traces = []
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    traces += [line for line in listed.stdout.splitlines() if lab.names.prefix in line]
    if (NETNS_ETC_DIR / lab.names.device).exists():
        traces.append(str(NETNS_ETC_DIR / lab.names.device))
    if lab.lab_dir.exists():
        traces.append(str(lab.lab_dir))
    traces += [f"pid {pid}" for pid in pids if Path(f"/proc/{pid}").exists()]
    return traces


def _recorded_pids(lab: Lab) -> list[int]:
    return [record.pid for record in processes.read_records(lab.pid_dir)]


def test_down_removes_everything(tmp_path: Path) -> None:
    _require_lab_tools()
    lab = _new_lab(tmp_path)
    try:
        lab.up()
        pids = _recorded_pids(lab)
        assert len(pids) == 2
    finally:
        lab.down()
    assert _lab_traces(lab, pids) == []
    assert not lab.is_up()
    lab.down()  # again: nothing to do, no error


def test_up_cleans_after_a_crash(tmp_path: Path) -> None:
    _require_lab_tools()
    crashed = _new_lab(tmp_path)
    try:
        crashed.up()
        old_pids = _recorded_pids(crashed)
        for pid in old_pids:
            os.kill(pid, signal.SIGKILL)  # the lab's own processes, by pid
        # SIGKILL is delivered asynchronously: wait (bounded) until it landed.
        deadline = time.monotonic() + 10
        while crashed.is_up() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not crashed.is_up()

        again = Lab(crashed.lab_dir, prefix=crashed.names.prefix, start_daemon=False)
        again.up()
        assert again.is_up()
        assert set(_recorded_pids(again)).isdisjoint(old_pids)
        assert _dig(again, plan.RESOLVER_V4, "lan.lab.test") == [plan.LAN_HOST_V4]
    finally:
        crashed.down()
    assert _lab_traces(crashed, old_pids) == []


def test_failed_start_leaves_nothing_behind(tmp_path: Path) -> None:
    _require_lab_tools()

    class DaemonThatFails(Lab):
        def _start_daemon(self, filter_list: Path) -> None:
            self.pids_at_failure = _recorded_pids(self)
            raise LabError("the daemon did not answer")

    easyprivacy = tmp_path / "easyprivacy.txt"
    easyprivacy.write_text("||tracker.example^\n")
    lab = DaemonThatFails(
        tmp_path / "lab", filter_list=easyprivacy, prefix=f"nwt-{os.getpid()}-fail"
    )
    try:
        with pytest.raises(LabError, match="did not answer"):
            lab.up()
    finally:
        lab.down()
    assert len(lab.pids_at_failure) == 2
    assert _lab_traces(lab, lab.pids_at_failure) == []


def test_exec_needs_the_lab(tmp_path: Path) -> None:
    _require_lab_tools()
    with pytest.raises(LabError, match="not up"):
        _new_lab(tmp_path).exec(["true"])


def test_refuses_to_remove_a_foreign_directory(tmp_path: Path) -> None:
    _require_lab_tools()
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "precious.txt").write_text("keep me")
    with pytest.raises(LabError, match="not a lab directory"):
        _new_lab(tmp_path).down()
    assert (tmp_path / "lab" / "precious.txt").exists()


DEMO_WITHOUT_DAEMON = """
import sys
from pathlib import Path
from netwarden.lab.demo import run_demo
from netwarden.lab.lab import Lab
lab = Lab(Path(sys.argv[1]), filter_list=Path(sys.argv[2]), prefix=sys.argv[3],
          start_daemon=False)
sys.exit(run_demo(lab, once=False))
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_demo_takes_the_lab_down_on_interrupt(
    tmp_path: Path, signum: signal.Signals
) -> None:
    _require_lab_tools()
    easyprivacy = tmp_path / "easyprivacy.txt"
    easyprivacy.write_text("||googletagmanager.com^\n")
    prefix = f"nwt-{os.getpid()}-demo"
    lab = Lab(tmp_path / "lab", prefix=prefix, start_daemon=False)
    argv = [sys.executable, "-c", DEMO_WITHOUT_DAEMON, str(lab.lab_dir)]
    demo = subprocess.Popen(
        [*argv, str(easyprivacy), prefix], stdout=subprocess.PIPE, text=True
    )
    try:
        assert demo.stdout is not None
        output = ""
        for _ in range(200):  # bounded: the tour prints a few dozen lines
            line = demo.stdout.readline()
            output += line
            if "Ctrl-C ends the demo" in line or not line:
                break
        assert "Ctrl-C ends the demo" in output
        pids = _recorded_pids(lab)
        demo.send_signal(signum)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
        lab.down()
    assert "The lab is down." in rest
    assert demo.returncode == 0
    assert _lab_traces(lab, pids) == []


# Exit codes, concurrency, and commands refused without touching anything.


def test_exec_exits_as_a_shell_would(lab: Lab, tmp_path: Path) -> None:
    not_executable = tmp_path / "notes.txt"
    not_executable.write_text("not a program\n")
    not_executable.chmod(0o644)
    assert lab.exec(["/nonexistent/program"]) == 127
    assert lab.exec(["no-such-command-anywhere"]) == 127
    assert lab.exec([str(not_executable)]) == 126
    assert lab.exec(["sh", "-c", "kill -KILL $$"]) == 128 + signal.SIGKILL
    assert lab.exec(["sh", "-c", "kill -TERM $$"]) == 128 + signal.SIGTERM
    assert lab.exec(["sh", "-c", "exit 3"]) == 3


def test_another_lab_dir_touches_nothing_of_this_lab(lab: Lab, tmp_path: Path) -> None:
    other = Lab(tmp_path / "other", prefix=lab.names.prefix, start_daemon=False)
    with pytest.raises(LabError, match="another --lab-dir"):
        other.down()
    assert (NETNS_ETC_DIR / lab.names.device / "resolv.conf").exists()
    assert lab.is_up()
    assert not other.lab_dir.exists()


def _wait_in_namespace(namespace: str, pid: int) -> None:
    deadline = time.monotonic() + 10
    while pid not in namespace_pids(namespace):
        assert time.monotonic() < deadline, f"pid {pid} never entered {namespace}"
        time.sleep(0.05)


def test_down_with_a_stranger_inside_changes_nothing(tmp_path: Path) -> None:
    _require_lab_tools()
    lab = _new_lab(tmp_path)
    stranger = None
    try:
        lab.up()
        pids = _recorded_pids(lab)
        argv = ["ip", "netns", "exec", lab.names.device, "sleep", "60"]
        stranger = subprocess.Popen(argv)
        _wait_in_namespace(lab.names.device, stranger.pid)
        with pytest.raises(LabError, match=f"did not start.*{stranger.pid}"):
            lab.down()
        assert lab.is_up(), "the refused down stopped nothing"
        assert (NETNS_ETC_DIR / lab.names.device / "resolv.conf").exists()
        assert (lab.lab_dir / MARKER).exists()
    finally:
        if stranger is not None:
            stranger.kill()  # the test's own process, by pid
            stranger.wait(timeout=10)
        lab.down()
    assert _lab_traces(lab, pids) == []


def test_restart_refuses_a_lab_that_is_not_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _require_lab_tools()
    # What a partial down used to leave: the device namespace, no lab dir.
    lab = _new_lab(tmp_path, python="/bin/false")
    try:
        create_namespace(lab.names.device)
        assert lab.restart_problem() == f"no lab directory {lab.lab_dir}"
        with pytest.raises(LabError, match="run netwarden lab up"):
            lab.restart_daemon()
        assert not lab.lab_dir.exists(), "restart created nothing"
        assert show_status(lab) == 1
        assert "lab restart" not in capsys.readouterr().out
    finally:
        lab.down()
    assert _lab_traces(lab, []) == []


def test_two_concurrent_ups_leave_the_lab_up(tmp_path: Path) -> None:
    _require_lab_tools()
    labs = [_new_lab(tmp_path)]
    labs.append(Lab(labs[0].lab_dir, prefix=labs[0].names.prefix, start_daemon=False))
    errors: list[Exception] = []

    def up(lab: Lab) -> None:
        try:
            lab.up()
        except LabError as err:
            errors.append(err)

    threads = [threading.Thread(target=up, args=(lab,)) for lab in labs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert labs[0].is_up()
        assert _dig(labs[0], plan.RESOLVER_V4, "lan.lab.test") == [plan.LAN_HOST_V4]
    finally:
        labs[0].down()
    assert _lab_traces(labs[0], []) == []
