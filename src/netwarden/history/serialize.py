"""Connections as plain JSON objects: the API's and the CLI's shape.

The keys are part of the CLI's ``--json`` contract; add keys, never rename.
"""

from __future__ import annotations

import datetime
from typing import Any

from netwarden.network.connection import Connection

JSONObject = dict[str, Any]


def connection_to_json(connection: Connection) -> JSONObject:
    process = connection.process
    flow = connection.flow
    decision = connection.decision
    return {
        "id": connection.id,
        "kind": connection.kind.value,
        "pid": process.pid if process else None,
        "exe": process.exe if process else None,
        "script": process.script if process else None,
        "cmdline": list(process.cmdline) if process else None,
        "user": process.user if process else None,
        "profile": process.profile_key if process else None,
        "domain": connection.domain,
        "remote_ip": str(flow.remote_ip),
        "remote_port": flow.remote_port,
        "local_ip": str(flow.local_ip),
        "local_port": flow.local_port,
        "protocol": flow.protocol_label,
        "direction": flow.direction.value,
        "verdict": decision.verdict.value if decision else None,
        "reason": str(decision.reason) if decision else None,
        "reason_option": decision.reason.option if decision else None,
        "started": _iso_time(connection.started),
    }


def _iso_time(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds")
