"""Is the teaching model any good? ``python -m dragnb.teaching.checks``

Prints, on scenes held apart from training (seeds >= 1_000_000):

- **samples**: colour statistics of generated images against real scenes (histogram
  intersection of 4x4x4 RGB bins; real-vs-real is the ceiling, noise the floor);
- **autoencoder**: reconstruction PSNR;
- **inversion**: DDIM inversion at strength 0.7 then denoising, PSNR to the scene;
- **DIFT correspondence**: PCK@0.1 between a scene and the same objects moved by known
  offsets on another background, beside matching raw pixel colours (the baseline);
- **sweep** (``--sweep``, run first), on pairs apart from the report's: PCK for each
  (t, up_block) of plain DIFT, then, at the best of those, with the features centred and
  a coarser context block joined at a few weights (``dragnb.features``);
  ``--write-defaults`` stores the best in the weights' ``dragnb.json``, which
  ``dragnb.load`` reads as the model's defaults.

The model card's figures (loss curve, samples, reconstructions) are drawn by
``python -m dragnb.ui.teaching_figures DIR``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch

from ..features import dift_features, match_points
from ..images import prepare, to_pil
from ..inversion import denoise, generate, invert
from ..loading import TINY, DiffusionModel, load
from ..metrics import psnr
from .scenes import random_scene

HELD = 1_000_000


def colour_histogram(images) -> np.ndarray:
    """Normalised 4x4x4 RGB histogram of a list of images."""
    a = np.concatenate([np.asarray(im).reshape(-1, 3) for im in images]) // 64
    h = np.bincount(a[:, 0] * 16 + a[:, 1] * 4 + a[:, 2], minlength=64).astype(np.float64)
    return h / h.sum()


def intersection(h1, h2) -> float:
    return float(np.minimum(h1, h2).sum())


def sample_check(model: DiffusionModel, n: int = 32, guidance: float = 3.0) -> dict:
    real = [random_scene(HELD + i).render(model.native_size) for i in range(n)]
    real2 = [random_scene(HELD + 5000 + i).render(model.native_size) for i in range(n)]
    prompts = [random_scene(HELD + 9000 + i).caption() for i in range(n)]
    samples = []
    for i in range(0, n, 8):
        for j, p in enumerate(prompts[i:i + 8]):
            samples += generate(model, p, 1, steps=50, guidance=guidance, seed=i + j)
    noise = [np.random.default_rng(i).integers(0, 256, np.asarray(real[0]).shape, dtype=np.uint8)
             for i in range(n)]
    h = colour_histogram(real)
    return {"samples_vs_real": intersection(colour_histogram(samples), h),
            "real_vs_real": intersection(colour_histogram(real2), h),
            "noise_vs_real": intersection(colour_histogram(noise), h),
            "samples": samples, "prompts": prompts}


@torch.no_grad()
def autoencoder_check(model: DiffusionModel, n: int = 32) -> dict:
    scores, pairs = [], []
    for i in range(n):
        im = random_scene(HELD + i).render(model.native_size)
        _, x, _ = prepare(im, model.native_size, model.multiple)
        rec = to_pil(model.decode(model.encode(x)))
        scores.append(psnr(im, rec))
        pairs.append((im, rec))
    return {"psnr": float(np.mean(scores)), "min": float(np.min(scores)), "pairs": pairs}


def inversion_check(model: DiffusionModel, n: int = 16, strength: float = 0.7, steps: int = 50) -> dict:
    scores = []
    for i in range(n):
        scene = random_scene(HELD + 100 + i)
        im = scene.render(model.native_size)
        out = denoise(model, invert(model, im, prompt="", strength=strength, steps=steps))
        scores.append(psnr(im, out))
    return {"psnr": float(np.mean(scores)), "min": float(np.min(scores))}


def visible(masks: np.ndarray, key: tuple, point) -> bool:
    """Whether object ``key[0]`` shows within a pixel of ``point`` (x, y) in ``masks`` (n, H, W)."""
    x, y = int(round(point[0])), int(round(point[1]))
    return bool(masks[key[0], max(0, y - 1):y + 2, max(0, x - 1):x + 2].any())


def correspondence_pairs(n: int, size: int = 64, seed: int = HELD + 200, only_visible: bool = True):
    """Scene pairs with known keypoint motion: every object moved, the background redrawn.

    Keypoints hidden in either image (a tree's base behind a creature, a peak behind
    another mountain once moved) are left out unless ``only_visible=False``: as in the
    keypoint benchmarks DIFT reports on, only what is seen in both images is scored.
    """
    pairs = []
    for i in range(n):
        rng = np.random.default_rng(seed + i)
        a = random_scene(seed + i)
        b = random_scene(seed + i, background_seed=seed + i + 77_777)
        for k in a.draggable():
            b = b.moved(k, dx=float(rng.uniform(-0.15, 0.15)), dy=float(rng.uniform(-0.08, 0.08)))
        ka, kb = a.keypoints(size), b.keypoints(size)
        keys = [k for k in ka if k in kb]
        if only_visible:
            ma, mb = a.masks(size), b.masks(size)
            keys = [k for k in keys if visible(ma, k, ka[k]) and visible(mb, k, kb[k])]
        if keys:
            pairs.append((a.render(size), b.render(size), np.array([ka[k] for k in keys]),
                          np.array([kb[k] for k in keys])))
    return pairs


def pixel_match(src_image, dst_image, points) -> np.ndarray:
    """Baseline: for each point, the destination pixel of the nearest colour."""
    a = np.asarray(src_image, dtype=np.float64)
    b = np.asarray(dst_image, dtype=np.float64)
    out = []
    for x, y in points:
        c = a[int(round(y)), int(round(x))]
        d = ((b - c) ** 2).sum(-1)
        yy, xx = np.unravel_index(int(np.argmin(d)), d.shape)
        out.append((xx, yy))
    return np.array(out, dtype=np.float64)


def pck(model: DiffusionModel, pairs, alpha: float = 0.1, **dift_kwargs) -> tuple:
    """(PCK of DIFT matching, PCK of raw pixel matching) over ``pairs``."""
    hits, base, total = 0, 0, 0
    for a, b, pa, pb in pairs:
        thr = alpha * max(np.asarray(a).shape[:2])
        fa = dift_features(model, a, **dift_kwargs)
        fb = dift_features(model, b, **dift_kwargs)
        hits += int((np.linalg.norm(match_points(fa, fb, pa) - pb, axis=1) <= thr).sum())
        base += int((np.linalg.norm(pixel_match(a, b, pa) - pb, axis=1) <= thr).sum())
        total += len(pa)
    return hits / total, base / total


PLAIN = {"center": False, "context_weight": 0.0}  # DIFT as published: one block, raw cosine


def sweep(model: DiffusionModel, pairs, ts=(1, 51, 101, 151, 201, 261, 401), blocks=None) -> dict:
    """PCK of plain DIFT for each (t, up_block): {(t, up_block): pck}."""
    blocks = range(len(model.unet.up_blocks)) if blocks is None else blocks
    return {(t, b): pck(model, pairs, t=t, up_block=b, **PLAIN)[0] for t in ts for b in blocks}


def sweep_context(model: DiffusionModel, pairs, t: int, up_block: int, weights=(0.25, 0.5, 1.0)) -> dict:
    """PCK at (t, up_block) for centring on/off and each context block and weight:
    {(center, context_block, context_weight): pck}."""
    out = {}
    for center in (False, True):
        out[(center, None, 0.0)] = pck(model, pairs, t=t, up_block=up_block, center=center, context_weight=0.0)[0]
        for b in range(len(model.unet.up_blocks)):
            if b != up_block:
                for w in weights:
                    out[(center, b, w)] = pck(model, pairs, t=t, up_block=up_block, center=center,
                                              context_block=b, context_weight=w)[0]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny")
    p.add_argument("--pairs", type=int, default=100)
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--write-defaults", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    start = time.time()
    model = load(args.model, device="cpu", verbose=False)
    print(f"load({args.model!r}): {time.time() - start:.2f} s  {model}")

    pairs = correspondence_pairs(args.pairs)
    if args.sweep:  # first, so that the figures below use the best setting
        best = choose_dift_defaults(model, args.pairs)
        model = dataclasses.replace(model, defaults={**model.defaults, **best})   # the loaded one stays as it was
        if args.write_defaults:
            path = TINY / "dragnb.json"
            extra = json.loads(path.read_text()) if path.exists() else {}
            extra.update(best)
            path.write_text(json.dumps(extra, indent=2) + "\n")
            print(f"wrote {path}")
    report(model, pairs, args.pairs)


def choose_dift_defaults(model, n_pairs: int) -> dict:
    """Sweep (t, up_block), then centring and a context block, on pairs apart from the report's;
    print each setting's PCK and return the best as ``dragnb.json`` entries."""
    other = correspondence_pairs(n_pairs, seed=HELD + 300)
    res = sweep(model, other)
    print(f"sweep, plain DIFT PCK@0.1 on {len(other)} other pairs, by (t, up_block):")
    for (t, b), v in sorted(res.items()):
        print(f"  t={t:4d} up_block={b}: {v:.3f}")
    (t, b), v = max(res.items(), key=lambda kv: (kv[1], -kv[0][0]))
    print(f"best: t={t}, up_block={b} ({v:.3f})")
    ctx = sweep_context(model, other, t, b)
    print(f"at t={t}, up_block={b}: centring and a context block (center, context_block, weight):")
    for key, v in ctx.items():
        print(f"  {key}: {v:.3f}")
    (center, cb, w), v = max(ctx.items(), key=lambda kv: (kv[1], -kv[0][2], not kv[0][0]))
    print(f"best: center={center}, context_block={cb}, context_weight={w} ({v:.3f})")
    return {"dift_t": t, "dift_up_block": b, "dift_center": center, "dift_context_block": cb,
            "dift_context_weight": w}


def report(model, pairs: list, n_pairs: int) -> tuple:
    """Print every bar's figure; return the sample and autoencoder checks."""
    s = sample_check(model)
    print(f"samples: colour-histogram intersection with real scenes {s['samples_vs_real']:.3f} "
          f"(real vs real {s['real_vs_real']:.3f}, noise vs real {s['noise_vs_real']:.3f})")
    ae = autoencoder_check(model)
    print(f"autoencoder PSNR on held-apart scenes: mean {ae['psnr']:.2f} dB, min {ae['min']:.2f} dB")
    inv = inversion_check(model)
    print(f"inversion (strength 0.7, 50 steps) + denoise PSNR: mean {inv['psnr']:.2f} dB, "
          f"min {inv['min']:.2f} dB  (bar: >= 25)")
    n_pts = sum(len(q[2]) for q in pairs)
    d = model.defaults
    ours, base = pck(model, pairs)
    plain, _ = pck(model, pairs, **PLAIN)
    print(f"DIFT PCK@0.1 on {len(pairs)} held-apart pairs ({n_pts} keypoints), t={d['dift_t']} "
          f"up_block={d['dift_up_block']} center={d.get('dift_center', False)} "
          f"context_block={d.get('dift_context_block')} context_weight={d.get('dift_context_weight', 0.0)}: "
          f"{ours:.3f}  | plain DIFT (one block, raw cosine): {plain:.3f} | raw pixel colours: {base:.3f}  "
          f"(bar: >= 0.80)")
    every = correspondence_pairs(n_pairs, only_visible=False)
    ours_all, base_all = pck(model, every)
    print(f"  counting hidden keypoints too ({sum(len(q[2]) for q in every)}): {ours_all:.3f} | pixels {base_all:.3f}")
    dift_features(model, pairs[0][0])
    t0 = time.time()
    for a, *_ in pairs[:10]:
        dift_features(model, a)
    print(f"dift_features on the teaching model (ensemble 8): {(time.time() - t0) / 10:.3f} s per image "
          f"(bar: <= 1 s)")
    return s, ae


if __name__ == "__main__":
    main()
