"""A bounded, in-memory table of recent connections."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterator

from netwarden.network.connection import Connection


class ConnectionTable:
    """Keeps the newest ``capacity`` connections and hands out their ids."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._entries: collections.deque[Connection] = collections.deque(
            maxlen=capacity
        )
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def add(self, connection: Connection) -> None:
        self._entries.append(connection)

    def recent(self, limit: int | None = None) -> list[Connection]:
        """The newest ``limit`` entries (all when None), oldest first."""
        if limit is None or limit >= len(self._entries):
            return list(self._entries)
        if limit <= 0:
            return []
        return list(itertools.islice(self._entries, len(self._entries) - limit, None))

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Connection]:
        return iter(self._entries)
