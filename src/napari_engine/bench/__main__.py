"""Entry point for ``python -m napari_engine.bench``."""

import sys

from napari_engine.bench.run import main

sys.exit(main())
