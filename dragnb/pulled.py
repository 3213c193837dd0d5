"""Stage 1c, the region of a whole drag: what each drag pulls, swept to its target.

``region.find_region`` gives the region under a handle, whatever the drag. A drag uses it
as ``pulled_region`` makes it fit the drag: without the backdrop pieces it caught (a
horizon's line, rows of a gradient sky), and, when the drag reshapes what it holds (points
away from its middle: a peak raised), with the pieces right behind it (the mountain under a
snow cap); when the drag moves it whole, with the piece it stands on (a roof's walls). A handle on a thread (a tail one or two pixels wide) pulls the thread: the one the
region holds (``thread``), or the one drawn in the image (``drawn_thread``) where that is longer
(the region under a tail's tip is often a row of the horizon, a house or a mountain instead).
A handle on an edge (its pixel in a sliver piece: the anti-aliased tip of a peak) may find the region
beyond the edge (the sky, a sun behind the peak); ``edge_region`` then takes the region right behind
the handle, against the drag, when the handle's colour and the drag say that is what it holds.
``handle_regions`` gives that region per handle, and ``drag_region`` sweeps each along its path
to the target and grows it by a margin: what the session lets change when no mask is painted,
and what the warp start (``warp.py``) deforms.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.graph import MCP_Geometric

from . import validate
from .features import dift_features
from .images import default_seam, load_image
from .loading import DiffusionModel
from .region import find_region, grow_mask, image_pieces, slivers

PULLED = 0.5             # a drag pulls its region outward when it points this much (cosine) away from its middle
MIDDLE = 0.3             # ... never from a handle this near its middle (x the region's RMS radius): that moves it
BEHIND = 2               # ... and then also takes the pieces this many pixels behind the region, against the drag
BEHIND_MIN = 3           # ... that have at least this many pixels there
WIDE = 0.1               # ... and not pieces on the border larger than this share of the image (sky, ground)
UNDER = 0.5              # a region moved whole takes the piece holding this share of what lies right below it ...
BASE_MAX = 3.0           # ... unless backdrop, wide, or larger than this x the region (a roof's walls, not the ground)
THREAD = 1.5             # ... unless the region is a thread (no pixel farther than this from its outside): a limb
BODY_MIN = 12            # a piece this many pixels after an opening by a 3 x 3 square is a body, not a thread
THREAD_MIN = 3           # a thread at the handle this long (px, to its root) or longer is one
TAPER = 3                # ... unless it widens steadily into its body up to this many px past its root: a tip
EDGE = 3                 # a handle on an edge looks this many px behind itself for the piece it is the edge of
DRAWN_MIN = 4            # a thread drawn in the image this long (px) or longer is one
LIKE = 0.5               # drawn: a pixel has the thread's colour within this x the thread's contrast with its surroundings
SHUN = 10.0              # drawn: a step onto a pixel coloured like the surroundings costs 1 + this
AROUND = 5               # drawn: a pixel's surroundings are the median of this x this pixels about it
STANDS_OUT = 15.0        # drawn: a thread stands out from its surroundings by at least this (RGB distance)
BLEND = 0.6              # drawn: ... and its pixels are on average at most this far from its colour to the surroundings'
SIDES = 0.25             # drawn: ... and at least this share of them has the same other colour 2 px to either side
EIGHT = np.ones((3, 3), bool)   # 8-connectivity, and the 3 x 3 square a thread is opened by


def handle_regions(model: DiffusionModel, image, handles, prompt: str = "", size: int | None = None,
                   targets=None) -> list:
    """The region under each handle (``find_region``, one DIFT pass at ``size``, the image cut into
    pieces once): [(H, W) bool, ...]. With ``targets`` (one per handle), what each drag pulls
    (``pulled_region``) of the region its handle holds (``edge_region``: on a peak's tip, the region
    right behind it)."""
    image = load_image(image)
    feats = dift_features(model, image, prompt=prompt, size=size)
    pieces = image_pieces(feats)
    regions = [find_region(model, image, hp, features=feats, pieces=pieces) for hp in handles]
    if targets is None:
        return regions
    rgb = np.asarray(image.convert("RGB"))

    def found_at(point):
        return find_region(model, image, point, features=feats, pieces=pieces)

    regions = [edge_region(r, pieces.segments, rgb, hp, tp, found_at) for r, hp, tp in zip(regions, handles, targets)]
    return [pulled_region(r, pieces.segments, hp, tp, rgb) for r, hp, tp in zip(regions, handles, targets)]


def behind_edge(segments: np.ndarray, handle, target) -> tuple | None:
    """Where a handle on an edge has the thing it is the edge of: the (row, col) of the first pixel 1
    to ``EDGE`` px behind the handle, against the drag, in a piece that is no sliver; None if the
    handle's own piece is no sliver (``region.slivers``: an anti-aliased line, a peak's tip), or if
    there is none."""
    thin = slivers(segments)
    if not thin[segments[pixel(handle, segments.shape)]]:
        return None
    d = np.asarray(target, np.float64) - np.asarray(handle, np.float64)
    if np.hypot(*d) < 0.5:
        return None
    u = d / np.hypot(*d)
    for k in range(1, EDGE + 1):
        at = pixel(np.asarray(handle, np.float64) - k * u, segments.shape)
        if not thin[segments[at]]:
            return at
    return None


def edge_region(region: np.ndarray, segments: np.ndarray, image: np.ndarray, handle, target, found_at) -> np.ndarray:
    """The region a handle on an edge holds: (H, W) bool. ``region`` is the one found at the handle;
    ``found_at((x, y))`` finds one at another point. At a peak's tip, the handle's pixel is a sliver
    blended from the peak and the sky, and the region found there may be the sky's or a sun's beside
    it. When the handle is on an edge (``behind_edge``), its colour is nearer the piece right behind it
    than the region's (mean, without the handle's pixel), and the drag pulls the region found behind
    it outward (``reshapes``, cosine ``PULLED``), that region, with the handle's pixel, is the one held."""
    back = behind_edge(segments, handle, target)
    if back is None:
        return region
    at = pixel(handle, region.shape)
    img = np.asarray(image, np.float64)[..., :3]
    others = region.copy()
    others[at] = False
    if not others.any():
        return region
    own = img[at]
    if np.linalg.norm(own - img[segments == segments[back]].mean(0)) >= np.linalg.norm(own - img[others].mean(0)):
        return region
    held = np.asarray(found_at((back[1], back[0])), bool).copy()
    d = np.asarray(target, np.float64) - np.asarray(handle, np.float64)
    if not held.any() or not reshapes(held, handle, d, PULLED):
        return region
    held[at] = True
    return held


def pixel(point, shape) -> tuple:
    """The (row, col) of the pixel that holds ``point`` (x, y) in an image of ``shape`` (H, W), clamped to it."""
    h, w = shape[:2]
    return min(h - 1, max(0, int(round(point[1])))), min(w - 1, max(0, int(round(point[0]))))


def reshapes(mask: np.ndarray, handle, d, cosine: float) -> bool:
    """Whether a drag by ``d`` (x, y) from ``handle`` points away from the middle of ``mask`` (H, W)
    bool by a cosine of at least ``cosine``: it reshapes what the mask holds rather than moving it. A
    handle within ``MIDDLE`` x the mask's RMS radius of its middle (a sun held at its centre) moves it."""
    ys, xs = np.nonzero(mask)
    cx, cy = xs.mean(), ys.mean()
    out = np.asarray(handle, np.float64) - (cx, cy)
    if np.hypot(*out) < MIDDLE * np.sqrt(((xs - cx) ** 2 + (ys - cy) ** 2).mean()):
        return False
    return out @ d >= cosine * np.hypot(*d) * np.hypot(*out)


def ahead(mask: np.ndarray, direction, k: float) -> np.ndarray:
    """Whether ``mask`` (H, W) bool holds the point ``k`` px ahead of each pixel along ``direction``
    (a unit (x, y); outside the image: no): (H, W) bool."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return ndimage.map_coordinates(mask.astype(np.float64), [yy + k * direction[1], xx + k * direction[0]],
                                   order=0, mode="constant") > 0.5


def _on_border(segments: np.ndarray, n: int) -> np.ndarray:
    """Which of the n pieces touch the image's border: (n,) bool."""
    border = np.zeros(n, bool)
    border[np.concatenate([segments[0], segments[-1], segments[:, 0], segments[:, -1]])] = True
    return border


def background_pieces(segments: np.ndarray) -> np.ndarray:
    """Pieces that are the scene's backdrop rather than a thing in it, (n,) bool: slivers that touch
    the image's border (a horizon's anti-aliased line, one row of a gradient sky or ground) and pieces
    that run from one border to the opposite one."""
    n = int(segments.max()) + 1
    across = np.zeros(n, bool)
    across[np.intersect1d(segments[:, 0], segments[:, -1])] = True
    across[np.intersect1d(segments[0], segments[-1])] = True
    return (slivers(segments, n) & _on_border(segments, n)) | across


def pulled_region(region: np.ndarray, segments: np.ndarray, handle, target, image: np.ndarray | None = None) -> np.ndarray:
    """What a drag from ``handle`` to ``target`` (x, y) pulls: (H, W) bool.

    ``region`` (H, W) bool, the region under the handle, loses the backdrop pieces it caught
    (``background_pieces`` of ``segments``, the image's one-colour pieces, unless the handle is on
    one) and keeps what still connects to the handle. With ``image`` (H, W, 3), a thread drawn at the
    handle (``drawn_thread``) longer than any the region holds (``thread``) is what the drag pulls,
    alone. Otherwise, a drag that points away from the region's
    middle (cosine at least ``PULLED``: a peak raised, a tree grown) reshapes the thing the region
    belongs to, which goes on behind it: the pieces within ``BEHIND`` px behind the region, against
    the drag, join it (the mountain under a snow cap, the trunk under a crown), except backdrop and
    wide pieces on the border (``WIDE``: sky, ground). A region that is a thread (``THREAD``: a tail
    one pixel wide) joins nothing. A speck (under ``BODY_MIN`` px, no thread: the region found under
    a peak's tip is often a pixel or two) is taken with the piece the handle is on, unless backdrop
    or wide, and whatever the drag's direction, what lies behind it joins. A region the drag moves
    whole (it does not point away from its middle) takes the piece it stands on (``_stands_on``: a
    roof's walls, a crown's trunk). Holes are filled.
    """
    at = pixel(handle, region.shape)
    own = segments[at]
    backdrop = background_pieces(segments)
    n = len(backdrop)
    wide = _on_border(segments, n) & (np.bincount(segments.ravel(), minlength=n) > WIDE * segments.size)
    solid = not (backdrop[own] or wide[own])
    backdrop[own] = False
    kept = region & ~backdrop[segments]
    kept[at] = True
    labels, _ = ndimage.label(kept, np.ones((3, 3)))
    kept = ndimage.binary_fill_holes(labels == labels[at])
    held = thread(kept, handle)
    drawn = None if image is None else drawn_thread(image, handle)
    if drawn is not None and _longer(thread(drawn, handle), held):
        return drawn
    d = np.asarray(target, np.float64) - np.asarray(handle, np.float64)
    if np.hypot(*d) < 0.5:
        return kept
    if kept.sum() < BODY_MIN and held is None:   # a speck: a peak's tip
        kept |= (segments == own) & solid
    elif ndimage.distance_transform_edt(np.pad(kept, 1)).max() <= THREAD:
        return kept
    elif not reshapes(kept, handle, d, PULLED):   # moved whole: with what it stands on
        return ndimage.binary_fill_holes(kept | _stands_on(kept, segments, backdrop | wide))
    joined = (np.bincount(segments[_behind(kept, d)], minlength=n) >= BEHIND_MIN) & ~backdrop & ~wide
    return ndimage.binary_fill_holes(kept | joined[segments])


def _stands_on(mask: np.ndarray, segments: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """The piece that ``mask`` (H, W) bool stands on, if any: (H, W) bool. That is the piece holding at
    least ``UNDER`` of the pixels 1 to ``BEHIND`` px below the mask, unless it is one of ``ground`` (n,)
    bool (backdrop and wide pieces) or larger than ``BASE_MAX`` x the mask (a table under a cup)."""
    below = _behind(mask, (0.0, -1.0))
    counts = np.bincount(segments[below], minlength=len(ground))
    i = int(np.argmax(counts))
    piece = segments == i
    if counts[i] == 0 or counts[i] < UNDER * counts.sum() or ground[i] or piece.sum() > BASE_MAX * mask.sum():
        return np.zeros_like(mask)
    return piece


def _longer(a, b) -> bool:
    """Whether thread ``a`` ((mask, length) or None) is longer than ``b``."""
    return a is not None and (b is None or a[1] > b[1])


def geodesic(inside: np.ndarray, seeds) -> np.ndarray:
    """Shortest-path length from ``seeds`` [(row, col)] staying inside ``inside`` (H, W) bool:
    (H, W) float, inf outside."""
    dist, _ = MCP_Geometric(np.where(inside, 1.0, np.inf)).find_costs([tuple(s) for s in seeds])
    return np.where(inside, dist, np.inf)


def _bodies(mask: np.ndarray) -> np.ndarray:
    """What of ``mask`` (H, W) bool an opening by a 3 x 3 square keeps, in pieces of at least
    ``BODY_MIN`` px: (H, W) bool."""
    kept, _ = ndimage.label(ndimage.binary_opening(mask, EIGHT), EIGHT)
    sizes = np.bincount(kept.ravel())
    sizes[0] = 0
    return sizes[kept] >= BODY_MIN


def thread(region: np.ndarray, handle) -> tuple | None:
    """The thread that ``region`` (H, W) bool holds at the handle, if any: ((H, W) bool, its length
    in geodesic px from the handle to its root), or None.

    The region's 8-connected piece at the handle is opened by a 3 x 3 square; what the opening
    keeps, in pieces of at least ``BODY_MIN`` px, is body. A handle on or next to body holds no
    thread. Otherwise the thread is the rest of the piece connected to the handle, nearer to it
    than the root: the body pixel nearest along the piece, or with no body its farthest pixel.
    None if that is under ``THREAD_MIN`` px, or if the piece widens steadily from the handle into
    the body up to ``TAPER`` px past the root (its cross-section, the pixels in each 1-px band of
    distance from the handle, never narrowing): a peak's or a fir's tip, not a tail."""
    at = pixel(handle, region.shape)
    piece = region.copy()
    piece[at] = True
    labels, _ = ndimage.label(piece, EIGHT)
    piece = labels == labels[at]
    body = _bodies(piece)
    if ndimage.binary_dilation(body, EIGHT)[at]:
        return None
    rest, _ = ndimage.label(piece & ~body, EIGHT)
    limb = rest == rest[at]
    g = geodesic(limb | body, [at])
    meets = body & ndimage.binary_dilation(limb, EIGHT)
    root = float(g[meets].min() if meets.any() else g[limb].max())
    if root < THREAD_MIN:
        return None
    if meets.any() and np.all(np.diff(cross_sections(limb | body, g)[: int(root) + TAPER + 1]) >= 0):
        return None
    return limb & (g < root), root


def cross_sections(mask: np.ndarray, along: np.ndarray) -> np.ndarray:
    """The cross-section of ``mask`` (H, W) bool at each distance ``along`` it ((H, W) float, such as
    the geodesic distance from the handle): its pixels in each 1-px band, (n,) int; pixels at an
    infinite distance are left out."""
    return np.bincount(np.floor(along[mask & np.isfinite(along)]).astype(int))


def drawn_thread(image: np.ndarray, handle) -> np.ndarray | None:
    """A line drawn at the handle in a colour of its own, from there to the body it grows from (a
    tail one or two pixels wide, its colour blended with what is behind it): (H, W) bool, or None.

    ``image`` (H, W, 3). A pixel's surroundings are the median colour of the ``AROUND`` x ``AROUND``
    pixels about it. The line starts at the pixel within one of the handle that stands out most from
    its surroundings, with colour c and contrast k (at least ``STANDS_OUT``, and the handle's own
    pixel too). Body is what lies within ``LIKE`` x k of c, in pieces an opening by a 3 x 3 square
    keeps (``BODY_MIN``); a start on or next to body holds no line. The line is the cheapest path from
    the start to a body, a step onto a pixel costing 1 + ``SHUN`` x its blend b in [0, 1] (its colour's
    distance to c over its surroundings' distance to c), without the body; it is a thread if at least
    ``DRAWN_MIN`` px long, of mean blend at most ``BLEND``, and with the same colour, unlike c, 2 px to
    either side of at least ``SIDES`` of its pixels (a line in front of one background, not the edge
    between two: a mountain's flank, a tree's)."""
    img = np.asarray(image, np.float64)[..., :3]
    around = np.stack([ndimage.median_filter(img[..., c], AROUND) for c in range(3)], -1)
    stand = np.linalg.norm(img - around, axis=-1)
    at = pixel(handle, img.shape)
    if stand[at] < STANDS_OUT:
        return None
    near = [(at[0] + a, at[1] + b) for a in (-1, 0, 1) for b in (-1, 0, 1)
            if 0 <= at[0] + a < img.shape[0] and 0 <= at[1] + b < img.shape[1]]
    at = max(near, key=lambda p: stand[p])
    colour, k = img[at], stand[at]
    off = np.linalg.norm(img - colour, axis=-1)
    body = _bodies(off <= LIKE * k)
    if not body.any() or ndimage.binary_dilation(body, EIGHT)[at]:
        return None
    blend = np.clip(off / np.maximum(np.linalg.norm(around - colour, axis=-1), 1e-6), 0.0, 1.0)
    paths = MCP_Geometric(1.0 + SHUN * blend)
    cost, _ = paths.find_costs([at])
    end = np.unravel_index(np.argmin(np.where(body, cost, np.inf)), cost.shape)
    line = np.array([p for p in paths.traceback(end) if not body[tuple(p)]])
    if len(line) < DRAWN_MIN or blend[line[:, 0], line[:, 1]].mean() > BLEND:
        return None
    if _two_sided(img, line, colour, k) < SIDES:
        return None
    out = np.zeros(img.shape[:2], bool)
    out[line[:, 0], line[:, 1]] = True
    return out


def _two_sided(img: np.ndarray, line: np.ndarray, colour, k: float) -> float:
    """The share of the ``line`` (N, 2) (row, col) pixels whose two sides, 2 px away along the line's
    normal, have colours unlike ``colour`` (beyond ``LIKE`` x k) and alike each other (within it)."""
    ahead, back = line[np.minimum(np.arange(len(line)) + 2, len(line) - 1)], line[np.maximum(np.arange(len(line)) - 2, 0)]
    t = (ahead - back).astype(np.float64)
    normal = np.stack([t[:, 1], -t[:, 0]], 1) / np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    sides = [np.stack([ndimage.map_coordinates(img[..., c], (line + s * 2.0 * normal).T, order=1, mode="nearest")
                       for c in range(3)], -1) for s in (1, -1)]
    unlike = [np.linalg.norm(c - colour, axis=-1) > LIKE * k for c in sides]
    alike = np.linalg.norm(sides[0] - sides[1], axis=-1) < LIKE * k
    return float(np.mean(unlike[0] & unlike[1] & alike))


def _behind(mask: np.ndarray, d) -> np.ndarray:
    """Pixels outside ``mask`` (H, W) bool that it lies 1 to ``BEHIND`` px ahead of along d (x, y): (H, W) bool."""
    u = np.asarray(d, np.float64) / np.hypot(*d)
    out = np.zeros_like(mask)
    for k in range(1, BEHIND + 1):
        out |= ahead(mask, u, k)
    return out & ~mask


def drag_region(model: DiffusionModel, image, handles, targets, grow: int | None = None,
              prompt: str = "", regions: list | None = None, size: int | None = None) -> np.ndarray:
    """The region a drag may change: what each drag pulls (``pulled_region``), swept along
    its path to the target and grown by ``grow`` pixels (default ``images.default_seam``): (H, W) bool."""
    image = load_image(image)
    w, h = image.size
    handles, targets = validate.pairs(handles, targets, image.size)
    if len(handles) == 0:
        raise ValueError("drag_region needs at least one handle and its target")
    grow = default_seam(image.size) if grow is None else validate.number("grow", grow, int, -100_000, 100_000)
    if regions is not None and (len(validate.sequence("regions", regions)) != len(handles)):
        raise ValueError(f"regions must hold one mask per handle ({len(handles)}), got {len(regions)}")
    regions = handle_regions(model, image, handles, prompt, size, targets) if regions is None else regions
    out = np.zeros((h, w), bool)
    for region, hp, tp in zip(regions, handles, targets):
        d = np.asarray(tp) - np.asarray(hp)
        n = int(np.ceil(np.abs(d).max())) + 1
        for s in np.linspace(0, 1, n):
            dx, dy = int(round(s * d[0])), int(round(s * d[1]))
            out |= np.roll(np.roll(region, dy, 0), dx, 1) & _inside(region.shape, dx, dy)
    return grow_mask(out, grow)


def _inside(shape, dx, dy) -> np.ndarray:
    """Where a roll by (dx, dy) did not wrap around."""
    m = np.ones(shape, bool)
    if dy > 0:
        m[:dy] = False
    elif dy < 0:
        m[dy:] = False
    if dx > 0:
        m[:, :dx] = False
    elif dx < 0:
        m[:, dx:] = False
    return m
