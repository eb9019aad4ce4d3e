"""Clients of a napari-engine server. ``connection`` speaks the protocol from a background
asyncio thread; ``proxy`` is the napari-like scripting API on top of it."""
