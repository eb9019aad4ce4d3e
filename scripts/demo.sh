#!/usr/bin/env bash
# Set up, start a server on the built-in petabyte-scale sample, connect a scripting client,
# move around, and save what it saw to demo-output/. Extra arguments go to the demo
# (python -m napari_engine.demo --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m napari_engine.demo "$@"
