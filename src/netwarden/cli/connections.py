"""``netwarden connections``: the recent connections as a table or JSON."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, TextIO

from netwarden.api.client import ApiClient
from netwarden.api.server import MAX_LIMIT
from netwarden.cli.paths import api_socket

COLUMNS = (
    ("ID", "id"),
    ("PID", "pid"),
    ("EXE", "exe"),
    ("PROFILE", "profile"),
    ("DOMAIN", "domain"),
    ("REMOTE", "remote"),
    ("PROTO", "protocol"),
    ("DIR", "direction"),
    ("VERDICT", "verdict"),
    ("REASON", "reason"),
    ("STARTED", "started"),
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "connections", help="show the recent connections and their verdicts"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    parser.add_argument(
        "--limit",
        type=_limit,
        default=50,
        help=f"newest N (default 50, at most {MAX_LIMIT})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    client = ApiClient(api_socket(args.socket))
    try:
        rows = client.get("/v1/connections", limit=args.limit)
    finally:
        client.close()
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(rows, sys.stdout)
    return 0


def print_table(rows: list[dict[str, Any]], out: TextIO) -> None:
    cells = [[_cell(row, key) for _, key in COLUMNS] for row in rows]
    header = [title for title, _ in COLUMNS]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    for line in [header, *cells]:
        out.write(
            "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        )
        out.write("\n")
    if not rows:
        out.write("(no connections yet)\n")


def _cell(row: dict[str, Any], key: str) -> str:
    if key == "remote":
        ip, port = row["remote_ip"], row["remote_port"]
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    if key == "protocol" and row.get("kind") == "dns":
        return f"dns/{row['protocol']}"  # a query answered by the nameserver
    if key == "started":
        return str(row["started"])[11:23]  # the time of day is what one scans
    value = row.get(key)
    return "-" if value is None else str(value)


def _limit(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", text) or not 1 <= int(text) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(
            f"{text[:20]!r} is not a whole number from 1 to {MAX_LIMIT}"
        )
    return int(text)
