"""The protocol and the client stay light: no napari, Qt, vispy or GL on import."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("napari", "vispy", "qtpy", "PyQt6", "OpenGL")


def _imported_after(statement: str) -> list[str]:
    code = f"import sys; {statement}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_protocol_imports_nothing_heavy() -> None:
    assert _imported_after("import napari_engine.protocol") == []


def test_scripting_client_imports_nothing_heavy() -> None:
    assert _imported_after("import napari_engine; napari_engine.connect") == []
