"""The option registry and each option's parser and renderer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.config.options import (
    DEFAULT_ACTION,
    LIST_FILE,
    LISTEN_PORT,
    STANDARD_OPTIONS,
    DefaultAction,
    ListFile,
    Location,
    Option,
    OptionRegistry,
    parse_bool,
    parse_default_action,
    parse_list_file,
    parse_list_id,
    parse_port,
    render_bool,
    render_list_file,
)
from netwarden.errors import ConfigError

HERE = Location("t.conf", 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("YES", True),
        ("On", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("OFF", False),
        ("0", False),
    ],
)
def test_bool_spellings(text: str, expected: bool) -> None:
    assert parse_bool(text, HERE) is expected
    assert parse_bool(render_bool(expected), HERE) is expected


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_bool, "2", "'2': use true or false"),
        (parse_bool, "y", "use true or false"),
        (parse_bool, "", "use true or false"),
        (parse_port, "65536", "'65536': a port is a number from 1 to 65535"),
        (parse_port, "-1", "a port is a number"),
        (parse_port, "+53", "a port is a number"),
        (parse_port, "5353 # c", "a port is a number"),
        (parse_port, "", "a port is a number"),
        (parse_default_action, "Ask", "'ask' (prompting) is not supported yet"),
        (parse_default_action, "deny", "'deny': use permit or block"),
        (parse_default_action, "", "use permit or block"),
        (parse_list_id, "a b", "'a b': a list ID is letters, digits"),
        (parse_list_id, "A.B", "a list ID is"),
        (parse_list_id, "", "a list ID is"),
        (parse_list_file, "Only", "'Only': expected '<ID> <path>'"),
        (parse_list_file, "Id   ", "expected '<ID> <path>'"),
        (parse_list_file, "bad/id /x", "a list ID is"),
        (parse_list_file, " /path", "a list ID is"),
    ],
)
def test_parsers_refuse_with_the_value_named(
    parse: Callable[[str, Location], Any], text: str, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        parse(text, HERE)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", 1), ("53", 53), ("053", 53), ("65535", 65535)],
)
def test_ports(text: str, expected: int) -> None:
    assert parse_port(text, HERE) == expected


# Arabic-Indic three, superscript two, full-width fifty-three.
@pytest.mark.parametrize("text", ["\u0663", "\u00b2", "\uff15\uff13"])
def test_ports_are_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError, match="a port is a number from 1 to 65535"):
        parse_port(text, HERE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PERMIT", DefaultAction.PERMIT),
        ("block", DefaultAction.BLOCK),
        ("Block", DefaultAction.BLOCK),
    ],
)
def test_default_action_ignores_case(text: str, expected: DefaultAction) -> None:
    assert parse_default_action(text, HERE) is expected
    assert DEFAULT_ACTION.render(expected) == expected.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A /a", ListFile("A", Path("/a"))),
        ("my_list-2 lists/x.txt", ListFile("my_list-2", Path("lists/x.txt"))),
        ("A /dir with spaces/x.txt", ListFile("A", Path("/dir with spaces/x.txt"))),
        ("A    /padded  ", ListFile("A", Path("/padded"))),
    ],
)
def test_list_file(text: str, expected: ListFile) -> None:
    assert parse_list_file(text, HERE) == expected


@given(
    list_id=st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),
    path=st.from_regex(r"/[a-z0-9 ._-]{0,20}[a-z0-9]", fullmatch=True),
)
def test_list_file_round_trip(list_id: str, path: str) -> None:
    value = ListFile(list_id, Path(path))
    assert parse_list_file(render_list_file(value), HERE) == value
    assert LIST_FILE.render(value) == f"{list_id} {path}"


@given(st.integers(1, 65535))
def test_port_round_trip(port: int) -> None:
    assert parse_port(LISTEN_PORT.render(port), HERE) == port


@pytest.mark.parametrize("option", STANDARD_OPTIONS, ids=lambda o: o.key)
def test_every_default_passes_its_own_parser(option: Option[Any]) -> None:
    if not option.repeatable:
        assert len(option.default) <= 1
    for text in option.default:
        value = option.parse(text, Location("default", 0))
        assert option.render(value) == text


def test_unknown_key_without_a_close_match_has_no_hint() -> None:
    with pytest.raises(ConfigError) as caught:
        OptionRegistry.standard().get("zzzz")
    assert caught.value.message == "unknown option"
    assert caught.value.field == "zzzz"


def test_close_key_is_suggested() -> None:
    with pytest.raises(ConfigError) as caught:
        OptionRegistry.standard().get("dns/listenPrt")
    assert caught.value.message == "unknown option; did you mean dns/listenPort?"


def test_a_key_cannot_be_declared_twice() -> None:
    with pytest.raises(ValueError, match="option dns/listenPort declared twice"):
        OptionRegistry([LISTEN_PORT, DEFAULT_ACTION, LISTEN_PORT])


def test_registry_is_a_container_in_declaration_order() -> None:
    registry = OptionRegistry([LISTEN_PORT, DEFAULT_ACTION])
    assert list(registry) == [LISTEN_PORT, DEFAULT_ACTION]
    assert "filter/defaultAction" in registry
    assert "filter/endpoints" not in registry
    assert registry.get("dns/listenPort") is LISTEN_PORT
