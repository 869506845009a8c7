"""What an endpoint rule is about: any host, an address, a network, a name.

Tokens are recognised in a fixed order, the first that fits wins (as in
Portmaster, so ``DE`` is a country and ``de`` a domain)::

    *                 any endpoint
    192.0.2.1, 2001:db8::1        an IP address
    192.0.2.0/24      a network (host bits must be zero)
    DE                a country (ISO 3166 alpha-2, upper case)
    C:EU              a continent
    AS13335           an autonomous system
    LAN,Localhost     scopes: Localhost, LAN, Internet (any case)
    L:TRAC,MAL        filter lists by ID
    example.com       exactly this domain
    .example.com      the domain and all its subdomains
    *xample.com       names ending in "xample.com"
    example.*         names starting with "example."
    *xamp*            names containing "xamp"
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass

from netwarden.intel.domain_name import InvalidDomainName, normalise_domain
from netwarden.network.packet import IPAddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAPPED_IPV4 = ipaddress.IPv6Network("::ffff:0:0/96")  # RFC 4291 section 2.5.5.2
CONTINENTS = frozenset({"AF", "AN", "AS", "EU", "NA", "OC", "SA"})

_COUNTRY = re.compile(r"[A-Z]{2}")
_ASN = re.compile(r"AS([0-9]{1,10})")
_LIST_ID = re.compile(r"[A-Za-z0-9_-]+")
_WILDCARD_CORE = re.compile(r"[a-z0-9._-]+")
_IP_LIKE = re.compile(r"[0-9.]+|.*:.*")


class Entity:
    """Base of the entity types; ``kind`` names the type in messages."""

    kind = "entity"
    supported = True

    def render(self) -> str:
        raise NotImplementedError

    def matches(self, domain: str | None, ip: IPAddress | None) -> bool:
        raise NotImplementedError(f"entity type {self.kind} is not supported yet")


@dataclass(frozen=True, slots=True)
class AnyEntity(Entity):
    kind = "any"

    def render(self) -> str:
        return "*"

    def matches(self, domain: str | None, ip: IPAddress | None) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class AddressEntity(Entity):
    address: IPAddress
    kind = "IP address"

    def render(self) -> str:
        mapped = _plain(self.address)
        # Python 3.11 prints ::ffff:203.0.113.80 as ::ffff:cb00:7150.
        return f"::ffff:{mapped}" if mapped is not self.address else str(self.address)

    def matches(self, domain: str | None, ip: IPAddress | None) -> bool:
        return ip is not None and _plain(ip) == _plain(self.address)


@dataclass(frozen=True, slots=True)
class NetworkEntity(Entity):
    network: IPNetwork
    kind = "network"

    def render(self) -> str:
        return str(self.network)

    def matches(self, domain: str | None, ip: IPAddress | None) -> bool:
        if ip is None:
            return False
        plain = _plain(ip)
        if isinstance(self.network, ipaddress.IPv6Network) and self.network.subnet_of(
            MAPPED_IPV4
        ):
            # A network written over mapped addresses is about IPv4 hosts.
            if isinstance(plain, ipaddress.IPv4Address):
                return ipaddress.IPv6Address(f"::ffff:{plain}") in self.network
            return False  # a plain IPv6 address is never a mapped one
        return plain.version == self.network.version and plain in self.network


def _plain(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (RFC 4291 2.5.5.2) is its IPv4 address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class DomainForm(enum.Enum):
    EXACT = "exact"  # example.com
    ZONE = "zone"  # .example.com
    SUFFIX = "suffix"  # *xample.com
    PREFIX = "prefix"  # example.*
    CONTAINS = "contains"  # *xamp*


@dataclass(frozen=True, slots=True)
class DomainEntity(Entity):
    """``text`` is the name or the fixed part of a wildcard pattern."""

    text: str
    form: DomainForm
    kind = "domain"

    def render(self) -> str:
        return _DOMAIN_RENDER[self.form].format(self.text)

    def matches(self, domain: str | None, ip: IPAddress | None) -> bool:
        if domain is None:
            return False
        if self.form is DomainForm.EXACT:
            return domain == self.text
        if self.form is DomainForm.ZONE:
            return domain == self.text or domain.endswith("." + self.text)
        if self.form is DomainForm.SUFFIX:
            return domain.endswith(self.text)
        if self.form is DomainForm.PREFIX:
            return domain.startswith(self.text)
        return self.text in domain


_DOMAIN_RENDER = {
    DomainForm.EXACT: "{}",
    DomainForm.ZONE: ".{}",
    DomainForm.SUFFIX: "*{}",
    DomainForm.PREFIX: "{}*",
    DomainForm.CONTAINS: "*{}*",
}


@dataclass(frozen=True, slots=True)
class CountryEntity(Entity):
    code: str
    kind = "country"
    supported = False

    def render(self) -> str:
        return self.code


@dataclass(frozen=True, slots=True)
class ContinentEntity(Entity):
    code: str
    kind = "continent"
    supported = False

    def render(self) -> str:
        return f"C:{self.code}"


@dataclass(frozen=True, slots=True)
class ASNEntity(Entity):
    number: int
    kind = "autonomous system"
    supported = False

    def render(self) -> str:
        return f"AS{self.number}"


class Scope(enum.StrEnum):
    LOCALHOST = "Localhost"
    LAN = "LAN"
    INTERNET = "Internet"


@dataclass(frozen=True, slots=True)
class ScopeEntity(Entity):
    scopes: tuple[Scope, ...]
    kind = "scope"
    supported = False

    def render(self) -> str:
        return ",".join(self.scopes)


@dataclass(frozen=True, slots=True)
class ListsEntity(Entity):
    list_ids: tuple[str, ...]
    kind = "filter list"
    supported = False

    def render(self) -> str:
        return "L:" + ",".join(self.list_ids)


def parse_entity(token: str) -> Entity:
    """The entity ``token`` names; ValueError says why when it names none."""
    if token == "*":
        return AnyEntity()
    for parse in (_parse_address, _parse_network, _parse_geo, _parse_scope):
        entity = parse(token)
        if entity is not None:
            return entity
    if token.startswith("L:"):
        return _parse_lists(token[2:])
    return _parse_domain(token)


def _parse_address(token: str) -> Entity | None:
    try:
        address = ipaddress.ip_address(token)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        # A flow's address never carries a zone, so such a rule never matches.
        raise ValueError("an address with a zone (%...) never matches; drop it")
    return AddressEntity(address)


def _parse_network(token: str) -> Entity | None:
    if "/" not in token:
        return None
    try:
        return NetworkEntity(ipaddress.ip_network(token))
    except ValueError as err:
        raise ValueError(f"not a network: {err}") from err


def _parse_geo(token: str) -> Entity | None:
    if _COUNTRY.fullmatch(token):
        return CountryEntity(token)
    if token.startswith("C:"):
        if token[2:] not in CONTINENTS:
            raise ValueError(f"unknown continent, use one of {sorted(CONTINENTS)}")
        return ContinentEntity(token[2:])
    asn = _ASN.fullmatch(token)
    return ASNEntity(int(asn.group(1))) if asn else None


def _parse_scope(token: str) -> Entity | None:
    by_name = {scope.lower(): scope for scope in Scope}
    names = token.lower().split(",")
    if not all(name in by_name for name in names):
        return None
    return ScopeEntity(tuple(by_name[name] for name in names))


def _parse_lists(text: str) -> Entity:
    list_ids = tuple(text.split(","))
    if not all(_LIST_ID.fullmatch(list_id) for list_id in list_ids):
        raise ValueError("list IDs are letters, digits, '-' and '_', split by ','")
    return ListsEntity(list_ids)


def _parse_domain(token: str) -> Entity:
    if _IP_LIKE.fullmatch(token):
        raise ValueError("not a valid IP address")
    if "*" not in token:
        form = DomainForm.ZONE if token.startswith(".") else DomainForm.EXACT
        return DomainEntity(_domain(token.removeprefix(".")), form)
    starts, ends = token.startswith("*"), token.endswith("*")
    core = token.strip("*")
    if "*" in core or not core or token.count("*") > int(starts) + int(ends):
        raise ValueError("'*' may only start or end a domain pattern")
    if not _WILDCARD_CORE.fullmatch(core.lower()):
        raise ValueError("a domain pattern holds only a-z, 0-9, '.', '-' and '_'")
    if ends and not starts and core.startswith("."):
        raise ValueError("a prefix pattern cannot start with '.'")
    form = _WILDCARD_FORMS[(starts, ends)]
    return DomainEntity(core.lower(), form)


_WILDCARD_FORMS = {
    (True, False): DomainForm.SUFFIX,
    (False, True): DomainForm.PREFIX,
    (True, True): DomainForm.CONTAINS,
}


def _domain(text: str) -> str:
    try:
        return normalise_domain(text)
    except InvalidDomainName as err:
        raise ValueError(f"not a domain: {err}") from err
