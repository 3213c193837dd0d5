"""The drag widget's live charts: per step, the handle's distance to its target and the losses.

Two distances, as tutorial 3 teaches them: where point tracking finds the handle
(``DragStep.distance``) and, for a teaching-model scene, where the scene world finds the
dragged content in the step's preview (``bench.picture_distance``). ``Trace`` collects
them; ``chart_png`` draws them (matplotlib's Agg, no pyplot: safe off the main thread).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from .figures import HANDLE, TARGET


@dataclass
class Trace:
    """What one drag showed, step by step (distances in image pixels)."""

    length: float                                   # the drag's length (the first pair's), pixels
    steps: list = field(default_factory=list)       # optimisation step numbers
    tracking: list = field(default_factory=list)    # largest handle-to-target distance, per step
    losses: dict = field(default_factory=dict)      # {"motion": [..], "preserve": [..]}
    picture: list = field(default_factory=list)     # [(step, pixels to the target in the preview)]
    result_picture: float | None = None             # the same in the finished drag's result

    def add(self, state) -> None:
        """Record a ``DragStep``."""
        self.steps.append(state.step)
        self.tracking.append(state.distance)
        for k, v in state.losses.items():
            self.losses.setdefault(k, []).append(float(v))


def chart_png(trace: Trace, title: str = "", height: int = 384) -> bytes:
    """The trace as a PNG, ``height`` pixels high: distances to the target (top), losses on a log
    scale (bottom)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(0.75 * height / 80, height / 80), dpi=80, layout="constrained")
    left, right = fig.subplots(2, 1)
    left.axhline(trace.length, color="0.6", lw=0.8, ls=":")
    left.axhline(0, color="0.6", lw=0.8)
    if trace.steps:
        left.plot(trace.steps, trace.tracking, color=HANDLE, lw=1.5, label="tracking")
    if trace.picture:
        s, d = zip(*trace.picture)
        left.plot(s, d, "o-", color=TARGET, ms=3, lw=1, label="picture (preview)")
    if trace.result_picture is not None:
        left.plot([trace.steps[-1] + 1 if trace.steps else 0], [trace.result_picture], "*", color=TARGET, ms=10,
                  label="picture (result)")
    left.set_ylim(-0.5, max([trace.length, *trace.tracking, *(d for _, d in trace.picture),
                             trace.result_picture or 0]) * 1.15 + 0.5)
    left.set_ylabel("pixels to the target", fontsize=8)
    left.set_title(title or "distance to the target", fontsize=9)
    if trace.steps or trace.picture:
        left.legend(fontsize=7, loc="lower left")
    for name, values in trace.losses.items():
        v = np.asarray(values, float)
        right.plot(trace.steps[:len(v)], np.where(v > 0, v, np.nan), lw=1.2, label=name)
    if trace.losses:
        right.set_yscale("log")
        right.legend(fontsize=7, loc="lower left")
    right.set_xlabel("step", fontsize=8)
    right.set_title("losses", fontsize=9)
    for ax in (left, right):
        ax.tick_params(labelsize=7)
        if not trace.steps:
            ax.set_xlim(0, 1)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def nearest_keypoint(scene, point, size: int, reach: float = 4.0):
    """The draggable (object index, keypoint name, (x, y)) of ``scene`` drawn at ``size`` px
    nearest to ``point`` (x, y), if one is within ``reach`` pixels; else None."""
    best, where = reach, None
    draggable = set(scene.draggable())
    for (i, key), xy in scene.keypoints(size, inside=False).items():
        d = float(np.hypot(xy[0] - point[0], xy[1] - point[1]))
        if i in draggable and d <= best:
            best, where = d, (i, key, xy)
    return where


def scene_case(scene, handle, target, size: int):
    """The bench case (``bench.edit_case``) of a drag to ``target`` from a draggable keypoint
    of a teaching-model scene within 4 pixels of ``handle``; None if there is none. A peak,
    a tree's top or a tail is reshaped; any other keypoint's object is moved whole."""
    from ..teaching.cases import edit_case

    found = nearest_keypoint(scene, handle, size)
    if found is None:
        return None
    i, key, (x, y) = found
    return edit_case(scene, i, key, (target[0] - x) / size, (target[1] - y) / size, size,
                     move=key not in ("peak", "top", "tail"))
