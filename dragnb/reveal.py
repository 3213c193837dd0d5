"""Stage 2a'', what a warp reveals: the moving pixels pushed forward over the background, what
they uncover filled, and, after a drag, the model's output kept only there.

``push`` splats the pixels of a moving part along a displacement field (``warp.py``'s "shape"
geometry) and says how much of each pixel they cover; ``fill_behind`` fills what they left bare
from the material behind it (``harmonic_fill`` where there is none). ``keep_warped`` puts a drag's
result together when point tracking confirms the warp before any optimisation step: the warped
pixels, the model's denoised output only where the warp left background bare (``uncovered``),
the division of Inpaint4Drag (Lu et al. 2025): what moves is warped, what it reveals is generated.
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage, sparse
from scipy.sparse.linalg import splu

from .images import paste_back

SUPERSAMPLE = 4    # samples per pixel side when pushing a part forward (more where it stretches)
COVER = 0.7        # the pushed area that makes a pixel opaque


def push(image: np.ndarray, field: np.ndarray, part: np.ndarray, samples: int = SUPERSAMPLE) -> tuple:
    """The part's pixels moved forward by ``field``: image (H, W, C), field (H, W, 2), part (H, W) bool
    -> (colour (H, W, C), opacity (H, W) in [0, 1]). Each pixel is cut into ``samples`` x ``samples``
    samples (field interpolated inside the part), each lands on its nearest pixel; opacity is the
    area landed there, each sample's area scaled by the field's local stretch (its Jacobian)."""
    h, w = part.shape
    ys, xs = np.nonzero(part)
    o = (np.arange(samples) + 0.5) / samples - 0.5
    oy, ox = (a.ravel() for a in np.meshgrid(o, o, indexing="ij"))
    sy, sx = (ys[:, None] + oy).ravel(), (xs[:, None] + ox).ravel()
    inside = np.maximum(ndimage.map_coordinates(part.astype(np.float64), [sy, sx], order=1), 1e-6)
    ux, uy = (ndimage.map_coordinates(field[..., c] * part, [sy, sx], order=1) / inside for c in (0, 1))
    (uxy, uxx), (uyy, uyx) = np.gradient(field[..., 0]), np.gradient(field[..., 1])   # d/d(row), d/d(col)
    stretch = np.clip((1 + uxx) * (1 + uyy) - uxy * uyx, 0.25, 4.0)[ys, xs]   # det of the Jacobian
    src = np.repeat(np.arange(len(ys)), samples * samples)
    ty, tx = np.round(sy + uy).astype(int), np.round(sx + ux).astype(int)
    ok = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
    at, src = ty[ok] * w + tx[ok], src[ok]
    count = np.bincount(at, minlength=h * w)
    area = np.bincount(at, stretch[src] / samples ** 2, minlength=h * w)
    colour = np.stack([np.bincount(at, image[ys, xs, c][src].astype(np.float64), minlength=h * w)
                       for c in range(image.shape[2])], -1) / np.maximum(count, 1)[:, None]
    return colour.reshape(h, w, -1), np.clip(area / COVER, 0.0, 1.0).reshape(h, w)


def fill_behind(image: np.ndarray, hole: np.ndarray, field: np.ndarray) -> np.ndarray:
    """The image with ``hole`` (H, W) bool filled: each pixel takes the first pixel outside the hole
    behind it along -field (the material it was pulled away from); the rest (no motion, or the ray
    leaves the image) a harmonic fill from the hole's border. (H, W, C) float64."""
    out = harmonic_fill(image, hole)
    h, w = hole.shape
    ys, xs = np.nonzero(hole)
    u = field[ys, xs]
    n = np.hypot(u[:, 0], u[:, 1])
    moved = n > 0.5
    ys, xs, step = ys[moved], xs[moved], u[moved] / n[moved, None]
    done = np.zeros(len(ys), bool)
    for k in range(1, int(np.hypot(h, w)) + 1):
        if done.all():
            break
        py, px = np.round(ys - k * step[:, 1]).astype(int), np.round(xs - k * step[:, 0]).astype(int)
        off = (py < 0) | (py >= h) | (px < 0) | (px >= w)
        py, px = np.clip(py, 0, h - 1), np.clip(px, 0, w - 1)
        hit = ~off & ~hole[py, px] & ~done
        out[ys[hit], xs[hit]] = image[py[hit], px[hit]]
        done |= hit | off
    return out


def harmonic_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``hole`` (H, W) bool filled by Laplace's equation from the pixels around it (each hole pixel the
    mean of its 4 neighbours): (H, W, C) float64."""
    out = image.astype(np.float64).copy()
    h, w = hole.shape
    ys, xs = np.nonzero(hole)
    if not len(ys) or hole.all():
        return out
    index = np.full((h, w), -1)
    index[ys, xs] = np.arange(len(ys))
    rows, cols = [np.arange(len(ys))], [np.arange(len(ys))]
    vals, diag = [], np.zeros(len(ys))
    rhs = np.zeros((len(ys), image.shape[2]))
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        y2, x2 = ys + dy, xs + dx
        ok = (y2 >= 0) & (y2 < h) & (x2 >= 0) & (x2 < w)
        diag += ok
        y2, x2 = np.clip(y2, 0, h - 1), np.clip(x2, 0, w - 1)
        inner = ok & hole[y2, x2]
        rows.append(np.nonzero(inner)[0])
        cols.append(index[y2[inner], x2[inner]])
        vals.append(-np.ones(inner.sum()))
        known = ok & ~hole[y2, x2]
        rhs[known] += out[y2[known], x2[known]]
    a = sparse.csc_matrix((np.concatenate([diag] + vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(ys), len(ys)))
    lone = ndimage.label(hole)[0]
    touching = np.unique(lone[ndimage.binary_dilation(~hole) & hole])
    if not np.isin(lone[ys, xs], touching).all():   # a piece with no known border: nearest colours instead
        idx = ndimage.distance_transform_edt(hole, return_distances=False, return_indices=True)
        return out[idx[0], idx[1]]
    out[ys, xs] = splu(a).solve(rhs)
    return out


def samples(field: np.ndarray) -> int:
    """Samples per pixel side for ``push`` along ``field`` (H, W, 2): ``SUPERSAMPLE``, more where it
    stretches (at most 16)."""
    steep = max(np.abs(np.gradient(field, axis=a)).max() for a in (0, 1))
    return int(np.clip(np.ceil(SUPERSAMPLE * (1 + steep)), SUPERSAMPLE, 16))


def uncovered(field: np.ndarray) -> tuple:
    """What the "shape" warp along ``field`` (H, W, 2) left bare and what it covers: ((H, W) bool,
    (H, W) bool). The moving pixels (a non-zero field) are pushed forward (``push``); bare are those
    of them that nothing pushed covers whole (the warp filled them from behind), covered are the
    pixels the pushed ones cover whole."""
    moving = np.hypot(field[..., 0], field[..., 1]) > 0
    if not moving.any():
        return moving, moving
    _, alpha = push(np.zeros(field.shape[:2] + (1,)), field, moving, samples(field))
    covered = alpha >= 1.0
    return moving & ~covered, covered


def keep_warped(warped: Image.Image, generated: Image.Image, field: np.ndarray, seam: int) -> Image.Image:
    """The ``warped`` image (PIL RGB) with the model's ``generated`` one (same size) only where the
    "shape" warp along ``field`` (H, W, 2) left the background bare (``uncovered``), feathered over
    ``seam`` px into the pixels that did not move: what moves is warped, what it reveals is generated
    (the division of Inpaint4Drag, Lu et al. 2025)."""
    bare, covered = uncovered(field)
    out = paste_back(warped, generated, bare, seam)
    return Image.fromarray(np.where(covered[..., None], np.asarray(warped.convert("RGB")), np.asarray(out)))
