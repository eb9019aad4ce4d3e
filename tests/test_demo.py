"""The README's first command: the tour, then napari's window where a display is."""

from __future__ import annotations

import pytest

from napari_engine import demo


def test_the_window_opens_only_where_a_display_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo.sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert not demo.has_display()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert demo.has_display()
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.setenv("DISPLAY", ":0")
    assert demo.has_display()
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setattr(demo.sys, "platform", "darwin")
    assert demo.has_display()
