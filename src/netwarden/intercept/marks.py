"""Our bits in the packet mark and the conntrack mark (connmark).

netwarden owns the bits of ``MARK_MASK`` only; other software (WireGuard's
fwmark, policy routing) keeps the rest, so a mark is always combined with
the one the packet already carries. A connmark with no bit of the mask set
means "undecided": that connection's packets are still queued. The filter
rules (see :mod:`netwarden.intercept.rules`) reject ``MARK_BLOCK`` and drop
``MARK_DROP`` connections.
"""

from __future__ import annotations

from netwarden.network.connection import Verdict

MARK_MASK = 0x00FF0000
MARK_ACCEPT = 0x00010000
MARK_BLOCK = 0x00020000
MARK_DROP = 0x00030000

_MARK_OF_VERDICT = {
    Verdict.ACCEPT: MARK_ACCEPT,
    Verdict.BLOCK: MARK_BLOCK,
    Verdict.DROP: MARK_DROP,
}
_VERDICT_OF_MARK = {mark: verdict for verdict, mark in _MARK_OF_VERDICT.items()}


def mark_for(verdict: Verdict) -> int:
    """Our mark bits for ``verdict`` (without any foreign bits)."""
    return _MARK_OF_VERDICT[verdict]


def combine_mark(old: int, ours: int) -> int:
    """Replace our bits in ``old`` by ``ours``, keeping every foreign bit."""
    return (old & ~MARK_MASK & 0xFFFFFFFF) | (ours & MARK_MASK)


def verdict_of_mark(mark: int) -> Verdict | None:
    """The verdict our bits of ``mark`` stand for, ``None`` when undecided."""
    return _VERDICT_OF_MARK.get(mark & MARK_MASK)
