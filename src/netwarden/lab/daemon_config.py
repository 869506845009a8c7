"""The configuration the lab gives its daemon, and the filter list it uses.

The file follows netwarden.conf's line format (``key = value``, ``#``
comments on their own lines, a repeatable key is repeated); see
docs/configuration.md. The upstream is the lab's unbound over DoT, checked
against the lab's own CA, and the filter list is the real EasyPrivacy list
as Debian ships it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from netwarden.errors import LabError
from netwarden.lab import plan

CONFIG_NAME = "netwarden.conf"
FILTER_LIST_NAME = "EasyPrivacy"
UPSTREAM_NAME = "lab-upstream"
# Installed by the Debian package webext-ublock-origin-firefox.
DEBIAN_EASYPRIVACY = Path(
    "/usr/share/mozilla/extensions/{ec8030f7-c20a-464f-9b0e-13a3a9e97384}/"
    "uBlock0@raymondhill.net/assets/thirdparties/easylist/easyprivacy.txt"
)


def find_filter_list(explicit: Path | None) -> Path:
    """``explicit`` if given, else Debian's EasyPrivacy; it must exist."""
    path = explicit if explicit is not None else DEBIAN_EASYPRIVACY
    if not path.is_file():
        hint = "" if explicit else " (install webext-ublock-origin-firefox)"
        raise LabError(f"the EasyPrivacy filter list {path} is missing{hint}")
    return path


def upstream_url() -> str:
    return (
        f"dot://{plan.RESOLVER_V4}:{plan.DOT_PORT}"
        f"?verify={plan.RESOLVER_TLS_NAME}&name={UPSTREAM_NAME}"
    )


def render_daemon_config(
    ca_file: Path, filter_list: Path, extra_lines: Sequence[str] = ()
) -> str:
    lines = [
        "# Written by `netwarden lab up`; removed by `netwarden lab down`.",
        "# The lab's unbound over DNS-over-TLS, with a certificate of the lab's CA.",
        f"dns/nameservers = {upstream_url()}",
        f"dns/caFile = {ca_file}",
        f"intel/listFile = {FILTER_LIST_NAME} {filter_list}",
        f"filter/lists = {FILTER_LIST_NAME}",
        "# An IP rule, as an example: nothing may connect to this address.",
        f"filter/endpoints = - {plan.BLOCKED_EXAMPLE_V4}",
        *extra_lines,
    ]
    return "\n".join(lines) + "\n"
