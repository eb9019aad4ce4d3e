#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the linters, the type checker, the layering
# contracts and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests
.venv/bin/mypy
.venv/bin/lint-imports
# three test processes on any machine: the servers the tests start draw and encode on the
# CPU, and while one test waits on its server another runs (on this project's 2-core
# machine: 616 s on one process, 378-411 s on three, both CPUs busy throughout).
# NAPARI_ENGINE_TEST_PROCESSES=1 runs them in order.
processes=${NAPARI_ENGINE_TEST_PROCESSES:-3}
if [ "$processes" -gt 1 ]; then
  set -- -n "$processes" --dist worksteal "$@"
fi
.venv/bin/python -m pytest "$@"
