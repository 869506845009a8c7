"""The option registry: every setting's key, type, default, help and parser.

Keys follow Portmaster's where one exists (``filter/defaultAction``,
``filter/endpoints``...), so that its users find their settings. Values are
written as text (one line of the config file each); a parser turns the
text into a typed value or raises ValueError with a message for the user.
Defaults are written as text too and go through the same parser.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from netwarden.dns.resolver_url import parse_resolver_url
from netwarden.errors import ConfigError
from netwarden.rules.endpoint import EndpointRule

T = TypeVar("T")

_LIST_ID = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value was written, for rules that remember their origin."""

    source: str
    line: int


@dataclass(frozen=True, slots=True)
class Option(Generic[T]):
    """One setting. ``default`` holds the default value(s) as written."""

    key: str
    value_type: str
    help: str
    parse: Callable[[str, Location], T]
    render: Callable[[T], str]
    default: tuple[str, ...] = ()
    repeatable: bool = False
    # Written empty ("key ="), a repeatable option has no values; some
    # cannot work without one.
    required: bool = False


class DefaultAction(enum.StrEnum):
    PERMIT = "permit"
    BLOCK = "block"


class ListFile(NamedTuple):
    """An ``intel/listFile`` value: a list's ID and the file it is read from."""

    list_id: str
    path: Path


def parse_default_action(text: str, where: Location) -> DefaultAction:
    if text.lower() == "ask":
        raise ValueError("'ask' (prompting) is not supported yet: use permit or block")
    try:
        return DefaultAction(text.lower())
    except ValueError:
        raise ValueError(f"{text!r}: use permit or block") from None


def parse_endpoint_rule(text: str, where: Location) -> EndpointRule:
    return EndpointRule.parse(text, source=where.source, line=where.line)


def parse_list_id(text: str, where: Location) -> str:
    if not _LIST_ID.fullmatch(text):
        raise ValueError(f"{text!r}: a list ID is letters, digits, '-' and '_'")
    return text


def parse_list_file(text: str, where: Location) -> ListFile:
    list_id, _, path = text.partition(" ")
    if not path.strip():
        raise ValueError(f"{text!r}: expected '<ID> <path>'")
    return ListFile(parse_list_id(list_id, where), Path(path.strip()))


def render_list_file(value: ListFile) -> str:
    return f"{value.list_id} {value.path}"


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def parse_bool(text: str, where: Location) -> bool:
    if text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    raise ValueError(f"{text!r}: use true or false")


def render_bool(value: bool) -> str:
    return "true" if value else "false"


def parse_port(text: str, where: Location) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text) or not 1 <= int(text) <= 65535:
        raise ValueError(f"{text!r}: a port is a number from 1 to 65535")
    return int(text)


def parse_path(text: str, where: Location) -> Path:
    return Path(text)


def parse_nameserver(text: str, where: Location) -> str:
    """A resolver URL, checked by the grammar the daemon builds upstreams with,
    so that nothing valid here fails later."""
    try:
        parse_resolver_url(text)
    except ConfigError as err:
        raise ValueError(err.message) from None
    return text


def _text(value: object) -> str:
    return str(value)


DEFAULT_ACTION: Option[DefaultAction] = Option(
    key="filter/defaultAction",
    value_type="permit|block",
    help="What happens to a connection that no rule or list decides.",
    parse=parse_default_action,
    render=_text,
    default=("permit",),
)
ENDPOINTS: Option[EndpointRule] = Option(
    key="filter/endpoints",
    value_type="endpoint rule",
    help="Rules for outgoing connections, '+|- entity [proto[/ports]]'; "
    "the first match wins.",
    parse=parse_endpoint_rule,
    render=EndpointRule.render,
    repeatable=True,
)
LISTS: Option[str] = Option(
    key="filter/lists",
    value_type="list ID",
    help="Filter lists in use, by the IDs of intel/listFile; "
    "unset means every declared list.",
    parse=parse_list_id,
    render=_text,
    repeatable=True,
)
INCLUDE_SUBDOMAINS: Option[bool] = Option(
    key="filter/includeSubdomains",
    value_type="bool",
    help="A name on a filter list also blocks its subdomains.",
    parse=parse_bool,
    render=render_bool,
    default=("true",),
)
NAMESERVERS: Option[str] = Option(
    key="dns/nameservers",
    value_type="resolver URL",
    help="Upstream resolvers in order, as dot://IP?verify=NAME&name=LABEL, "
    "dns://IP or tcp://IP.",
    parse=parse_nameserver,
    render=_text,
    default=(
        "dot://1.1.1.2?verify=cloudflare-dns.com&name=Cloudflare",
        "dot://1.0.0.2?verify=cloudflare-dns.com&name=Cloudflare",
    ),
    repeatable=True,
    required=True,
)
LIST_FILE: Option[ListFile] = Option(
    key="intel/listFile",
    value_type="<ID> <path>",
    help="A filter list file (hosts, plain or Adblock format) and its ID; "
    "relative paths are relative to the config directory.",
    parse=parse_list_file,
    render=render_list_file,
    repeatable=True,
)
CA_FILE: Option[Path] = Option(
    key="dns/caFile",
    value_type="path",
    help="CA bundle (PEM) to trust for DNS over TLS instead of the system's.",
    parse=parse_path,
    render=_text,
)
LISTEN_PORT: Option[int] = Option(
    key="dns/listenPort",
    value_type="port",
    help="Port the netwarden nameserver listens on (UDP and TCP).",
    parse=parse_port,
    render=_text,
    default=("53",),
)

STANDARD_OPTIONS: tuple[Option[Any], ...] = (
    DEFAULT_ACTION,
    ENDPOINTS,
    LISTS,
    INCLUDE_SUBDOMAINS,
    NAMESERVERS,
    LIST_FILE,
    CA_FILE,
    LISTEN_PORT,
)


class OptionRegistry:
    """Options by key, in the order they were declared."""

    def __init__(self, options: Iterable[Option[Any]]) -> None:
        self._options: dict[str, Option[Any]] = {}
        for option in options:
            if option.key in self._options:
                raise ValueError(f"option {option.key} declared twice")
            self._options[option.key] = option

    @classmethod
    def standard(cls) -> OptionRegistry:
        return cls(STANDARD_OPTIONS)

    def __iter__(self) -> Iterator[Option[Any]]:
        return iter(self._options.values())

    def __contains__(self, key: object) -> bool:
        return key in self._options

    def get(self, key: str) -> Option[Any]:
        """The option named ``key``; ConfigError with a suggestion if unknown."""
        option = self._options.get(key)
        if option is None:
            close = difflib.get_close_matches(key, self._options, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"unknown option{hint}", field=key)
        return option
