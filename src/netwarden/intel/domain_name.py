"""Normalisation of domain names as they appear in lists and rules.

Lists, rules and DNS queries must agree on one spelling of a name so that
a set lookup finds it: lower case, no trailing root dot, and unicode labels
in their IDNA A-label (punycode) form, as they travel in DNS messages
(RFC 5891). Length limits are those of RFC 1035 section 2.3.4.
"""

from __future__ import annotations

import ipaddress
import logging
import re

import idna

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 253  # RFC 1035 2.3.4: 255 octets on the wire, minus length bytes
MAX_LABEL_LENGTH = 63

# Letters, digits, hyphen (RFC 952/1123 host names) and the underscore, which
# service and tracking names use (RFC 2782 ``_sip._tcp``) and lists contain.
_ASCII_LABEL = re.compile(r"[a-z0-9_-]+")
_ASCII_NAME = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}")
_MAYBE_IPV4 = re.compile(r"[0-9.]+")


class InvalidDomainName(ValueError):
    """A text that is not a usable domain name; the message says why."""


def normalise_domain(text: str) -> str:
    """Return the canonical spelling of ``text`` or raise InvalidDomainName."""
    name = text.strip().lower()
    if name.endswith("."):
        name = name[:-1]  # the root label: "example.com." is "example.com"
    if not name:
        raise InvalidDomainName("empty name")
    if looks_like_ip_address(name):
        raise InvalidDomainName(f"{text!r} is an IP address, not a domain name")
    if len(name) <= MAX_NAME_LENGTH and _ASCII_NAME.fullmatch(name):
        return name  # the common case, checked in one pass
    labels = [_normalise_label(label, text) for label in name.split(".")]
    normalised = ".".join(labels)
    if len(normalised) > MAX_NAME_LENGTH:
        raise InvalidDomainName(f"name longer than {MAX_NAME_LENGTH} characters")
    return normalised


def _normalise_label(label: str, text: str) -> str:
    if not label:
        raise InvalidDomainName(f"empty label in {text!r}")
    if not label.isascii():
        label = _to_a_label(label, text)
    if not _ASCII_LABEL.fullmatch(label):
        raise InvalidDomainName(f"label {label!r} has characters a name cannot hold")
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidDomainName(f"label longer than {MAX_LABEL_LENGTH} characters")
    return label


def _to_a_label(label: str, text: str) -> str:
    try:
        # UTS 46 maps the label first (case, width, compatibility forms), as
        # browsers do, so a list written in any of those spellings still matches.
        return idna.encode(label, uts46=True).decode("ascii")
    except idna.IDNAError as err:
        raise InvalidDomainName(f"label {label!r} of {text!r}: {err}") from err


def looks_like_ip_address(text: str) -> bool:
    """True for IPv4 and IPv6 literals (brackets allowed around IPv6)."""
    if ":" not in text and not _MAYBE_IPV4.fullmatch(text):
        return False  # cheap pre-check: most names are neither
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def parent_domains(name: str) -> list[str]:
    """``a.b.c`` -> ``["a.b.c", "b.c", "c"]``: the name and every parent."""
    suffixes = [name]
    position = name.find(".")
    while position != -1:
        suffixes.append(name[position + 1 :])
        position = name.find(".", position + 1)
    return suffixes
