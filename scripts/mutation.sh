#!/usr/bin/env bash
# Mutation testing of the pure modules (protocol, the stream policy and adaptation, encode):
# mutmut changes the code one small edit at a time and runs their tests; a mutant the
# tests do not notice "survived". A benchmark-style run, not part of CI (about 3 minutes
# on 2 cores). It works on a copy of the tree, so the checkout stays as it is.
# Prints mutmut's summary; `mutmut results` / `mutmut show NAME` in the copy say more.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pip show mutmut >/dev/null 2>&1 || .venv/bin/python -m pip install -q "mutmut>=3.3"
work="$(mktemp -d)/napari-engine-mutation"
git clone -q . "$work"
cp pyproject.toml "$work/"  # the configuration as it is now, committed or not
cd "$work"
# mutmut runs the tests inside mutants/; its src must come before the editable install
PYTHONPATH=src "$OLDPWD/.venv/bin/mutmut" run --max-children "$(nproc)" | tr '\r' '\n' | tail -n 3
echo "mutants and results: $work"
