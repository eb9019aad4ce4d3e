"""Private napari and vispy APIs are touched only in the ``*napari_compat.py`` modules.

Each side has one small module (``server/napari_compat.py``; ``client/napari_compat.py``
and ``client/qt_napari_compat.py``) where napari's and vispy's private modules and
attributes are used, tested against the pinned napari range, so an upgrade breaks in one
place. Everywhere else: no import of a private module, and no ``obj._name`` on anything
but ``self``/``cls`` (which also keeps the project's own objects from reaching into each
other's privates).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "napari_engine"
EXTERNAL = ("napari", "vispy")
#: documented APIs whose names start with an underscore
PUBLIC = {("os", "_exit")}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if not p.name.endswith("napari_compat.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_import(module: str) -> bool:
    parts = module.split(".")
    return parts[0] in EXTERNAL and any(_private(p) for p in parts[1:])


def violations(tree: ast.AST) -> list[str]:
    """What in ``tree`` reaches into a private API."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _private_import(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _private_import(node.module) or (
                    node.module.split(".")[0] in EXTERNAL
                    and any(_private(a.name) for a in node.names)):
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super":
                continue
            if isinstance(owner, ast.Name) and (owner.id, node.attr) in PUBLIC:
                continue
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def test_the_check_finds_what_it_looks_for() -> None:
    code = ("import napari._qt\nfrom vispy.app.backends._egl import x\n"
            "from napari.utils import _private\ncanvas._draw_scene()\nself._fine()\n")
    assert len(violations(ast.parse(code))) == 4


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_api_outside_the_compat_modules(path: Path) -> None:
    assert violations(ast.parse(path.read_text())) == []


def test_every_module_was_looked_at() -> None:
    assert len(_modules()) > 50
