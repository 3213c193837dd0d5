"""Pictures of the first stage, the features and the region: heatmaps of DIFT similarity (opaque, beside
the picture, so their colours are their colour bar's), correspondences across images, one point's map
over DIFT's timesteps and up-blocks, a feature map in colour, masks, and ``region_steps``' steps.
``dragnb.ui.plots`` names them all.
"""
from __future__ import annotations

import numpy as np

from .. import validate
from ..images import as_image, load_image
from .figures import HANDLE, TARGET, layer, new_figure, panels, show


def heatmap(image, similarity: np.ndarray, point=None, alpha: float = 1.0, cmap: str = "inferno",
            title: str | None = None, ax=None, vmin: float | None = None):
    """A similarity map (H, W) of ``image`` in its colour map, the query point (or points, [(x, y), ...])
    marked. Opaque by default, so that every colour of the panel is one of its colour bar's (show the
    picture beside it: ``heatmaps`` does); ``alpha`` < 1 lays it over the picture, whose colours then mix
    in. The colours run from ``vmin`` (default: the map's lowest value, or 0 if higher) to 1."""
    similarity = validate.array("similarity", similarity, 2)
    alpha = validate.number("alpha", alpha, float, 0, 1)
    pts = None if point is None else validate.points("point", point)
    fig, ax, im = layer(ax, image, title, similarity.shape, "similarity map")
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
    a = np.asarray(as_image("src_image", src_image))
    b = np.asarray(as_image("dst_image", dst_image))
    h = max(a.shape[0], b.shape[0])
    pad = lambda im: np.pad(im, ((0, h - im.shape[0]), (0, 0), (0, 0)), constant_values=255)
    both = np.concatenate([pad(a), np.full((h, max(2, a.shape[1] // 20), 3), 255, np.uint8), pad(b)], 1)
    off = a.shape[1] + max(2, a.shape[1] // 20)
    fig, (ax,) = panels(1, 7)
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
    image = load_image(image)   # once: layer shows it as it is
    m = validate.mask(mask, image.size, allow_all=False, allow_empty=True)
    points = None if points is None else validate.points("points", points)
    alpha = validate.number("alpha", alpha, float, 0, 1)
    fig, ax, im = layer(ax, image, title, m.shape, "mask")
    rgba = np.zeros((*m.shape, 4))
    rgba[m] = (*color, alpha)
    ax.imshow(rgba, interpolation="nearest")
    ax.contour(m.astype(float), levels=[0.5], colors=[color], linewidths=1.5)
    for p in ([] if points is None else points):
        ax.plot([p[0]], [p[1]], marker="o", ms=9, mfc=HANDLE, mec="white", mew=2)
    return fig if fig is not None else ax.figure


def region(steps, image, title: str | None = None):
    """What ``dragnb.region_steps`` returns, drawn: similarity, refined, above threshold, steps."""
    fig, axes = panels(4, 3)
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
    if merge and steps.groups is not None:   # every merged group in a colour of its own, the kept ones ringed
        _groups(image, steps, axes[2])
    else:
        mask_overlay(image, steps.above, color=(0.9, 0.6, 0.1), ax=axes[2], title=f"3. >= {steps.threshold:.2f}")
    mask_overlay(image, steps.mask, points=points, ax=axes[3], title="4. region")
    _colorbar(fig, axes[:2])
    if title:
        fig.suptitle(title)
    return fig


def _groups(image, steps, ax) -> None:
    """Panel 3 of ``region``: the pieces merged into groups, each group a colour, those holding a point ringed."""
    from matplotlib import colormaps

    ids = np.unique(steps.groups, return_inverse=True)[1].reshape(steps.groups.shape)
    show(ax, image, f"3. merged while cos >= {steps.threshold:.2f}: {int(ids.max()) + 1} groups")
    colours = colormaps["tab20"](np.arange(ids.max() + 1) % 20)
    colours[:, 3] = 0.6
    ax.imshow(colours[ids], interpolation="nearest")
    ax.contour(steps.above.astype(float), levels=[0.5], colors=["white"], linewidths=2)


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
    fig, axes = panels(len(pts) + 1, 3)
    show(axes[0], shown.image, "the picture" if target is None else "the other picture")
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


def dift_sweep(image, maps: np.ndarray, ts, blocks, point, title: str | None = None):
    """One point's similarity maps (len(blocks), len(ts), H, W) (``dragnb.features.similarity_sweep``):
    a row per up-block, a column per timestep, the picture first in each row; one colour scale."""
    maps = validate.array("maps", maps, 4)
    ts, blocks = list(ts), list(blocks)
    if maps.shape[:2] != (len(blocks), len(ts)):
        raise ValueError(f"maps holds {maps.shape[:2]} (blocks, timesteps) maps, not {(len(blocks), len(ts))}")
    pts = validate.points("point", point)
    fig = new_figure((2.4 * (len(ts) + 1) + 0.8, 2.5 * len(blocks)))
    axes = fig.subplots(len(blocks), len(ts) + 1, squeeze=False)
    low = min(0.0, float(maps.min()))
    for r, b in enumerate(blocks):
        show(axes[r][0], image, f"up_blocks[{b}]")
        _mark(axes[r][0], pts)
        for c, t in enumerate(ts):
            heatmap(image, maps[r, c], pts, ax=axes[r][c + 1], vmin=low, title=f"t = {t}" if r == 0 else None)
    _colorbar(fig, [a for row in axes for a in row[1:]])
    if title:
        fig.suptitle(title)
    return fig


def pca(features, title: str | None = "the feature map's first three principal components as colours"):
    """The picture beside its feature map in colour (``dragnb.features.pca_colours``): places the model
    sees alike get alike colours."""
    from ..features import pca_colours

    fig, axes = panels(2, 3.2)
    show(axes[0], features.image, "the picture")
    show(axes[1], pca_colours(features), f"features: {tuple(features.fmap.shape)} (C, h, w)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
