"""A private Xvfb display for the tools and tests that need a real napari window."""

from __future__ import annotations

import os
import shutil
import subprocess


def start_xvfb(size: str = "2200x1400x24") -> tuple[subprocess.Popen[bytes], str] | None:
    """Start Xvfb on a free display; returns the process and ``:N``, or None when Xvfb is
    not installed or did not start (scripts/setup.sh installs it)."""
    if shutil.which("Xvfb") is None:
        return None
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", size,
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        return None
    return proc, f":{number}"
