"""What one drag step costs, as a ratio to a full UNet forward+backward on the same latent.

    python scripts/bench_drag_step.py [--model tiny|sd15] [--size 64] [--steps 10]

A drag step = UNet pass (to the supervised block only, when the preservation term is
on the latent: ``preserve="latent"``; the whole UNet for DragDiffusion's ``"step"``),
point tracking, motion-supervision and preservation losses, backward, Adam. The
reference: ``unet(z).sample.sum().backward()`` with gradients to z. Ratios are what
to compare across machines; run it on an idle one.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import dragnb
from dragnb.optimisation import optimise
from dragnb.random_models import random_model
from dragnb.session import DragSession


def per_step(fn, n: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny", help="'tiny', 'sd15' (random SD-1.5 shape) or a path/hub id")
    p.add_argument("--size", type=int, default=None,
                   help="image side, and the size the drag works at (default: the model's native size)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    model = random_model("sd15", device=args.device) if args.model == "sd15" else dragnb.load(args.model, args.device)
    size = args.size or model.native_size
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    print(model, f"image {size}x{size}")

    def sync():
        if model.device.type == "cuda":
            torch.cuda.synchronize()

    results = {}
    for preserve in ("latent", "step"):
        s = DragSession(model, image, [(size * 0.3, size * 0.5)], [(size * 0.7, size * 0.5)], mask="all",
                        preserve=preserve, max_iters=10_000, tolerance=0.0, steps=10, lora=False, size=size)
        s.prepare()
        steps = optimise(model, s.problem(), s.options)
        next(steps)
        results[preserve] = per_step(lambda: (next(steps), sync()), args.steps)
    z = s.inversion.latent.detach().float().clone().requires_grad_(True)
    emb = s.inversion.embedding
    t = s.inversion.timestep

    def full():
        model.unet(z.to(model.dtype), t, encoder_hidden_states=emb).sample.float().sum().backward()
        sync()

    ref = per_step(full, args.steps)
    ub = s.options.up_block
    print(f"full UNet forward+backward:                        {ref * 1000:8.1f} ms")
    print(f"drag step, preserve='latent' (stops after up_blocks[{ub}]): {results['latent'] * 1000:8.1f} ms  "
          f"ratio {results['latent'] / ref:.2f}")
    print(f"drag step, preserve='step' (whole UNet, DragDiffusion):  {results['step'] * 1000:8.1f} ms  "
          f"ratio {results['step'] / ref:.2f}")
    skipped = [f"up_blocks[{i}]" for i in range(ub + 1, len(model.unet.up_blocks))] + ["conv_norm_out", "conv_out"]
    print(f"skipped with preserve='latent': {', '.join(skipped)}")


if __name__ == "__main__":
    main()
