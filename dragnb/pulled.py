"""Stage 1c, the region of a whole drag: what each drag pulls, swept to its target.

``region.find_region`` gives the region under a handle, whatever the drag. A drag uses it
as ``pulled_region`` makes it fit the drag: without the backdrop pieces it caught (a
horizon's line, rows of a gradient sky), and, when the drag reshapes what it holds (points
away from its middle: a peak raised), with the pieces right behind it (the mountain under a
snow cap). ``handle_regions`` gives that region per handle, and ``drag_region`` sweeps each
along its path to the target and grows it by a margin: what the session lets change when no
mask is painted, and what the warp start (``warp.py``) deforms.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import validate
from .features import dift_features
from .images import default_seam, load_image
from .loading import DiffusionModel
from .region import find_region, grow_mask, image_pieces, slivers

PULLED = 0.5             # a drag pulls its region outward when it points this much (cosine) away from its middle
BEHIND = 2               # ... and then also takes the pieces this many pixels behind the region, against the drag
BEHIND_MIN = 3           # ... that have at least this many pixels there
WIDE = 0.1               # ... and not pieces on the border larger than this share of the image (sky, ground)
THREAD = 1.5             # ... unless the region is a thread (no pixel farther than this from its outside): a limb


def handle_regions(model: DiffusionModel, image, handles, prompt: str = "", size: int | None = None,
                   targets=None) -> list:
    """The region under each handle (``find_region``, one DIFT pass at ``size``, the image cut into
    pieces once): [(H, W) bool, ...]. With ``targets`` (one per handle), what each drag pulls
    (``pulled_region``)."""
    image = load_image(image)
    feats = dift_features(model, image, prompt=prompt, size=size)
    pieces = image_pieces(feats)
    regions = [find_region(model, image, hp, features=feats, pieces=pieces) for hp in handles]
    if targets is None:
        return regions
    return [pulled_region(r, pieces.segments, hp, tp) for r, hp, tp in zip(regions, handles, targets)]


def pixel(point, shape) -> tuple:
    """The (row, col) of the pixel that holds ``point`` (x, y) in an image of ``shape`` (H, W), clamped to it."""
    h, w = shape[:2]
    return min(h - 1, max(0, int(round(point[1])))), min(w - 1, max(0, int(round(point[0]))))


def reshapes(mask: np.ndarray, handle, d, cosine: float) -> bool:
    """Whether a drag by ``d`` (x, y) from ``handle`` points away from the middle of ``mask`` (H, W)
    bool by a cosine of at least ``cosine``: it reshapes what the mask holds rather than moving it."""
    ys, xs = np.nonzero(mask)
    out = np.asarray(handle, np.float64) - (xs.mean(), ys.mean())
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


def pulled_region(region: np.ndarray, segments: np.ndarray, handle, target) -> np.ndarray:
    """What a drag from ``handle`` to ``target`` (x, y) pulls: (H, W) bool.

    ``region`` (H, W) bool, the region under the handle, loses the backdrop pieces it caught
    (``background_pieces`` of ``segments``, the image's one-colour pieces, unless the handle is on
    one) and keeps what still connects to the handle. A drag that points away from the region's
    middle (cosine at least ``PULLED``: a peak raised, a tree grown) reshapes the thing the region
    belongs to, which goes on behind it: the pieces within ``BEHIND`` px behind the region, against
    the drag, join it (the mountain under a snow cap, the trunk under a crown), except backdrop and
    wide pieces on the border (``WIDE``: sky, ground). A region that is a thread (``THREAD``: a tail
    one pixel wide) joins nothing. Holes are filled.
    """
    at = pixel(handle, region.shape)
    backdrop = background_pieces(segments)
    backdrop[segments[at]] = False
    kept = region & ~backdrop[segments]
    kept[at] = True
    labels, _ = ndimage.label(kept, np.ones((3, 3)))
    kept = ndimage.binary_fill_holes(labels == labels[at])
    d = np.asarray(target, np.float64) - np.asarray(handle, np.float64)
    thread = ndimage.distance_transform_edt(np.pad(kept, 1)).max() <= THREAD
    if thread or np.hypot(*d) < 0.5 or not reshapes(kept, handle, d, PULLED):
        return kept
    n = len(backdrop)
    wide = _on_border(segments, n) & (np.bincount(segments.ravel(), minlength=n) > WIDE * segments.size)
    joined = (np.bincount(segments[_behind(kept, d)], minlength=n) >= BEHIND_MIN) & ~backdrop & ~wide
    return ndimage.binary_fill_holes(kept | joined[segments])


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
