"""Pictures of each stage, as matplotlib figures.

Small images (the teaching model's 64x64) are drawn with nearest-neighbour
interpolation, so they stay crisp when shown large.

Every function returns its figure, shown once in a notebook (``figures``). The drag's
animation (``drag_animation``, ``save_animation``) is written by ``animation``.
"""
from __future__ import annotations

import numpy as np

from .. import validate
from ..images import load_image
from .animation import drag_animation, save_animation
from .figures import HANDLE, PATH, PATH_DARK, TARGET, _figure, _layer, _new_figure, _result, _show, _steps

__all__ = ["before_after", "correspondence", "costs", "drag_animation", "drag_arrows", "drag_losses",
           "gallery", "heatmap", "heatmaps", "image_grid", "loss_curve", "mask_overlay", "region",
           "save_animation", "teaser", "trajectory", "two_distances", "variants"]


def heatmap(image, similarity: np.ndarray, point=None, alpha: float = 1.0, cmap: str = "inferno",
            title: str | None = None, ax=None, vmin: float | None = None):
    """A similarity map (H, W) of ``image`` in its colour map, the query point (or points, [(x, y), ...])
    marked. Opaque by default, so that every colour of the panel is one of its colour bar's (show the
    picture beside it: ``heatmaps`` does); ``alpha`` < 1 lays it over the picture, whose colours then mix
    in. The colours run from ``vmin`` (default: the map's lowest value, or 0 if higher) to 1."""
    similarity = validate.array("similarity", similarity, 2)
    alpha = validate.number("alpha", alpha, float, 0, 1)
    pts = None if point is None else validate.points("point", point)
    fig, ax, im = _layer(ax, image, title, similarity.shape, "similarity map")
    vmin = min(0.0, float(similarity.min())) if vmin is None else validate.number("vmin", vmin, float, None, 1, hi_open=True)
    art = ax.imshow(similarity, cmap=cmap, alpha=alpha, vmin=vmin, vmax=1.0,
                    interpolation="nearest" if max(im.shape[:2]) < 256 else "antialiased")
    if pts is not None:
        _mark(ax, pts)
    if fig is not None:
        fig.colorbar(art, ax=ax, shrink=0.8, label="cosine similarity")
    return fig if fig is not None else ax.figure


def _mark(ax, pts: np.ndarray) -> None:
    """Query points: the handle's colour ringed in white."""
    ax.plot(pts[:, 0], pts[:, 1], ls="none", marker="o", ms=9, mfc=HANDLE, mec="white", mew=2)


def correspondence(src_image, dst_image, src_points, dst_points, title: str | None = None):
    """Two images side by side with a line from each source point to its match."""
    src_points = validate.points("src_points", src_points)
    dst_points = validate.points("dst_points", dst_points, len(src_points))
    a = np.asarray(validate.image("src_image", src_image))
    b = np.asarray(validate.image("dst_image", dst_image))
    h = max(a.shape[0], b.shape[0])
    pad = lambda im: np.pad(im, ((0, h - im.shape[0]), (0, 0), (0, 0)), constant_values=255)
    both = np.concatenate([pad(a), np.full((h, max(2, a.shape[1] // 20), 3), 255, np.uint8), pad(b)], 1)
    off = a.shape[1] + max(2, a.shape[1] // 20)
    fig, (ax,) = _figure(1, 7)
    ax.imshow(both, interpolation="nearest" if h < 256 else "antialiased")
    colors = [f"C{i % 10}" for i in range(len(src_points))]
    for (x0, y0), (x1, y1), c in zip(src_points, dst_points, colors):
        ax.plot([x0, x1 + off], [y0, y1], "-", color=c, lw=1.5, alpha=0.9)
        ax.plot([x0], [y0], "o", color=c, mec="white", ms=7)
        ax.plot([x1 + off], [y1], "o", color=c, mec="white", ms=7)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def mask_overlay(image, mask: np.ndarray, color=(0.1, 0.8, 0.3), alpha: float = 0.45, points=None,
                 title: str | None = None, ax=None):
    """Image with a bool mask (H, W) tinted over it and its outline drawn."""
    if mask is None:
        raise TypeError("mask must be an (H, W) array, got None")
    image = load_image(image)   # once: _layer shows it as it is
    m = validate.mask(mask, image.size, allow_all=False, allow_empty=True)
    points = None if points is None else validate.points("points", points)
    alpha = validate.number("alpha", alpha, float, 0, 1)
    fig, ax, im = _layer(ax, image, title, m.shape, "mask")
    rgba = np.zeros((*m.shape, 4))
    rgba[m] = (*color, alpha)
    ax.imshow(rgba, interpolation="nearest")
    ax.contour(m.astype(float), levels=[0.5], colors=[color], linewidths=1.5)
    for p in ([] if points is None else points):
        ax.plot([p[0]], [p[1]], marker="o", ms=9, mfc=HANDLE, mec="white", mew=2)
    return fig if fig is not None else ax.figure


def region(steps, image, title: str | None = None):
    """What ``dragnb.region_steps`` returns, drawn: similarity, refined, above threshold, steps."""
    fig, axes = _figure(4, 3)
    points = list(steps.points) or [steps.handle]
    merge = steps.method == "merge"
    low = min(0.0, float(steps.similarity.min()), float(steps.refined.min()))
    heatmap(image, steps.similarity, points, ax=axes[0], title="1. similarity", vmin=low)
    if merge:   # the image's pieces, each shown with its mean similarity
        from skimage.segmentation import find_boundaries

        heatmap(image, steps.refined, points, ax=axes[1], title="2. pieces, mean similarity", vmin=low)
        edges = np.zeros(steps.segments.shape + (4,))
        edges[find_boundaries(steps.segments)] = (1, 1, 1, 0.5)   # white, half see-through
        axes[1].imshow(edges)
    else:
        heatmap(image, steps.refined, points, ax=axes[1], title="2. edge-aware", vmin=low)
    mask_overlay(image, steps.above, color=(0.9, 0.6, 0.1), ax=axes[2],
                 title=f"3. merged while cos >= {steps.threshold:.2f}" if merge else f"3. >= {steps.threshold:.2f}")
    mask_overlay(image, steps.mask, points=points, ax=axes[3], title="4. region")
    _colorbar(fig, axes[:2])
    if title:
        fig.suptitle(title)
    return fig


def heatmaps(features, points, titles=None, target=None):
    """The picture with the points, then one heatmap per point (the row DIFT papers show): similarity
    of each point's feature, on one colour scale with one colour bar.

    ``target``: features of another image to show the maps on (default: the same image); its best
    match to each point is crossed in the picture and on the map.
    """
    from ..features import similarity_map

    pts = validate.points("points", points)
    titles = validate.titles("titles", titles, len(pts))
    sims = [similarity_map(features, p, target=target) for p in pts]   # checks features and target
    shown = target if target is not None else features
    fig, axes = _figure(len(pts) + 1, 3)
    _show(axes[0], shown.image, "the picture" if target is None else "the other picture")
    if target is None:
        _mark(axes[0], pts)
    low = min(0.0, min(float(sim.min()) for sim in sims))   # one colour scale, so one colour bar
    for i, (p, ax, sim) in enumerate(zip(pts, axes[1:], sims)):
        heatmap(shown.image, sim, p if target is None else None, ax=ax, vmin=low,
                title=None if titles is None else titles[i])
        if target is not None:   # the best match, in the other picture and on its map
            x, y = np.unravel_index(int(np.argmax(sim)), sim.shape)[::-1]
            for on in (ax, axes[0]):
                on.plot([x], [y], marker="x", ms=10, mew=3, color=TARGET)
    _colorbar(fig, axes[1:])
    return fig


def _colorbar(fig, axes) -> None:
    """One colour bar for heatmap panels drawn on ``axes`` (their scales are the same)."""
    fig.colorbar(axes[0].images[-1], ax=list(axes), shrink=0.8, label="cosine similarity")


def loss_curve(curves: dict, title: str | None = None, smooth: int = 25, log: bool = True):
    """One panel per named curve (name -> list of values), raw and moving-average."""
    if not isinstance(curves, dict):
        raise TypeError(f"curves must be a dict of name -> list of values, got {type(curves).__name__}")
    smooth = validate.number("smooth", smooth, int, 1, 100_000)
    curves = {k: validate.array(f"curves[{k!r}]", v, 1, finite=False) for k, v in curves.items()
              if not (hasattr(v, "__len__") and len(v) == 0)}
    if not curves:
        raise ValueError("curves holds no values to draw")
    fig = _new_figure((4.5 * max(1, len(curves)), 3.2))
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
    fig = _new_figure((scale * min(cols, n), scale * rows))
    axes = fig.subplots(rows, min(cols, n), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            _show(ax, images[i], None if titles is None else titles[i])
    return fig


def drag_arrows(image, handles, targets, ax=None, title: str | None = None, mask=None):
    """Image with numbered arrows from each handle (red) to its target (blue); ``mask``
    (H, W) bool, if given, tinted and outlined (the region that may change)."""
    handles = validate.points("handles", handles)
    targets = validate.points("targets", targets, len(handles))
    fig = None
    if ax is None:
        fig, (ax,) = _figure(1, 4)
    if mask is not None:
        mask_overlay(image, mask, ax=ax, title=title)
    else:
        _show(ax, image, title)
    for i, (h, t) in enumerate(zip(handles, targets)):
        ax.annotate("", xy=t, xytext=h, arrowprops=dict(arrowstyle="->", color="white", lw=2.5))
        ax.annotate("", xy=t, xytext=h, arrowprops=dict(arrowstyle="->", color="black", lw=1))
        ax.plot([h[0]], [h[1]], "o", ms=8, mfc=HANDLE, mec="white", mew=1.5)
        ax.plot([t[0]], [t[1]], "o", ms=8, mfc=TARGET, mec="white", mew=1.5)
        ax.text(h[0], h[1], f" {i + 1}", color="white", fontsize=9, fontweight="bold", va="bottom")
    return fig if fig is not None else ax.figure


def trajectory(image, history, targets, start=None, ax=None, title: str | None = "handle paths", end=None):
    """Each handle's tracked path across the optimisation steps, from start to target.

    ``history`` holds where tracking found the handles at the start of each step; ``end``
    (e.g. ``result.handles``) adds where it found them after the last one.
    """
    history = _steps("history", history)
    targets = validate.points("targets", targets)
    if any(len(np.atleast_2d(s.handles)) != len(targets) for s in history):
        raise ValueError(f"history's steps track a different number of handles than targets holds ({len(targets)})")
    start, end = (None if v is None else validate.points(n, v, len(targets))
                  for n, v in (("start", start), ("end", end)))
    fig = None
    if ax is None:
        fig, (ax,) = _figure(1, 4)
    _show(ax, image, title)
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
    history = _steps("steps", history, 1)
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
        fig = _new_figure((5.5, 3.2))
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
    ax.set_xlim(-0.5, max(1, max(steps)) + 0.5)
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
    fig = _new_figure((scale * n, scale * 2.1))
    axes = fig.subplots(2, n, squeeze=False)
    for ax in axes[0]:
        ax.set_axis_off()
    _show(axes[0, 0], truth, "true edit")
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
    history = _steps("history", history)
    most = validate.number("most", most, int, 1, 1000)
    shots = [s for s in history if getattr(s, "preview", None) is not None]
    if not shots:
        raise ValueError("no previews in this history: run the drag with preview_every=k")
    if len(shots) > most:
        shots = [shots[int(round(i))] for i in np.linspace(0, len(shots) - 1, most)]
    return image_grid([s.preview for s in shots], cols=cols, titles=[f"step {s.step}" for s in shots], scale=scale)


def before_after(result, title: str | None = None):
    """The input with the requested drags, and the result with where the handles went."""
    _result(result)
    fig, axes = _figure(2, 4)
    drag_arrows(result.original, result.start, result.targets, ax=axes[0], title="before")
    drag_arrows(result.image, result.handles, result.targets, ax=axes[1], title="after")
    if title:
        fig.suptitle(title)
    return fig


def teaser(result, similarity: np.ndarray, title: str | None = None):
    """One drag in four panels: the request, the handle's DIFT heatmap, the handle's path, the result."""
    _result(result)
    fig, axes = _figure(4, 3.2)
    drag_arrows(result.original, result.start, result.targets, ax=axes[0], title="the drag")
    heatmap(result.original, similarity, point=result.start[0], ax=axes[1], title="DIFT: like the handle")
    trajectory(result.original, result.history, result.targets, start=result.start, end=result.handles,
               ax=axes[2], title="the handle's path")
    drag_arrows(result.image, result.handles, result.targets, ax=axes[3], title="after")
    if title:
        fig.suptitle(title)
    return fig


def costs(result, title: str | None = "where the edit's time goes"):
    """Seconds and UNet passes (forward and backward) per stage of a ``DragResult``, as two bar charts."""
    if not isinstance(getattr(result, "timings", None), dict) or not result.timings:
        raise TypeError(f"result must be a DragResult with timings, got {type(result).__name__}")
    stages = list(result.timings)
    fig = _new_figure((9, 0.45 * len(stages) + 1.2))
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
