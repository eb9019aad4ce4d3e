"""Drawn commands against a real server (a short run of ``bench.fuzz``'s server phase):
every one answered, no traceback in the log, the server alive, and a well-behaved
client in another session still gets its screenshot."""

from __future__ import annotations

from pathlib import Path

from napari_engine.bench.fuzz import run_server


def test_drawn_commands_neither_crash_nor_hang_the_server(tmp_path: Path) -> None:
    result = run_server(cases=150, seed=7, answer_s=30.0, log=tmp_path / "server.log")
    assert result["alive"] and result["cases"] == 150
    assert result["findings"] == []
