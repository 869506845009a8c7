"""Entry point of the ``netwarden`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from netwarden import __version__
from netwarden.cli import connections, run, status
from netwarden.errors import NetwardenError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netwarden",
        description="Application firewall and private DNS for Linux.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output"
    )
    parser.add_argument(
        "--socket",
        type=Path,
        help="the daemon's API socket (default: $NETWARDEN_SOCKET, the lab's "
        "daemon when the lab is up, else the system daemon)",
    )
    subparsers = parser.add_subparsers(metavar="COMMAND", required=True)
    run.add_parser(subparsers)
    connections.add_parser(subparsers)
    status.add_parser(subparsers)
    _add_lab_parser(subparsers)
    return parser


def _add_lab_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from netwarden.lab.commands import add_lab_parser

    add_lab_parser(subparsers)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose > 1 else logging.INFO
    if args.verbose == 0 and args.func is not run.run:
        level = logging.WARNING
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except NetwardenError as err:
        print(f"netwarden: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
