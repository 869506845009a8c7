"""The backend's commands, compared exactly, with a recording runner."""

import logging

import pytest

from netwarden.errors import FirewallError
from netwarden.intercept.backend import IptablesBackend, run_firewall_command
from netwarden.intercept.rules import Family, InterceptPlan, install_text

INSTALLED_MANGLE = """\
*mangle
:OUTPUT ACCEPT [0:0]
:NETWARDEN-OUTPUT - [0:0]
-A OUTPUT -j NETWARDEN-OUTPUT
COMMIT
"""
REMOVE_MANGLE = """\
*mangle
-D OUTPUT -j NETWARDEN-OUTPUT
-F NETWARDEN-OUTPUT
-X NETWARDEN-OUTPUT
COMMIT
"""


class RecordingRunner:
    def __init__(self, saved: str = "", fail_on: str | None = None) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.saved = saved
        self.fail_on = fail_on

    def __call__(self, argv: list[str], stdin_text: str | None) -> str:
        self.calls.append((argv, stdin_text))
        if argv[0] == self.fail_on:
            raise FirewallError(f"{argv[0]}: exit code 2: boom")
        return self.saved if argv[0].endswith("-save") else ""


def test_install_removes_leftovers_then_restores_both_families() -> None:
    runner = RecordingRunner(saved=INSTALLED_MANGLE)
    plan = InterceptPlan(17, 5353)
    IptablesBackend(runner).install(plan)
    assert runner.calls == [
        (["iptables-save"], None),
        (["iptables-restore", "--noflush"], REMOVE_MANGLE),
        (["ip6tables-save"], None),
        (["ip6tables-restore", "--noflush"], REMOVE_MANGLE),
        (["iptables-restore", "--noflush"], install_text(plan, Family.IPV4)),
        (["ip6tables-restore", "--noflush"], install_text(plan, Family.IPV6)),
    ]


def test_remove_when_nothing_is_installed_only_reads() -> None:
    runner = RecordingRunner(saved="*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
    IptablesBackend(runner).remove()
    assert runner.calls == [(["iptables-save"], None), (["ip6tables-save"], None)]


def test_failed_ipv6_install_removes_the_ipv4_half() -> None:
    runner = RecordingRunner(fail_on="ip6tables-restore")
    with pytest.raises(FirewallError, match="boom"):
        IptablesBackend(runner).install(InterceptPlan(1, 53))
    assert [argv[0] for argv, _ in runner.calls][-2:] == [
        "iptables-save",
        "ip6tables-save",
    ]


def test_probe_reports_missing_nft_queue_as_unavailable() -> None:
    def runner(argv: list[str], stdin_text: str | None) -> str:
        if argv[0] == "nft" and stdin_text and "queue" in stdin_text:
            raise FirewallError("nft -f -: exit code 1: Could not process rule")
        return ""

    capabilities = IptablesBackend.probe(runner)
    assert capabilities.nft_queue_expression is False


def test_choke_point_returns_output_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="netwarden.intercept.backend"):
        assert run_firewall_command(["cat"], "*filter\n") == "*filter\n"
    assert ("INFO", "firewall: cat") in [
        (r.levelname, r.getMessage()) for r in caplog.records
    ]
    assert any(
        r.levelname == "DEBUG" and "*filter" in r.getMessage() for r in caplog.records
    )


def test_choke_point_names_command_exit_code_and_stderr() -> None:
    with pytest.raises(
        FirewallError, match=r"sh -c echo nope >&2; exit 3: exit code 3: nope"
    ):
        run_firewall_command(["sh", "-c", "echo nope >&2; exit 3"])


def test_choke_point_names_a_missing_program() -> None:
    with pytest.raises(FirewallError, match="no-such-iptables: could not run"):
        run_firewall_command(["no-such-iptables"])
