"""The protocol stays pure, and the scripting client stays off Qt and GL."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("napari", "vispy", "qtpy", "PyQt6", "OpenGL")
#: the scripting viewer is napari's ViewerModel (napari imports parts of vispy), but
#: no window, Qt or GL comes with it
WINDOWING = ("qtpy", "PyQt6", "OpenGL", "vispy.app", "napari._qt",
             "napari._vispy")


def _imported_after(statement: str, names: tuple[str, ...]) -> list[str]:
    code = f"import sys; {statement}; print(','.join(m for m in {names!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_protocol_imports_nothing_heavy() -> None:
    assert _imported_after("import napari_engine.protocol", HEAVY) == []


def test_package_import_is_light_until_the_client_is_used() -> None:
    assert _imported_after("import napari_engine", HEAVY) == []


def test_scripting_client_needs_no_qt_or_gl() -> None:
    statement = "import napari_engine; napari_engine.connect; import napari.components"
    assert _imported_after(statement, WINDOWING) == []
    assert _imported_after(statement, ("napari",)) == ["napari"]  # the real check ran
