"""Stage 2a', an optional starting point for the drag: the image warped along each drag.

Latent optimisation alone has to *discover* the moved image from the handle's
features. On a small model it often moves the features but not the picture (the
teaching model's benchmark: see its model card). FastDrag (Zhao et al., NeurIPS 2024:
a one-step latent warp) and RegionDrag (Lu et al., ECCV 2024: region copy) start instead
from a geometric guess; ``DragOptions(init="warp")`` does the same, then inverts the
warped image and lets motion supervision, point tracking and denoising refine it.

The guess, for one handle h, target t, d = t - h and the region R under the handle:

- the **rigid part** is R (grown by a pixel) within ``rho`` x |d| of the handle: it
  moves by all of d, so a small object moves whole and a large one (a mountain) only
  near the handle;
- every other pixel moves by w x d, w = exp(-dist(x, rigid)^2 / (2 (sigma |d|)^2)):
  the surroundings stretch and close the gap (a peak rises, the ground under a moved
  object fills in from behind).

The warp is applied backwards (each output pixel finds its source by fixed-point
iteration of s = y - d w(s)) and bilinearly; only pixels inside ``mask`` change.
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from .region import grow_mask

RHO = 1.0     # rigid part: within this x the drag's length of the handle
SIGMA = 0.5   # fall-off of the motion around it, x the drag's length


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


def warped_image(image: Image.Image, regions: list, handles, targets, mask: np.ndarray,
                 rho: float = RHO, sigma: float = SIGMA) -> Image.Image:
    """The image with each drag applied as a warp (one after another), changed only inside ``mask``.

    regions: [(H, W) bool] under each handle; handles, targets: (N, 2) pixels; mask (H, W) bool.
    """
    orig = np.asarray(image.convert("RGB"))
    out = orig.astype(np.float64)
    for region, hp, tp in zip(regions, handles, targets):
        if np.hypot(tp[0] - hp[0], tp[1] - hp[1]) < 0.5:
            continue   # a pair that stays where it is
        out = warp_array(out, drag_weight(region, hp, tp, rho, sigma), hp, tp)
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return Image.fromarray(np.where(mask[..., None], out, orig))
