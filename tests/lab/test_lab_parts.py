"""The lab's parts that need no root: configs, pidfiles, web server, CLI."""

from __future__ import annotations

import argparse
import ipaddress
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dns.rdatatype
import dns.zone
import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.config.file import parse_settings
from netwarden.errors import LabError
from netwarden.lab import plan, processes, unbound
from netwarden.lab.commands import add_lab_parser
from netwarden.lab.daemon_config import find_filter_list, render_daemon_config
from netwarden.lab.demo import FETCH_SCRIPT, TRACKER_LISTED, tour_steps, tracker_rule
from netwarden.lab.webserver import make_server, parse_bind, render_bind, response_text


def test_names_follow_the_prefix() -> None:
    names = plan.LabNames("nwt-42")
    assert names.namespaces == ("nwt-42-device", "nwt-42-internet")
    assert plan.LabNames().device == "nw-device"


def test_host_addresses_are_single_hosts() -> None:
    assert plan.host_address("203.0.113.80") == "203.0.113.80/32"
    assert plan.host_address("2001:db8:80::80") == "2001:db8:80::80/128"
    # Simulated internet hosts use documentation ranges only (RFC 5737, 3849).
    documentation = [
        ipaddress.ip_network(net)
        for net in (
            "192.0.2.0/24",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "2001:db8::/32",
        )
    ]
    for address in plan.INTERNET_HOSTS:
        ip = ipaddress.ip_address(address)
        assert any(ip in net for net in documentation if net.version == ip.version)


def _lab_zone() -> dns.zone.Zone:
    return dns.zone.from_text(unbound.render_lab_zone(), origin=plan.LAB_ZONE + ".")


def test_lab_zone_has_the_cname_chain() -> None:
    zone = _lab_zone()
    cname = zone.find_rdataset("cname", dns.rdatatype.CNAME)
    alias = zone.find_rdataset("alias", dns.rdatatype.CNAME)
    target = zone.find_rdataset("target", dns.rdatatype.A)
    assert cname[0].target.to_text() == "alias"
    assert alias[0].target.to_text() == "target"
    assert target[0].address == plan.CNAME_TARGET_V4


def test_lab_zone_fixed_names() -> None:
    zone = _lab_zone()
    assert zone.find_rdataset("lan", "A")[0].address == plan.LAN_HOST_V4
    assert zone.find_rdataset("private", "A")[0].address == "192.168.213.7"
    assert zone.find_rdataset("*", "AAAA")[0].address == plan.WEB_V6


def test_unbound_config_serves_plain_and_tls(tmp_path: Path) -> None:
    files = unbound.UnboundFiles(tmp_path)
    text = unbound.render_unbound_conf(files, tmp_path / "k.pem", tmp_path / "c.pem")
    assert "interface: 198.51.100.53@853" in text
    assert "interface: 2001:db8:53::53@53" in text
    assert f'tls-service-key: "{tmp_path}/k.pem"' in text
    assert f'pidfile: "{files.pidfile}"' in text
    assert 'local-zone: "." redirect' in text
    assert "control-enable: no" in text
    assert 'chroot: ""' in text and 'username: ""' in text


@pytest.mark.skipif(not Path(unbound.UNBOUND).exists(), reason="needs unbound")
def test_unbound_accepts_its_config(tmp_path: Path) -> None:
    files = unbound.UnboundFiles(tmp_path)
    for name in ("k.pem", "c.pem"):
        (tmp_path / name).write_text("")
    files.config.write_text(
        unbound.render_unbound_conf(files, tmp_path / "k.pem", tmp_path / "c.pem")
    )
    files.zone.write_text(unbound.render_lab_zone())
    check = subprocess.run(
        ["unbound-checkconf", str(files.config)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_daemon_config_is_accepted_by_the_config_parser(tmp_path: Path) -> None:
    easyprivacy = tmp_path / "easyprivacy.txt"
    easyprivacy.write_text("||tracker.example^\n")
    settings = parse_settings(render_daemon_config(tmp_path / "ca.pem", easyprivacy))
    assert settings.nameservers == (
        "dot://198.51.100.53:853?verify=dns.lab.test&name=lab-upstream",
    )
    assert settings.ca_file == tmp_path / "ca.pem"
    assert settings.active_lists == ("EasyPrivacy",)
    assert settings.list_files[0].path == easyprivacy
    assert len(settings.endpoint_rules.rules) == 1


def test_missing_filter_list_is_named(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"missing\.txt is missing"):
        find_filter_list(tmp_path / "missing.txt")


# Pidfiles.

_words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
    max_size=20,
)


@given(
    name=st.from_regex(r"[a-z]{1,10}", fullmatch=True),
    pid=st.integers(min_value=2, max_value=2**22),
    argv=st.lists(_words, min_size=1, max_size=5),
    launcher=st.lists(_words, max_size=4),
)
def test_pidfile_round_trip(
    name: str, pid: int, argv: list[str], launcher: list[str]
) -> None:
    record = processes.ProcessRecord(name, pid, tuple(argv), tuple(launcher))
    assert processes.ProcessRecord.parse(record.render()) == record


@pytest.mark.parametrize(
    "text", ["", "{}", "not json", '{"name": "x", "pid": 1, "argv": []}', "[1]"]
)
def test_bad_pidfiles_are_refused(text: str) -> None:
    with pytest.raises(LabError, match=r"where\.pid"):
        processes.ProcessRecord.parse(text, "where.pid")


def test_stops_a_process_it_started(tmp_path: Path) -> None:
    argv = ["sleep", "30"]
    process = processes.start_process(
        "sleeper", argv, pid_dir=tmp_path, log_path=tmp_path / "log"
    )
    try:
        (record,) = processes.read_records(tmp_path)
        assert record.pid == process.pid
        assert processes.is_running_as_recorded(record)
        processes.stop_recorded(record, timeout=5)
        assert process.poll() is not None
        assert not processes.is_running_as_recorded(record)
    finally:
        process.kill()
        process.wait(5)


def test_never_kills_a_pid_running_something_else(tmp_path: Path) -> None:
    process = subprocess.Popen(["sleep", "30"])
    try:
        # A pidfile whose pid was reused by an unrelated program.
        stale = processes.ProcessRecord("unbound", process.pid, ("/usr/sbin/unbound",))
        assert not processes.is_running_as_recorded(stale)
        processes.stop_recorded(stale, timeout=1)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait(5)


def test_unreadable_pidfiles_are_skipped(tmp_path: Path) -> None:
    (tmp_path / f"broken{processes.PIDFILE_SUFFIX}").write_text("garbage")
    assert processes.read_records(tmp_path) == []
    assert processes.read_records(tmp_path / "absent") == []


# The web server.


@given(
    address=st.ip_addresses().map(str), port=st.integers(min_value=0, max_value=65535)
)
def test_bind_round_trip(address: str, port: int) -> None:
    assert parse_bind(render_bind(address, port)) == (address, port)


@pytest.mark.parametrize(
    "text", ["203.0.113.80", "example.org:80", "2001:db8::1:80", "1.2.3.4:99999", ":80"]
)
def test_bad_binds_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"ADDR:PORT|IP address|brackets"):
        parse_bind(text)


@pytest.fixture(params=["127.0.0.1", "::1"])
def web_url(request: pytest.FixtureRequest) -> Iterator[str]:
    server = make_server(request.param, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{render_bind(request.param, server.server_address[1])}/"
    finally:
        server.shutdown()
        server.server_close()


def test_web_server_names_the_host(web_url: str) -> None:
    request = urllib.request.Request(web_url, headers={"Host": "www.example.com"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.read().decode() == response_text("www.example.com")
    assert response_text("www.example.com").startswith(
        "netwarden lab web server: host=www.example.com"
    )


def test_fetch_script_prints_the_answer(web_url: str) -> None:
    result = subprocess.run(
        [sys.executable, str(FETCH_SCRIPT), web_url],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("200 netwarden lab web server: host=")


def test_fetch_script_fails_cleanly() -> None:
    result = subprocess.run(
        [sys.executable, str(FETCH_SCRIPT), "http://127.0.0.1:9/"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    assert "fetch http://127.0.0.1:9/" in result.stderr


# The demo's tracker and the command line.


def test_tracker_is_a_host_rule_of_the_real_list(easyprivacy: Path) -> None:
    rule = tracker_rule(easyprivacy)
    assert rule is not None and rule.startswith(f"||{TRACKER_LISTED}^")


def test_tracker_rule_ignores_narrowed_rules(tmp_path: Path) -> None:
    easyprivacy = tmp_path / "list.txt"
    easyprivacy.write_text(f"||{TRACKER_LISTED}^$script\n||other.example^\n")
    assert tracker_rule(easyprivacy) is None


def test_tour_runs_the_four_clients() -> None:
    steps = tour_steps("/usr/bin/python3")
    assert [step.argv[0] for step in steps] == [
        "curl",
        "curl",
        "dig",
        "/usr/bin/python3",
    ]
    assert [step.should_succeed for step in steps] == [True, False, True, True]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_lab_parser(parser.add_subparsers(required=True))
    return parser.parse_args(argv)


def test_lab_exec_keeps_the_command_whole() -> None:
    args = _parse(["lab", "exec", "--", "curl", "-sS", "--max-time", "2", "URL"])
    assert [word for word in args.command if word != "--"] == [
        "curl",
        "-sS",
        "--max-time",
        "2",
        "URL",
    ]


def test_lab_options() -> None:
    args = _parse(["lab", "--lab-dir", "/tmp/x", "demo", "--once"])
    assert args.once and args.lab_dir == Path("/tmp/x")
    assert callable(args.func)


def test_a_process_is_recognised_the_moment_popen_returns() -> None:
    # Right after exec, /proc/<pid>/cmdline reads empty for a moment; CI once
    # caught that window. A hundred quick starts hit it almost surely.
    argv = ("sleep", "30")
    for _ in range(100):
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        try:
            record = processes.ProcessRecord("sleeper", process.pid, argv)
            assert processes.is_running_as_recorded(record)
        finally:
            process.kill()
            process.wait(5)
