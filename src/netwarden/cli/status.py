"""``netwarden status``: the daemon's state and counters."""

from __future__ import annotations

import argparse
import json
from typing import Any

from netwarden.api.client import ApiClient
from netwarden.cli.paths import api_socket


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("status", help="show the daemon's state")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    client = ApiClient(api_socket(args.socket))
    try:
        status = client.get("/v1/status")
    finally:
        client.close()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        _print_nested(status, indent=0)
    return 0


def _print_nested(value: dict[str, Any], indent: int) -> None:
    for key, item in value.items():
        if isinstance(item, dict):
            print(f"{' ' * indent}{key}:")
            _print_nested(item, indent + 2)
        else:
            print(f"{' ' * indent}{key}: {item}")
