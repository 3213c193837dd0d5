"""An estimate, from a CPU run, of a drag's peak GPU memory on Stable Diffusion 1.5 at 512 px in fp16.

    python scripts/estimate_gpu_memory.py

No GPU and no download: an SD-1.5-shaped model with random weights (``random_models``) runs, in
float32 on the CPU, the two steps of a drag that hold the most activations for a backward pass: one
identity-LoRA step (DragDiffusion's batch of 4, measured at batch 1 and scaled) and one motion-supervision
step (batch 1, the whole UNet, as DragDiffusion's preservation term needs). Each runs in its own process; the growth of the
process's peak resident memory over the model alone is taken as its activation bytes. On CUDA in fp16
(autocast) activations take half those bytes and the weights half theirs; CUDA's own context (about
0.3-0.5 GiB) is added. This is an estimate, not a measurement: ``scripts/gpu_check.py`` measures it on a GPU.
"""
from __future__ import annotations

import resource
import subprocess
import sys

GIB = 2 ** 30
CONTEXT_GIB = 0.4   # the CUDA context and cuDNN/cuBLAS workspaces, a typical figure
# the original's self-attention inputs kept for the denoising (reference_source="inversion", on the device):
# 35 timesteps x SD 1.5's up_blocks[2] and [3], three attention layers each (1024 x 640 and 4096 x 320), fp16
REFERENCE_GIB = 35 * 3 * (1024 * 640 + 4096 * 320) * 2 / 2 ** 30
CLIP_TEXT = 123_060_480   # SD 1.5's text encoder (CLIP ViT-L/14's), whose random stand-in here is one layer


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(what: str) -> None:
    """In this process: build the model, then run ``what`` once; print weights and activation bytes."""
    import torch

    from dragnb.optimisation import unet_features
    from dragnb.random_models import random_model

    torch.manual_seed(0)
    model = random_model("sd15")
    weights = sum(p.numel() * p.element_size() for m in (model.unet, model.vae) for p in m.parameters())
    weights += CLIP_TEXT * 4
    z = torch.randn(1, 4, 64, 64)   # a 512-px image's latent
    emb = model.embed("a photo of a cat")
    before = _peak()
    if what == "lora":
        from dragnb.lora import fit_identity_lora

        fit_identity_lora(model, z, emb, steps=1, batch=1)
    else:
        z.requires_grad_(True)
        # SD 1.5's defaults: up_blocks[2] at half size, the whole UNet run for the preservation term ("step")
        feats, out = unet_features(model, z, 701, emb, 2, (256, 256), full=True)
        (feats.abs().sum() + out.abs().sum()).backward()
    print(weights, _peak() - before)


def run(what: str) -> tuple:
    out = subprocess.run([sys.executable, __file__, what], check=True, capture_output=True, text=True).stdout
    weights, grown = (int(v) for v in out.split()[-2:])
    return weights, grown


def main():
    if len(sys.argv) > 1:
        measure(sys.argv[1])
        return
    weights, lora1 = run("lora")
    _, drag = run("drag")
    w16 = weights / 2 / GIB
    lora16 = 4 * lora1 / 2 / GIB      # DragDiffusion fits the LoRA at batch 4
    drag16 = drag / 2 / GIB
    print(f"weights (UNet, VAE, text encoder) in fp16: {w16:.2f} GiB")
    print(f"activations measured on the CPU in fp32: LoRA step at batch 1 {lora1 / GIB:.2f} GiB, "
          f"motion-supervision step {drag / GIB:.2f} GiB")
    print(f"estimated peak on CUDA in fp16 at 512 px: LoRA fit {w16 + lora16 + CONTEXT_GIB:.1f} GiB, "
          f"drag {w16 + drag16 + REFERENCE_GIB + CONTEXT_GIB:.1f} GiB (with {REFERENCE_GIB:.2f} GiB of reference tokens; "
          "a free Colab T4 has 15 GB)")


if __name__ == "__main__":
    main()
