"""napari's own test suites for ``ViewerModel`` and ``LayerList`` (they ship in napari's
wheel), run against sessions of a real server: every ``ViewerModel()`` they make is a
fresh session seen through ``napari_engine.connect`` (``tests/napari_suites/plugin.py``).

Each test that cannot pass is listed with the reason; any other failure fails this
test, and so does a listed one that starts passing (the list must stay true). The
outcome of every test is written to ``test-output/napari_suites.txt``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import napari

from napari_engine.server.process import ServerProcess
from tests.conftest import ROOT

SUITES = Path(napari.__file__).parent / "components" / "_tests"
MODULES = ("test_viewer_model.py", "test_layers_list.py")

#: napari's tests that cannot pass against a server, and why
CANNOT_PASS = {
    "test_viewer_model.test_add_image_multichannel_share_memory":
        "np.may_share_memory(script's array, layer.data): the layer's data is the "
        "server's copy",
    "test_viewer_model.test_add_multiscale":
        "layer.data == levels compares the level lists by identity of their arrays; the "
        "levels are the server's",
    "test_viewer_model.test_add_multiscale_image_with_negative_floats":
        "as test_add_multiscale",
    "test_layers_list.test_layer_renamed_event_connection_management":
        "counts the callbacks of a bare LayerList; in a viewer's list (napari's own "
        "ViewerModel's too) ViewerModel._update_name is a third",
    "test_layers_list.test_warn_units_dimensions1":
        "a bare LayerList; in a viewer's list (napari's own ViewerModel's too) napari "
        "raises IndexError in _merge_dims_and_layers_axis_labels before the warning",
}


def _outcomes(report: Path) -> dict[str, str]:
    """test id ("module.test[params]") -> passed | failed | skipped, from JUnit XML."""
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").rpartition(".")[2]
        status = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                status = "failed"
            elif child.tag == "skipped":
                status = "skipped"
        outcomes[f"{module}.{case.get('name')}"] = status
    return outcomes


def _failures(report: Path, wanted: list[str]) -> str:
    """The failure texts of the tests ``wanted`` (to tell why one failed unexpectedly)."""
    out = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        test = f"{case.get('classname', '').rpartition('.')[2]}.{case.get('name')}"
        if test in wanted:
            out += [f"{test}: {(child.text or child.get('message') or '')[-3000:]}"
                    for child in case if child.tag in ("failure", "error")]
    return "\n".join(out)


def _run_suite(module: str, url: str, workdir: Path) -> tuple[subprocess.Popen[str], Path]:
    """napari's test ``module`` against the server at ``url``, started (not waited on)."""
    workdir.mkdir()
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")
    env = {**os.environ, "NAPARI_ENGINE_SUITE_URL": url,
           "NAPARI_CONFIG": str(workdir / "napari.yaml"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    report = workdir / "suite.xml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
         "tests.napari_suites.plugin", "-c", str(ini), "--rootdir", str(SUITES),
         "--confcutdir", str(SUITES), "-W", "ignore", "--tb=line",
         f"--junitxml={report}", str(SUITES / module)],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, report


def test_napari_viewer_model_and_layer_list_suites_on_a_server(
        tmp_path: Path, output_dir: Path) -> None:
    args = ["--empty", "--token", "t", "--size", "200x150", "--session-idle", "1",
            "--journal-dir", "none", "--log-level", "WARNING"]
    # one server and one pytest a module, side by side (each server draws on its own)
    with ServerProcess(args) as first, ServerProcess(args) as second:
        runs = [_run_suite(module, server.url, tmp_path / module.removesuffix(".py"))
                for module, server in zip(MODULES, (first, second), strict=True)]
        output = [proc.communicate(timeout=600)[0] for proc, _report in runs]
    tail = "\n".join(out[-2000:] for out in output)
    outcomes: dict[str, str] = {}
    for _proc, report in runs:
        assert report.exists(), tail
        outcomes.update(_outcomes(report))
    failed = sorted(t for t, status in outcomes.items() if status == "failed")
    passed = sum(status == "passed" for status in outcomes.values())
    lines = [f"napari {napari.__version__}: {passed} of {len(outcomes)} of napari's "
             f"ViewerModel and LayerList tests pass against a napari-engine server", ""]
    lines += [f"{status:8} {test}" + (f"  -- {CANNOT_PASS[test]}" if test in CANNOT_PASS
                                       else "") for test, status in sorted(outcomes.items())]
    (output_dir / "napari_suites.txt").write_text("\n".join(lines) + "\n")
    assert len(outcomes) > 150, tail  # the suites ran, all of them
    unexpected = [t for t in failed if t not in CANNOT_PASS]
    why = "\n".join(_failures(report, unexpected) for _proc, report in runs)
    assert not unexpected, f"{unexpected}\n{why}\n{tail}"
    passing_now = [t for t in CANNOT_PASS if outcomes.get(t) == "passed"]
    assert not passing_now, f"listed as failing, but pass: {passing_now}"
