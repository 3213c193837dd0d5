"""Stage 3b (optional), an identity LoRA: teach the UNet this one image before editing.

A low-rank adapter (peft) on every attention projection (to_q, to_k, to_v, to_out)
is fitted so that the UNet denoises noised copies of *this* image well (epsilon MSE at
uniform timesteps). The edit then stays closer to the original's identity.
DragDiffusion: rank 16, lr 5e-4, 80 steps, batch 4. The adapter is active only
inside ``use_lora`` and removed with ``remove_lora``: the model is left as it was.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

from .loading import DiffusionModel, optimizer_step
from .options import DragOptions
from .progress import progress

TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
ADAPTER = "dragnb_identity"   # the adapter's name on the UNet while a drag uses it


def fit_identity_lora(model: DiffusionModel, z0: torch.Tensor, emb: torch.Tensor,
                      steps: int = DragOptions.lora_steps, rank: int = DragOptions.lora_rank,
                      lr: float = DragOptions.lora_lr, batch: int = 4, seed: int = 0,
                      name: str = ADAPTER, callback=None) -> list:
    """Fit a LoRA named ``name`` to the latent z0 (1, c, h, w); returns the loss per step."""
    from peft import LoraConfig

    unet = model.unet
    if name in getattr(unet, "peft_config", {}):
        remove_lora(model, name)
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                                target_modules=TARGETS), adapter_name=name)
    losses = []
    try:
        unet.enable_adapters()
        unet.set_adapters([name])
        params = [p for n, p in unet.named_parameters() if name in n]
        for p in params:
            p.requires_grad_(True)
            p.data = p.data.float()
        opt = torch.optim.AdamW(params, lr=lr)
        g = torch.Generator("cpu").manual_seed(seed)
        n_t = model.scheduler.config.num_train_timesteps
        kind = model.scheduler.config.prediction_type
        cuda = model.device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda") if cuda else None
        for step in progress(range(steps), "identity LoRA"):
            noise = torch.randn((batch, *z0.shape[1:]), generator=g).to(model.device)
            t = torch.randint(0, n_t, (batch,), generator=g).to(model.device)
            clean = z0.float().expand(batch, -1, -1, -1)
            zt = model.scheduler.add_noise(clean, noise, t)
            with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
                out = unet(zt.to(model.dtype), t, encoder_hidden_states=emb.expand(batch, -1, -1)).sample
            target = noise if kind == "epsilon" else model.scheduler.get_velocity(clean, noise, t)
            loss = F.mse_loss(out.float(), target)
            optimizer_step(loss, opt, scaler)
            losses.append(loss.item())
            if callback is not None:
                callback(step, losses[-1])
        for p in params:
            p.requires_grad_(False)
            p.data = p.data.to(model.dtype)
    except BaseException:
        remove_lora(model, name)  # interrupted or failed: leave the model as it was
        raise
    finally:
        if getattr(unet, "peft_config", {}):
            unet.disable_adapters()
    return losses


@contextmanager
def use_lora(model: DiffusionModel, name: str | None):
    """Activate the adapter ``name`` within the block (no-op for None, and inside a block where it is
    active already: nested blocks leave it on for the outer one)."""
    if name is None or _active(model, name):
        yield
        return
    model.unet.enable_adapters()
    model.unet.set_adapters([name])
    try:
        yield
    finally:
        model.unet.disable_adapters()


def _active(model: DiffusionModel, name: str) -> bool:
    """Whether the adapter ``name`` is on in the model's UNet."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layer = next((m for m in model.unet.modules() if isinstance(m, BaseTunerLayer)), None)
    return layer is not None and not layer.disable_adapters and name in layer.active_adapters


def remove_lora(model: DiffusionModel, name: str) -> None:
    """Delete the adapter ``name`` from the model's UNet."""
    if name in getattr(model.unet, "peft_config", {}):
        model.unet.delete_adapters(name)
