"""The one data-file loader: every mistake as "file: where: field: message", one error type, bounded input."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from plantcarbon_core import datafile
from plantcarbon_core.datafile import DataFileError, Problem


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    size: float = Field(gt=0)


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    items: list[Item]


def test_every_mistake_is_reported_with_its_item_and_field() -> None:
    text = "name: x\nitems:\n  - {id: a, size: 0}\n  - {size: 2, colour: red}\n"
    with pytest.raises(DataFileError) as info:
        datafile.parse(text, Doc, "doc.yaml", expect="name and items")
    assert info.value.errors == [
        "doc.yaml: items[0] (id=a): size: must be > 0, got 0",
        "doc.yaml: items[1].id: required field is missing",
        "doc.yaml: items[1].colour: unknown field (check the spelling), got 'red'",
    ]
    assert info.value.problems[0] == Problem("doc.yaml", "must be > 0, got 0", "items[0] (id=a)", "size")
    assert str(info.value) == "\n".join(info.value.errors)


def test_syntax_errors_name_line_and_column_and_a_non_mapping_says_what_is_expected() -> None:
    with pytest.raises(DataFileError, match=r"^doc.yaml:3:1: not valid YAML: "):
        datafile.parse("name: x\nitems: [\n", Doc, "doc.yaml")
    with pytest.raises(DataFileError, match=r"^doc.yaml: must be a mapping with name and items, got list$"):
        datafile.parse("- a\n", Doc, "doc.yaml", expect="name and items")


def test_unreadable_too_large_and_not_utf8_files_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nope.yaml: cannot read: No such file"):
        datafile.load(tmp_path / "nope.yaml", Doc)
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "#" * 100 + "\n")
    with pytest.raises(DataFileError, match=r"big.yaml: too large: 109 bytes, at most 100"):
        datafile.read_text(big, max_bytes=100)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataFileError, match=r"latin.yaml: not UTF-8 text"):
        datafile.load(latin, Doc)


def test_a_hostile_value_is_quoted_bounded() -> None:
    with pytest.raises(DataFileError) as info:
        datafile.validate(Doc, {"name": "x", "items": [], "junk": "z" * 10_000}, "doc.yaml")
    (line,) = info.value.errors
    assert line.startswith("doc.yaml: junk: unknown field (check the spelling), got 'zzz") and len(line) < 300
