"""Filter list parsing: every format, every skip reason, real EasyPrivacy."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.errors import ConfigError
from netwarden.intel.filterlist import (
    FilterList,
    ListFormat,
    ParseStats,
    load_filter_list,
    parse_filter_list,
    parse_line,
    recognise_format,
    render_plain,
)
from netwarden.intel.list_item import Item, ItemKind

FIXTURES = Path(__file__).parent / "fixtures"


def block(name: str) -> Item:
    return Item(ItemKind.BLOCK, name)


def allow(name: str) -> Item:
    return Item(ItemKind.ALLOW, name)


def skipped(reason: str) -> Item:
    return Item(ItemKind.SKIP, reason)


@pytest.mark.parametrize(
    ("line", "items"),
    [
        ("0.0.0.0 ads.example", [block("ads.example")]),
        ("127.0.0.1 a.example b.example", [block("a.example"), block("b.example")]),
        (":: v6.example # comment", [block("v6.example")]),
        ("10.0.0.1 router.example", [skipped("not a blocking address")]),
        ("plain.example", [block("plain.example")]),
        ("plain.example # why", [block("plain.example")]),
        ("*.wild.example", [skipped("wildcard")]),
        ("192.0.2.1", [skipped("ip address")]),
        ("# comment", [skipped("comment")]),
        ("   ", [skipped("blank")]),
        ("||host.example^", [block("host.example")]),
        ("||host.example^|", [block("host.example")]),
        ("||host.example^$third-party", [block("host.example")]),
        ("||host.example^$3p,popup,doc", [block("host.example")]),
        ("||host.example^$document,all", [block("host.example")]),
        ("@@||fine.example^", [allow("fine.example")]),
        ("@@||fine.example^$document", [allow("fine.example")]),
        ("@@||fine.example^$~third-party", [skipped("other option")]),
        ("||host.example^$script,third-party", [skipped("resource-type option")]),
        ("||host.example^$~image", [skipped("resource-type option")]),
        ("||host.example^$domain=a.example", [skipped("domain option")]),
        ("||host.example^$important", [skipped("other option")]),
        ("||host.example/pixel.gif", [skipped("path")]),
        ("||host.example^*/pixel", [skipped("path")]),
        ("||host.example", [skipped("no separator")]),
        ("||ads-*.example^", [skipped("wildcard")]),
        ("||tracker.example.^", [skipped("wildcard")]),
        ("||198.51.100.7^", [skipped("ip address")]),
        ("example.com##.banner", [skipped("cosmetic")]),
        ("##.banner", [skipped("cosmetic")]),
        ("example.com#@#.banner", [skipped("cosmetic")]),
        ("example.com#?#div:has(a)", [skipped("cosmetic")]),
        ("example.com#$#abort-on-property-read x", [skipped("cosmetic")]),
        ("/^ads[0-9]+\\./", [skipped("regex")]),
        ("/banner/ads/", [skipped("regex")]),
        ("/pixel.gif?", [skipped("path")]),
        ("&action=js_stats", [skipped("url pattern")]),
        ("|https://host.example/", [skipped("url pattern")]),
        ("! comment", [skipped("comment")]),
        ("[Adblock Plus 2.0]", [skipped("comment")]),
        ("x" * 5000, [skipped("too long")]),
    ],
)
def test_line_items(line: str, items: list[Item]) -> None:
    assert parse_line(line) == items


@pytest.mark.parametrize(
    ("line", "list_format", "items"),
    [
        ("plain.example", ListFormat.ADBLOCK, [skipped("url pattern")]),
        ("plain.example", ListFormat.HOSTS, [skipped("unrecognised")]),
        ("0.0.0.0 a.example", ListFormat.PLAIN, [skipped("unrecognised")]),
        ("||a.example^", ListFormat.HOSTS, [skipped("unrecognised")]),
    ],
)
def test_declared_format_applies_only_its_grammar(
    line: str, list_format: ListFormat, items: list[Item]
) -> None:
    assert parse_line(line, list_format) == items


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("0.0.0.0 a.example", ListFormat.HOSTS),
        ("a.example", ListFormat.PLAIN),
        ("# note", ListFormat.PLAIN),
        ("##.ad", ListFormat.ADBLOCK),
        ("||a.example^", ListFormat.ADBLOCK),
        ("-tracking-pixel/", ListFormat.ADBLOCK),
    ],
)
def test_recognise_format(line: str, expected: ListFormat) -> None:
    assert recognise_format(line) is expected


def test_adblock_header_declares_the_rest_of_the_file() -> None:
    result = parse_filter_list(
        ["[Adblock Plus 2.0]", "-tracking-pixel.", "||a.example^"], name="L"
    )
    assert result.blocked == {"a.example"}
    assert result.stats.skipped == {"comment": 1, "url pattern": 1}


def test_names_are_normalised_and_bad_ones_counted() -> None:
    result = parse_filter_list(
        [
            "Tracker.Example.NET.",
            "bücher.example",
            "bad%name.example",
            "a..example",
            "x" * 64 + ".example",
            "localhost",
            "com",
            "tracker.example.net",
        ],
        name="L",
    )
    assert result.blocked == {"tracker.example.net", "xn--bcher-kva.example"}
    assert result.stats.skipped == {
        "invalid name": 3,
        "localhost": 1,
        "single label": 1,
        "duplicate": 1,
    }


def test_mixed_fixture_counts_every_line() -> None:
    result = load_filter_list(FIXTURES / "mixed.txt", name="Mixed")

    assert result.name == "Mixed"
    assert result.blocked == {
        "ads.example.com",
        "tracker.example.net",
        "one.example",
        "two.example",
        "plain.example.org",
        "xn--bcher-kva.example",
        "adblock.example",
        "third.example",
    }
    assert result.allowed == {"unbreak.example"}
    assert result.stats.lines == 22
    assert result.stats.taken == 8
    assert result.stats.allowed == 1
    assert result.stats.skipped == {
        "comment": 2,
        "localhost": 3,
        "not a blocking address": 2,
        "wildcard": 1,
        "resource-type option": 1,
        "domain option": 1,
        "path": 1,
        "cosmetic": 1,
        "regex": 1,
        "blank": 1,
        "invalid name": 1,
    }


def test_byte_order_mark_and_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"\xef\xbb\xbfa.example\r\nb\xff.example\r\nc.example\n")

    result = load_filter_list(path, name="L")

    assert result.blocked == {"a.example", "c.example"}
    assert result.stats.skipped == {"invalid name": 1}


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.txt"
    with pytest.raises(ConfigError) as caught:
        load_filter_list(missing, name="Absent")
    assert caught.value.source == str(missing)
    assert "Absent" in str(caught.value)


def test_directory_is_not_a_list(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read filter list"):
        load_filter_list(tmp_path, name="Dir")


def test_real_easyprivacy(easyprivacy: Path) -> None:
    result = load_filter_list(easyprivacy, name="EasyPrivacy")

    # Trackers written ||host^$third-party are taken; resource-typed ones not.
    assert {"hotjar.com", "scorecardresearch.com"} <= result.blocked
    assert "google-analytics.com" not in result.blocked  # $script,xmlhttprequest
    assert "cbsi.map.fastly.net" in result.allowed
    # SOURCES.md counts 42,059 plain ||name^ rules; $third-party ones come on top.
    assert 42_000 < result.stats.taken < 50_000
    assert result.stats.skipped["path"] > 5_000
    assert (
        result.stats.taken + result.stats.allowed + result.stats.skipped_total
        >= result.stats.lines
    )


LABEL = st.from_regex(r"[a-z0-9_-]{1,20}", fullmatch=True)
NAME = (
    st.lists(LABEL, min_size=2, max_size=4)
    .map(".".join)
    .filter(lambda name: not name.replace(".", "").isdigit())
)


@given(
    blocked=st.frozensets(NAME, max_size=20), allowed=st.frozensets(NAME, max_size=5)
)
def test_render_plain_round_trip(
    blocked: frozenset[str], allowed: frozenset[str]
) -> None:
    original = FilterList(
        "Generated", blocked, allowed, ParseStats(0, len(blocked), len(allowed), {})
    )

    parsed = parse_filter_list(render_plain(original).splitlines(), name="Generated")

    assert parsed.blocked == blocked
    assert parsed.allowed == allowed
    assert parsed.stats.skipped == {"comment": 1}
