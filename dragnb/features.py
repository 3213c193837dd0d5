"""Stage 1a, DIFT features: what the UNet "sees" at each place of an image.

DIFT (Tang et al. 2023): VAE-encode the image, add noise at timestep ``t``, run the
UNet once with the prompt, and keep the output of ``up_blocks[up_block]``, averaged
over ``ensemble`` noise draws. The UNet pass stops as soon as that block has run (a
forward hook raises), so the finer blocks after it cost nothing.

Similar features mean "the same kind of thing": cosine similarity between the
feature at a point and every other cell gives a heatmap (``similarity_map``) and,
across two images, a correspondence (``match_points``).

Two additions, off for Stable Diffusion (published DIFT) and on for the teaching model,
whose ``dragnb.json`` sets them after a sweep (``python -m dragnb.teaching.checks --sweep``):

- ``center``: subtract the image's mean feature, so that cosine compares what is
  particular to each place rather than what every place shares;
- ``context_block``/``context_weight``: a coarser up-block from the same UNet pass,
  joined to the fine one. Each part is centred and scaled to unit length per cell, the
  coarse one upsampled to the fine grid and weighted by ``sqrt(context_weight)``, so
  the cosine of the joined features is ``(cos_fine + w * cos_coarse) / (1 + w)``: the
  fine block says *where exactly*, the coarse one *which object*.
"""
from __future__ import annotations

from contextlib import contextmanager

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import validate
from .images import Geometry, prepare
from .loading import DiffusionModel, check_model


@dataclass
class Features:
    """DIFT features of one image.

    fmap: (C, h, w) float32 feature map on the model's device.
    geometry: user image size and model working size; ``geometry.to_grid(p, grid)``
        maps user pixels to feature cells.
    image: the user's image (PIL RGB, as given).
    """

    fmap: torch.Tensor
    geometry: Geometry
    image: Image.Image
    t: int
    up_block: int
    ensemble: int
    prompt: str
    context_block: int | None = None
    context_weight: float = 0.0
    center: bool = False

    @property
    def grid(self) -> tuple:
        """(w, h) of the feature map."""
        return (self.fmap.shape[2], self.fmap.shape[1])

    def at(self, points) -> torch.Tensor:
        """Bilinearly sampled features at user-pixel points: (N, C)."""
        p = validate.image_points(points, self.geometry.user)
        return sample(self.fmap, self.geometry.to_grid(p, self.grid))


class _Stop(Exception):
    """Raised by the hook once the last requested up-block has run."""


@contextmanager
def captured(blocks, stop: torch.nn.Module | None = None):
    """Within the ``with``, each of ``blocks``' outputs is kept in the yielded dict (block -> tensor);
    with ``stop``, the forward pass ends (``_Stop``) as soon as that block has run."""
    out = {}

    def keep(module, _inputs, output):
        out[module] = output[0] if isinstance(output, tuple) else output
        if module is stop:
            raise _Stop

    handles = [b.register_forward_hook(keep) for b in dict.fromkeys([*blocks, *([stop] if stop else [])])]
    try:
        yield out
    finally:
        for h in handles:
            h.remove()


def run_until(unet, block: torch.nn.Module, *args, also: tuple = (), **kwargs):
    """Run ``unet(*args, **kwargs)`` only until ``block`` has produced its output.

    Returns that output, or with ``also`` (blocks that run before ``block``) a list of
    the outputs of ``also`` followed by ``block``'s.
    """
    wanted = [*also, block]
    with captured(wanted, stop=block) as out:
        try:
            unet(*args, **kwargs)
        except _Stop:
            pass
    if any(b not in out for b in wanted):
        raise RuntimeError("the UNet finished without running the hooked block")
    return [out[b] for b in wanted] if also else out[block]


def _noisy(model: DiffusionModel, z0: torch.Tensor, t: int, n: int, seed: int) -> torch.Tensor:
    """n noise draws of latent z0 (1, c, h, w) at timestep t: (n, c, h, w); draw i uses seed + i."""
    noise = torch.stack([torch.randn(z0.shape[1:], generator=torch.Generator("cpu").manual_seed(seed + i))
                         for i in range(n)]).to(z0.device, z0.dtype)
    ts = torch.full((n,), int(t), dtype=torch.long, device=z0.device)
    return model.scheduler.add_noise(z0.expand(n, -1, -1, -1), noise, ts)


@torch.no_grad()
def dift_features(model: DiffusionModel, image, prompt: str = "", t: int | None = None,
                  up_block: int | None = None, ensemble: int = 8, seed: int = 0,
                  size: int | None = None, chunk: int = 8, context_block: int | None = None,
                  context_weight: float | None = None, center: bool | None = None) -> Features:
    """DIFT features of ``image``.

    Args:
        image: PIL image, uint8 array or path; resized internally so its long side is
            ``size`` (default: the model's native size).
        t, up_block: timestep and up-block; ``None`` takes the model's documented
            default (DIFT's t=261, up_block=1 for Stable Diffusion).
        ensemble: noise draws averaged; they run as one batch, in chunks of ``chunk``.
        context_block, context_weight, center: see the module doc; ``None`` takes the
            model's default (off for Stable Diffusion). ``context_weight=0`` turns the
            context block off.

    Returns:
        Features with ``fmap`` (C, h, w) at ``up_block``'s resolution (C doubles, or so,
        with a context block).
    """
    check_model(model)
    d = model.defaults
    n_up = len(model.unet.up_blocks)
    n_t = model.scheduler.config.num_train_timesteps
    t = validate.number("t", d["dift_t"] if t is None else t, int, 0, n_t - 1)
    up_block = validate.number("up_block", d["dift_up_block"] if up_block is None else up_block, int, 0, n_up - 1)
    ensemble = validate.number("ensemble", ensemble, int, 1)
    chunk = validate.number("chunk", chunk, int, 1)
    seed = validate.seed("seed", seed)
    prompt = validate.text("prompt", prompt)
    if size is not None:
        size = validate.number("size", size, int, 1, 4096)
    weight = validate.number("context_weight", d.get("dift_context_weight", 0.0) if context_weight is None
                             else context_weight, float, 0)
    if context_block is None:
        context_block = d.get("dift_context_block")
    if context_block is not None:
        context_block = validate.number("context_block", context_block, int, 0, n_up - 1)
    center = bool(d.get("dift_center", False)) if center is None else bool(center)
    if context_block is None or weight == 0 or context_block == up_block:
        context_block, weight = None, 0.0
    pil, x, geom = prepare(image, model.native_size, model.multiple, size)
    z0 = model.encode(x)
    emb = model.embed(prompt)
    idx = sorted({up_block} | ({context_block} if context_block is not None else set()))  # run order
    ups = model.unet.up_blocks
    totals = [0.0] * len(idx)
    for start in range(0, ensemble, chunk):
        n = min(chunk, ensemble - start)
        zt = _noisy(model, z0, t, n, seed + start)
        outs = run_until(model.unet, ups[idx[-1]], zt, t, also=tuple(ups[i] for i in idx[:-1]),
                         encoder_hidden_states=emb.expand(n, -1, -1))
        outs = outs if len(idx) > 1 else [outs]
        totals = [tot + o.float().sum(0) for tot, o in zip(totals, outs)]
    maps = {i: tot / ensemble for i, tot in zip(idx, totals)}
    fmap = combine(maps[up_block], maps.get(context_block), weight, center)
    return Features(fmap, geom, pil, t, up_block, ensemble, prompt, context_block, weight, center)


def combine(fine: torch.Tensor, coarse: torch.Tensor | None = None, weight: float = 0.0,
            center: bool = False) -> torch.Tensor:
    """Fine (C1, h, w) and optional coarse (C2, h2, w2) features -> one map (C, h, w).

    Without ``coarse``: ``fine``, less its mean over cells when ``center``. With it:
    both (centred when ``center``) scaled to unit length per cell, the coarse one
    upsampled bilinearly to (h, w) and multiplied by ``sqrt(weight)``, then stacked.
    """
    if center:
        fine = fine - fine.mean((1, 2), keepdim=True)
    if coarse is None or weight == 0:
        return fine
    if center:
        coarse = coarse - coarse.mean((1, 2), keepdim=True)
    coarse = F.interpolate(coarse[None], size=fine.shape[1:], mode="bilinear", align_corners=False)[0]
    unit = lambda f: f / f.norm(dim=0, keepdim=True).clamp_min(1e-8)  # noqa: E731
    return torch.cat([unit(fine), weight ** 0.5 * unit(coarse)])


def sample(fmap: torch.Tensor, cells: np.ndarray) -> torch.Tensor:
    """Bilinear samples of fmap (C, h, w) at cell coordinates (N, 2) [x, y]: (N, C)."""
    c, h, w = fmap.shape
    p = torch.as_tensor(cells, dtype=fmap.dtype, device=fmap.device)
    grid = torch.stack([(p[:, 0] + 0.5) / w * 2 - 1, (p[:, 1] + 0.5) / h * 2 - 1], -1)
    out = F.grid_sample(fmap[None], grid[None, None], mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out[0, :, 0].T


def upsampled_cosine(fmap: torch.Tensor, query: torch.Tensor, size: tuple) -> torch.Tensor:
    """Cosine similarity of ``query`` (C,) with fmap (C, h, w) bilinearly upsampled to ``size`` (W, H).

    Exactly what DIFT computes (upsample the features, then cosine), without ever
    holding the (C, H, W) upsampled map: the dot products and the squared norms of
    each bilinear blend are assembled from products of neighbouring cells.
    Returns (H, W); the pixel whose centre is sampled by ``query`` scores exactly 1.
    """
    c, h, w = fmap.shape
    W, H = size
    f = F.pad(fmap.float()[None], (0, 1, 0, 1), mode="replicate")[0]  # (C, h+1, w+1)
    q = query.float()
    dot = torch.einsum("c,chw->hw", q, f)
    norm = (f * f).sum(0)
    right = (f[:, :, :-1] * f[:, :, 1:]).sum(0)          # <f[y, x], f[y, x+1]>
    down = (f[:, :-1] * f[:, 1:]).sum(0)                 # <f[y, x], f[y+1, x]>
    diag = (f[:, :-1, :-1] * f[:, 1:, 1:]).sum(0)        # <f[y, x], f[y+1, x+1]>
    anti = (f[:, :-1, 1:] * f[:, 1:, :-1]).sum(0)        # <f[y, x+1], f[y+1, x]>
    dev = fmap.device
    gx = ((torch.arange(W, device=dev) + 0.5) * w / W - 0.5).clamp(0, w - 1)
    gy = ((torch.arange(H, device=dev) + 0.5) * h / H - 0.5).clamp(0, h - 1)
    x0, y0 = gx.floor().long().clamp(max=w - 1), gy.floor().long().clamp(max=h - 1)
    wx, wy = (gx - x0)[None, :], (gy - y0)[:, None]
    X, Y = x0[None, :], y0[:, None]
    a, b, cc, d = (1 - wx) * (1 - wy), wx * (1 - wy), (1 - wx) * wy, wx * wy
    num = a * dot[Y, X] + b * dot[Y, X + 1] + cc * dot[Y + 1, X] + d * dot[Y + 1, X + 1]
    sq = (a * a * norm[Y, X] + b * b * norm[Y, X + 1] + cc * cc * norm[Y + 1, X] + d * d * norm[Y + 1, X + 1]
          + 2 * a * b * right[Y, X] + 2 * cc * d * right[Y + 1, X]
          + 2 * a * cc * down[Y, X] + 2 * b * d * down[Y, X + 1]
          + 2 * a * d * diag[Y, X] + 2 * b * cc * anti[Y, X])
    return num / (sq.clamp_min(0).sqrt() * q.norm() + 1e-8)


def user_cosine(fmap: torch.Tensor, query: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """``upsampled_cosine`` over the model frame at the user's scale, cropped to the user's image: (H, W)."""
    w, h = geometry.user
    return upsampled_cosine(fmap, query, geometry.framed)[:h, :w]


def check_features(name: str, value) -> Features:
    """``value`` if it is ``Features`` (TypeError naming ``name`` otherwise)."""
    return validate.instance(name, value, Features, "Features (what dragnb.dift_features returns)")


def similarity_map(features: Features, point, target: Features | None = None) -> np.ndarray:
    """Cosine similarity between the feature at ``point`` and every pixel.

    As in DIFT, features are bilinearly upsampled to the image (of ``target`` when
    given, else of ``features``) before the cosine. Returns float32 (H, W) in
    [-1, 1]; without ``target``, the point's own pixel is the maximum (1.0).
    """
    check_features("features", features)
    tgt = features if target is None else check_features("target", target)
    p = validate.image_points(point, features.geometry.user)
    if len(p) != 1:
        raise ValueError(f"similarity_map takes one point, got {len(p)}: call it once per point "
                         "(plots.heatmaps shows several)")
    q = features.at(p)[0]
    return user_cosine(tgt.fmap, q, tgt.geometry).cpu().numpy().astype(np.float32)


def match_points(src: Features, dst: Features, points) -> np.ndarray:
    """For each (x, y) in ``src``'s image, the best-matching (x, y) in ``dst``'s image.

    DIFT matching: argmax of the cosine similarity with ``dst``'s upsampled features.
    Returns float array (N, 2) in ``dst``'s user pixels.
    """
    check_features("src", src)
    check_features("dst", dst)
    if len(validate.image_points(points, src.geometry.user)) == 0:
        raise ValueError("points is empty: give at least one (x, y) in src's image")
    queries = src.at(points)
    out = []
    for q in queries:
        sim = user_cosine(dst.fmap, q, dst.geometry)
        y, x = np.unravel_index(int(torch.argmax(sim)), tuple(sim.shape))
        out.append((float(x), float(y)))
    return np.array(out)


def similarity_sweep(model: DiffusionModel, image, point, ts, blocks, **kw) -> np.ndarray:
    """The ``similarity_map`` of one point at each DIFT timestep in ``ts`` and up-block in ``blocks``
    (``kw``: ``dift_features``' other arguments): float32 (len(blocks), len(ts), H, W)."""
    return np.stack([np.stack([similarity_map(dift_features(model, image, t=t, up_block=b, **kw), point)
                               for t in ts]) for b in blocks])


def pca_colours(features: Features) -> np.ndarray:
    """A feature map as a picture: each cell's feature projected on the map's first three principal
    components, each scaled to 0..255 and upsampled (nearest) to the user's image: uint8 (H, W, 3)."""
    check_features("features", features)
    c, h, w = features.fmap.shape
    x = features.fmap.float().reshape(c, -1).T.cpu()
    x = x - x.mean(0)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    p = x @ v[:3].T                                                     # (h * w, 3)
    p = (p - p.min(0).values) / (p.max(0).values - p.min(0).values).clamp_min(1e-8)
    grid = (p.reshape(h, w, -1).numpy() * 255).round().astype(np.uint8)
    if grid.shape[2] < 3:
        grid = np.concatenate([grid, np.zeros((h, w, 3 - grid.shape[2]), np.uint8)], 2)
    W, H = features.geometry.user
    fw, fh = features.geometry.framed
    big = np.asarray(Image.fromarray(grid).resize((fw, fh), Image.NEAREST))
    return big[:H, :W]
