"""One spelling of a name: case, root dot, IDNA, RFC 1035 lengths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.intel.domain_name import (
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    InvalidDomainName,
    looks_like_ip_address,
    normalise_domain,
    parent_domains,
)


def name_of_length(length: int) -> str:
    """A name of exactly ``length`` characters: 49-letter labels and a tail."""
    full, tail = divmod(length, 50)
    assert tail > 0, "the last label must not be empty"
    return ("a" * 49 + ".") * full + "b" * tail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("  example.com \n", "example.com"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("-lead.example", "-lead.example"),
        ("com", "com"),
        ("1.example", "1.example"),
        ("1.2.3.4.5", "1.2.3.4.5"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.Example.", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "example.com"),  # full-width
        ("a" * 63 + ".example", "a" * 63 + ".example"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise_domain(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty name"),
        (".", "empty name"),
        ("   ", "empty name"),
        ("192.0.2.1", "is an IP address"),
        ("2001:db8::1", "is an IP address"),
        ("[2001:db8::1]", "is an IP address"),
        ("a..example", "empty label in 'a..example'"),
        (".example", "empty label"),
        ("example..", "empty label"),
        ("a b.example", "has characters a name cannot hold"),
        ("a/b.example", "has characters a name cannot hold"),
        ("a" * 64 + ".example", "label longer than 63"),
        ("bü\u200dcher.example", "label"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidDomainName) as caught:
        normalise_domain(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_name_length_limit_of_rfc_1035() -> None:
    longest = name_of_length(MAX_NAME_LENGTH)
    assert len(longest) == MAX_NAME_LENGTH
    assert normalise_domain(longest) == longest
    assert normalise_domain(longest + ".") == longest
    with pytest.raises(InvalidDomainName, match="longer than 253"):
        normalise_domain(name_of_length(MAX_NAME_LENGTH + 1))


def test_a_unicode_name_is_measured_after_encoding() -> None:
    # 63 characters as written, but "xn--" and the punycode make it longer.
    label = "ü" * 4 + "a" * (MAX_LABEL_LENGTH - 4)
    with pytest.raises(InvalidDomainName, match=r"(?i)too long"):
        normalise_domain(label + ".example")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", True),
        ("0.0.0.0", True),
        ("::", True),
        ("[::1]", True),
        ("2001:db8::1", True),
        ("1.2.3", False),
        ("256.1.1.1", False),
        ("example.com", False),
        ("a:b", False),
        ("", False),
    ],
)
def test_looks_like_ip_address(text: str, expected: bool) -> None:
    assert looks_like_ip_address(text) is expected


LABEL = st.from_regex(r"[a-z0-9_-]{1,20}", fullmatch=True)
NAME = st.lists(LABEL, min_size=1, max_size=6).map(".".join)


@given(NAME)
def test_parent_domains_are_every_label_suffix(name: str) -> None:
    labels = name.split(".")
    assert parent_domains(name) == [
        ".".join(labels[index:]) for index in range(len(labels))
    ]


@given(NAME.filter(lambda n: not looks_like_ip_address(n)))
def test_normalising_is_idempotent_and_case_blind(name: str) -> None:
    once = normalise_domain(name.upper() + ".")
    assert once == name
    assert normalise_domain(once) == once
