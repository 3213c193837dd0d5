"""Stage 1b, the region under a handle: what a drag from this point may change.

The feature at the handle is compared with every cell (cosine similarity). DIFT
features are coarse (one cell covers 4 px on the teaching model, 8-16 px on SD), so
thresholding the upsampled map gives a blob that ignores the object's outline.
Instead:

1. **similarity** on the feature grid, upsampled to the image;
2. **edge-aware refinement**: a colour guided filter (He et al. 2010) with the image
   as guide snaps the map to the image's edges inside each cell;
3. **threshold**: halfway between the handle's own similarity (1) and the image's
   75th percentile (``"auto"``: scale-free, measured best on the teaching model's scenes,
   where objects are small), Otsu's split (``"otsu"``), or a number you give;
4. **connected component** that holds the handle, holes filled (other, similar objects
   elsewhere are not part of this drag);
5. **grow / shrink** by ``grow`` pixels; the handle is always inside.

``region_steps`` returns every intermediate for plotting; ``find_region`` the mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import validate
from .features import Features, dift_features, similarity_map
from .images import check_points
from .loading import DiffusionModel


@dataclass
class Region:
    """Each step of finding a region; arrays are (H, W) at the user image's size."""

    handle: tuple            # (x, y): the first point
    similarity: np.ndarray   # float32, cosine similarity upsampled bilinearly (several points: the largest)
    refined: np.ndarray      # float32, after the guided filter
    threshold: float
    above: np.ndarray        # bool, refined >= threshold
    mask: np.ndarray         # bool, the final region
    points: tuple = ()       # every point the region was asked to hold, ((x, y), ...)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Colour guided filter: ``src`` (H, W) smoothed, following the edges of ``guide`` (H, W, 3) in [0, 1]."""
    size = 2 * radius + 1

    def box(a):
        return ndimage.uniform_filter(a, size=(size, size) + (1,) * (a.ndim - 2), mode="reflect")

    i = guide.astype(np.float64)
    p = src.astype(np.float64)
    mi, mp = box(i), box(p)
    cov_ip = box(i * p[..., None]) - mi * mp[..., None]
    var = box(i[..., :, None] * i[..., None, :]) - mi[..., :, None] * mi[..., None, :]
    a = np.linalg.solve(var + eps * np.eye(3), cov_ip[..., None])[..., 0]
    b = mp - (a * mi).sum(-1)
    return ((box(a) * i).sum(-1) + box(b)).astype(np.float32)


def _disk(r: int) -> np.ndarray:
    y, x = np.ogrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= r * r


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) a bool mask by a disk."""
    if pixels == 0:
        return mask
    op = ndimage.binary_dilation if pixels > 0 else ndimage.binary_erosion
    return op(mask, structure=_disk(abs(int(pixels))))


def region_steps(model: DiffusionModel | None, image, handle, threshold="auto", grow: int = 0,
                 smooth: float = 1.0, eps: float = 1e-3, fill_holes: bool = True,
                 features: Features | None = None, **dift_kwargs) -> Region:
    """Find the region around ``handle``, keeping every step (see the module doc).

    Args:
        handle: (x, y) in image pixels, or several points [(x, y), ...] on the same thing (a
            second click where the first one's region stops short: a house's roof as well as
            its door). Each pixel's similarity is then the largest to any point, thresholded at
            the first point's threshold, and the region keeps every connected part that holds a
            point: a point added only ever adds to the region.
        threshold: ``"auto"`` (halfway from the 75th percentile of the refined map to 1),
            ``"otsu"`` (Otsu's split of the refined map) or a cosine similarity in [-1, 1].
        grow: pixels to dilate (> 0) or erode (< 0) the final region.
        smooth: guided-filter radius in feature cells (0 turns the refinement off).
        eps: guided-filter regularisation: larger follows colour edges less.
        features: precomputed ``dift_features`` of ``image`` (then ``model`` may be None).
        **dift_kwargs: passed to ``dift_features`` (prompt, t, up_block, ensemble, ...).
    """
    grow = validate.number("grow", grow, int)
    smooth = validate.number("smooth", smooth, float, 0)
    eps = validate.number("eps", eps, float, 0, lo_open=True)
    if not (isinstance(threshold, str) and threshold in ("auto", "otsu")):
        threshold = validate.number("threshold", threshold, float, -1, 1)
    if features is None:
        if model is None:
            raise ValueError("find_region needs a model or precomputed features")
        features = dift_features(model, image, **dift_kwargs)
    points = check_points(handle, features.geometry.user, "handle")
    if len(points) == 0:
        raise ValueError("find_region needs at least one point (x, y) on the thing to drag")
    sims = [similarity_map(features, tuple(p)) for p in points]
    w, h = features.geometry.framed
    cell = max(w / features.grid[0], h / features.grid[1])
    radius = int(round(smooth * cell))
    if radius > 0:
        guide = np.asarray(features.image, dtype=np.float32) / 255.0
        refined_each = [guided_filter(guide, s, radius, eps) for s in sims]
    else:
        refined_each = sims
    first = refined_each[0]   # the threshold is the first point's: more points only add to its region
    if threshold == "auto":
        thr = 0.5 * (1.0 + float(np.percentile(first, 75)))
    elif threshold == "otsu":
        from skimage.filters import threshold_otsu

        thr = float(threshold_otsu(first, nbins=128))
    else:
        thr = float(threshold)
    sim, refined = np.max(sims, axis=0), np.max(refined_each, axis=0)
    above = refined >= thr
    iy, ix = np.round(points[:, 1]).astype(int), np.round(points[:, 0]).astype(int)
    seeds = above.copy()
    seeds[iy, ix] = True
    labels, _ = ndimage.label(seeds)
    mask = np.isin(labels, labels[iy, ix])
    if fill_holes:
        mask = ndimage.binary_fill_holes(mask)
    mask = grow_mask(mask, grow)
    mask[iy, ix] = True
    pts = tuple((float(x), float(y)) for x, y in points)
    return Region(pts[0], sim, refined, thr, above, mask, pts)


def find_region(model: DiffusionModel | None, image, handle, threshold="auto", grow: int = 0,
                smooth: float = 1.0, **kwargs) -> np.ndarray:
    """The region a drag from ``handle`` may change: bool (H, W) at the image's size.

    The connected part of the image whose DIFT features resemble the handle's, with
    edges snapped to the image; it always contains the handle. Knobs: ``threshold``
    (``"auto"`` or a similarity), ``grow`` (pixels, negative shrinks), ``smooth``
    (edge refinement radius in feature cells; 0 = off). See ``region_steps``.
    """
    return region_steps(model, image, handle, threshold, grow, smooth, **kwargs).mask
