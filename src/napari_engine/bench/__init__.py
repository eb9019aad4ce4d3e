"""``python -m napari_engine.bench``: measure a real server on loopback.

It starts the server as a child process (exactly as a user would), connects real
websocket clients, and drives the scene the way a person does: a continuous pan, a
z-scroll, single moves for latency, jumps far across the petabyte sample for memory.
"""
