"""Entry point for ``python -m napari_engine.client``."""

import sys

from napari_engine.client.gui import main

sys.exit(main())
