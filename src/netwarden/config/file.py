"""The config file ``netwarden.conf``: read whole into typed Settings, or not.

Format, one setting per line::

    # a comment (only whole lines: '#' inside a value belongs to it,
    # as in "filter/endpoints = - tracker.example  # why")
    filter/defaultAction = permit
    filter/endpoints = - .tracker.example
    filter/endpoints = + *
    intel/listFile = EasyPrivacy /usr/share/netwarden/easyprivacy.txt

A repeatable key may appear on many lines; its values, in order, replace
the default. ``key =`` with nothing after it sets a repeatable option to no
values. Unknown keys, bad values and a second line for a key that is not
repeatable are errors that name file, line and key, and nothing is applied.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from netwarden.config.options import (
    CA_FILE,
    DEFAULT_ACTION,
    ENDPOINTS,
    INCLUDE_SUBDOMAINS,
    LIST_FILE,
    LISTEN_PORT,
    LISTS,
    NAMESERVERS,
    DefaultAction,
    ListFile,
    Location,
    Option,
    OptionRegistry,
)
from netwarden.dns.resolver_url import parse_resolver_url
from netwarden.errors import ConfigError
from netwarden.rules.ruleset import EndpointRules

logger = logging.getLogger(__name__)

CONFIG_FILE_NAME = "netwarden.conf"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Settings:
    """Global settings, typed; build them with :func:`parse_settings`."""

    default_action: DefaultAction
    endpoint_rules: EndpointRules
    list_files: tuple[ListFile, ...]
    active_lists: tuple[str, ...]
    nameservers: tuple[str, ...]
    ca_file: Path | None
    listen_port: int
    include_subdomains: bool
    # Where each list file was declared, for errors found when it is read;
    # not part of the settings' value (an export renders other lines).
    list_file_origins: tuple[Location, ...] = field(default=(), compare=False)
    ca_file_origin: Location | None = field(default=None, compare=False)


class _Values:
    """Parsed values by key, with the line each came from."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.values: dict[str, list[Any]] = {}
        self.lines: dict[str, list[int]] = {}

    def add(self, option: Option[Any], text: str, line: int) -> None:
        self._check_repeat(option, line)
        self.values.setdefault(option.key, [])
        self.lines.setdefault(option.key, [])
        if not text and option.repeatable and not option.required:
            return  # "key =": present, with no values
        if not text:
            wanted = "at least one value" if option.repeatable else "a value"
            raise self.error(f"needs {wanted}", line, option.key)
        try:
            value = option.parse(text, Location(self.source, line))
        except ValueError as err:
            raise self.error(str(err), line, option.key) from err
        self.values[option.key].append(value)
        self.lines[option.key].append(line)

    def _check_repeat(self, option: Option[Any], line: int) -> None:
        if option.key in self.values and not option.repeatable:
            first = self.lines[option.key][0] if self.lines[option.key] else "?"
            raise self.error(f"set twice (first on line {first})", line, option.key)

    def error(self, message: str, line: int | None, key: str) -> ConfigError:
        return ConfigError(message, source=self.source, line=line, field=key)

    def many(self, option: Option[T]) -> tuple[T, ...]:
        if option.key in self.values:
            return tuple(cast(list[T], self.values[option.key]))
        where = Location(f"default of {option.key}", 0)
        return tuple(option.parse(text, where) for text in option.default)

    def one(self, option: Option[T]) -> T | None:
        values = self.many(option)
        return values[0] if values else None

    def line_of(self, key: str, index: int) -> int | None:
        lines = self.lines.get(key, [])
        return lines[index] if index < len(lines) else None


def parse_settings(
    text: str,
    *,
    source: str = CONFIG_FILE_NAME,
    config_dir: Path | None = None,
    registry: OptionRegistry | None = None,
) -> Settings:
    """Settings from the text of a config file; ConfigError on any bad line."""
    registry = registry or OptionRegistry.standard()
    values = _Values(source)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, equals, value = stripped.partition("=")
        if not equals:
            raise ConfigError("expected 'key = value'", source=source, line=number)
        option = _lookup(registry, key.strip(), source, number)
        values.add(option, value.strip(), number)
    return _build_settings(values, config_dir)


def _lookup(registry: OptionRegistry, key: str, source: str, line: int) -> Option[Any]:
    try:
        return registry.get(key)
    except ConfigError as err:
        raise ConfigError(err.message, source=source, line=line, field=key) from None


def _build_settings(values: _Values, config_dir: Path | None) -> Settings:
    list_files = _list_files(values, config_dir)
    ca_file = values.one(CA_FILE)
    listen_port = _required(values.one(LISTEN_PORT))
    _check_upstreams_lead_elsewhere(values, listen_port)
    return Settings(
        default_action=_required(values.one(DEFAULT_ACTION)),
        endpoint_rules=EndpointRules(values.many(ENDPOINTS)),
        list_files=list_files,
        active_lists=_active_lists(values, list_files),
        nameservers=values.many(NAMESERVERS),
        ca_file=_resolve(ca_file, config_dir) if ca_file else None,
        listen_port=listen_port,
        include_subdomains=_required(values.one(INCLUDE_SUBDOMAINS)),
        ca_file_origin=(
            Location(values.source, values.line_of(CA_FILE.key, 0) or 0)
            if ca_file
            else None
        ),
        list_file_origins=tuple(
            Location(values.source, values.line_of(LIST_FILE.key, index) or 0)
            for index in range(len(list_files))
        ),
    )


def _check_upstreams_lead_elsewhere(values: _Values, listen_port: int) -> None:
    """Refuse an upstream that is netwarden's own nameserver.

    The nameserver listens on loopback at ``dns/listenPort``; netwarden's
    own queries skip the DNS redirect, so an upstream there (or at the
    unspecified address, which reaches the local machine) would be asked
    by netwarden itself, again and again, for every query.
    """
    for index, text in enumerate(values.many(NAMESERVERS)):
        url = parse_resolver_url(text)
        ip = url.ip
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if (ip.is_loopback or ip.is_unspecified) and url.port == listen_port:
            line = values.line_of(NAMESERVERS.key, index)
            message = (
                f"{text!r} is netwarden's own nameserver (port {listen_port} on"
                " this machine): queries would loop; name a resolver elsewhere"
            )
            raise values.error(message, line, NAMESERVERS.key)


def _required(value: T | None) -> T:
    if value is None:
        raise AssertionError("an option with a default has no value")
    return value


def _resolve(path: Path, config_dir: Path | None) -> Path:
    return config_dir / path if config_dir and not path.is_absolute() else path


def _list_files(values: _Values, config_dir: Path | None) -> tuple[ListFile, ...]:
    seen: set[str] = set()
    list_files = []
    for index, list_file in enumerate(values.many(LIST_FILE)):
        if list_file.list_id in seen:
            line = values.line_of(LIST_FILE.key, index)
            message = f"list ID {list_file.list_id} declared twice"
            raise values.error(message, line, LIST_FILE.key)
        seen.add(list_file.list_id)
        list_files.append(
            ListFile(list_file.list_id, _resolve(list_file.path, config_dir))
        )
    return tuple(list_files)


def _active_lists(values: _Values, list_files: tuple[ListFile, ...]) -> tuple[str, ...]:
    declared = [list_file.list_id for list_file in list_files]
    if LISTS.key not in values.values:
        return tuple(declared)
    active: list[str] = []
    for index, list_id in enumerate(values.many(LISTS)):
        if list_id not in declared:
            line = values.line_of(LISTS.key, index)
            message = f"list {list_id} is not declared by any {LIST_FILE.key}"
            raise values.error(message, line, LISTS.key)
        if list_id not in active:
            active.append(list_id)
    return tuple(active)


def load_settings(config_dir: Path) -> Settings:
    """Settings from ``<config_dir>/netwarden.conf``; defaults if it is absent."""
    path = config_dir / CONFIG_FILE_NAME
    try:
        text = _decode(path.read_bytes(), path)
    except FileNotFoundError:
        logger.info("no %s: using default settings", path)
        return parse_settings("", source=str(path), config_dir=config_dir)
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file: {err}", source=str(path)) from err
    settings = parse_settings(text, source=str(path), config_dir=config_dir)
    _check_ca_file(settings)
    logger.info(
        "settings loaded from %s: %d endpoint rules, lists %s",
        path,
        len(settings.endpoint_rules),
        ", ".join(settings.active_lists) or "none",
    )
    return settings


def render_settings(settings: Settings) -> str:
    """Every setting as config file text that :func:`parse_settings` reads back.

    Each option is written out, defaults included, under its help text, so an
    export is complete and documents itself.
    """
    lines = ["# netwarden settings, exported; every option is listed."]
    for option, rendered in _rendered_values(settings):
        lines.append("")
        lines.append(f"# {option.key} ({option.value_type}): {option.help}")
        if rendered is None:
            lines.append(f"# {option.key} =")  # not set
        elif option.repeatable and not rendered:
            lines.append(f"{option.key} =")
        else:
            lines.extend(f"{option.key} = {text}" for text in rendered)
    return "\n".join(lines) + "\n"


def _rendered_values(
    settings: Settings,
) -> list[tuple[Option[Any], list[str] | None]]:
    def many(option: Option[T], values: tuple[T, ...]) -> list[str]:
        return [option.render(value) for value in values]

    def one(option: Option[T], value: T | None) -> list[str] | None:
        return None if value is None else [option.render(value)]

    return [
        (DEFAULT_ACTION, one(DEFAULT_ACTION, settings.default_action)),
        (ENDPOINTS, many(ENDPOINTS, settings.endpoint_rules.rules)),
        (LISTS, many(LISTS, settings.active_lists)),
        (INCLUDE_SUBDOMAINS, one(INCLUDE_SUBDOMAINS, settings.include_subdomains)),
        (NAMESERVERS, many(NAMESERVERS, settings.nameservers)),
        (LIST_FILE, many(LIST_FILE, settings.list_files)),
        (CA_FILE, one(CA_FILE, settings.ca_file)),
        (LISTEN_PORT, one(LISTEN_PORT, settings.listen_port)),
    ]


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")  # an editor's byte-order mark is no key
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ConfigError(
            f"not UTF-8 text (byte {raw[err.start]:#04x})", source=str(path), line=line
        ) from None


def _check_ca_file(settings: Settings) -> None:
    """A CA file that cannot be read would otherwise fail at the first query."""
    if settings.ca_file is None:
        return
    try:
        # A FIFO or a device would block the start, or never end.
        if not stat.S_ISREG(settings.ca_file.stat().st_mode):
            raise _ca_file_error(settings, f"{settings.ca_file} is not a regular file")
        with settings.ca_file.open("rb"):
            pass
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(
            cafile=settings.ca_file
        )
    except ssl.SSLError as err:
        message = f"{settings.ca_file} holds no PEM CA certificate: {err.reason}"
        raise _ca_file_error(settings, message) from err
    except OSError as err:
        message = f"cannot read {settings.ca_file}: {err.strerror}"
        raise _ca_file_error(settings, message) from err


def _ca_file_error(settings: Settings, message: str) -> ConfigError:
    origin = settings.ca_file_origin
    return ConfigError(
        message,
        source=origin.source if origin else None,
        line=origin.line if origin else None,
        field=CA_FILE.key,
    )
