from __future__ import annotations

import io

from history.test_table import make_connection

from netwarden.cli.connections import print_table
from netwarden.history.serialize import connection_to_json
from netwarden.history.table import ConnectionTable


def test_table_lists_program_domain_verdict_and_reason() -> None:
    table = ConnectionTable()
    rows = [connection_to_json(make_connection(table))]
    out = io.StringIO()

    print_table(rows, out)

    header, line = out.getvalue().splitlines()
    assert header.split()[:5] == ["ID", "PID", "EXE", "PROFILE", "DOMAIN"]
    assert "/usr/bin/curl" in line
    assert "[2001:db8::80]:443" in line
    assert "block" in line and "netwarden.conf:3" in line


def test_empty_table_says_so() -> None:
    out = io.StringIO()
    print_table([], out)
    assert "(no connections yet)" in out.getvalue()


def test_dns_queries_are_marked_in_the_protocol_column() -> None:
    table = ConnectionTable()
    row = connection_to_json(make_connection(table))
    row["kind"] = "dns"
    out = io.StringIO()

    print_table([row], out)

    assert " dns/tcp " in out.getvalue().splitlines()[1]
