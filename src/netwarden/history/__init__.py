"""The connection table: what netwarden saw and decided, newest last.

For the walking skeleton the table lives in memory, bounded; the history
issue moves it into SQLite with bandwidth and retention. Every entry is a
:class:`~netwarden.network.connection.Connection`, whether it came from the
packet path or from the nameserver.
"""
