from ipaddress import ip_address

import pytest

from netwarden.attribution.process import Process
from netwarden.dns.name_map import NameMap

CDN_IP = ip_address("198.51.100.7")


def test_two_processes_behind_one_cdn_ip_are_told_apart() -> None:
    names = NameMap()
    names.remember(100, "video.example", [CDN_IP], ttl=300, now=0)
    names.remember(200, "shop.example", [CDN_IP], ttl=300, now=1)
    assert names.lookup(100, CDN_IP, now=2) == "video.example"
    assert names.lookup(200, CDN_IP, now=2) == "shop.example"


def test_unknown_pid_falls_back_to_the_newest_domain_for_the_ip() -> None:
    names = NameMap()
    names.remember(100, "video.example", [CDN_IP], ttl=300, now=0)
    names.remember(None, "shop.example", [CDN_IP], ttl=300, now=1)
    assert names.lookup(300, CDN_IP, now=2) == "shop.example"
    assert names.lookup(None, CDN_IP, now=2) == "shop.example"
    assert names.lookup(100, CDN_IP, now=2) == "video.example"
    assert names.lookup(100, ip_address("192.0.2.99"), now=2) is None


def test_ttl_is_clamped_to_the_minimum_and_the_maximum() -> None:
    names = NameMap(min_ttl=60, max_ttl=3600)
    names.remember(1, "short.example", [CDN_IP], ttl=5, now=0)
    assert names.lookup(1, CDN_IP, now=59) == "short.example"
    assert names.lookup(1, CDN_IP, now=60) is None

    names.remember(1, "long.example", [CDN_IP], ttl=10**9, now=0)
    assert names.lookup(1, CDN_IP, now=3599) == "long.example"
    assert names.lookup(1, CDN_IP, now=3600) is None


def test_expired_process_entry_falls_back_to_a_live_shared_one() -> None:
    names = NameMap(min_ttl=0)
    names.remember(1, "old.example", [CDN_IP], ttl=10, now=0)
    names.remember(2, "new.example", [CDN_IP], ttl=100, now=5)
    assert names.lookup(1, CDN_IP, now=20) == "new.example"


def test_least_recently_used_entries_go_first() -> None:
    names = NameMap(max_entries=2)
    ips = [ip_address(f"192.0.2.{n}") for n in range(1, 4)]
    names.remember(None, "a.example", [ips[0]], ttl=300, now=0)
    names.remember(None, "b.example", [ips[1]], ttl=300, now=0)
    assert names.lookup(None, ips[0], now=1) == "a.example"  # a is now newest
    names.remember(None, "c.example", [ips[2]], ttl=300, now=2)
    assert names.lookup(None, ips[1], now=3) is None
    assert names.lookup(None, ips[0], now=3) == "a.example"
    assert len(names) == 2


def test_ipv4_mapped_ipv6_is_the_same_address() -> None:
    names = NameMap()
    names.remember(1, "v4.example", [ip_address("::ffff:192.0.2.5")], ttl=60, now=0)
    assert names.lookup(1, ip_address("192.0.2.5"), now=1) == "v4.example"


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        NameMap(min_ttl=100, max_ttl=10)
    with pytest.raises(ValueError):
        NameMap(max_entries=0)


def test_a_reused_pid_does_not_inherit_the_names_of_the_process_before_it() -> None:
    before = Process(100, "/usr/bin/curl", ("curl",), 0, "root", start_ticks=5000)
    after = Process(100, "/usr/bin/wget", ("wget",), 0, "root", start_ticks=9000)
    names = NameMap()
    names.remember(before.identity, "video.example", [CDN_IP], ttl=300, now=0)
    names.remember(None, "shop.example", [CDN_IP], ttl=300, now=1)
    assert names.lookup(before.identity, CDN_IP, now=2) == "video.example"
    assert names.lookup(after.identity, CDN_IP, now=2) == "shop.example"
