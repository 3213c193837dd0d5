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

from . import validate
from .images import Geometry, prepare, to_pil
from .loading import DiffusionModel, check_model
from .progress import progress


@dataclass
class Inversion:
    """The result of ``invert``.

    latent: z at ``timestep``, (1, c, h, w).
    z0: the image's encoded latent, (1, c, h, w).
    trajectory: [z0, z_t1, ..., z_tk], each (1, c, h, w), on the CPU.
    timesteps: the DDIM timesteps still to denoise, from ``timestep`` down.
    scheduler: the DDIM scheduler that denoises them (diffusers').
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
    scheduler: object = field(repr=False, default=None)   # diffusers' DDIMScheduler set to ``steps``


def ddim(model: DiffusionModel, steps: int, inverse: bool = False):
    """diffusers' DDIM scheduler (or ``DDIMInverseScheduler``, which walks up) with the model's
    noise levels, set to ``steps`` timesteps. A fresh one each call: the model's is never changed."""
    from diffusers import DDIMInverseScheduler, DDIMScheduler

    validate.number("steps", steps, int, 1, model.scheduler.config.num_train_timesteps)
    scheduler = (DDIMInverseScheduler if inverse else DDIMScheduler).from_config(model.scheduler.config)
    scheduler.set_timesteps(steps)
    return scheduler


def schedule(model: DiffusionModel, steps: int, strength: float) -> list:
    """The DDIM timesteps (descending) that ``strength`` keeps: the last round(s*steps)."""
    validate.number("strength", strength, float, 0, 1, lo_open=True)
    ts = [int(t) for t in ddim(model, steps).timesteps]
    return ts[steps - max(1, int(round(strength * steps))):]


def predict(model: DiffusionModel, z: torch.Tensor, t: int, emb: torch.Tensor) -> torch.Tensor:
    """The UNet's output for z (B, c, h, w) at timestep t: noise, v or x0, as the model was trained."""
    return model.unet(z, t, encoder_hidden_states=emb.expand(z.shape[0], -1, -1)).sample


def ddim_step(scheduler, out: torch.Tensor, t: int, z: torch.Tensor) -> tuple:
    """One deterministic (eta 0) step of ``scheduler`` from z at t, given the UNet's output there.

    Returns (the latent at the scheduler's next timestep, the clean estimate x0), each like z.
    The one place a latent moves between noise levels: inversion, denoising, the drag's
    preservation target, previews.
    """
    out = scheduler.step(out, t, z)
    return out.prev_sample, getattr(out, "pred_original_sample", None)


def blend(z: torch.Tensor, original: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``original`` where ``keep`` is 1, ``z`` where it is 0: latents (B, c, h, w), ``keep`` (1, 1, h, w)."""
    return keep * original + (1 - keep) * z


@torch.no_grad()
def invert(model: DiffusionModel, image, prompt: str = "", strength: float = 0.7, steps: int = 50,
           size: int | None = None) -> Inversion:
    """DDIM-invert ``image`` to the step that ``strength`` chooses.

    Returns an :class:`Inversion` whose ``latent`` (1, c, h, w) sits at ``timestep``.
    """
    check_model(model)
    prompt = validate.text("prompt", prompt)
    ts = schedule(model, steps, strength)
    pil, x, geom = prepare(image, model.native_size, model.multiple, size)
    emb = model.embed(prompt)
    z0 = model.encode(x)
    z = z0
    traj = [z0.cpu()]
    up = ddim(model, steps, inverse=True)
    for t in progress(ts[::-1], "inversion"):
        z = ddim_step(up, predict(model, z, t, emb), t, z)[0]
        traj.append(z.cpu())
    return Inversion(z, z0, ts[0], ts, traj, geom, pil, prompt, steps, strength, emb, ddim(model, steps))


@torch.no_grad()
def denoise_latent(model: DiffusionModel, z: torch.Tensor, timesteps: list, emb: torch.Tensor,
                   scheduler) -> torch.Tensor:
    """Run ``scheduler`` (DDIM) down from z (at timesteps[0]) to a clean latent: (B, c, h, w)."""
    for t in progress(timesteps, "denoising"):
        z = ddim_step(scheduler, predict(model, z, t, emb), t, z)[0]
    return z


@torch.no_grad()
def denoise(model: DiffusionModel, inversion: Inversion, latent: torch.Tensor | None = None):
    """Denoise ``latent`` (default: the inversion's own) to a PIL image at the user's size."""
    validate.instance("inversion", inversion, Inversion, "an Inversion (what dragnb.invert returns)")
    z = inversion.latent if latent is None else validate.latent("latent", latent, inversion.latent)
    z0 = denoise_latent(model, z, inversion.timesteps, inversion.embedding, inversion.scheduler)
    return inversion.geometry.image(model.decode(z0))


@torch.no_grad()
def generate(model: DiffusionModel, prompt: str = "", n: int = 1, steps: int = 50, guidance: float = 1.0,
             seed: int = 0, size: int | None = None) -> list:
    """Sample ``n`` images from pure noise with DDIM (classifier-free guidance if ``guidance`` > 1).

    Returns a list of PIL images of ``size`` (default: the model's native size).
    """
    check_model(model)
    prompt = validate.text("prompt", prompt)
    n = validate.number("n", n, int, 1, 64)
    guidance = validate.number("guidance", guidance, float, 0, 100)
    seed = validate.seed("seed", seed)
    if size is not None:
        size = validate.number("size", size, int, model.multiple, 4096)
        if size % model.multiple:
            raise ValueError(f"size must be a multiple of {model.multiple} for this model, got {size}")
    side = (size or model.native_size) // model.vae_factor
    g = torch.Generator("cpu").manual_seed(seed)
    z = torch.randn((n, model.unet.config.in_channels, side, side), generator=g).to(model.device, model.dtype)
    down = ddim(model, steps)
    cond, empty = model.embed(prompt), model.embed("")
    for t in progress([int(t) for t in down.timesteps], "sampling"):
        out = predict(model, z, t, cond)
        if guidance != 1.0:
            uncond = predict(model, z, t, empty)
            out = uncond + guidance * (out - uncond)
        z = ddim_step(down, out, t, z)[0]
    return [to_pil(model.decode(z[i:i + 1])) for i in range(n)]
