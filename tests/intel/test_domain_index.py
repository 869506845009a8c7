"""Domain index: subdomain walk, allow entries winning, list attribution."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.intel.domain_index import DomainIndex, ListMatch
from netwarden.intel.domain_name import parent_domains
from netwarden.intel.filterlist import FilterList, ParseStats, load_filter_list


def make_list(
    name: str, blocked: set[str], allowed: frozenset[str] = frozenset()
) -> FilterList:
    stats = ParseStats(0, len(blocked), len(allowed), {})
    return FilterList(name, frozenset(blocked), frozenset(allowed), stats)


TRACKERS = make_list(
    "Trackers",
    {"tracker.example", "ads.example.com", "cdn.example.org", "deep.a.example.org"},
    frozenset({"fine.tracker.example"}),
)
UNBREAK = make_list("Unbreak", set(), frozenset({"example.org"}))
MALWARE = make_list("Malware", {"tracker.example", "bad.example"})

INDEX = DomainIndex([TRACKERS, UNBREAK, MALWARE])


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("tracker.example", ListMatch("Trackers", "tracker.example", False)),
        ("x.y.tracker.example", ListMatch("Trackers", "tracker.example", False)),
        ("TRACKER.Example.", ListMatch("Trackers", "tracker.example", False)),
        ("ads.example.com", ListMatch("Trackers", "ads.example.com", False)),
        ("example.com", None),
        ("otherads.example.com", None),
        ("bad.example", ListMatch("Malware", "bad.example", False)),
        # An allow entry covers its subdomains, even below a blocked parent.
        ("fine.tracker.example", ListMatch("Trackers", "fine.tracker.example", True)),
        ("a.fine.tracker.example", ListMatch("Trackers", "fine.tracker.example", True)),
        # An allowed parent wins over a more specific block entry (UNBREAK).
        ("cdn.example.org", ListMatch("Unbreak", "example.org", True)),
        ("x.deep.a.example.org", ListMatch("Unbreak", "example.org", True)),
        ("unlisted.example.net", None),
    ],
)
def test_match(domain: str, expected: ListMatch | None) -> None:
    assert INDEX.match(domain) == expected


def test_exact_only_without_subdomains() -> None:
    assert INDEX.match("x.tracker.example", include_subdomains=False) is None
    assert INDEX.match("tracker.example", include_subdomains=False) == ListMatch(
        "Trackers", "tracker.example", False
    )
    assert INDEX.match("cdn.example.org", include_subdomains=False) == ListMatch(
        "Trackers", "cdn.example.org", False
    )


def test_is_blocked_and_sizes() -> None:
    assert INDEX.is_blocked("a.bad.example")
    assert not INDEX.is_blocked("fine.tracker.example")
    assert not INDEX.is_blocked("nothing.example")
    assert INDEX.list_names == ("Trackers", "Unbreak", "Malware")
    assert len(INDEX) == 5 + 2
    assert len(DomainIndex()) == 0
    assert DomainIndex().match("tracker.example") is None


def test_list_match_source() -> None:
    assert (
        ListMatch("EasyPrivacy", "t.example", False).source == "EasyPrivacy: t.example"
    )


def test_parent_domains() -> None:
    assert parent_domains("a.b.c.d") == ["a.b.c.d", "b.c.d", "c.d", "d"]
    assert parent_domains("single") == ["single"]


def test_subdomains_of_a_real_list_entry_are_blocked(easyprivacy: Path) -> None:
    # The speed of these lookups is measured by bench/lookups.py.
    index = DomainIndex([load_filter_list(easyprivacy, name="EasyPrivacy")])
    queries = [f"host{n}.sub.hotjar.com" for n in range(5_000)]
    queries += [f"host{n}.not-listed.example" for n in range(5_000)]
    assert sum(index.is_blocked(query) for query in queries) == 5_000
