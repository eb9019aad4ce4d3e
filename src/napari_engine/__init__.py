"""napari-engine: a headless napari next to the data, streaming frames to your napari.

Public API::

    import napari_engine
    viewer = napari_engine.connect("ws://127.0.0.1:8765/?token=...")
    viewer.camera.zoom = 2
    image = viewer.screenshot()   # RGBA numpy array reflecting every change above
"""

from napari_engine.client.proxy import ProxyViewer, connect

__all__ = ["ProxyViewer", "__version__", "connect"]
__version__ = "0.1.0"
