"""The headless render server: napari's own ViewerModel and vispy canvas on EGL, sessions,
a render/encode engine thread, and a websocket front end. Start it with
``python -m napari_engine.server``."""
