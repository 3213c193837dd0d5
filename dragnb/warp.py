"""Stage 2a', an optional starting point for the drag: the image warped along each drag.

Latent optimisation alone has to *discover* the moved image from the handle's
features. On a small model it often moves the features but not the picture (the
teaching model's benchmark: see its model card). FastDrag (Zhao et al., NeurIPS 2024:
a one-step latent warp) and RegionDrag (Lu et al., ECCV 2024: region copy) start instead
from a geometric guess; ``DragOptions(init="warp")`` does the same, then inverts the
warped image and lets motion supervision, point tracking and denoising refine it.

The guess (``warp="shape"``, the default), for one handle h, target t, d = t - h and the
region R under the handle:

- **the part that moves** is R without the background it caught (pixels coloured like the
  nearest pixel outside R), grown by ``GROW`` px, the piece of it that holds h. Distances
  below are geodesic: shortest paths inside the part;
- **a thread at the handle turns about its root** (``pulled.thread``: a tail one or two pixels wide,
  drawn in colours blended with what is behind it): what of the region's piece at the handle an
  opening by a 3 x 3 square removes, connected to the handle and at least ``pulled.THREAD_MIN`` px
  long up to its root (where it meets a body, a piece of at least ``pulled.BODY_MIN`` px that the
  opening keeps, or else its far end; a region that is a thread drawn in the image,
  ``pulled.drawn_thread``, is all thread; a limb that widens steadily into its body, a peak's tip, is
  none: ``pulled.TAPER``). Only the thread moves, grown by ``GROW`` px: a pixel at
  geodesic distance g from h by phi d, phi = min(1, (g_root - g) / (g_root - ``TIP``)): its tip
  moves whole, the rest turns about the root, and the body and whatever else the region caught (a
  row of the horizon) stay;
- **what is far along the region stays** (the *anchors*). If the part is a thin limb on a
  wider body (its cross-section, counted in 1-px bands of distance from h, jumps past
  ``JUMP`` x the limb's), the body stays: every pixel past the limb's root. Otherwise the
  part's back side stays: its edge pixels that face away from the drag and either have
  ``DEPTH`` x |d| of the part straight ahead of them along d, away from the handle (``DEEP_END``:
  not the top of a tree in front of a mountain), or lie at the far end of that back (a mountain's
  base where it meets the ground, its corners included), and every pixel
  farther than ``FAR`` x |d| from h; with no such back side, the far end of the part;
- **what is near the handle goes to the target, straight parts stay straight**: a pixel x
  moves by phi(x) d, phi = min(1, g_A(x) / (g_A(h) - core)), g_A its distance to the
  anchors. phi falls linearly from the handle to the anchors, so a triangle whose base is
  the back side maps onto the taller triangle on the same base (the affine map that fixes
  the base: flanks stay straight lines), and a limb maps onto the straight limb from its
  root to the target (turned about its root, as long as before when t is as far from the
  root as h was). A head on a stalk (``stalk``: a tree's crown on its trunk, the part narrowing past its
  widest to a stalk straight behind the handle) is lifted whole, its stalk stretched: the anchors are
  those on the stalk, and core is the geodesic distance from h to where the stalk begins. Otherwise, with core = ``CORE`` x |d| > 0 (never
  for a limb), the band of the part
  nearest the handle, that deep, moves whole: the handle's own neighbourhood is translated,
  not stretched (a triangle's flanks then bend once, where the band ends). ``CORE`` is 0:
  with the region that ``pulled.pulled_region`` gives, the straight flanks land closer;
- **a region moves whole** if all of it lies within ``RHO`` x |d| of h (a small object), or
  if it is no limb and the drag does not point away from its middle (the cosine of d with
  h minus the part's centroid under ``OUTWARD``: an object pulled sideways moves), or the handle
  is at its middle (``pulled.MIDDLE``: a sun held at its centre moves);
- **the background does not move**: the part's pixels are pushed forward (each cut into
  ``reveal.SUPERSAMPLE``² samples, more where the field stretches, so no holes open) over the
  background, and what the part uncovers is filled from its surroundings: each uncovered
  pixel takes the first pixel outside the part behind it, against its own motion (the
  material it was pulled away from, as FastDrag's stretched material, Zhao et al. 2024, and
  Inpaint4Drag's warp-then-inpaint, Lu et al. 2025), or a harmonic fill from the hole's
  border where that ray leaves the image. The warp of a region by moving control points
  follows moving-least-squares and as-rigid-as-possible deformation (Schaefer et al. 2006;
  Igarashi et al. 2005) in spirit; here the control is the anchors and the handle, and the
  interpolation is linear in geodesic distance.

Several pairs at once: each pixel of the union of the parts moves by the pairs' phi_i d_i,
weighted by inverse squared distance to each handle whose part holds it, so each handle
goes to its own target. ``displacement_field`` returns that field (H, W, 2).

``warp="falloff"`` keeps the earlier geometry: the *rigid part* (R grown by a pixel
within ``RHO`` x |d| of h) moves by d, every other pixel by w x d with
w = exp(-dist(x, rigid)^2 / (2 (``SIGMA`` |d|)^2)), applied backwards by fixed-point
iteration; the surroundings stretch to close the gap. ``WARP`` names the geometry that
``warped_image`` uses when none is given; a drag gives ``DragOptions.warp``. ``warp_with_field``
also returns either as a displacement field.

Only pixels inside ``mask`` change. Pushing pixels forward and filling what they uncover is
``reveal.py``'s, as is what a drag keeps of the warp once tracking confirms it (``keep_warped``).
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from .pulled import EIGHT, ahead, cross_sections, geodesic, pixel, reshapes, thread
from .region import grow_mask
from .reveal import fill_behind, push, samples

WARP = "shape"     # the geometry warped_image uses by default: "shape" or "falloff"
GEOMETRIES = ("shape", "falloff")
RHO = 1.0          # a region within this x the drag's length of the handle moves whole (both geometries)
SIGMA = 0.5        # "falloff": fall-off of the motion around the rigid part, x the drag's length
ALIKE = 8.0        # "shape": a region pixel this close in colour (RGB) to the nearest pixel outside is background
GROW = 1           # "shape": pixels the region is grown by before it moves (its blended edge goes with it)
CORE = 0.0         # "shape": the part this x |d| nearest the handle's end moves whole
FAR = 4.0          # "shape": region pixels farther than this x |d| from the handle (along it) stay
DEPTH = 0.5        # "shape": a back edge anchors if the region runs this x |d| ahead of it along d
BACK = 0.5         # "shape": ... and faces away from the drag (cosine of its outward normal with -d)
OUTWARD = 0.5      # "shape": a region deforms if the drag points this much (cosine) away from its middle
JUMP = 2.5         # "shape": a limb ends where the region's cross-section grows past this x the limb's
FAR_END = 0.8      # "shape": a back edge this x the farthest back edge's distance from the handle anchors too
DEEP_END = 0.65    # "shape": a back edge with the region ahead of it anchors only this x that distance away or farther
TIP = 2.0          # "shape": the part of a thread within this many px of the handle moves whole
NECK = 1 / 3       # "shape": a stalk's cross-section is at most this x the part's widest ...
STALK_WIDTH = 3    # ... and at most this many px, ...
STALK_MIN = 2      # ... for at least this many px of geodesic distance to the part's far end ...
ALIGN = 0.9        # ... and it lies straight behind the handle (cosine of its direction with -d)


def foreground(region: np.ndarray, image: np.ndarray, alike: float | None = None) -> np.ndarray:
    """The region without the background it caught: pixels whose colour is within ``alike`` (RGB
    distance) of the nearest pixel outside the region are dropped (a strip of ground or sky swept
    into an object's region looks like the ground or sky beside it): (H, W) bool. The whole region if
    that would leave nothing."""
    alike = ALIKE if alike is None else alike
    if region.all() or not region.any():
        return region
    near = ndimage.distance_transform_edt(region, return_distances=False, return_indices=True)
    outside = image[near[0], near[1]].astype(np.float64)
    kept = region & (np.linalg.norm(image.astype(np.float64) - outside, axis=-1) > alike)
    return kept if kept.any() else region


def region_part(region: np.ndarray, handle, grow: int = GROW, image: np.ndarray | None = None) -> tuple:
    """The piece of ``region`` (its ``foreground`` in ``image`` when given, grown by ``grow`` px) that
    holds the handle: ((H, W) bool, (row, col))."""
    region = region.astype(bool) if image is None else foreground(region.astype(bool), image)
    at = pixel(handle, region.shape)
    part = grow_mask(region, grow)
    part[at] = True
    labels, _ = ndimage.label(part, EIGHT)
    return labels == labels[at], at


def back_side(part: np.ndarray, direction, depth: float, along: np.ndarray, facing: float = BACK) -> np.ndarray:
    """Edge pixels of ``part`` (H, W) bool that face away from ``direction`` (a unit (x, y)) and either
    have ``depth`` pixels of the part straight ahead of them along it and lie at least ``DEEP_END`` x
    the farthest back edge's distance from the handle (``along``, geodesic), or lie at the far end of
    the back (at least ``FAR_END`` x that distance): (H, W) bool. A back edge nearer the handle, with
    the part ahead of it, is the top of something in front (a tree before a mountain), not a base."""
    soft = ndimage.gaussian_filter(part.astype(np.float64), 1.0)
    gy, gx = np.gradient(soft)
    facing_away = (gx * direction[0] + gy * direction[1]) >= facing * (np.hypot(gx, gy) + 1e-9)
    edge = part & ~ndimage.binary_erosion(part, border_value=0)
    back = edge & facing_away
    if not back.any():
        return back
    farthest = along[back].max()
    deep = back & (along >= DEEP_END * farthest)
    for k in range(1, int(np.ceil(depth)) + 1):
        deep &= ahead(part, direction, k)
    return deep | (back & (along >= FAR_END * farthest))


def limb_root(part: np.ndarray, along: np.ndarray, jump: float = JUMP) -> float | None:
    """Where a thin limb at the handle meets a wider body, in geodesic pixels from the handle
    (``along``); None if there is none. The part's cross-section at distance s is its pixels in the
    1-px band of ``along`` at s; a body starts where that grows past ``jump`` x the limb's median
    cross-section so far (bands 2.. s, at least 3 of them), and the limb ends at the last band before
    it no wider than 1.25 x that median (a triangle widens steadily from its apex: no jump)."""
    bands = cross_sections(part, along)
    for s in range(5, len(bands)):
        typical = np.median(bands[2:s])
        if bands[s] > jump * typical:
            narrow = np.nonzero(bands[2:s] <= 1.25 * typical)[0]
            return float(narrow[-1] + 3)
    return None


def stalk(part: np.ndarray, along: np.ndarray, handle, d) -> float | None:
    """Where a head on a stalk (a tree's crown on its trunk) meets the stalk, in geodesic px from the
    handle (``along``); None if the part has none. The part's cross-section at distance s is its pixels in
    the 1-px band of ``along`` at s; the stalk is the rest of the part from the first band past the widest
    after which every band is at most ``NECK`` x the widest and ``STALK_WIDTH`` px, at least ``STALK_MIN``
    bands long, lying behind the handle: its middle seen from the handle at a cosine of at least
    ``ALIGN`` with -d (a triangle's far corners, also narrow, lie to the sides)."""
    bands = cross_sections(part, along)
    widest = int(np.argmax(bands))
    narrow = bands <= min(NECK * bands[widest], STALK_WIDTH)
    for s in range(widest + 1, len(bands) - STALK_MIN + 1):
        if narrow[s:].all():
            ys, xs = np.nonzero(part & (along >= s))
            v = np.array([xs.mean() - handle[0], ys.mean() - handle[1]])
            return float(s) if -(v @ d) >= ALIGN * np.hypot(*v) * np.hypot(*d) else None
    return None


def drag_share(region: np.ndarray, handle, target, image: np.ndarray | None = None) -> tuple:
    """How much of the drag each pixel of the region takes ("shape"): (part (H, W) bool, phi (H, W)
    in [0, 1], 1 at the handle, 0 on the anchors and outside the part). ``image`` (H, W, 3), when
    given, drops the background the region caught (``foreground``)."""
    d = np.asarray(target, np.float64) - np.asarray(handle, np.float64)
    n = float(np.hypot(*d))
    limb = thread(np.asarray(region, bool), handle)
    if limb is not None:   # a thread: only it moves, its tip whole, the rest turned about its root
        part = grow_mask(limb[0], GROW)
        g = geodesic(part, [pixel(handle, part.shape)])
        return part, np.where(part, np.clip((limb[1] - g) / max(limb[1] - TIP, 1.0), 0.0, 1.0), 0.0)
    part, at = region_part(region, handle, image=image)
    g_h = geodesic(part, [at])
    if g_h[part].max() <= RHO * n:
        return part, part.astype(np.float64)        # a small region: moves whole
    root = limb_root(part, g_h)
    if root is not None:   # a thin limb on a wider body: the body stays, the limb turns about its root
        anchors, core = part & (g_h >= root), 0.0
    else:
        if not reshapes(part, handle, d, OUTWARD):
            return part, part.astype(np.float64)    # not pulled away from its own middle: moves whole
        anchors = back_side(part, d / n, DEPTH * n, g_h) & (g_h > CORE * n) | (part & (g_h >= FAR * n))
        core = stalk(part, g_h, handle, d)
        if core is None:
            core = CORE * n
        else:   # a head on a stalk: only the stalk's foot holds
            anchors &= g_h >= core
    if not anchors.any():   # no back side: the far end along the region stays
        anchors = part & (g_h >= g_h[part].max() - 1.5)
    g_a = geodesic(part, np.argwhere(anchors))
    return part, np.where(part, np.clip(g_a / max(g_a[at] - core, 1.0), 0.0, 1.0), 0.0)


def displacement_field(regions: list, handles, targets, image=None) -> np.ndarray:
    """Where the "shape" warp sends each pixel: (H, W, 2) float (dx, dy) pixels, 0 off the regions.

    regions: [(H, W) bool] under each handle; handles, targets: (N, 2) (x, y) pixels; image (PIL or
    (H, W, 3) array, optional): the picture, whose background the regions caught stays.
    """
    image = None if image is None else np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    return _field(regions, handles, targets, image)[0]


def _field(regions, handles, targets, image=None):
    """(field (H, W, 2), the union of the moving parts (H, W) bool)."""
    h, w = regions[0].shape
    yy, xx = np.mgrid[0:h, 0:w]
    num, den = np.zeros((h, w, 2)), np.zeros((h, w))
    union = np.zeros((h, w), bool)
    for region, hp, tp in zip(regions, handles, targets):
        d = np.asarray(tp, np.float64) - np.asarray(hp, np.float64)
        if np.hypot(*d) < 0.5:
            continue   # a pair that stays where it is
        part, phi = drag_share(np.asarray(region, bool), hp, tp, image)
        near = np.where(part, 1.0 / ((xx - hp[0]) ** 2 + (yy - hp[1]) ** 2 + 1.0), 0.0)
        num += (near * phi)[..., None] * d
        den += near
        union |= part
    return num / np.maximum(den, 1e-12)[..., None], union


def shaped(image: np.ndarray, field: np.ndarray, union: np.ndarray) -> np.ndarray:
    """The "shape" warp of image (H, W, C): the moving parts ``union`` (H, W) bool pushed along
    ``field`` (H, W, 2, ``_field``) over the background, what they uncover filled (``fill_behind``):
    (H, W, C) float64."""
    img = image.astype(np.float64)
    if not union.any():
        return img
    background = fill_behind(img, union, field)
    colour, alpha = push(img, field, union, samples(field))
    return alpha[..., None] * colour + (1 - alpha[..., None]) * background


def drag_weight(region: np.ndarray, handle, target, rho: float = RHO, sigma: float = SIGMA) -> np.ndarray:
    """How much of the drag each source pixel takes: (H, W) float in [0, 1], 1 on the rigid part.

    region (H, W) bool; handle, target (x, y) pixels.
    """
    h, w = region.shape
    length = float(np.hypot(target[0] - handle[0], target[1] - handle[1]))
    yy, xx = np.mgrid[0:h, 0:w]
    rigid = grow_mask(region, 1) & ((xx - handle[0]) ** 2 + (yy - handle[1]) ** 2 <= (rho * length) ** 2)
    rigid[min(h - 1, int(round(handle[1]))), min(w - 1, int(round(handle[0])))] = True
    dist = ndimage.distance_transform_edt(~rigid)
    return np.exp(-dist ** 2 / (2 * (sigma * length) ** 2))


def warp_array(image: np.ndarray, weight: np.ndarray, handle, target, iterations: int = 20) -> np.ndarray:
    """Move each pixel by weight x (target - handle): image (H, W, C) -> (H, W, C) float64."""
    h, w = weight.shape
    d = np.asarray(target, float) - np.asarray(handle, float)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sx, sy = xx, yy
    for _ in range(iterations):   # the source s of output y: s = y - d w(s)
        ws = ndimage.map_coordinates(weight, [sy, sx], order=1, mode="nearest")
        sx, sy = xx - d[0] * ws, yy - d[1] * ws
    return np.stack([ndimage.map_coordinates(image[..., c].astype(np.float64), [sy, sx], order=1, mode="nearest")
                     for c in range(image.shape[2])], -1)


def warp_with_field(image: Image.Image, regions: list, handles, targets, mask: np.ndarray,
                    rho: float | None = None, sigma: float = SIGMA, warp: str | None = None) -> tuple:
    """The image with the drags applied as a warp, changed only inside ``mask``, and where the warp
    moved each pixel: (PIL image, field (H, W, 2) (dx, dy) pixels, 0 outside ``mask``).

    regions: [(H, W) bool] under each handle; handles, targets: (N, 2) pixels; mask (H, W) bool.
    warp: "shape" (all pairs at once) or "falloff" (one pair after another, ``rho`` and ``sigma``;
    its field is the pairs' motions added); default ``WARP``.
    """
    warp = WARP if warp is None else warp
    if warp not in GEOMETRIES:
        raise ValueError(f"warp must be one of {', '.join(map(repr, GEOMETRIES))}, got {warp!r}")
    orig = np.asarray(image.convert("RGB"))
    if warp == "shape":
        field, union = _field(regions, handles, targets, orig)
        out = shaped(orig, field, union)
    else:
        out, field = orig.astype(np.float64), np.zeros(mask.shape + (2,))
        for region, hp, tp in zip(regions, handles, targets):
            if np.hypot(tp[0] - hp[0], tp[1] - hp[1]) < 0.5:
                continue   # a pair that stays where it is
            weight = drag_weight(region, hp, tp, RHO if rho is None else rho, sigma)
            out = warp_array(out, weight, hp, tp)
            field += weight[..., None] * (np.asarray(tp, np.float64) - np.asarray(hp, np.float64))
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return Image.fromarray(np.where(mask[..., None], out, orig)), np.where(mask[..., None], field, 0.0)


def warped_image(image: Image.Image, regions: list, handles, targets, mask: np.ndarray,
                 rho: float | None = None, sigma: float = SIGMA, warp: str | None = None) -> Image.Image:
    """``warp_with_field``'s image alone."""
    return warp_with_field(image, regions, handles, targets, mask, rho, sigma, warp)[0]
