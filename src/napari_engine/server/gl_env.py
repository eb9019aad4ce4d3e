"""Process environment for headless rendering, set before Qt or vispy is imported.

Mesa renders through EGL with no display at all when ``EGL_PLATFORM=surfaceless``;
PyOpenGL must then load its EGL flavour. napari's font machinery needs a Qt
QGuiApplication, which the ``offscreen`` platform provides without a display (it has no
OpenGL of its own; GL goes through vispy's ``egl`` backend instead).
"""

from __future__ import annotations

import os

HEADLESS_ENV = {
    "EGL_PLATFORM": "surfaceless",
    "PYOPENGL_PLATFORM": "egl",
    "QT_QPA_PLATFORM": "offscreen",
}


def prepare_headless_env() -> None:
    """Set the variables unless the user chose otherwise (e.g. an NVIDIA EGL device)."""
    for key, value in HEADLESS_ENV.items():
        os.environ.setdefault(key, value)
    # Silence Qt's complaint about the offscreen platform's missing window features.
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")
