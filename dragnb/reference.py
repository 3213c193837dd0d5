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

from . import validate
from .inversion import blend, ddim_step, predict
from .loading import DiffusionModel, attention_up_blocks, default_reference_blocks
from .progress import progress


class ReferenceAttention:
    """Self-attention in which every batch element uses element 0's keys and values."""

    def __init__(self, base):
        self.base = base

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        ref = hidden_states[:1].expand_as(hidden_states)
        return self.base(attn, hidden_states, ref, attention_mask, temb, **kw)


class ReferenceTokens:
    """The original's self-attention inputs (the tokens its keys and values are made from),
    per timestep and layer: recorded once, during the inversion's UNet passes, and replayed
    while denoising the edit, so that the original need not be denoised beside it.

    ``store``: "device" (the model's device, in the model's dtype: fp16 on a GPU) or "cpu"
    (when GPU memory is short; each is copied back when used).
    """

    def __init__(self, store: str = "device"):
        self.store = validate.choice("reference_store", store, ("device", "cpu"))
        self.tokens: dict = {}     # timestep -> {layer name: (1, tokens, channels)}
        self.t = None              # the timestep of the UNet pass under way

    def keep(self, name: str, hidden: torch.Tensor) -> None:
        x = hidden[:1].detach()
        self.tokens.setdefault(self.t, {})[name] = x.cpu() if self.store == "cpu" else x

    def get(self, name: str, like: torch.Tensor) -> torch.Tensor:
        if self.t not in self.tokens:
            raise ValueError(f"no reference recorded at timestep {self.t}: the inversion recorded "
                             f"{sorted(self.tokens)}")
        return self.tokens[self.t][name].to(like.device, like.dtype).expand(like.shape[0], -1, -1)


class _Recording:
    """Self-attention as usual, keeping its input in ``tokens``."""

    def __init__(self, base, name: str, tokens: ReferenceTokens):
        self.base, self.name, self.tokens = base, name, tokens

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        self.tokens.keep(self.name, hidden_states)
        return self.base(attn, hidden_states, encoder_hidden_states, attention_mask, temb, **kw)


class _Replay:
    """Self-attention whose keys and values come from the recorded original's tokens."""

    def __init__(self, base, name: str, tokens: ReferenceTokens):
        self.base, self.name, self.tokens = base, name, tokens

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        ref = self.tokens.get(self.name, hidden_states)
        return self.base(attn, hidden_states, ref, attention_mask, temb, **kw)


@contextmanager
def reference_attention(model: DiffusionModel, blocks=None, record: ReferenceTokens | None = None,
                        replay: ReferenceTokens | None = None):
    """Within the ``with``, the self-attentions (``attn1``) of ``blocks`` use the reference's K/V:
    batch element 0's (the original denoised beside the edit), or with ``replay`` the tokens
    recorded for the pass's timestep. With ``record``, they run as usual and record their input."""
    blocks = default_reference_blocks(model) if blocks is None else list(blocks)
    unet = model.unet
    before = dict(unet.attn_processors)
    prefixes = tuple(f"up_blocks.{i}." for i in blocks)
    tokens = record or replay

    def wrap(name, p):
        if not (name.startswith(prefixes) and ".attn1." in name):
            return p
        if tokens is None:
            return ReferenceAttention(p)
        return (_Recording if record is not None else _Replay)(p, name, tokens)

    swapped = {name: wrap(name, p) for name, p in before.items()}
    if all(swapped[n] is before[n] for n in before):
        raise ValueError(f"up_blocks {blocks} have no self-attention; choose from {attention_up_blocks(model)}")
    hook = None
    if tokens is not None:   # every UNet pass tells the processors its timestep
        def timestep(_module, args, kwargs):
            t = args[1] if len(args) > 1 else kwargs["timestep"]
            tokens.t = int(t.flatten()[0]) if torch.is_tensor(t) else int(t)
        hook = unet.register_forward_pre_hook(timestep, with_kwargs=True)
    unet.set_attn_processor(swapped)
    try:
        yield tokens
    finally:
        unet.set_attn_processor(before)
        if hook is not None:
            hook.remove()


@torch.no_grad()
def denoise_with_reference(model: DiffusionModel, z_original: torch.Tensor, z_edited: torch.Tensor,
                           timesteps: list, emb: torch.Tensor, scheduler, blocks=None,
                           keep: torch.Tensor | None = None, recorded: tuple | None = None) -> torch.Tensor:
    """DDIM-denoise [original, edited] (each (1, c, h, w) at timesteps[0]) with ``scheduler``
    (the inversion's); returns the edited clean latent.

    ``blocks=()`` turns the reference attention off (the two branches then only share
    the batch). ``keep`` (1, 1, h, w), 1 outside the editable region: after every step
    the edited branch takes the original branch's latent there (latent blending), so
    what the user did not mark stays as the inversion reconstructs it.

    ``recorded`` = (``ReferenceTokens`` recorded by the inversion, [the original's latent at each
    timestep after the first, (1, c, h, w), the clean one last]): only the edit is denoised, half
    the UNet passes; the reference's K/V and the blend come from the inversion's record.
    """
    tokens, originals = recorded if recorded is not None else (None, None)
    z = (z_edited if recorded is not None else torch.cat([z_original, z_edited])).to(model.dtype)
    off = blocks is not None and len(blocks) == 0
    if keep is not None:
        keep = keep.to(z.device, z.dtype)
    with (nullcontext() if off else reference_attention(model, blocks, replay=tokens)):
        for i, t in enumerate(progress(timesteps, "denoising")):
            z = ddim_step(scheduler, predict(model, z, t, emb), t, z)[0]
            if keep is not None:   # the edit (last) takes the original's latent outside the region
                original = z[:1] if originals is None else originals[i].to(z.device, z.dtype)
                z = torch.cat([z[:-1], blend(z[-1:], original, keep)])
    return z[-1:]
