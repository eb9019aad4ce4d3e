"""docs/protocol.md says what the protocol package does: every message type with its
fields, every operation, every layer property, and nothing else."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from napari_engine.protocol import (
    CLIENT_MESSAGES,
    LAYER_PROPERTIES,
    OPERATIONS,
    SERVER_MESSAGES,
    ErrorCode,
    StreamMode,
)
from napari_engine.protocol.overlays import OVERLAYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start:end if end >= 0 else None]


def _table(title: str) -> dict[str, str]:
    """First column (its backticked name) -> second column, of the table under ``title``."""
    rows = {}
    for line in _section(title).splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        found = re.fullmatch(r"`([^`]+)`( \(binary\))?", cells[0]) if len(cells) > 1 else None
        if found:
            rows[found.group(1)] = cells[1]
    return rows


def _top_level_names(cell: str) -> set[str]:
    """Backticked names in a fields cell, leaving out what nests inside {...}."""
    flat = re.sub(r"\{[^}]*\}", "", cell)
    flat = re.sub(r"\([^)]*\)", "", flat)  # value notes: (`auto`|`jpeg`|...)
    return set(re.findall(r"`([a-z_]+)`", flat))


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - {"payload"}


@pytest.mark.parametrize("title, table", [("## Client to server", CLIENT_MESSAGES),
                                          ("## Server to client", SERVER_MESSAGES)])
def test_every_message_type_and_field_is_documented(title: str, table: dict[str, type]) -> None:
    documented = _table(title)
    assert set(documented) == set(table)
    for kind, cls in table.items():
        assert _top_level_names(documented[kind]) == _fields(cls), kind


def test_every_operation_is_documented() -> None:
    assert set(_table("### Operations")) == {str(op) for op in OPERATIONS}


def test_every_layer_property_is_documented() -> None:
    documented = _table("### Layer properties")
    assert set(documented) == set(LAYER_PROPERTIES)
    for name, prop in LAYER_PROPERTIES.items():
        assert ("yes" in documented[name]) == prop.settable, name


def test_every_canvas_overlay_field_is_documented() -> None:
    documented = _table("### Canvas overlays")
    assert set(documented) == set(OVERLAYS)
    for name, fields in OVERLAYS.items():
        assert [x.strip() for x in documented[name].split(",")] == [f.name for f in fields]


def test_error_codes_and_stream_modes_are_documented() -> None:
    text = DOC.read_text()
    for name in [*(str(c) for c in ErrorCode), *(str(m) for m in StreamMode)]:
        assert f"`{name}`" in text, name
