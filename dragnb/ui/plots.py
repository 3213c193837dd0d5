"""Pictures of each stage, as matplotlib figures.

Small images (the teaching model's 64x64) are drawn with nearest-neighbour
interpolation, so they stay crisp when shown large.

Every function returns its figure, shown once in a notebook (``figures``). The pictures of the
features and the region (heatmaps, correspondences, the sweep over DIFT's timestep, masks) are drawn
by ``feature_plots``, the optimisation's mechanism (``mechanism``, ``mechanism_strip``) by
``mechanism_plots``, the drag's animation (``drag_animation``, ``save_animation``) by ``animation``;
all are named here.
"""
from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import validate
from ..images import load_image
from .animation import drag_animation, save_animation
from .feature_plots import correspondence, dift_sweep, heatmap, heatmaps, mask_overlay, pca, region
from .figures import HANDLE, PATH, PATH_DARK, TARGET, check_result, check_steps, new_figure, panels, show
from .mechanism_plots import mechanism, mechanism_strip

__all__ = ["before_after", "correspondence", "costs", "dift_sweep", "displacement_field", "drag_animation",
           "drag_arrows", "drag_losses",
           "gallery", "heatmap", "heatmaps", "image_grid", "loss_curve", "mask_overlay", "mechanism", "mechanism_strip",
           "pca", "region",
           "save_animation", "teaser", "trajectory", "two_distances", "variants"]


def loss_curve(curves: dict, title: str | None = None, smooth: int = 25, log: bool = True):
    """One panel per named curve (name -> list of values), raw and moving-average."""
    if not isinstance(curves, dict):
        raise TypeError(f"curves must be a dict of name -> list of values, got {type(curves).__name__}")
    smooth = validate.number("smooth", smooth, int, 1, 100_000)
    curves = {k: validate.array(f"curves[{k!r}]", v, 1, finite=False) for k, v in curves.items()
              if not (hasattr(v, "__len__") and len(v) == 0)}
    if not curves:
        raise ValueError("curves holds no values to draw")
    fig = new_figure((4.5 * max(1, len(curves)), 3.2))
    axes = fig.subplots(1, max(1, len(curves)), squeeze=False)[0]
    for i, (ax, (name, v)) in enumerate(zip(axes, curves.items())):
        smoothed = len(v) >= smooth > 1
        if smoothed:   # many steps: the raw curve pale, its moving average in colour
            ax.plot(v, color="0.75", lw=0.8, label="per step")
        else:          # few steps: every step in colour, with markers
            ax.plot(v, color=f"C{i}", lw=1.8, marker="o", ms=3, label="per step")
        if smoothed:
            ax.plot(np.arange(smooth - 1, len(v)), np.convolve(v, np.ones(smooth) / smooth, "valid"),
                    color="C0", lw=1.8, label=f"mean of {smooth}")
        if log and (v > 0).all():
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def image_grid(images, cols: int = 8, titles=None, scale: float = 1.5):
    """Images in a grid, ``scale`` inches each, crisp for small ones."""
    images = validate.sequence("images", images)
    cols = validate.number("cols", cols, int, 1, 1000)
    titles = validate.titles("titles", titles, len(images))
    scale = validate.number("scale", scale, float, 0, 20, lo_open=True)
    n = len(images)
    rows = max(1, -(-n // cols))
    fig = new_figure((scale * min(cols, n), scale * rows))
    axes = fig.subplots(rows, min(cols, n), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            show(ax, images[i], None if titles is None else titles[i])
    return fig


def drag_arrows(image, handles, targets, ax=None, title: str | None = None, mask=None):
    """Image with numbered arrows from each handle (red) to its target (blue); ``mask``
    (H, W) bool, if given, tinted and outlined (the region that may change)."""
    handles = validate.points("handles", handles)
    targets = validate.points("targets", targets, len(handles))
    fig = None
    if ax is None:
        fig, (ax,) = panels(1, 4)
    if mask is not None:
        mask_overlay(image, mask, ax=ax, title=title)
    else:
        show(ax, image, title)
    ax.apply_aspect()                    # where the points land on the figure, to size the arrows
    points = 72 / ax.figure.dpi          # typographic points per display pixel
    edge = 6 / 2 + 1                     # a marker's radius with its white rim, points
    for i, (h, t) in enumerate(zip(handles, targets)):
        ax.plot([h[0]], [h[1]], "o", ms=6, mfc=HANDLE, mec="white", mew=1, zorder=3)
        ax.plot([t[0]], [t[1]], "o", ms=6, mfc=TARGET, mec="white", mew=1, zorder=3)
        long = np.hypot(*np.subtract(ax.transData.transform(t), ax.transData.transform(h))) * points
        shrink = min(edge, max(0.0, (long - 4) / 2))   # rim to rim, so no marker hides the arrowhead
        for colour, lw in (("white", 2.5), ("black", 1)) if long >= 4 else ():   # shorter: the dots touch
            ax.annotate("", xy=t, xytext=h, zorder=4, arrowprops=dict(arrowstyle="->", color=colour, lw=lw,
                                                                      shrinkA=shrink, shrinkB=shrink))
        ax.text(h[0], h[1], f" {i + 1}", color="white", fontsize=9, fontweight="bold", va="top", zorder=4)
    return fig if fig is not None else ax.figure


def trajectory(image, history, targets, start=None, ax=None, title: str | None = "handle paths", end=None):
    """Each handle's tracked path across the optimisation steps, from start to target.

    ``history`` holds where tracking found the handles at the start of each step; ``end``
    (e.g. ``result.handles``) adds where it found them after the last one.
    """
    history = check_steps("history", history)
    targets = validate.points("targets", targets)
    if any(len(np.atleast_2d(s.handles)) != len(targets) for s in history):
        raise ValueError(f"history's steps track a different number of handles than targets holds ({len(targets)})")
    start, end = (None if v is None else validate.points(n, v, len(targets))
                  for n, v in (("start", start), ("end", end)))
    fig = None
    if ax is None:
        fig, (ax,) = panels(1, 4)
    show(ax, image, title)
    paths = np.array([s.handles for s in history])  # (steps, N, 2)
    if start is not None:
        paths = np.concatenate([np.asarray(start)[None], paths]) if len(paths) else np.asarray(start)[None]
    if end is not None:
        paths = np.concatenate([paths, np.asarray(end)[None]]) if len(paths) else np.asarray(end)[None]
    for i in range(paths.shape[1] if paths.ndim == 3 else 0):
        ax.plot(paths[:, i, 0], paths[:, i, 1], "-", color=PATH, lw=2)
        ax.plot(paths[:, i, 0], paths[:, i, 1], ".", color="black", ms=3)
        ax.plot([paths[0, i, 0]], [paths[0, i, 1]], "o", ms=8, mfc=HANDLE, mec="white")
        ax.plot([paths[-1, i, 0]], [paths[-1, i, 1]], "s", ms=7, mfc=PATH, mec="black")
    for t in targets:
        ax.plot([t[0]], [t[1]], "o", ms=8, mfc=TARGET, mec="white")
    return fig if fig is not None else ax.figure


def drag_losses(steps, title: str | None = "drag losses"):
    """Motion-supervision and preservation losses per step, and the distance tracking says is left.

    ``steps``: a ``DragResult`` (its history, and where tracking found the handles after the last
    step, drawn as a star: the distance its printout reports) or a list of ``DragStep``.
    """
    history, final = (steps.history, steps.distance) if hasattr(steps, "history") else (steps, None)
    history = check_steps("steps", history, 1)
    curves = {name: [s.losses[name] for s in history] for name in ("motion", "preserve")}
    curves["distance to target (px)"] = [s.distance for s in history]
    fig = loss_curve(curves, title=title, smooth=1, log=False)
    if final is not None:
        ax = fig.axes[-1]
        ax.plot([len(history)], [final], ls="none", marker="*", ms=12, color=TARGET,
                label=f"after the last step: {final:.1f} px")
        ax.legend(fontsize=8)
    return fig


def two_distances(seen, length: float | None = None, title: str | None = None, ax=None, legend: bool = True):
    """Per step, how far the handle is from its target (image pixels), twice: where point
    tracking finds the handle's feature, and where the handle's content is in the picture.

    ``seen``: records with ``step``, ``tracking`` and ``picture`` (``dragnb.bench.watch``);
    ``length``: the drag's length, drawn as the "did not move" line.
    """
    seen = validate.sequence("seen", seen)
    if not all(hasattr(s, "tracking") and hasattr(s, "picture") for s in seen):
        raise TypeError("seen must hold records with step, tracking and picture (dragnb.bench.watch's)")
    length = None if length is None else validate.number("length", length, float, 0)
    fig = None
    if ax is None:
        fig = new_figure((5.5, 3.2))
        ax = fig.subplots()
    steps = [s.step for s in seen]
    ax.plot(steps, [s.tracking for s in seen], "-o", ms=3, lw=1.8, color=PATH_DARK,
            label="point tracking (the features)")
    ax.plot(steps, [s.picture for s in seen], "-s", ms=3, lw=1.8, color=HANDLE,
            label="the picture (the content)")
    if length is not None:
        ax.axhline(length, color="0.6", ls=":", lw=1, label="did not move")
    ax.axhline(0, color=TARGET, lw=1, label="at the target")
    ax.set_xlabel("step")
    ax.set_ylabel("distance to target (px)")
    ax.set_ylim(bottom=-0.5)
    ax.set_xlim(-0.5, max(steps) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))   # steps are whole: a 0-step run shows "0" alone
    if legend:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig if fig is not None else ax.figure


def variants(truth, runs: dict, length: float | None = None, scale: float = 2.6):
    """Several drags of one edit side by side: the true edit, then each result (top) over its
    two distances per step (below, one scale). ``runs``: name -> (``DragResult``, [``Seen``])
    as ``dragnb.bench.watch`` returns them."""
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict: name -> (DragResult, [Seen])")
    n = len(runs) + 1
    fig = new_figure((scale * n, scale * 2.1))
    axes = fig.subplots(2, n, squeeze=False)
    for ax in axes[0]:
        ax.set_axis_off()
    show(axes[0, 0], truth, "true edit")
    top = max([length or 0.0] + [max(max(s.tracking, s.picture) for s in seen) for _, seen in runs.values()])
    for j, (name, (result, seen)) in enumerate(runs.items(), 1):
        drag_arrows(result.image, result.start, result.targets, ax=axes[0, j], title=name)
        two_distances(seen, length, ax=axes[1, j], legend=False)
        axes[1, j].set_ylim(-0.5, top + 0.5)
        if j > 1:
            axes[1, j].set_ylabel("")
    axes[1, 0].set_axis_off()
    axes[1, 0].legend(*axes[1, 1].get_legend_handles_labels(), loc="center", fontsize=8)
    return fig


def gallery(history, cols: int = 8, scale: float = 1.6, most: int = 8):
    """At most ``most`` of the previews recorded during a drag (the first, the last and evenly
    spaced ones between), titled by step."""
    history = check_steps("history", history)
    most = validate.number("most", most, int, 1, 1000)
    shots = [s for s in history if getattr(s, "preview", None) is not None]
    if not shots:
        raise ValueError("no previews in this history: run the drag with preview_every=k")
    if len(shots) > most:
        shots = [shots[int(round(i))] for i in np.linspace(0, len(shots) - 1, most)]
    return image_grid([s.preview for s in shots], cols=cols, titles=[f"step {s.step}" for s in shots], scale=scale)


def before_after(result, title: str | None = None):
    """The input with the requested drags, and the result with where the handles went."""
    check_result(result)
    fig, axes = panels(2, 4)
    drag_arrows(result.original, result.start, result.targets, ax=axes[0], title="before")
    drag_arrows(result.image, result.handles, result.targets, ax=axes[1], title="after")
    if title:
        fig.suptitle(title)
    return fig


def teaser(result, similarity: np.ndarray, title: str | None = None, field: np.ndarray | None = None):
    """One drag in four panels: the request, the handle's DIFT heatmap, the handle's path (or, given
    the warp's ``field`` (H, W, 2), ``DragSession.warp_field``, where the warp sent each pixel), the result."""
    check_result(result)
    fig, axes = panels(4, 3.2)
    drag_arrows(result.original, result.start, result.targets, ax=axes[0], title="the drag")
    heatmap(result.original, similarity, point=result.start[0], ax=axes[1], title="DIFT: like the handle")
    if field is None:
        trajectory(result.original, result.history, result.targets, start=result.start, end=result.handles,
                   ax=axes[2], title="the handle's path")
    else:
        displacement_field(result.original, field, ax=axes[2], title="the warp that starts the drag")
    drag_arrows(result.image, result.handles, result.targets, ax=axes[3], title="after")
    if title:
        fig.suptitle(title)
    return fig


def costs(result, title: str | None = "where the edit's time goes"):
    """Seconds and UNet passes (forward and backward) per stage of a ``DragResult``, as two bar charts."""
    if not isinstance(getattr(result, "timings", None), dict) or not result.timings:
        raise TypeError(f"result must be a DragResult with timings, got {type(result).__name__}")
    stages = list(result.timings)
    fig = new_figure((9, 0.45 * len(stages) + 1.2))
    a, b = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(stages))
    a.barh(y, [result.timings[s] for s in stages], color="0.4")
    a.set_yticks(y, stages)
    a.invert_yaxis()
    a.set_xlabel("seconds")
    fwd = [result.passes.get(s, {}).get("forward", 0) for s in stages]
    bwd = [result.passes.get(s, {}).get("backward", 0) for s in stages]
    b.barh(y - 0.2, fwd, height=0.4, color=TARGET, label="forward")
    b.barh(y + 0.2, bwd, height=0.4, color=HANDLE, label="backward")
    b.set_xlabel("UNet passes (images)")
    b.legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def displacement_field(image, field, ax=None, title: str | None = "where the warp sends each pixel",
                       every: int | None = None, min_length: float = 0.25):
    """Arrows of a displacement field over the image, coloured by their length (pixels).

    ``field`` (H, W, 2): (dx, dy) pixels per pixel, as ``dragnb.warp.displacement_field`` returns;
    one arrow every ``every`` pixels (default: about 24 across), none shorter than ``min_length``.
    """
    field = np.asarray(field, np.float64)
    im = np.asarray(load_image(image))
    if field.ndim != 3 or field.shape[2] != 2 or field.shape[:2] != im.shape[:2]:
        raise ValueError(f"field must be (H, W, 2) for a {im.shape[1]}x{im.shape[0]} image, got {field.shape}")
    fig = None
    if ax is None:
        fig, (ax,) = panels(1, 4)
    show(ax, im, title)
    every = every or max(1, round(max(im.shape[:2]) / 24))
    ys, xs = np.mgrid[every // 2:im.shape[0]:every, every // 2:im.shape[1]:every]
    u, v = field[ys, xs, 0], field[ys, xs, 1]
    long = np.hypot(u, v) >= min_length
    if long.any():
        arrows = ax.quiver(xs[long], ys[long], u[long], v[long], np.hypot(u, v)[long], angles="xy",
                           scale_units="xy", scale=1, cmap="viridis", width=0.006, zorder=3)
        ax.figure.colorbar(arrows, ax=ax, shrink=0.8, label="pixels")
    return fig if fig is not None else ax.figure

