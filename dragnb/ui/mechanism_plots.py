"""Pictures of the optimisation's mechanism: what point tracking compared, what motion supervision
pulled, and where the latent changed, at one step (``mechanism``) or over the steps
(``mechanism_strip``). They read the steps a drag recorded with ``mechanism=True``
(``DragStep.mechanism``, in image pixels); ``dragnb.ui.plots`` names them.
"""
from __future__ import annotations

import io

import numpy as np
from matplotlib.patches import Circle, Rectangle

from .. import validate
from ..images import load_image
from .figures import HANDLE, PATH, TARGET, new_figure, show

DISTANCE_MAP = "viridis_r"   # tracking's L1 distances: bright = near the handle's original feature
CHANGE_MAP = "inferno"       # the latent's change: bright = changed most
SIZE = (14.4, 3.6)           # ``mechanism``'s figure, inches


def _drag(drag):
    """(input image, editable mask, starts (N, 2), targets (N, 2), [DragStep]) of a ``DragResult`` or
    a ``DragSession`` (live, while it runs)."""
    if not all(hasattr(drag, a) for a in ("history", "start", "targets", "mask")):
        raise TypeError(f"drag must be a DragResult or a DragSession, got {type(drag).__name__}")
    image = drag.original if hasattr(drag, "original") else drag.image
    return load_image(image), drag.mask, np.asarray(drag.start), np.asarray(drag.targets), list(drag.history)


def recorded(drag) -> list:
    """The steps of ``drag`` (a ``DragResult`` or ``DragSession``) that recorded their mechanism."""
    history = _drag(drag)[4]
    steps = [s for s in history if s.mechanism is not None]
    if not steps and history:
        raise ValueError("this drag did not record its mechanism: drag with mechanism=True")
    return steps


def _step(drag, step: int):
    steps = recorded(drag)
    if not steps:
        raise ValueError("this drag took no optimisation step: there is no mechanism to show")
    by_step = {s.step: s for s in steps}
    step = validate.number("step", step, int, None, None)
    if step < 0:
        step = steps[step].step if -len(steps) <= step else steps[0].step
    if step not in by_step:
        raise ValueError(f"step must be one of the recorded steps {steps[0].step}..{steps[-1].step}, got {step}")
    return by_step[step]


def _zoom(ax, points, margin: float, shape) -> None:
    """Limit ``ax`` to the points' bounding box grown by ``margin`` pixels, within the image."""
    p = np.asarray(points, float).reshape(-1, 2)
    lo, hi = p.min(0) - margin, p.max(0) + margin
    h, w = shape[:2]
    ax.set_xlim(max(-0.5, lo[0]), min(w - 0.5, hi[0]))
    ax.set_ylim(min(h - 0.5, hi[1]), max(-0.5, lo[1]))


def _panel(drag, step: int, ax, size: tuple, picture=None, handle: int = 0):
    """What a panel draws from, the picture drawn on ``ax`` (a new figure of ``size`` if None): (the new
    figure or None, ax, the picture (H, W, 3), the editable mask, starts (N, 2), targets (N, 2), the
    ``DragStep``, the handle's index checked)."""
    image, mask, start, targets, _ = _drag(drag)
    s = _step(drag, step)
    handle = validate.number("handle", handle, int, 0, len(s.mechanism.windows) - 1)
    fig = None
    if ax is None:
        fig = new_figure(size)
        ax = fig.subplots()
        ax.set_axis_off()
    im = show(ax, image if picture is None else load_image(picture))
    return fig, ax, im, mask, start, targets, s, handle


def _dot(ax, p, colour, size=7, marker="o", hollow=False):
    ax.plot([p[0]], [p[1]], marker, ms=size, mfc="none" if hollow else colour, mec=colour if hollow else "white",
            mew=1.5 if hollow else 1, zorder=4)


def tracking(drag, step: int = -1, handle: int = 0, ax=None, colorbar: bool = True, picture=None):
    """Point tracking at ``step``: the window it searched around where the handle was (red), each
    cell coloured by its L1 feature distance to the handle's original feature (bright = near), and
    the nearest cell, where it put the handle (yellow star); the start is the hollow red ring, the
    target blue. Drawn over ``picture`` (default: the input image), e.g. what the drag would return
    at this step (``DragSession.outcome``), whose content tracking's features describe."""
    fig, ax, im, _, start, targets, s, handle = _panel(drag, step, ax, (3.6, 3.4), picture, handle)
    m = s.mechanism
    left, top, right, bottom = m.boxes[handle]
    art = ax.imshow(m.windows[handle], cmap=DISTANCE_MAP, extent=(left, right, bottom, top), interpolation="nearest",
                    zorder=2)
    ax.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False, ec="white", lw=1, zorder=3))
    _dot(ax, start[handle], HANDLE, 9, hollow=True)
    _dot(ax, m.before[handle], HANDLE, 6)
    _dot(ax, m.found[handle], PATH, 12, marker="*")
    _dot(ax, targets[handle], TARGET)
    side = right - left
    _zoom(ax, [(left, top), (right, bottom), targets[handle], start[handle]], side / 2, im.shape)
    how = "found" if m.tracked else "starts at"
    ax.set_title(f"step {s.step}: tracking {how} the star", fontsize=9)
    if colorbar:
        ax.figure.colorbar(art, ax=ax, shrink=0.75, label="L1 distance to the handle's feature")
    return fig if fig is not None else ax.figure


def supervision(drag, step: int = -1, handle: int = 0, ax=None, picture=None):
    """Motion supervision at ``step``: the patch around the tracked handle (yellow square) is pulled
    towards its copy one feature cell further towards the target (dashed white square); over
    ``picture`` (default: the input image)."""
    fig, ax, im, _, _, targets, s, handle = _panel(drag, step, ax, (3.4, 3.4), picture, handle)
    m = s.mechanism
    h, d, r = m.found[handle], m.pulls[handle], m.patch
    ax.add_patch(Rectangle(h - r, 2 * r, 2 * r, fill=False, ec=PATH, lw=2, zorder=3))
    pulled = bool(np.any(d))
    if pulled:
        ax.add_patch(Rectangle(h + d - r, 2 * r, 2 * r, fill=False, ec="white", lw=1.5, ls="--", zorder=3))
        ax.annotate("", xy=h + d, xytext=h, zorder=4, arrowprops=dict(arrowstyle="->", color="white", lw=1.5))
    _dot(ax, h, PATH, 7)
    _dot(ax, targets[handle], TARGET)
    _zoom(ax, [h, targets[handle]], 3 * r + m.cell, im.shape)
    ax.set_title(f"step {s.step}: " + (f"the patch pulled {np.hypot(*d):.2g} px" if pulled
                                       else "arrived: nothing pulled"), fontsize=9)
    return fig if fig is not None else ax.figure


def change(drag, step: int = -1, net: bool = False, ax=None, colorbar: bool = True, vmax: float | None = None):
    """How much ``step``'s update changed each latent cell (``net``: the change since the
    optimisation started), over the image, with the editable region's outline (white), the
    handles' starts (red), their targets (blue) and a dashed circle of one drag length around each start.
    The colours run from 0 to ``vmax`` (default: the map's largest value)."""
    fig, ax, im, mask, start, targets, s, _ = _panel(drag, step, ax, (3.6, 3.4))   # the picture: under the map
    m = s.mechanism
    values = m.so_far if net else m.change
    title = f"step {s.step}: " + ("the net change so far" if net else "this step's change of the latent")
    if values is None:
        ax.set_title(f"step {s.step}: no update", fontsize=9)
        return fig if fig is not None else ax.figure
    left, top, right, bottom = m.change_box
    art = ax.imshow(values, cmap=CHANGE_MAP, extent=(left, right, bottom, top), interpolation="nearest",
                    vmin=0, vmax=vmax, zorder=2)
    if mask is not None and mask.any() and not mask.all():
        ax.contour(mask.astype(float), levels=[0.5], colors="white", linewidths=1, zorder=3)
    for h, t in zip(start, targets):
        ax.add_patch(Circle(h, np.hypot(*(t - h)), fill=False, ec="white", lw=0.8, ls="--", zorder=3))
        _dot(ax, h, HANDLE, 6)
        _dot(ax, t, TARGET, 6)
    ax.set_xlim(-0.5, im.shape[1] - 0.5)
    ax.set_ylim(im.shape[0] - 0.5, -0.5)
    ax.set_title(title, fontsize=9)
    if colorbar:
        ax.figure.colorbar(art, ax=ax, shrink=0.75, label="|change| per latent cell")
    return fig if fig is not None else ax.figure


def mechanism(drag, step: int = -1, handle: int = 0, picture=None):
    """One step's mechanism, four panels: what tracking compared (``tracking``), what motion
    supervision pulled (``supervision``), this step's change of the latent and the net change
    so far (``change``). ``drag``: a ``DragResult`` or ``DragSession`` recorded with
    ``mechanism=True``; ``step``: an optimisation step (negative: counted from the last);
    ``picture``: what the first two panels are drawn over (default: the input image)."""
    return _four(new_figure(SIZE), drag, step, handle, picture)


def _four(fig, drag, step: int, handle: int, picture=None, rows: int = 1):
    """``mechanism``'s four panels drawn on ``fig``, in one row or two."""
    s = _step(drag, step)
    axes = fig.subplots(rows, 4 // rows).ravel()
    for ax in axes:
        ax.set_axis_off()
    tracking(drag, s.step, handle, ax=axes[0], picture=picture)
    supervision(drag, s.step, handle, ax=axes[1], picture=picture)
    change(drag, s.step, net=False, ax=axes[2])
    change(drag, s.step, net=True, ax=axes[3])
    return fig


def mechanism_strip(drag, every: int = 4, handle: int = 0, most: int = 8, pictures: dict | None = None):
    """Over the steps (every ``every``-th, at most ``most``, and the last): top, tracking's
    window and where it put the handle; bottom, the net change of the latent so far, all in
    one colour scale. ``pictures`` ({step: image}, e.g. from ``bench.watch``) draws each window
    over that step's picture, and then shows the steps it has a picture of."""
    every = validate.number("every", every, int, 1, 100_000)
    most = validate.number("most", most, int, 1, 100)
    steps = recorded(drag)
    if not steps:
        raise ValueError("this drag took no optimisation step: there is no mechanism to show")
    if pictures is not None:
        steps = [s for s in steps if s.step in pictures]
        if not steps:
            raise ValueError("pictures holds none of the recorded steps")
    chosen = steps[::every][:most - 1]
    if chosen[-1] is not steps[-1]:
        chosen.append(steps[-1])
    n = len(chosen)
    top = max(float(s.mechanism.so_far.max()) for s in chosen if s.mechanism.so_far is not None)
    fig = new_figure((2.2 * n, 4.6))
    axes = fig.subplots(2, n, squeeze=False)
    for k, s in enumerate(chosen):
        for ax in axes[:, k]:
            ax.set_axis_off()
        tracking(drag, s.step, handle, ax=axes[0, k], colorbar=False,
                 picture=None if pictures is None else pictures[s.step])
        change(drag, s.step, net=True, ax=axes[1, k], colorbar=False, vmax=top)
        axes[0, k].set_title(f"step {s.step}", fontsize=9)
        axes[1, k].set_title("")
    axes[0, 0].set_title(f"tracking, step {chosen[0].step}", fontsize=9)
    axes[1, 0].set_title("net change so far", fontsize=9)
    return fig


def mechanism_png(drag, step: int = -1, handle: int = 0, picture=None, dpi: int = 72) -> bytes:
    """``mechanism``'s panels as PNG bytes, two by two (the drag widget shows it)."""
    from matplotlib.figure import Figure

    fig = _four(Figure(figsize=(7.2, 6.4), layout="constrained"), drag, step, handle, picture, rows=2)   # never pyplot's: a thread draws it
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
