from __future__ import annotations

from pathlib import Path

from netwarden.config.options import OptionRegistry
from netwarden.config.reference import BEGIN_MARK, END_MARK, render_option_table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_docs_carry_the_generated_option_table() -> None:
    text = DOCS.read_text()
    start, end = text.index(BEGIN_MARK), text.index(END_MARK) + len(END_MARK)

    assert text[start:end] + "\n" == render_option_table(OptionRegistry.standard())


def test_every_option_is_in_the_table() -> None:
    table = render_option_table(OptionRegistry.standard())
    for option in OptionRegistry.standard():
        assert f"| `{option.key}` |" in table
