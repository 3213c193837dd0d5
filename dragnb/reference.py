"""Stage 3a, denoising with reference self-attention: keep the original's look.

The original latent and the edited one are denoised together as a batch
``[original, edited]``. In the self-attention layers of the chosen up-blocks, both
branches attend to the *original's* keys and values, so the edited image borrows
its textures and identity from the original while its layout comes from the edited
latent. Cross-attention (the prompt) is untouched. This is an attention processor
that wraps diffusers' own: no copy of the attention code.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

import torch

from .inversion import ddim_step, predict
from .progress import progress
from .loading import DiffusionModel


class ReferenceAttention:
    """Self-attention in which every batch element uses element 0's keys and values."""

    def __init__(self, base):
        self.base = base

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        ref = hidden_states[:1].expand_as(hidden_states)
        return self.base(attn, hidden_states, ref, attention_mask, temb, **kw)


def attention_up_blocks(model: DiffusionModel) -> list:
    """Indices of the up-blocks that have attention layers."""
    return [i for i, b in enumerate(model.unet.up_blocks) if getattr(b, "attentions", None)]


def default_reference_blocks(model: DiffusionModel) -> list:
    """The last two up-blocks with attention (SD 1.5: up_blocks 2 and 3, i.e. its
    transformer blocks 10-15 of 16, as DragDiffusion)."""
    return attention_up_blocks(model)[-2:]


@contextmanager
def reference_attention(model: DiffusionModel, blocks=None):
    """Within the block, the self-attentions (``attn1``) of ``blocks`` use the reference's K/V."""
    blocks = default_reference_blocks(model) if blocks is None else list(blocks)
    unet = model.unet
    before = dict(unet.attn_processors)
    prefixes = tuple(f"up_blocks.{i}." for i in blocks)
    swapped = {name: (ReferenceAttention(p) if name.startswith(prefixes) and ".attn1." in name else p)
               for name, p in before.items()}
    if not any(isinstance(p, ReferenceAttention) for p in swapped.values()):
        raise ValueError(f"up_blocks {blocks} have no self-attention; choose from {attention_up_blocks(model)}")
    unet.set_attn_processor(swapped)
    try:
        yield
    finally:
        unet.set_attn_processor(before)


@torch.no_grad()
def denoise_with_reference(model: DiffusionModel, z_original: torch.Tensor, z_edited: torch.Tensor,
                           timesteps: list, emb: torch.Tensor, scheduler, blocks=None,
                           keep: torch.Tensor | None = None) -> torch.Tensor:
    """DDIM-denoise [original, edited] (each (1, c, h, w) at timesteps[0]) with ``scheduler``
    (the inversion's); returns the edited clean latent.

    ``blocks=()`` turns the reference attention off (the two branches then only share
    the batch). ``keep`` (1, 1, h, w), 1 outside the editable region: after every step
    the edited branch takes the original branch's latent there (latent blending), so
    what the user did not mark stays as the inversion reconstructs it.
    """
    z = torch.cat([z_original, z_edited]).to(model.dtype)
    off = blocks is not None and len(blocks) == 0
    if keep is not None:
        keep = keep.to(z.device, z.dtype)
    with (nullcontext() if off else reference_attention(model, blocks)):
        for t in progress(timesteps, "denoising"):
            z = ddim_step(scheduler, predict(model, z, t, emb), t, z)[0]
            if keep is not None:
                z = torch.cat([z[:1], keep * z[:1] + (1 - keep) * z[1:]])
    return z[1:]
