"""Does the early stop pay? DIFT features vs one full UNet forward, on an SD-1.5-shaped model.

    python scripts/bench_dift.py [--size 512] [--ensemble 2] [--repeats 1]

Builds Stable Diffusion 1.5's VAE and UNet with random weights (no download), then times
``dragnb.dift_features`` (VAE encode + UNet up to ``up_blocks[1]``, ``ensemble`` noise draws
as one batch) against one full UNet forward of the same batch. Prints both and their ratio
(the bar: at most 0.75). Ratios are what to compare across machines; run it on an idle one.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import dragnb
from dragnb.random_models import random_model


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--ensemble", type=int, default=2)
    p.add_argument("--up-block", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.manual_seed(0)
    dtype = torch.float16 if args.device.startswith("cuda") else torch.float32
    model = random_model("sd15", device=args.device, dtype=dtype)
    n = sum(q.numel() for q in model.unet.parameters()) / 1e6
    print(f"model: SD-1.5-shaped UNet, {n:.0f} M parameters, random weights, {args.device}, {dtype}")
    image = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    f = args.size // model.vae_factor
    z = torch.randn(args.ensemble, 4, f, f, device=model.device, dtype=dtype)
    emb = model.embed("").expand(args.ensemble, -1, -1)

    def sync():
        if model.device.type == "cuda":
            torch.cuda.synchronize()

    @torch.no_grad()
    def full():
        model.unet(z, 261, encoder_hidden_states=emb)
        sync()

    def dift():
        dragnb.dift_features(model, image, ensemble=args.ensemble, up_block=args.up_block, t=261,
                             size=args.size)
        sync()

    x = torch.from_numpy(image).permute(2, 0, 1)[None].to(model.device, dtype) / 127.5 - 1

    @torch.no_grad()
    def encode():
        model.encode(x)
        sync()

    def cold():
        model.clear_caches()  # a new image: the VAE encode is part of the cost
        dift()

    cold()  # warm-up (allocations, kernels)
    t_full = best_of(full, args.repeats)
    t_dift = best_of(cold, args.repeats)
    t_warm = best_of(dift, args.repeats)
    model.clear_caches()
    t_vae = best_of(encode, args.repeats)
    print(f"image {args.size}x{args.size}, batch (ensemble) {args.ensemble}, up_block {args.up_block}")
    print(f"full UNet forward:           {t_full:8.2f} s")
    print(f"dift_features (incl. VAE):   {t_dift:8.2f} s")
    print(f"  of which VAE encode:       {t_vae:8.2f} s")
    print(f"dift_features, same image again (latent cached): {t_warm:.2f} s")
    print(f"ratio dift / full forward, new image:    {t_dift / t_full:5.2f}")
    print(f"ratio dift / full forward, latent known: {t_warm / t_full:5.2f}   (bar: <= 0.75)")


if __name__ == "__main__":
    main()
