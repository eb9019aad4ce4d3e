"""Entry point for ``python -m napari_engine.server``."""

import sys

from napari_engine.server.cli import main

sys.exit(main())
