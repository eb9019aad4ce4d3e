"""How large the server makes itself unless told (``sizing``, ``--workers auto``,
``--memory-limit auto``)."""

from __future__ import annotations

import argparse

import pytest

from napari_engine.server import cli, sizing


def test_one_worker_per_four_cores_and_none_below() -> None:
    assert [sizing.auto_workers(c) for c in (1, 2, 3, 4, 7, 8, 64)] == [0, 0, 0, 1, 1, 2, 16]


def test_the_machines_memory_shared_among_the_workers_but_not_under_nvidia() -> None:
    gib, room = 1 << 30, sizing.ROOM_PER_CORE
    assert sizing.auto_memory_limit(24 * gib, 0, nvidia=False) == 24 * gib + room
    assert sizing.auto_memory_limit(64 * gib, 4, nvidia=False, cores=16) == 18 * gib
    assert sizing.auto_memory_limit(24 * gib, 8, False, cores=32) == sizing.MIN_LIMIT + 4 * gib
    assert sizing.auto_memory_limit(24 * gib, 1, nvidia=True) is None


def test_the_command_line_takes_auto_a_count_or_the_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cli.WORKERS_VARIABLE, raising=False)
    assert cli.build_parser().parse_args([]).workers == sizing.default_workers()
    assert cli.build_parser().parse_args(["--workers", "3"]).workers == 3
    monkeypatch.setenv(cli.WORKERS_VARIABLE, "2")
    assert cli.build_parser().parse_args([]).workers == 2
    assert cli.build_parser().parse_args(["--workers", "auto"]).workers == \
        sizing.default_workers()
    for bad in ("-1", "many"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli._workers(bad)
    limits = [cli.build_parser().parse_args(a).memory_limit
              for a in ([], ["--memory-limit", "none"], ["--memory-limit", "2G"])]
    assert limits == ["auto", "none", 2 << 30]
