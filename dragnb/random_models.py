"""Randomly initialised Stable-Diffusion-shaped models, for tests, benchmarks and GPU checks.

No download: each part is built from its config. ``save_random_model`` writes a
diffusers folder that ``dragnb.load`` reads through the same path as a real
checkpoint; ``random_model`` returns a :class:`DiffusionModel` directly.

Shapes:
- ``"sd15"``: Stable Diffusion 1.5's VAE and UNet (860 M parameters), with a one-layer
  CLIP text encoder of SD's width (the text encoder's size does not change any stage's cost).
- ``"test"``: 32 px images, VAE x2, 16x16 latents, a UNet of 0.2 M parameters whose
  output layer is scaled down (small, smooth noise predictions, as a trained model's).
"""
from __future__ import annotations

from pathlib import Path

import torch

from .teaching.model import fresh_parts

SHAPES = {
    "sd15": dict(
        vae=dict(block_out_channels=[128, 256, 512, 512], layers_per_block=2, norm_num_groups=32,
                 sample_size=512),
        unet=dict(sample_size=64, block_out_channels=[320, 640, 1280, 1280], layers_per_block=2,
                  cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32,
                  down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                  up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3),
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=1, num_attention_heads=12),
        calm=False),
    "test": dict(
        vae=dict(block_out_channels=[16, 32], layers_per_block=1, norm_num_groups=8, sample_size=32),
        unet=dict(sample_size=16, block_out_channels=[16, 32], layers_per_block=1, cross_attention_dim=32,
                  attention_head_dim=4, norm_num_groups=8,
                  down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                  up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"]),
        text=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2),
        calm=True),
}


def build_parts(shape: str, tokenizer_folder, seed: int = 0):
    """Random (vae, unet, text_encoder, tokenizer, scheduler) of the named shape."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose from {sorted(SHAPES)}")
    spec = SHAPES[shape]
    n = len(spec["vae"]["block_out_channels"])
    vae = dict(in_channels=3, out_channels=3, latent_channels=4, down_block_types=["DownEncoderBlock2D"] * n,
               up_block_types=["UpDecoderBlock2D"] * n, **spec["vae"])
    unet = dict(in_channels=4, out_channels=4, **spec["unet"])
    return fresh_parts(vae, unet, spec["text"], tokenizer_folder, seed, calm=spec["calm"])


def save_random_model(folder, shape: str = "test", seed: int = 0) -> Path:
    """Write a random model as a diffusers Stable Diffusion folder; returns its path."""
    folder = Path(folder)
    vae, unet, text, tok, sched = build_parts(shape, folder / "_tokenizer", seed)
    for name, part in (("vae", vae), ("unet", unet), ("text_encoder", text), ("tokenizer", tok),
                       ("scheduler", sched)):
        part.save_pretrained(folder / name)
    (folder / "model_index.json").write_text(
        '{"_class_name": "StableDiffusionPipeline", "vae": ["diffusers", "AutoencoderKL"], '
        '"unet": ["diffusers", "UNet2DConditionModel"], "text_encoder": ["transformers", "CLIPTextModel"], '
        '"tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "DDIMScheduler"], '
        '"safety_checker": [null, null], "feature_extractor": [null, null], "requires_safety_checker": false}')
    return folder


def random_model(shape: str = "sd15", device="cpu", dtype=torch.float32, seed: int = 0):
    """A random model of the named shape as a DiffusionModel, without touching the disk's models."""
    import tempfile

    from .loading import assemble, pick_device

    dev = pick_device(device)
    with tempfile.TemporaryDirectory() as d:
        parts = build_parts(shape, Path(d) / "tokenizer", seed)
    if dtype != torch.float32:
        for part in parts[:3]:
            part.to(dtype)
    return assemble(parts, f"random-{shape}", dev, dtype)
