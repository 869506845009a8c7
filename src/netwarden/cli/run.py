"""``netwarden run``: the daemon in the foreground."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from netwarden.cli.paths import DEFAULT_CONFIG_DIR, DEFAULT_STATE_DIR


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the daemon in the foreground",
        description="Run the netwarden daemon in the foreground until SIGTERM, "
        "SIGHUP or Ctrl-C; a clean stop removes every firewall rule it "
        "installed. One daemon per network namespace and per state directory.",
    )
    parser.add_argument(
        "--netns",
        metavar="NAME",
        help="protect this network namespace (from /run/netns) instead of the "
        "current one",
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=DEFAULT_CONFIG_DIR,
        help=f"where netwarden.conf is read (default {DEFAULT_CONFIG_DIR})",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"where the API socket lives (default {DEFAULT_STATE_DIR})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that CLI commands that only talk to the API do not
    # load the packet path.
    from netwarden.daemon import DaemonOptions, run_daemon

    options = DaemonOptions(
        netns=args.netns, config_dir=args.config_dir, state_dir=args.state_dir
    )
    return run_daemon(options)
