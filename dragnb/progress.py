"""Progress bars for the stages: ``tqdm.auto`` (a widget in notebooks, text in a terminal).

A bar shows only once its stage has run for ``DELAY`` seconds (tqdm's ``delay``), so the
teaching model's quick stages print nothing, and goes away when done; in a notebook or a
terminal, not in a log file (tqdm's ``disable=None``). ``DRAGNB_PROGRESS=0`` in the
environment turns every bar off (the tests and the tutorial runner do). Bars show only in
the main thread: a notebook would put a bar from another thread (the drag widget's) under
whichever cell ran last.
"""
from __future__ import annotations

import os
import threading

from tqdm.auto import tqdm

DELAY = 1.0


def progress(items, stage: str, total: int | None = None):
    """``items`` wrapped in a bar named ``stage`` (the bare iterable when bars are off)."""
    if os.environ.get("DRAGNB_PROGRESS", "1") == "0" or threading.current_thread() is not threading.main_thread():
        return items
    return tqdm(items, desc=stage, total=total, delay=DELAY, leave=False, disable=None)
