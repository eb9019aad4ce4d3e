#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the linters, the type checker, the layering
# contracts and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
