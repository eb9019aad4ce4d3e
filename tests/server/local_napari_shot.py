"""Take a screenshot with plain local napari in a real Qt window (run under Xvfb).

Used by test_fidelity.py as the reference: ``python local_napari_shot.py DATA.npy
PARAMS.json OUT.npy``. PARAMS holds add_image keyword arguments and the view (ndisplay,
camera center/zoom/angles, canvas size).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    data_path, params_path, out_path = sys.argv[1:4]
    params = json.loads(Path(params_path).read_text())
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    viewer.add_image(np.load(data_path), **params["layer"])
    viewer.dims.ndisplay = params["ndisplay"]
    if "current_step" in params:
        viewer.dims.current_step = tuple(params["current_step"])
    camera = params["camera"]
    viewer.scene.camera.center = tuple(camera["center"])
    viewer.scene.camera.zoom = camera["zoom"]
    if "angles" in camera:
        viewer.scene.camera.angles = tuple(camera["angles"])
    for _ in range(5):
        QApplication.processEvents()
    width, height = params["size"]
    shot = viewer.screenshot(size=(height, width), canvas_only=True, flash=False)
    np.save(out_path, np.asarray(shot))
    viewer.close()


if __name__ == "__main__":
    main()
