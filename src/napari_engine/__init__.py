"""napari-engine: a headless napari next to the data, streaming frames to your napari.

Public API::

    import napari_engine
    viewer = napari_engine.connect("ws://127.0.0.1:8765/?token=...")
    viewer.scene.camera.zoom = 2
    image = viewer.screenshot()   # RGBA numpy array reflecting every change above

``connect`` and ``ProxyViewer`` are imported on first use: the server and the pure
protocol package must not pay for the client's napari import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from napari_engine.client.viewer import ProxyViewer, connect

__all__ = ["ProxyViewer", "__version__", "connect"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("ProxyViewer", "connect"):
        from napari_engine.client import viewer

        return getattr(viewer, name)
    raise AttributeError(f"module 'napari_engine' has no attribute {name!r}")
