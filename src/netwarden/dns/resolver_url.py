"""Resolver URLs: how an upstream DNS server is named in the settings.

The format follows Portmaster's ``dns/nameservers`` entries so that a list
copied from there works here::

    url      = scheme "://" host [":" port] ["?" param *("&" param)]
    scheme   = "dot" | "tls" | "dns" | "tcp"      ; "tls" is an alias of "dot"
    host     = IPv4 | "[" IPv6 "]" | hostname     ; hostname only for dot, with ip=
    param    = "verify=" hostname                 ; TLS name checked (dot only)
             | "ip=" address                      ; address of a dot hostname
             | "name=" text                       ; display name, percent-encoded

Default ports are 853 for ``dot`` (RFC 7858 section 3.1) and 53 for ``dns``
and ``tcp``. ``dot://dns.example?ip=192.0.2.1`` is read as the address
192.0.2.1 with the TLS name ``dns.example``. An address must be given
because netwarden never asks itself (or anyone) where its upstreams are.
Unknown parameters are refused, as Portmaster does, so a typo is not
silently ignored. ``doh`` and the parameters ``blockedif``, ``search``,
``search-only`` and ``link-local`` are recognised but not supported yet.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass

from netwarden.errors import ConfigError
from netwarden.network.packet import IPAddress

FIELD = "dns/nameservers"

DEFAULT_PORTS = {"dot": 853, "dns": 53, "tcp": 53}
SCHEME_ALIASES = {"tls": "dot"}
UNSUPPORTED_SCHEMES = {"doh", "https"}
UNSUPPORTED_PARAMS = {"blockedif", "search", "search-only", "link-local"}
KNOWN_PARAMS = {"verify", "ip", "name"}
MAX_NAME_LENGTH = 64
LINE_BREAKING = {"Cc", "Zl", "Zp"}  # Unicode categories: controls, separators

# RFC 1123 section 2.1 host names: letters, digits and hyphens, labels of
# 1-63 characters not starting or ending with a hyphen.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


@dataclass(frozen=True, slots=True)
class ResolverURL:
    """One upstream resolver, parsed from its URL.

    ``verify_name`` is the name the server's TLS certificate must carry
    (``dot`` only, lowercase); ``name`` is for people and logs.
    """

    scheme: str
    ip: IPAddress
    port: int
    verify_name: str | None = None
    name: str | None = None

    def render(self) -> str:
        """The URL text; ``parse_resolver_url(url.render()) == url``."""
        host = f"[{self.ip}]" if self.ip.version == 6 else str(self.ip)
        params = [("verify", self.verify_name), ("name", self.name)]
        query = urllib.parse.urlencode(
            [(key, value) for key, value in params if value is not None],
            quote_via=urllib.parse.quote,
        )
        text = f"{self.scheme}://{host}:{self.port}"
        return f"{text}?{query}" if query else text

    @property
    def label(self) -> str:
        """How logs name this upstream."""
        return self.name or f"{self.scheme}://{self.ip}:{self.port}"


def parse_resolver_url(text: str) -> ResolverURL:
    """Parse one resolver URL; raise :class:`ConfigError` naming what is wrong."""
    try:
        parts = urllib.parse.urlsplit(text.strip())
        port = parts.port
    except ValueError as err:
        bare_ipv6 = text.count(":") > 2 and "[" not in text
        hint = " (IPv6 addresses go in brackets)" if bare_ipv6 else ""
        raise _error(text, f"not a URL: {err}{hint}") from err

    scheme = _scheme(text, parts.scheme.lower())
    _check_no_extras(text, parts)
    params = _params(text, parts.query)
    ip, verify_name = _address(text, scheme, parts.hostname, params)
    return ResolverURL(
        scheme=scheme,
        ip=ip,
        port=DEFAULT_PORTS[scheme] if port is None else port,
        verify_name=verify_name,
        name=params.get("name"),
    )


def _scheme(text: str, scheme: str) -> str:
    scheme = SCHEME_ALIASES.get(scheme, scheme)
    if scheme in UNSUPPORTED_SCHEMES:
        raise _error(text, "DNS over HTTPS (doh://) is not supported yet; use dot://")
    if scheme not in DEFAULT_PORTS:
        expected = ", ".join(sorted(DEFAULT_PORTS))
        raise _error(text, f"unknown scheme {scheme!r}, expected one of {expected}")
    return scheme


def _check_no_extras(text: str, parts: urllib.parse.SplitResult) -> None:
    if parts.username is not None or parts.password is not None:
        raise _error(text, "user information is not allowed")
    if parts.path not in ("", "/"):
        raise _error(text, f"a path ({parts.path}) is only meaningful for doh://")
    if parts.fragment or text.strip().endswith("#"):
        raise _error(text, "a #fragment is not allowed (comments go on their own line)")
    if parts.port == 0:
        raise _error(text, "port 0 is not a port a server listens on")
    if parts.netloc.endswith(":"):
        raise _error(text, "the port after ':' is missing")


def _params(text: str, query: str) -> dict[str, str]:
    for part in query.split("&"):
        # Portmaster's flags may come bare ("link-local"): name them as such.
        if part.partition("=")[0] in UNSUPPORTED_PARAMS:
            raise _error(
                text, f"parameter {part.partition('=')[0]!r} is not supported yet"
            )
    try:
        pairs = urllib.parse.parse_qsl(
            query, keep_blank_values=True, strict_parsing=True, errors="strict"
        )
    except ValueError as err:
        raise _error(text, f"malformed parameters {query!r}") from err
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in UNSUPPORTED_PARAMS:
            raise _error(text, f"parameter {key!r} is not supported yet")
        if key not in KNOWN_PARAMS:
            raise _error(text, f"unknown parameter {key!r}")
        if key in params:
            raise _error(text, f"parameter {key!r} given twice")
        if not value:
            raise _error(text, f"parameter {key!r} is empty")
        if key == "name":
            _check_display_name(text, value)
        params[key] = value
    return params


def _check_display_name(text: str, name: str) -> None:
    # The name goes into logs and tables: one short line of printable text.
    if len(name) > MAX_NAME_LENGTH:
        raise _error(text, f"name= is longer than {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(char) in LINE_BREAKING for char in name):
        raise _error(text, "name= holds control characters or line breaks")


def _address(
    text: str, scheme: str, host: str | None, params: dict[str, str]
) -> tuple[IPAddress, str | None]:
    """The server's address and the TLS name to check, from host and params."""
    if not host:
        raise _error(text, "no server address")
    verify = params.get("verify")
    if verify is not None and scheme != "dot":
        raise _error(text, "verify= only applies to dot://")
    host_ip = _ip_or_none(text, host)
    if host_ip is None:
        return _named_host(text, scheme, host, params)
    if "ip" in params:
        raise _error(text, "ip= is only for a dot:// server given by name")
    if scheme == "dot" and verify is None:
        raise _error(text, "dot:// with an address needs verify=<TLS server name>")
    return host_ip, None if verify is None else _hostname(text, verify)


def _named_host(
    text: str, scheme: str, host: str, params: dict[str, str]
) -> tuple[IPAddress, str]:
    if scheme != "dot":
        raise _error(text, f"{scheme}:// needs an IP address, not the name {host!r}")
    if "ip" not in params:
        raise _error(text, f"dot://{host} needs ip=<address> (no bootstrap lookups)")
    if "verify" in params and _hostname(text, params["verify"]) != host.lower():
        raise _error(text, "verify= differs from the server name")
    ip = _ip_or_none(text, params["ip"])
    if ip is None:
        raise _error(text, f"ip={params['ip']!r} is not an IP address")
    return ip, _hostname(text, host)


def _ip_or_none(text: str, value: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        raise _error(text, "scoped IPv6 addresses (%zone) are not supported")
    return ip


def _hostname(text: str, value: str) -> str:
    name = value.lower().removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _error(text, f"{value!r} is not a valid host name")
    return name


def _error(text: str, message: str) -> ConfigError:
    return ConfigError(f"{text!r}: {message}", field=FIELD)
