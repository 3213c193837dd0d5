"""Stage 1b, the region under a handle: what a drag from this point may change.

The feature at the handle is compared with every cell (cosine similarity). DIFT
features are coarse (one cell covers 4 px on the teaching model, 8-16 px on SD), so
thresholding the upsampled map gives a blob that ignores the object's outline. Two ways
past that, ``method=``:

``"merge"`` (the default; ``python -m dragnb.bench regions`` compares the two on the
teaching model's scenes):

1. **segments**: the image cut into small pieces of one colour (Felzenszwalb and
   Huttenlocher's graph segmentation, scikit-image's ``felzenszwalb``);
2. **features per segment**: the mean of the (unit) DIFT features under each piece;
3. **merging**: neighbouring pieces join, the most alike pair (cosine of their mean
   features) first, until no neighbours are more alike than ``threshold`` (``"auto"``:
   0.88, chosen on scenes apart from the benchmark's): an object is the pieces that look like one thing;
4. the merged group holding the handle, holes filled; then **grow / shrink**.

``"threshold"`` (the first recipe):

1. **similarity** on the feature grid, upsampled to the image;
2. **edge-aware refinement**: a colour guided filter (He et al. 2010) with the image
   as guide snaps the map to the image's edges inside each cell;
3. **threshold**: halfway between the handle's own similarity (1) and the image's
   75th percentile (``"auto"``), Otsu's split (``"otsu"``), or a number you give;
4. **connected component** that holds the handle, holes filled (other, similar objects
   elsewhere are not part of this drag);
5. **grow / shrink** by ``grow`` pixels; the handle is always inside.

Several points make one region (the union of what each holds). ``region_steps`` returns
every intermediate for plotting; ``find_region`` the mask. A whole drag's region,
``pulled.drag_region``, is what each drag pulls from its region, swept along its path to
the target (``dragnb.pulled``).
"""
from __future__ import annotations

from dataclasses import dataclass

import heapq

import numpy as np
from PIL import Image
from scipy import ndimage

from . import validate
from .features import Features, check_features, dift_features, similarity_map
from .images import load_image
from .loading import DiffusionModel

MERGE_AUTO = 0.88       # "merge": the cosine at which merging stops (chosen on scenes apart from the
                        # benchmark's: the teaching model's results log)
SEGMENT_SCALE = 200.0   # felzenszwalb's scale: larger makes bigger pieces
SEGMENT_SIGMA = 0.3     # felzenszwalb's smoothing before cutting (0.3 keeps a 64 px sun apart from its sky)
SEGMENT_SMALL = 0.004    # pieces under this share of the image (and slivers) join their most alike neighbour first
SEGMENT_MIN = 4          # felzenszwalb's smallest piece, pixels


@dataclass
class Region:
    """Each step of finding a region; arrays are (H, W) at the user image's size."""

    handle: tuple            # (x, y): the first point
    similarity: np.ndarray   # float32, cosine similarity upsampled bilinearly (several points: the largest)
    refined: np.ndarray      # float32, after the guided filter ("merge": the similarity averaged per segment)
    threshold: float
    above: np.ndarray        # bool, refined >= threshold ("merge": the merged groups that hold a point)
    mask: np.ndarray         # bool, the final region
    points: tuple = ()       # every point the region was asked to hold, ((x, y), ...)
    method: str = "threshold"
    segments: np.ndarray | None = None   # "merge": the image's pieces, (H, W) int labels
    groups: np.ndarray | None = None     # "merge": the pieces merged into groups, (H, W) int labels


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


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) a bool mask by a disk of that radius (outside
    the image counts as not in the mask). By distance transform: as fast for any radius."""
    if pixels == 0 or not mask.any():
        return mask
    if pixels > 0:
        return ndimage.distance_transform_edt(~mask) <= pixels
    framed = np.pad(mask, 1)   # the border: not in the mask
    return (ndimage.distance_transform_edt(framed) > -pixels)[1:-1, 1:-1]


def image_segments(image: np.ndarray) -> np.ndarray:
    """The image (H, W, 3) uint8 cut into small pieces of one colour: (H, W) int labels 0..n-1."""
    from skimage.segmentation import felzenszwalb

    return felzenszwalb(image, scale=SEGMENT_SCALE, sigma=SEGMENT_SIGMA, min_size=SEGMENT_MIN)


def segment_features(features: Features, segments: np.ndarray) -> np.ndarray:
    """The sum of unit DIFT features over each segment's pixels (each pixel takes its cell's): (n, C)."""
    f = features.fmap.float()
    c, gh, gw = f.shape
    unit = (f / f.norm(dim=0, keepdim=True).clamp_min(1e-12)).reshape(c, -1).T.cpu().numpy()   # (cells, C)
    fw, fh = features.geometry.framed
    h, w = segments.shape
    cx = np.minimum(gw - 1, ((np.arange(w) + 0.5) * gw / fw).astype(int))
    cy = np.minimum(gh - 1, ((np.arange(h) + 0.5) * gh / fh).astype(int))
    cell = cy[:, None] * gw + cx[None, :]
    n = int(segments.max()) + 1
    counts = np.bincount((segments * gh * gw + cell).ravel(), minlength=n * gh * gw).reshape(n, gh * gw)
    return counts.astype(np.float64) @ unit


@dataclass
class Pieces:
    """What the "merge" method knows of an image before any point is given: its one-colour pieces
    and the order they merge in. One per image (``image_pieces``); every point and threshold reuses it."""

    segments: np.ndarray   # (H, W) int labels 0..n-1
    merges: list           # [(cosine, kept, absorbed), ...], see ``merge_order``


def image_pieces(features: Features) -> Pieces:
    """``features.image`` cut into pieces (``image_segments``) and their merge order (``merge_order``)."""
    segments = image_segments(np.asarray(features.image.convert("RGB")))
    merges = merge_order(segments, segment_features(features, segments), int(SEGMENT_SMALL * segments.size))
    return Pieces(segments, merges)


def slivers(segments: np.ndarray, n: int | None = None) -> np.ndarray:
    """Which pieces are slivers, (n,) bool: no pixel of theirs has four neighbours of its own piece
    (a line along an anti-aliased edge, a mountain's tip, one row of a gradient sky)."""
    n = int(segments.max()) + 1 if n is None else n
    pad = np.pad(segments, 1, mode="edge")
    inner = ((pad[1:-1, 1:-1] == pad[:-2, 1:-1]) & (pad[1:-1, 1:-1] == pad[2:, 1:-1])
             & (pad[1:-1, 1:-1] == pad[1:-1, :-2]) & (pad[1:-1, 1:-1] == pad[1:-1, 2:]))
    return np.bincount(segments[inner], minlength=n) == 0


def merge_order(segments: np.ndarray, sums: np.ndarray, small: int = 0) -> list:
    """Greedy merging of neighbouring segments, the most alike pair first (cosine of their summed
    features), down to one group: [(cosine, kept, absorbed), ...] in merge order.

    Pieces under ``small`` pixels, and slivers (no pixel whose four neighbours are the piece's
    own: a line along an anti-aliased edge, a mountain's tip), are merged first, each into its
    most alike neighbour whatever the cosine; those merges are recorded with cosine 1.0, so
    every threshold keeps them.
    """
    n = sums.shape[0]
    sums = sums.copy()
    area = np.bincount(segments.ravel(), minlength=n).astype(np.int64)
    sliver = slivers(segments, n)
    near = [set() for _ in range(n)]
    for a, b in ((segments[:, :-1], segments[:, 1:]), (segments[:-1], segments[1:])):
        d = a != b
        for x, y in set(zip(a[d].tolist(), b[d].tolist())):
            near[x].add(y)
            near[y].add(x)

    def entry(a, b):
        x, y = (a, b) if a < b else (b, a)
        c = float(sums[x] @ sums[y] / (np.linalg.norm(sums[x]) * np.linalg.norm(sums[y]) + 1e-12))
        tiny = min(area[x], area[y]) < small or sliver[x] or sliver[y]
        return (0 if tiny else 1, -c, x, y, version[x], version[y])

    version = [0] * n
    heap = [entry(a, b) for a in range(n) for b in near[a] if a < b]
    heapq.heapify(heap)
    merges = []
    while heap:
        first, c, a, b, va, vb = heapq.heappop(heap)
        if version[a] != va or version[b] != vb:
            continue   # one side changed since this pair was scored
        merges.append((1.0 if first == 0 else -c, a, b))
        sums[a] += sums[b]
        area[a] += area[b]
        sliver[a] = sliver[a] and sliver[b]
        version[a] += 1
        version[b] = -1   # b is gone
        for k in near[b]:
            if k != a:
                near[k].discard(b)
                near[k].add(a)
                near[a].add(k)
        near[b] = set()
        near[a].discard(b)
        for k in near[a]:
            heapq.heappush(heap, entry(a, k))
    return merges


def merged_groups(n: int, merges: list, threshold: float) -> np.ndarray:
    """Each segment's group (n,) after the merges whose cosine is at least ``threshold``."""
    parent = np.arange(n)

    def root(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for c, a, b in merges:
        if c < threshold:
            break
        parent[root(b)] = root(a)
    return np.array([root(i) for i in range(n)])


def region_steps(model: DiffusionModel | None, image, handle, threshold="auto", grow: int = 0,
                 smooth: float = 1.0, eps: float = 1e-3, fill_holes: bool = True,
                 features: Features | None = None, method: str = "merge", pieces: Pieces | None = None,
                 **dift_kwargs) -> Region:
    """Find the region around ``handle``, keeping every step (see the module doc).

    Args:
        handle: (x, y) in image pixels, or several points [(x, y), ...] on the same thing (a
            second click where the first one's region stops short: a house's roof as well as
            its door). Each pixel's similarity is then the largest to any point, thresholded at
            the first point's threshold, and the region keeps every connected part that holds a
            point: a point added only ever adds to the region.
        threshold: a cosine similarity in [-1, 1] (lower: a bigger region), or ``"auto"``
            ("merge": 0.88; "threshold": halfway from the 75th percentile of the refined map to
            1), or ``"otsu"`` ("threshold" only: Otsu's split of the refined map).
        method: ``"merge"`` (segments merged by their features) or ``"threshold"`` (the
            similarity map thresholded); see the module doc.
        pieces: ``image_pieces(features)`` computed once, for several calls on one image ("merge").
        grow: pixels to dilate (> 0) or erode (< 0) the final region.
        smooth: guided-filter radius in feature cells (0 turns the refinement off).
        eps: guided-filter regularisation: larger follows colour edges less.
        features: precomputed ``dift_features`` of ``image`` (then ``model`` may be None).
        **dift_kwargs: passed to ``dift_features`` (prompt, t, up_block, ensemble, ...).
    """
    validate.choice("method", method, ("merge", "threshold"))
    if method == "merge" and threshold == "otsu":
        raise ValueError('threshold="otsu" splits a similarity map: use it with method="threshold"')
    grow = validate.number("grow", grow, int, -100_000, 100_000)
    smooth = validate.number("smooth", smooth, float, 0)
    eps = validate.number("eps", eps, float, 0, lo_open=True)
    if not (isinstance(threshold, str) and threshold in ("auto", "otsu")):
        threshold = validate.number("threshold", threshold, float, -1, 1)
    if features is not None:
        check_features("features", features)
        if image is not None and not _same_image(load_image(image), features.image):
            raise ValueError(f"features were computed for another image ({features.image.size[0]}x"
                             f"{features.image.size[1]}) than the one given: pass that image, or no features")
    if features is None:
        if model is None:
            raise ValueError("find_region needs a model or precomputed features")
        features = dift_features(model, image, **dift_kwargs)
    points = validate.image_points(handle, features.geometry.user, "handle")
    if len(points) == 0:
        raise ValueError("handle is empty: find_region needs at least one point (x, y) on the thing to drag")
    sims = [similarity_map(features, tuple(p)) for p in points]
    if method == "merge":
        return _merged_region(pieces or image_pieces(features), points, sims,
                              MERGE_AUTO if threshold == "auto" else threshold, grow, fill_holes)
    return _thresholded_region(features, points, sims, threshold, grow, smooth, eps, fill_holes)


def _same_image(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def _thresholded_region(features: Features, points: np.ndarray, sims: list, threshold, grow: int, smooth: float,
                        eps: float, fill_holes: bool) -> Region:
    """``region_steps``' "threshold" method: the similarity maps refined along the image's edges
    (guided filter of ``smooth`` feature cells), thresholded at the first point's threshold."""
    radius = int(round(smooth * features.geometry.cell_size(features.grid)))
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
    pts = tuple((float(x), float(y)) for x, y in points)
    return Region(pts[0], sim, refined, thr, above, _holding(above, points, fill_holes, grow), pts)


def _holding(above: np.ndarray, points: np.ndarray, fill_holes: bool, grow: int) -> np.ndarray:
    """The connected parts of ``above`` (H, W) bool that hold the points (N, 2) [x, y], holes filled,
    grown by ``grow`` pixels; every point inside. Both methods end here."""
    iy, ix = np.round(points[:, 1]).astype(int), np.round(points[:, 0]).astype(int)
    seeds = above.copy()
    seeds[iy, ix] = True
    labels, _ = ndimage.label(seeds)   # "merge": pieces may hang on by a corner; keep the parts that hold a point
    mask = np.isin(labels, labels[iy, ix])
    if fill_holes:
        mask = ndimage.binary_fill_holes(mask)
    mask = grow_mask(mask, grow)
    mask[iy, ix] = True
    return mask


def find_region(model: DiffusionModel | None, image, handle, threshold="auto", grow: int = 0,
                smooth: float = 1.0, **kwargs) -> np.ndarray:
    """The region a drag from ``handle`` may change: bool (H, W) at the image's size.

    The connected part of the image that looks like one thing with the handle (pieces of
    one colour merged while their DIFT features are alike; or, ``method="threshold"``, the
    similarity map thresholded with edges snapped to the image); it always contains the
    handle. Knobs: ``threshold`` (``"auto"`` or a cosine: lower grows the region), ``grow``
    (pixels, negative shrinks), ``method``, ``smooth`` ("threshold": edge refinement radius
    in feature cells; 0 = off). ``handle`` may be several points on one thing. See
    ``region_steps``.
    """
    return region_steps(model, image, handle, threshold, grow, smooth, **kwargs).mask


def _merged_region(pieces: Pieces, points: np.ndarray, sims: list, threshold: float, grow: int,
                   fill_holes: bool) -> Region:
    """``region_steps``' "merge" method: the merged groups of segments that hold the points."""
    segments = pieces.segments
    groups = merged_groups(int(segments.max()) + 1, pieces.merges, threshold)[segments]
    iy, ix = np.round(points[:, 1]).astype(int), np.round(points[:, 0]).astype(int)
    above = np.isin(groups, groups[iy, ix])
    mask = _holding(above, points, fill_holes, grow)
    sim = np.max(sims, axis=0)
    per_segment = np.asarray(ndimage.mean(sim, labels=segments, index=np.arange(segments.max() + 1)),
                             np.float32)[segments]
    pts = tuple((float(x), float(y)) for x, y in points)
    return Region(pts[0], sim, per_segment, float(threshold), above, mask, pts, "merge", segments, groups)
