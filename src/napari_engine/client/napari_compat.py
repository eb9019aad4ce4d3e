"""Every private napari API the client's viewer model touches (no Qt here; the window's
are in ``qt_napari_compat``).

Supported: napari >=0.9.2,<0.10 (as the server).

* ``ViewerModel._calc_status_from_cursor`` computes the status bar text from the local
  layers' data; ``StatusFromServer`` answers with the server's text instead.
"""

from __future__ import annotations

from typing import Any

from napari.components import ViewerModel


class StatusFromServer(ViewerModel):
    """A ``ViewerModel`` whose status bar text is what the server computed.

    napari computes the status text (coordinates and the data value under the cursor)
    from the local layers' data in ``_calc_status_from_cursor``; the client's layers hold
    only placeholders, so the value must come from the server instead
    (``set_remote_status``, with each ``cursor.set`` reply).
    """

    _remote_status: tuple[Any, str] | None = None

    def set_remote_status(self, status: Any, tooltip: str) -> None:
        self._remote_status = (status, tooltip)

    def _calc_status_from_cursor(self) -> tuple[Any, str] | None:
        if not self.mouse_over_canvas:
            return None
        return self._remote_status
