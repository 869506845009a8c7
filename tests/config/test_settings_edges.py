"""The config file at its edges: every error names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.config.file import load_settings, parse_settings, render_settings
from netwarden.config.options import OptionRegistry
from netwarden.errors import ConfigError

RULES = "filter/endpoints"
LISTS_AB = "intel/listFile = A /a\nintel/listFile = B /b\n"


def config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, source="edge.conf")
    assert caught.value.source == "edge.conf"
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("dns/caFile =", 1, "dns/caFile", "needs a value"),
        ("dns/caFile = a\n\ndns/caFile = b", 3, "dns/caFile", "first on line 1"),
        ("dns/listenPort = 53\n# c\n dns/listenPort = 53", 3, "dns/listenPort", ""),
        ("= x", 1, "", "unknown option"),
        ("\n\n  filter/endpoints  ", 3, None, "expected 'key = value'"),
        ("FILTER/DEFAULTACTION = block", 1, "FILTER/DEFAULTACTION", "unknown"),
        ("dns/listenPort = 5353 # why", 1, "dns/listenPort", "'5353 # why'"),
        ("filter/lists = a b", 1, "filter/lists", "'a b': a list ID"),
        (LISTS_AB + "filter/lists = A\n\nfilter/lists = C", 5, "filter/lists", "C"),
        (LISTS_AB + "intel/listFile = B /c", 3, "intel/listFile", "B declared"),
        ("filter/endpoints = + ok.example\nfilter/endpoints = - AS1", 2, RULES, "AS1"),
        ("dns/nameservers = dot://dns.example", 1, "dns/nameservers", "needs ip="),
        ("filter/includeSubdomains = maybe\nx", 1, "filter/includeSubdomains", ""),
    ],
)
def test_errors_point_at_the_offending_line(
    text: str, line: int, field: str | None, message: str
) -> None:
    error = config_error(text)
    assert error.line == line
    assert error.field == field
    assert message in error.message
    assert str(error).startswith(f"edge.conf:{line}: ")


def test_unsupported_entity_names_the_endpoints_option() -> None:
    error = config_error("filter/endpoints = + ok.example\nfilter/endpoints = - AS1")
    assert error.field == "filter/endpoints"
    assert error.message == "entity type autonomous system is not supported yet: - AS1"


def test_non_ascii_digit_in_a_rule_is_a_config_error_with_its_line() -> None:
    error = config_error("# x\nfilter/endpoints = + * ²")
    assert (error.line, error.field) == (2, "filter/endpoints")


def test_lists_may_come_before_their_files_and_keep_their_order() -> None:
    settings = parse_settings("filter/lists = B\nfilter/lists = A\n" + LISTS_AB)
    assert settings.active_lists == ("B", "A")
    assert [list_file.list_id for list_file in settings.list_files] == ["A", "B"]


def test_a_list_named_twice_is_active_once() -> None:
    text = LISTS_AB + "filter/lists = A\nfilter/lists = A\n"
    assert parse_settings(text).active_lists == ("A",)


def test_empty_line_for_a_repeatable_key_adds_nothing() -> None:
    settings = parse_settings(
        "filter/endpoints =\nfilter/endpoints = + a.example\nfilter/endpoints =\n"
    )
    assert [rule.render() for rule in settings.endpoint_rules] == ["+ a.example"]


def test_whitespace_comments_and_crlf() -> None:
    settings = parse_settings(
        "\r\n   # indented comment\r\n\t\r\n"
        "filter/defaultAction=block\r\n"
        "  filter/endpoints   =   - a.example   # the reason  \r\n",
        source="w.conf",
    )
    assert settings.default_action == "block"
    rule = settings.endpoint_rules.rules[0]
    assert (rule.comment, rule.line, rule.source) == ("the reason", 5, "w.conf")


@pytest.mark.parametrize(
    ("value", "config_dir", "expected"),
    [
        ("ca.pem", Path("/etc/nw"), Path("/etc/nw/ca.pem")),
        ("/srv/ca.pem", Path("/etc/nw"), Path("/srv/ca.pem")),
        ("ca.pem", None, Path("ca.pem")),
    ],
)
def test_relative_paths_follow_the_config_dir(
    value: str, config_dir: Path | None, expected: Path
) -> None:
    text = f"dns/caFile = {value}\nintel/listFile = L {value}\n"
    settings = parse_settings(text, config_dir=config_dir)
    assert settings.ca_file == expected
    assert settings.list_files[0].path == expected


def test_byte_order_mark_is_not_part_of_the_first_key(tmp_path: Path) -> None:
    (tmp_path / "netwarden.conf").write_bytes(
        "filter/defaultAction = block\n".encode("utf-8-sig")
    )
    assert load_settings(tmp_path).default_action == "block"


def test_a_directory_in_place_of_the_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "netwarden.conf").mkdir()
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert caught.value.source == str(tmp_path / "netwarden.conf")
    assert caught.value.message.startswith("cannot read config file")


def test_an_error_in_the_file_names_its_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "netwarden.conf"
    path.write_text("filter/defaultAction = block\ndns/listenPort = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert str(caught.value) == (
        f"{path}:2: dns/listenPort: '0': a port is a number from 1 to 65535"
    )


def test_export_lists_every_option_with_its_help() -> None:
    text = render_settings(parse_settings(""))
    for option in OptionRegistry.standard():
        assert f"# {option.key} ({option.value_type}): {option.help}" in text
    assert "\n# dns/caFile =\n" in text  # unset, shown commented out
    assert "\nfilter/endpoints =\n" in text  # set, to no rules
    assert "\ndns/listenPort = 53\n" in text


def test_export_of_a_loaded_file_reads_back_equal(
    tmp_path: Path, ca_pem: bytes
) -> None:
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    (tmp_path / "netwarden.conf").write_text(
        LISTS_AB + "dns/caFile = ca.pem\nfilter/lists = B\n"
        "filter/endpoints = - .t.example tcp/443 # trackers\n"
    )
    settings = load_settings(tmp_path)
    exported = render_settings(settings)
    assert parse_settings(exported, config_dir=Path("/elsewhere")) == settings
    assert f"dns/caFile = {tmp_path / 'ca.pem'}" in exported


KEYS = st.sampled_from([option.key for option in OptionRegistry.standard()])
VALUES = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=30)


@given(st.lists(st.tuples(KEYS, VALUES), max_size=6))
def test_any_value_is_taken_or_refused_with_a_config_error(
    lines: list[tuple[str, str]],
) -> None:
    text = "\n".join(f"{key} = {value}" for key, value in lines)
    try:
        parse_settings(text, source="fuzz.conf")
    except ConfigError as err:
        assert err.source == "fuzz.conf"
        assert err.line is not None and 1 <= err.line <= len(lines)
