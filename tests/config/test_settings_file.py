"""The config file: typed settings, all-or-nothing errors, export round trip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.config.file import (
    Settings,
    load_settings,
    parse_settings,
    render_settings,
)
from netwarden.config.lists import load_filter_lists
from netwarden.config.options import DefaultAction, ListFile, OptionRegistry
from netwarden.errors import ConfigError
from netwarden.rules.endpoint import EndpointRule
from netwarden.rules.ruleset import EndpointRules

GOOD = """\
# lab settings
filter/defaultAction = block

filter/endpoints = + allowed.example   # the one site
filter/endpoints = - .tracker.example tcp/443
intel/listFile = EasyPrivacy lists/easyprivacy.txt
intel/listFile = Extra /srv/extra.txt
filter/lists = EasyPrivacy
filter/includeSubdomains = no
dns/nameservers = dot://192.0.2.53?verify=dns.lab.example&name=Lab
dns/nameservers = dns://[2001:db8::53]
dns/nameservers = tls://dns.lab.example?ip=192.0.2.54
dns/caFile = ca.pem
dns/listenPort = 5353
"""


def test_good_file_gives_typed_settings() -> None:
    settings = parse_settings(GOOD, source="n.conf", config_dir=Path("/etc/nw"))

    assert settings == Settings(
        default_action=DefaultAction.BLOCK,
        endpoint_rules=EndpointRules(
            [
                EndpointRule.parse("+ allowed.example # the one site"),
                EndpointRule.parse("- .tracker.example tcp/443"),
            ]
        ),
        list_files=(
            ListFile("EasyPrivacy", Path("/etc/nw/lists/easyprivacy.txt")),
            ListFile("Extra", Path("/srv/extra.txt")),
        ),
        active_lists=("EasyPrivacy",),
        nameservers=(
            "dot://192.0.2.53?verify=dns.lab.example&name=Lab",
            "dns://[2001:db8::53]",
            "tls://dns.lab.example?ip=192.0.2.54",
        ),
        ca_file=Path("/etc/nw/ca.pem"),
        listen_port=5353,
        include_subdomains=False,
    )
    rule = settings.endpoint_rules.rules[1]
    assert (rule.source, rule.line) == ("n.conf", 5)


def test_defaults() -> None:
    settings = parse_settings("")
    assert settings.default_action is DefaultAction.PERMIT
    assert len(settings.endpoint_rules) == 0
    assert settings.list_files == ()
    assert settings.active_lists == ()
    assert settings.nameservers[0].startswith("dot://1.1.1.2")
    assert (settings.ca_file, settings.listen_port) == (None, 53)
    assert settings.include_subdomains is True


def test_every_declared_list_is_active_by_default() -> None:
    settings = parse_settings("intel/listFile = A /a\nintel/listFile = B /b\n")
    assert settings.active_lists == ("A", "B")


def test_empty_value_clears_a_repeatable_option() -> None:
    settings = parse_settings(
        "intel/listFile = A /a\nfilter/lists =\nfilter/endpoints =\n"
    )
    assert settings.active_lists == ()
    assert len(settings.endpoint_rules) == 0


def test_no_upstream_at_all_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("# none\ndns/nameservers =\n")
    assert (caught.value.line, caught.value.field) == (2, "dns/nameservers")
    assert "needs at least one value" in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "dns://127.0.0.1",
        "tcp://127.0.0.53:53",
        "dns://0.0.0.0",
        "dns://[::1]",
        "dns://[::]:53",
        "dns://[::ffff:127.0.0.1]",
    ],
)
def test_an_upstream_that_is_netwarden_itself_is_refused(url: str) -> None:
    text = f"dns/nameservers = dns://192.0.2.1\ndns/nameservers = {url}\n"
    with pytest.raises(ConfigError) as caught:
        parse_settings(text)
    assert (caught.value.line, caught.value.field) == (2, "dns/nameservers")
    assert "netwarden's own nameserver" in caught.value.message


def test_a_local_resolver_on_another_port_is_an_upstream_like_any() -> None:
    text = "dns/nameservers = dns://127.0.0.1:5353\ndns/listenPort = 53\n"
    assert parse_settings(text).nameservers == ("dns://127.0.0.1:5353",)
    moved = "dns/nameservers = dns://127.0.0.1\ndns/listenPort = 5300\n"
    assert parse_settings(moved).nameservers == ("dns://127.0.0.1",)


def test_a_ca_file_without_a_certificate_is_refused_at_load(tmp_path: Path) -> None:
    (tmp_path / "hostname").write_text("device\n")
    (tmp_path / "netwarden.conf").write_text("dns/caFile = hostname\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert (caught.value.line, caught.value.field) == (1, "dns/caFile")
    assert "holds no PEM CA certificate" in caught.value.message


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("bogus/key = 1", 1, "bogus/key", "unknown option"),
        ("filter/defaultActon = block", 1, "filter/defaultActon", "did you mean"),
        ("# c\njust text", 2, None, "expected 'key = value'"),
        ("filter/defaultAction = ask", 1, "filter/defaultAction", "not supported yet"),
        ("filter/defaultAction = maybe", 1, "filter/defaultAction", "use permit"),
        ("filter/defaultAction =", 1, "filter/defaultAction", "needs a value"),
        (
            "filter/defaultAction = block\nfilter/defaultAction = permit",
            2,
            "filter/defaultAction",
            "set twice (first on line 1)",
        ),
        (
            "filter/endpoints = + *\nfilter/endpoints = = x",
            2,
            "filter/endpoints",
            "action",
        ),
        ("filter/endpoints = - DE", 1, "filter/endpoints", "country is not supported"),
        ("filter/includeSubdomains = perhaps", 1, "filter/includeSubdomains", "true"),
        ("dns/listenPort = 0", 1, "dns/listenPort", "1 to 65535"),
        ("dns/listenPort = http", 1, "dns/listenPort", "1 to 65535"),
        ("intel/listFile = OnlyAnId", 1, "intel/listFile", "'<ID> <path>'"),
        ("intel/listFile = bad!id /x", 1, "intel/listFile", "a list ID is"),
        (
            "intel/listFile = A /a\nintel/listFile = A /b",
            2,
            "intel/listFile",
            "declared twice",
        ),
        ("intel/listFile = A /a\nfilter/lists = B", 2, "filter/lists", "not declared"),
        ("dns/nameservers = doh://192.0.2.1", 1, "dns/nameservers", "HTTPS"),
    ],
)
def test_errors_name_line_and_key(
    text: str, line: int, field: str | None, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, source="n.conf")
    error = caught.value
    assert (error.source, error.line, error.field) == ("n.conf", line, field)
    assert message in error.message


def test_load_settings_reads_the_config_dir(tmp_path: Path, ca_pem: bytes) -> None:
    (tmp_path / "netwarden.conf").write_text(GOOD, encoding="utf-8")
    ca_file = parse_settings(GOOD, config_dir=tmp_path).ca_file
    assert ca_file is not None
    ca_file.parent.mkdir(parents=True, exist_ok=True)
    ca_file.write_bytes(ca_pem)
    settings = load_settings(tmp_path)
    assert settings.list_files[0].path == tmp_path / "lists/easyprivacy.txt"
    assert settings.endpoint_rules.rules[0].source == str(tmp_path / "netwarden.conf")


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == parse_settings("")


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "netwarden.conf").write_bytes(b"filter/defaultAction = \xff\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert caught.value.source == str(tmp_path / "netwarden.conf")


def test_load_filter_lists_uses_active_lists(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("||tracker.example^\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("0.0.0.0 other.example\n", encoding="utf-8")
    settings = parse_settings(
        "intel/listFile = A a.txt\nintel/listFile = B b.txt\nfilter/lists = A\n",
        config_dir=tmp_path,
    )
    index = load_filter_lists(settings)
    assert index.list_names == ("A",)
    assert index.is_blocked("x.tracker.example")
    assert not index.is_blocked("other.example")


def test_missing_list_file_names_the_declaring_line_and_the_file(
    tmp_path: Path,
) -> None:
    text = "# lists\n\nintel/listFile = Gone gone.txt\n"
    settings = parse_settings(text, source="netwarden.conf", config_dir=tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_filter_lists(settings)
    error = caught.value
    assert error.field == "intel/listFile"
    assert (error.source, error.line) == ("netwarden.conf", 3)
    assert "list Gone" in error.message
    assert str(tmp_path / "gone.txt") in error.message
    assert str(error).startswith("netwarden.conf:3: intel/listFile: list Gone:")


def test_non_utf8_config_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "netwarden.conf").write_bytes(
        b"filter/defaultAction = permit\nfilter/endpoints = - caf\xe9.example\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert caught.value.line == 2
    assert "not UTF-8" in caught.value.message


def test_huge_bad_value_is_not_echoed_whole() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("filter/endpoints = - " + "x" * 200_000 + "..\n")
    assert len(str(caught.value)) < 1000
    assert "characters cut" in str(caught.value)


def test_a_long_bad_value_keeps_the_reason_in_its_message() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("dns/nameservers = dns://192.0.2.1?name=" + "n" * 5000 + "\n")
    assert "characters cut" in caught.value.message
    assert caught.value.message.endswith("name= is longer than 64 characters")


def test_a_list_without_any_usable_entry_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)) * 8)
    settings = parse_settings("intel/listFile = Junk junk.bin\n", config_dir=tmp_path)
    with caplog.at_level("WARNING"):
        load_filter_lists(settings)
    assert "Junk" in caplog.text and "no usable entry" in caplog.text


def test_registry_lists_every_option_once() -> None:
    keys = [option.key for option in OptionRegistry.standard()]
    assert keys == [
        "filter/defaultAction",
        "filter/endpoints",
        "filter/lists",
        "filter/includeSubdomains",
        "dns/nameservers",
        "intel/listFile",
        "dns/caFile",
        "dns/listenPort",
    ]
    assert "dns/listenPort" in OptionRegistry.standard()


RULE_TEXTS = st.sampled_from(
    ["+ a.example", "- .tracker.example tcp/443 # why", "- 192.0.2.0/24", "+ *"]
)
LIST_IDS = st.lists(
    st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True), unique=True, max_size=3
)


@st.composite
def settings_values(draw: st.DrawFn) -> Settings:
    list_ids = draw(LIST_IDS)
    active = draw(
        st.lists(st.sampled_from(list_ids), unique=True) if list_ids else st.just([])
    )
    return Settings(
        default_action=draw(st.sampled_from(DefaultAction)),
        endpoint_rules=EndpointRules(
            EndpointRule.parse(text) for text in draw(st.lists(RULE_TEXTS, max_size=4))
        ),
        list_files=tuple(ListFile(i, Path(f"/lists/{i}.txt")) for i in list_ids),
        active_lists=tuple(active),
        nameservers=tuple(
            draw(
                st.lists(
                    st.sampled_from(["dns://192.0.2.1", "tcp://[2001:db8::1]:53"]),
                    min_size=1,
                )
            )
        ),
        ca_file=draw(st.none() | st.just(Path("/etc/ca.pem"))),
        listen_port=draw(st.integers(1, 65535)),
        include_subdomains=draw(st.booleans()),
    )


@given(settings_values())
def test_render_parse_round_trip(settings: Settings) -> None:
    assert parse_settings(render_settings(settings)) == settings


def test_unreadable_ca_file_is_refused_at_load_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "netwarden.conf").write_text("# upstream CA\ndns/caFile = gone.pem\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert (caught.value.line, caught.value.field) == (2, "dns/caFile")
    assert "gone.pem" in caught.value.message


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("dot://192.0.2.1", "needs verify="),
        ("dns://192.0.2.1?name=", "is empty"),
        ("dns://[fe80::1%25eth0]", "not supported"),
    ],
)
def test_nameservers_the_daemon_could_not_use_are_refused_at_load(
    url: str, why: str
) -> None:
    with pytest.raises(ConfigError, match=why) as caught:
        parse_settings(f"dns/nameservers = {url}\n")
    assert (caught.value.line, caught.value.field) == (1, "dns/nameservers")


def test_a_ca_file_that_is_no_regular_file_is_refused_without_blocking(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / "ca.fifo")  # opening it would wait for a writer
    (tmp_path / "netwarden.conf").write_text("dns/caFile = ca.fifo\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert (caught.value.line, caught.value.field) == (1, "dns/caFile")
    assert "is not a regular file" in caught.value.message
