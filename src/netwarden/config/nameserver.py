"""A light check of resolver URLs (``dns/nameservers``) in Portmaster's format.

``<scheme>://<ip>[:port][?name=<label>&verify=<tls name>]`` where scheme is
``dot`` (DNS over TLS, RFC 7858), ``dns`` (plain UDP) or ``tcp`` (plain
TCP). The DNS package parses the URL fully; this check only refuses, at
load time, what it will not be able to use, with a message saying why.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qsl, urlsplit

from netwarden.intel.domain_name import InvalidDomainName, normalise_domain

SCHEMES = ("dot", "dns", "tcp")
PARAMETERS = ("name", "verify")
# Portmaster's other parameters, refused by name rather than as unknown.
LATER_PARAMETERS = ("ip", "blockedif", "search", "search-only", "link-local")


def check_nameserver(text: str) -> str:
    """Return ``text`` if it is a usable resolver URL, else raise ValueError."""
    try:
        url = urlsplit(text)
        port = url.port  # parses lazily and raises on a bad port
    except ValueError as err:
        hint = " (IPv6 addresses go in brackets)" if text.count(":") > 2 else ""
        raise ValueError(f"{text!r} is not a URL: {err}{hint}") from err
    scheme = url.scheme.lower()
    _check_scheme(scheme)
    _check_host(url.hostname, url.netloc)
    if port == 0:
        raise ValueError("port 0 is not a port")
    if url.path not in ("", "/") or url.fragment:
        raise ValueError(f"{scheme}:// resolver URLs have no path")
    _check_parameters(url.query, scheme)
    return text


def _check_scheme(scheme: str) -> None:
    if scheme in ("doh", "https"):
        raise ValueError("DNS over HTTPS upstreams are not supported yet: use dot://")
    if scheme == "tls":
        raise ValueError("write dot:// for DNS over TLS")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme!r}: use dot://, dns:// or tcp://")


def _check_host(host: str | None, netloc: str) -> None:
    if not host:
        raise ValueError("the URL names no server")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Resolving the resolver's own name needs a bootstrap resolver first.
        raise ValueError(
            f"server {netloc!r} must be an IP address (names need bootstrapping,"
            " not supported yet); give the TLS name with ?verify="
        ) from None


def _check_parameters(query: str, scheme: str) -> None:
    seen: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in LATER_PARAMETERS:
            raise ValueError(f"parameter {name!r} is not supported yet")
        if name not in PARAMETERS:
            raise ValueError(f"unknown parameter {name!r}: use name or verify")
        if name in seen:
            raise ValueError(f"parameter {name!r} given twice")
        seen.add(name)
        if name == "verify":
            _check_verify(value, scheme)


def _check_verify(value: str, scheme: str) -> None:
    if scheme != "dot":
        raise ValueError("verify= only applies to dot:// (a TLS name)")
    try:
        normalise_domain(value)
    except InvalidDomainName as err:
        raise ValueError(f"verify={value!r} is not a host name: {err}") from err
