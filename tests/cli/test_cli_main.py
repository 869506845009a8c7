"""The ``netwarden`` command: argument parsing, exit codes, daemon output."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api.api_serving import serving
from history.test_table import make_connection

from netwarden import __version__
from netwarden.cli import connections, paths, status
from netwarden.cli import run as run_command
from netwarden.cli.main import build_parser, main
from netwarden.errors import ApiError
from netwarden.history.table import ConnectionTable
from netwarden.lab import commands as lab_commands

STATUS = {"state": "running", "counters": {"accepted": 3, "blocked": 1}}


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["connections"], {"func": connections.run, "json": False, "limit": 50}),
        (["connections", "--json", "--limit", "7"], {"json": True, "limit": 7}),
        (["status"], {"func": status.run, "json": False, "socket": None}),
        (["--socket", "/x/api.sock", "status"], {"socket": Path("/x/api.sock")}),
        (["-vv", "status", "--json"], {"verbose": 2, "json": True}),
        (
            ["run"],
            {
                "func": run_command.run,
                "netns": None,
                "config_dir": Path("/etc/netwarden"),
                "state_dir": Path("/var/lib/netwarden"),
            },
        ),
        (
            ["run", "--netns", "nwt-dev", "--config-dir", "c", "--state-dir", "s"],
            {"netns": "nwt-dev", "config_dir": Path("c"), "state_dir": Path("s")},
        ),
        (["lab", "up"], {"func": lab_commands.up, "filter_list": None}),
        (["lab", "down"], {"func": lab_commands.down}),
        (["lab", "status"], {"func": lab_commands.status}),
        (
            ["lab", "--lab-dir", "/l", "demo", "--once"],
            {"func": lab_commands.demo, "once": True, "lab_dir": Path("/l")},
        ),
        (
            ["lab", "exec", "--", "ip", "-br", "addr"],
            {"func": lab_commands.exec_command, "command": ["--", "ip", "-br", "addr"]},
        ),
    ],
)
def test_subcommands_parse(argv: list[str], expected: dict[str, Any]) -> None:
    args = parse(*argv)
    assert {key: getattr(args, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["connections", "--limit", "0"], "--limit: '0' is not a whole number"),
        (["connections", "--limit", "-3"], "--limit: '-3' is not a whole number"),
        (["connections", "--limit", "2.5"], "--limit: '2.5' is not a whole number"),
        (["connections", "--limit", "10001"], "from 1 to 10000"),
        (["connections", "--limit", "9" * 30], "from 1 to 10000"),
        (["connections", "--colour"], "unrecognized arguments: --colour"),
        (["run", "--netns"], "--netns: expected one argument"),
        (["lab"], "required: ACTION"),
        (["lab", "sideways"], "invalid choice: 'sideways'"),
        (["lab", "demo", "--twice"], "unrecognized arguments: --twice"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == __version__


@pytest.mark.parametrize("command", [["connections"], ["status", "--json"]])
def test_unreachable_daemon_is_exit_2_and_named(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.sock"
    assert main(["--socket", str(missing), *command]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"netwarden: cannot reach the netwarden daemon at {missing}"
    )
    assert captured.err.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize(
    ("raised", "code"),
    [(ApiError("daemon refused /v1/status: x"), 2), (KeyboardInterrupt(), 130)],
)
def test_errors_become_exit_codes(
    raised: BaseException, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(args: argparse.Namespace) -> int:
        raise raised

    monkeypatch.setattr(status, "run", failing)
    assert main(["status"]) == code


def test_command_result_is_the_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status, "run", lambda args: 5)
    assert main(["status"]) == 5


@pytest.fixture
def daemon_socket(tmp_path: Path) -> Iterator[Path]:
    table = ConnectionTable()
    for _ in range(3):
        table.add(make_connection(table))
    socket_path = tmp_path / "state" / "api.sock"
    with serving(table, lambda: STATUS, socket_path):
        yield socket_path


def test_connections_json_from_a_running_daemon(
    daemon_socket: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--socket", str(daemon_socket), "connections", "--json", "--limit", "2"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == [2, 3]
    assert rows[0]["remote_ip"] == "2001:db8::80"


def test_connections_table_from_a_running_daemon(
    daemon_socket: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--socket", str(daemon_socket), "connections"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.startswith("ID  PID")
    assert [line.split()[0] for line in lines] == ["1", "2", "3"]


def test_status_from_a_running_daemon(
    daemon_socket: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--socket", str(daemon_socket), "status"]) == 0
    assert capsys.readouterr().out == (
        "state: running\ncounters:\n  accepted: 3\n  blocked: 1\n"
    )
    assert main(["--socket", str(daemon_socket), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == STATUS


def test_socket_env_is_used_when_no_option_is_given(
    daemon_socket: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(paths.SOCKET_ENV, str(daemon_socket))
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == STATUS


@pytest.mark.parametrize(
    ("explicit", "env", "lab_up", "expected"),
    [
        ("/opt/x.sock", "/env.sock", True, "/opt/x.sock"),
        (None, "/env.sock", True, "/env.sock"),
        (None, "", True, "LAB/state/api.sock"),
        (None, None, "daemon gone", "LAB/state/api.sock"),
        (None, None, False, "/var/lib/netwarden/api.sock"),
    ],
)
def test_socket_precedence(
    explicit: str | None,
    env: str | None,
    lab_up: bool | str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(paths, "LAB_DIR", tmp_path)
    if env is None:
        monkeypatch.delenv(paths.SOCKET_ENV, raising=False)
    else:
        monkeypatch.setenv(paths.SOCKET_ENV, env)
    if lab_up:
        (tmp_path / ".netwarden-lab").touch()
    if lab_up is True:
        (tmp_path / "state").mkdir()
        (tmp_path / "state" / "api.sock").touch()
    found = paths.api_socket(Path(explicit) if explicit else None)
    assert found == Path(expected.replace("LAB", str(tmp_path)))
