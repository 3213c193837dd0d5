"""GPU check: a full drag at 512x512 on an SD-1.5-shaped model with random weights.

    python scripts/gpu_check.py [--steps 80] [--size 512]

No download: the model is built from SD 1.5's configs. Runs the drag in DragDiffusion's
cost structure ("published": the original denoised beside the edit) and dragnb's default
(its reference recorded during the inversion), with the LoRA off, then on (80 LoRA steps),
and prints each stage's seconds, UNet passes and peak GPU memory. Then executes tutorial 3's
Stable Diffusion section (its cells tagged "stable-diffusion") against the same shape saved as a
folder (``DRAGNB_SD_MODEL``), in fp16 on CUDA as a user's Colab would, and prints what it printed.
Needs CUDA; exits with a message otherwise.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import dragnb
from dragnb.bench.cost import DEFAULT_COST, PUBLISHED_COST
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
    del model
    torch.cuda.empty_cache()
    tutorial_section()


def tutorial_section(shape: str = "sd15"):
    """Tutorial 3's Stable Diffusion cells on a saved random model of ``shape`` (SD 1.5's by default): print
    their text outputs."""
    import nbformat

    from dragnb.random_models import save_random_model
    from dragnb.tutorials import NOTEBOOKS, execute, section

    work = Path(tempfile.mkdtemp())
    start = time.time()
    os.environ["DRAGNB_SD_MODEL"] = str(save_random_model(work / f"random-{shape}", shape))
    part = section(NOTEBOOKS / "03_drag_step_by_step.ipynb", "stable-diffusion", work / "sd_section.ipynb")
    nb = nbformat.read(execute(part, work / "run" / part.name, timeout=1800), as_version=4)
    print(f"\ntutorial 3's SD section on a random {shape}-shaped model: {time.time() - start:.0f} s")
    for cell in nb.cells[2:]:
        for o in cell.outputs:
            if o.output_type == "stream":
                print(o.text, end="")
            elif o.output_type == "error":
                print("ERROR:", o.ename, o.evalue)
            elif "image/png" in o.get("data", {}):
                print("[a picture]")


if __name__ == "__main__":
    main()
