"""Exceptions of netwarden, all below one root.

::

    NetwardenError
     ├── ConfigError        a setting, rule or list entry that cannot be used
     ├── FirewallError      a netfilter command that failed
     ├── NetlinkError       a netlink request the kernel refused
     ├── LabError           the test lab could not be built or torn down
     └── ApiError           the daemon's API could not be reached or refused
"""

from __future__ import annotations


class NetwardenError(Exception):
    """Root of every error netwarden raises on purpose."""


class ConfigError(NetwardenError):
    """Bad input in a configuration source, named by file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = _shortened(message)
        self.source = source
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = self.source if self.line is None else f"{self.source}:{self.line}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class FirewallError(NetwardenError):
    """A firewall command failed; carries the command and its output."""


class NetlinkError(NetwardenError):
    """The kernel answered a netlink request with an error."""

    def __init__(self, message: str, errno: int = 0) -> None:
        self.errno = errno
        super().__init__(message)


class LabError(NetwardenError):
    """The network-namespace lab could not be set up or removed."""


class ApiError(NetwardenError):
    """The local API could not be reached or answered with an error."""


MAX_MESSAGE = 400  # bad input is quoted in messages; a huge line is not
KEPT_TAIL = 150  # the reason comes after the quoted input: keep the end too


def _shortened(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    head = MAX_MESSAGE - KEPT_TAIL
    cut = len(message) - MAX_MESSAGE
    return f"{message[:head]} ...({cut} characters cut)... {message[-KEPT_TAIL:]}"
