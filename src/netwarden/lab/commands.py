"""``netwarden lab ...``: the lab's command group for the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from netwarden.lab import processes
from netwarden.lab.demo import run_demo
from netwarden.lab.lab import DEFAULT_LAB_DIR, Lab
from netwarden.lab.namespaces import namespace_exists
from netwarden.lab.readiness import daemon_answers


def add_lab_parser(subparsers: Any) -> None:
    """Register ``lab up|down|exec|demo|status`` on the ``netwarden`` parser."""
    lab = subparsers.add_parser(
        "lab",
        help="the network-namespace lab netwarden is shown and tested in",
        description="A device namespace protected by netwarden and a simulated "
        "internet, on this machine only (see docs/lab.md).",
    )
    lab.add_argument(
        "--lab-dir",
        type=Path,
        default=DEFAULT_LAB_DIR,
        help=f"where the lab keeps its files (default {DEFAULT_LAB_DIR})",
    )
    lab.add_argument(
        "--filter-list",
        type=Path,
        help="EasyPrivacy list to load (default: the one of Debian's "
        "webext-ublock-origin-firefox)",
    )
    commands = lab.add_subparsers(metavar="ACTION", required=True)
    _add(commands, "up", "create the lab and start its servers and the daemon", up)
    _add(commands, "down", "stop and remove everything the lab made", down)
    _add(commands, "status", "show whether the lab is up", status)
    _add(
        commands,
        "restart",
        "restart the lab's daemon with its config file as it is now "
        "(edit <lab dir>/config/netwarden.conf first)",
        restart,
    )
    demo_parser = _add(commands, "demo", "bring the lab up and run the tour", demo)
    demo_parser.add_argument(
        "--once", action="store_true", help="take the lab down after the tour"
    )
    exec_parser = _add(
        commands, "exec", "run a command in the device namespace", exec_command
    )
    exec_parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")


def _add(commands: Any, name: str, help_text: str, func: Any) -> Any:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(func=func)
    return parser


def lab_from_args(args: argparse.Namespace) -> Lab:
    return Lab(args.lab_dir, filter_list=args.filter_list)


def up(args: argparse.Namespace) -> int:
    lab = lab_from_args(args)
    lab.up()
    print(
        f"lab is up: device namespace {lab.names.device}, daemon log {lab.daemon_log}"
    )
    return 0


def down(args: argparse.Namespace) -> int:
    lab_from_args(args).down()
    print("lab is down")
    return 0


def exec_command(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("netwarden lab exec: give a command, e.g. lab exec -- curl URL")
        return 2
    return lab_from_args(args).exec(command)


def demo(args: argparse.Namespace) -> int:
    return run_demo(lab_from_args(args), once=args.once)


def restart(args: argparse.Namespace) -> int:
    lab = lab_from_args(args)
    lab.restart_daemon()
    print(f"the daemon runs again with {lab.config_file}")
    return 0


def status(args: argparse.Namespace) -> int:
    return show_status(lab_from_args(args))


def show_status(lab: Lab) -> int:
    """Print what of ``lab`` is there; 0 when it is up."""
    for namespace in lab.names.namespaces:
        state = "present" if namespace_exists(namespace) else "absent"
        print(f"namespace {namespace}: {state}")
    for record in processes.read_records(lab.pid_dir):
        running = processes.is_running_as_recorded(record)
        print(f"{record.name}: pid {record.pid}, {'running' if running else 'gone'}")
    answers = daemon_answers(lab.api_socket)
    print(f"daemon API {lab.api_socket}: {'answers' if answers else 'no answer'}")
    is_up = lab.is_up() and answers
    some_left = any(map(namespace_exists, lab.names.namespaces))
    if is_up:
        print("lab is up")
    elif lab.is_up():
        print(
            "lab is up but its daemon does not answer (stopped or hung?): "
            "`netwarden lab restart` starts it again"
        )
    elif some_left and lab.restart_problem() is None:
        print(
            "lab is up but its daemon is not: `netwarden lab restart` starts "
            "it again, `netwarden lab up` rebuilds everything"
        )
    elif some_left:
        print(
            "lab is partly up: `netwarden lab down` removes what is left, "
            "`netwarden lab up` rebuilds everything"
        )
    else:
        print("lab is down")
    return 0 if is_up else 1
