"""Filter lists at their edges: Adblock options, hosts lines, index properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.intel.adblock import has_cosmetic_separator
from netwarden.intel.domain_index import DomainIndex
from netwarden.intel.domain_name import looks_like_ip_address
from netwarden.intel.filterlist import (
    ListFormat,
    load_filter_list,
    parse_filter_list,
    parse_line,
    recognise_format,
)
from netwarden.intel.list_item import Item, ItemKind


def kinds(line: str, list_format: ListFormat = ListFormat.AUTO) -> list[str]:
    """Each item as 'block:name', 'allow:name' or 'skip:reason'."""
    return [f"{item.kind.value}:{item.text}" for item in parse_line(line, list_format)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("||a.example^$", ["block:a.example"]),
        ("||a.example^|$3p", ["block:a.example"]),
        ("||a.example^$THIRD-PARTY", ["block:a.example"]),
        ("||a.example^$ 3p , popup", ["block:a.example"]),
        ("@@||a.example^$all", ["allow:a.example"]),
        ("@@||a.example^$3p,~script", ["skip:resource-type option"]),
        ("||a.example^$important,script", ["skip:resource-type option"]),
        ("||a.example^$important,from=b.example", ["skip:domain option"]),
        ("||a.example^$denyallow=b.example", ["skip:domain option"]),
        ("||a.example^$to=b.example", ["skip:domain option"]),
        ("||a.example^$3p,", ["skip:other option"]),
        ("||a.example^^", ["skip:path"]),
        ("||a.example/^", ["skip:path"]),
        ("||a.example*", ["skip:wildcard"]),
        ("||a.example.", ["skip:wildcard"]),
        ("||[2001:db8::1]^", ["skip:ip address"]),
        ("@@a.example", ["skip:url pattern"]),
        ("@@|a.example^", ["skip:url pattern"]),
        ("@@/ads/", ["skip:regex"]),
        ("example.com#%#window.x=1", ["skip:cosmetic"]),
        ("example.com#@$#.ad { x }", ["skip:cosmetic"]),
        ("example.com$$script[tag]", ["skip:cosmetic"]),
        ("example.com$@$script", ["skip:cosmetic"]),
        ("[uBlock Origin]", ["skip:comment"]),
    ],
)
def test_adblock_lines(line: str, expected: list[str]) -> None:
    assert kinds(line, ListFormat.ADBLOCK) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("0.0.0.0\ta.example\tb.example", ["block:a.example", "block:b.example"]),
        ("::1 six.example#c", ["block:six.example"]),
        ("0.0.0.0 a.example # c d", ["block:a.example"]),
        ("198.51.100.1 lan.example", ["skip:not a blocking address"]),
        ("0.0.0.0", ["skip:unrecognised"]),
        ("a.example 0.0.0.0", ["skip:unrecognised"]),
    ],
)
def test_hosts_lines(line: str, expected: list[str]) -> None:
    assert kinds(line, ListFormat.HOSTS) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a.example b.example", ["skip:unrecognised"]),
        ("2001:db8::1", ["skip:ip address"]),
        ("#a.example", ["skip:comment"]),
    ],
)
def test_plain_lines(line: str, expected: list[str]) -> None:
    assert kinds(line, ListFormat.PLAIN) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#@#.ad", ListFormat.ADBLOCK),
        ("#?#div", ListFormat.ADBLOCK),
        ("#$#x", ListFormat.ADBLOCK),
        ("#%#x", ListFormat.ADBLOCK),
        ("#comment", ListFormat.PLAIN),
        ("@@||a.example^", ListFormat.ADBLOCK),
        ("::1 a.example", ListFormat.HOSTS),
        ("*.a.example", ListFormat.PLAIN),
        ("a.example/path", ListFormat.ADBLOCK),
        ("a.example$script", ListFormat.ADBLOCK),
        ("a.example # note", ListFormat.PLAIN),
        ("a.example b.example", ListFormat.ADBLOCK),
    ],
)
def test_recognised_formats(line: str, expected: ListFormat) -> None:
    assert recognise_format(line) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a##b", True), ("a#@#b", True), ("a$$b", True), ("a#b", False), ("$a", False)],
)
def test_cosmetic_separator(text: str, expected: bool) -> None:
    assert has_cosmetic_separator(text) is expected


def test_header_switches_format_only_from_where_it_stands() -> None:
    lines = ["-tracker.example", "! [Adblock Plus]", "[AdGuard]", "-pixel.example"]
    result = parse_filter_list(lines, name="L")
    assert result.blocked == {"-tracker.example"}
    assert result.stats.skipped == {"comment": 2, "url pattern": 1}


def test_declared_format_is_not_overridden_by_a_header() -> None:
    result = parse_filter_list(
        ["[Adblock Plus 2.0]", "a.example"], name="L", list_format=ListFormat.PLAIN
    )
    assert result.blocked == {"a.example"}


def test_a_name_both_blocked_and_allowed_is_in_both_sets() -> None:
    result = parse_filter_list(["||a.example^", "@@||a.example^"], name="L")
    assert (result.blocked, result.allowed) == ({"a.example"}, {"a.example"})
    assert DomainIndex([result]).match("x.a.example") is not None
    assert not DomainIndex([result]).is_blocked("x.a.example")


def test_hosts_line_with_localhost_keeps_the_other_names() -> None:
    result = parse_filter_list(["0.0.0.0 localhost a.example"], name="L")
    assert result.blocked == {"a.example"}
    assert result.stats.skipped == {"localhost": 1}
    assert (result.stats.lines, result.stats.taken) == (1, 1)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    result = load_filter_list(tmp_path / "empty.txt", name="Empty")
    assert (result.blocked, result.allowed, result.stats.lines) == (set(), set(), 0)


@given(st.text(max_size=200))
def test_any_line_gives_items_and_never_raises(line: str) -> None:
    items = parse_line(line)
    assert items
    assert all(isinstance(item, Item) for item in items)
    if not line.strip():
        assert items == [Item(ItemKind.SKIP, "blank")]


NO_HEADER = st.text(max_size=60).filter(lambda line: "[" not in line)


@given(st.lists(NO_HEADER, max_size=20))
def test_every_item_is_counted_once(lines: list[str]) -> None:
    result = parse_filter_list(lines, name="Fuzz")
    items = sum(len(parse_line(line)) for line in lines)
    counted = result.stats.taken + result.stats.allowed + result.stats.skipped_total
    assert result.stats.lines == len(lines)
    assert counted == items
    assert all("." in name for name in result.blocked | result.allowed)


LABEL = st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True)
NAME = st.lists(LABEL, min_size=2, max_size=4).map(".".join)
# A name of digits and dots is an address to the parser ("ip address" skip),
# so lists never hold one; a query may still be one.
LISTED_NAME = NAME.filter(lambda name: not looks_like_ip_address(name))


@given(
    blocked=st.frozensets(LISTED_NAME, max_size=8),
    allowed=st.frozensets(LISTED_NAME, max_size=4),
    query=NAME,
)
def test_index_answer_follows_the_documented_rule(
    blocked: frozenset[str], allowed: frozenset[str], query: str
) -> None:
    lines = [f"||{n}^" for n in blocked] + [f"@@||{n}^" for n in allowed]
    index = DomainIndex([parse_filter_list(lines, name="L")])
    labels = query.split(".")
    parents = [".".join(labels[i:]) for i in range(len(labels))]

    found = index.match(query)

    if any(parent in allowed for parent in parents):
        assert found is not None and found.allowed
    elif blocked_parents := [p for p in parents if p in blocked]:
        assert found is not None and found.entry == blocked_parents[0]
        assert not found.allowed
    else:
        assert found is None
    exact = index.match(query, include_subdomains=False)
    assert (exact is not None) is (query in blocked or query in allowed)


def test_first_list_to_name_an_entry_is_credited() -> None:
    first = parse_filter_list(["a.example"], name="First")
    second = parse_filter_list(["a.example", "b.example"], name="Second")
    index = DomainIndex([first, second])
    found = index.match("a.example")
    assert found is not None and found.list_name == "First"
    assert len(index) == 2  # a name counts once, whichever lists carry it
