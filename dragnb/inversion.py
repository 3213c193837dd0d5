"""Stage 2a, DDIM inversion: the noisy latent that denoises back to the image.

With ``steps`` DDIM steps and ``strength`` s, the image's latent z_0 is walked
*up* ``round(s * steps)`` steps of the deterministic DDIM update (eta = 0), using the
UNet's noise prediction at each step: z_0 -> z_t1 -> ... -> z_tk. Running the usual
DDIM sampler *down* from z_tk over the same timesteps returns (nearly) z_0. The drag
optimises z_tk; ``denoise`` turns any latent at that step back into an image.
DragDiffusion's setting: 50 steps, strength 0.7 (35 inverted steps), no guidance.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .images import Geometry, prepare, to_pil
from .loading import DiffusionModel


@dataclass
class Inversion:
    """The result of ``invert``.

    latent: z at ``timestep``, (1, c, h, w).
    z0: the image's encoded latent, (1, c, h, w).
    trajectory: [z0, z_t1, ..., z_tk], each (1, c, h, w), on the CPU.
    timesteps: the DDIM timesteps still to denoise, from ``timestep`` down.
    """

    latent: torch.Tensor
    z0: torch.Tensor
    timestep: int
    timesteps: list
    trajectory: list
    geometry: Geometry
    image: object
    prompt: str
    steps: int
    strength: float
    embedding: torch.Tensor = field(repr=False, default=None)


def schedule(model: DiffusionModel, steps: int, strength: float) -> list:
    """The DDIM timesteps (descending) that ``strength`` keeps: the last round(s*steps)."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    model.scheduler.set_timesteps(steps)
    ts = [int(t) for t in model.scheduler.timesteps]
    k = max(1, int(round(strength * steps)))
    return ts[steps - k:]


def _alpha(model: DiffusionModel, t: int | None, ref: torch.Tensor) -> torch.Tensor:
    a = model.scheduler.final_alpha_cumprod if t is None or t < 0 else model.scheduler.alphas_cumprod[t]
    return torch.as_tensor(a, dtype=torch.float32).to(ref.device)


def ddim_move(model: DiffusionModel, z: torch.Tensor, eps: torch.Tensor, t_from, t_to) -> torch.Tensor:
    """Deterministic DDIM update of z (at t_from) to t_to, given the noise eps; None = clean."""
    a_from, a_to = _alpha(model, t_from, z), _alpha(model, t_to, z)
    zf, ef = z.float(), eps.float()
    x0 = (zf - (1 - a_from).sqrt() * ef) / a_from.sqrt()
    return (a_to.sqrt() * x0 + (1 - a_to).sqrt() * ef).to(z.dtype)


def predict_eps(model: DiffusionModel, z: torch.Tensor, t: int, emb: torch.Tensor) -> torch.Tensor:
    out = model.unet(z, t, encoder_hidden_states=emb.expand(z.shape[0], -1, -1)).sample
    return model.eps(out, z, t)


@torch.no_grad()
def invert(model: DiffusionModel, image, prompt: str = "", strength: float = 0.7, steps: int = 50,
           size: int | None = None) -> Inversion:
    """DDIM-invert ``image`` to the step that ``strength`` chooses.

    Returns an :class:`Inversion` whose ``latent`` (1, c, h, w) sits at ``timestep``.
    """
    ts = schedule(model, steps, strength)
    pil, x, geom = prepare(image, model.native_size, model.multiple, size)
    emb = model.embed(prompt)
    z0 = model.encode(x)
    z = z0
    traj = [z0.cpu()]
    up = ts[::-1]
    for i, t in enumerate(up):
        t_prev = up[i - 1] if i > 0 else None
        z = ddim_move(model, z, predict_eps(model, z, t, emb), t_prev, t)
        traj.append(z.cpu())
    return Inversion(z, z0, ts[0], ts, traj, geom, pil, prompt, steps, strength, emb)


@torch.no_grad()
def denoise_latent(model: DiffusionModel, z: torch.Tensor, timesteps: list, emb: torch.Tensor) -> torch.Tensor:
    """Run DDIM down from z (at timesteps[0]) to a clean latent: (B, c, h, w)."""
    for i, t in enumerate(timesteps):
        t_next = timesteps[i + 1] if i + 1 < len(timesteps) else None
        z = ddim_move(model, z, predict_eps(model, z, t, emb), t, t_next)
    return z


@torch.no_grad()
def denoise(model: DiffusionModel, inversion: Inversion, latent: torch.Tensor | None = None):
    """Denoise ``latent`` (default: the inversion's own) to a PIL image at the user's size."""
    z = inversion.latent if latent is None else latent
    z0 = denoise_latent(model, z, inversion.timesteps, inversion.embedding)
    return inversion.geometry.image(model.decode(z0))


@torch.no_grad()
def generate(model: DiffusionModel, prompt: str = "", n: int = 1, steps: int = 50, guidance: float = 1.0,
             seed: int = 0, size: int | None = None) -> list:
    """Sample ``n`` images from pure noise with DDIM (classifier-free guidance if ``guidance`` > 1).

    Returns a list of PIL images of ``size`` (default: the model's native size).
    """
    side = (size or model.native_size) // model.vae_factor
    g = torch.Generator("cpu").manual_seed(seed)
    z = torch.randn((n, model.unet.config.in_channels, side, side), generator=g).to(model.device, model.dtype)
    ts = schedule(model, steps, 1.0)
    cond, empty = model.embed(prompt), model.embed("")
    for i, t in enumerate(ts):
        t_next = ts[i + 1] if i + 1 < len(ts) else None
        eps = predict_eps(model, z, t, cond)
        if guidance != 1.0:
            uncond = predict_eps(model, z, t, empty)
            eps = uncond + guidance * (eps - uncond)
        z = ddim_move(model, z, eps, t, t_next)
    return [to_pil(model.decode(z[i:i + 1])) for i in range(n)]
