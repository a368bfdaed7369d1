"""Progress lines on stderr for the training commands (stdout stays clean for --json)."""

from __future__ import annotations

import time


def stderr_progress(command):
    """progress(stage=..., epoch=..., percent=...) writing one line per change to the command's stderr."""
    started, last = time.monotonic(), [""]

    def progress(stage=None, epoch=None, percent=None, **_ignored):
        line = f"{percent or 0:>3}%  {stage or ''}" + (f" epoch {epoch}" if epoch else "")
        if line != last[0]:
            command.stderr.write(f"{line}  ({time.monotonic() - started:.0f} s)")
            last[0] = line

    return progress
