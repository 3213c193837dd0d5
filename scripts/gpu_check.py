"""GPU check: a full drag at 512x512 on an SD-1.5-shaped model with random weights.

    python scripts/gpu_check.py [--steps 80] [--size 512]

No download: the model is built from SD 1.5's configs. Runs the drag in DragDiffusion's
cost structure ("published": the original denoised beside the edit) and dragnb's default
(its reference recorded during the inversion), with the LoRA off, then on (80 LoRA steps),
and prints each stage's seconds, UNet passes and peak GPU memory. Needs CUDA; exits with
a message otherwise.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import dragnb
from dragnb.bench import DEFAULT_COST, PUBLISHED_COST
from dragnb.random_models import random_model


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--size", type=int, default=512)
    args = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device here; run it on a machine with a GPU")
    start = time.time()
    model = random_model("sd15", device="cuda", dtype=torch.float16)
    print(f"{model} on {torch.cuda.get_device_name()}, built in {time.time() - start:.1f} s")
    image = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    s = args.size
    for lora in (False, True):
        for name, extra in (("published", PUBLISHED_COST), ("default", DEFAULT_COST)):
            torch.cuda.reset_peak_memory_stats()
            start = time.time()
            r = dragnb.drag(model, image, [(s * 0.3, s * 0.5)], [(s * 0.6, s * 0.5)], mask="all", lora=lora,
                            max_iters=args.steps, tolerance=0.0, size=s, **extra)
            total = time.time() - start
            peak = torch.cuda.max_memory_allocated() / 2 ** 30
            print(f"\n{name}, LoRA {'on' if lora else 'off'}: {total:.1f} s per edit ({len(r.history)} steps), "
                  f"peak GPU memory {peak:.2f} GiB\n{r.costs()}", flush=True)


if __name__ == "__main__":
    main()
