"""One item read from a filter list line: a name to block or allow, or a skip."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ItemKind(enum.Enum):
    BLOCK = "block"
    ALLOW = "allow"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Item:
    """``text`` is the raw name for BLOCK and ALLOW, the reason for SKIP."""

    kind: ItemKind
    text: str


def skip(reason: str) -> Item:
    return Item(ItemKind.SKIP, reason)
