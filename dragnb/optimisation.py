"""Stage 2b, the optimisation: move the inverted latent so the handle's content moves.

Each step (DragDiffusion, after DragGAN):

1. **features**: run the UNet on the latent z_t and take ``up_blocks[up_block]``'s
   output, resized to ``feature_scale`` x the image (DragDiffusion: half);
2. **point tracking**: each handle moves to the cell, within ``r_p`` of where it was,
   whose feature is nearest (L1) to the handle's *original* feature;
3. **motion supervision**: the features in a (2 r_m + 1)^2 patch around each handle
   are pulled one unit step towards the target: L1 between the patch sampled at
   ``h + d`` and the (detached) patch at ``h``, d = (target - h) / |target - h|;
4. **preservation**: lambda x L1 of the change outside the editable region, either of
   the next DDIM step's latent (``"step"``, DragDiffusion's, needs the full UNet) or of
   z_t itself (``"latent"``, lets the UNet stop after the supervised block);
5. an Adam step on z_t; stop once every handle is within ``tolerance`` of its target.

All coordinates here are *feature cells*; ``session.py`` converts to and from pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

from . import validate
from .features import captured, run_until, sample
from .inversion import ddim_step, predict
from .loading import DiffusionModel
from .reference import default_reference_blocks


@dataclass
class DragOptions:
    """The knobs of a drag. Each field's default is DragDiffusion's published value for
    SD 1.5 (Shi et al., CVPR 2024, github.com/Yujun-Shi/DragDiffusion) unless its comment
    names another source.

    Where a drag's value comes from, later winning: the field's default here; the model's
    override, its ``dragnb.json``'s ``"drag"`` entry (the teaching model's are explained
    in its model card); the caller's argument. ``DragOptions.for_model(model, **given)``
    applies that order, and ``drag``/``DragSession`` call it with their keyword arguments.
    """

    strength: float = 0.7        # inversion strength: 0.7 = invert 35 of 50 steps
    steps: int = 50              # DDIM steps
    max_iters: int = 80          # optimisation steps
    lr: float = 0.01             # Adam on the latent
    r_m: int = 1                 # motion-supervision patch radius (3x3)
    r_p: int = 3                 # point-tracking window radius (7x7)
    lam: float = 0.1             # preservation weight
    up_block: int = -2           # supervised up-block, Python-indexed: -2 = second-to-last (SD 1.5: up_blocks[2])
    feature_scale: float = 0.5   # features resized to this x the image
    tolerance: float = 2.0       # stop distance in feature cells
    preserve: str = "step"       # "step" (DragDiffusion: the next DDIM step's latent) or "latent" (cheaper)
    lora: bool | None = None     # fit an identity LoRA first; None: on where the model runs on CUDA
    lora_steps: int = 80
    lora_rank: int = 16
    lora_lr: float = 5e-4
    reference_blocks: tuple | None = None   # up-blocks whose self-attention uses the original's K/V;
                                            # None: the last two with attention (DragDiffusion); () = off
    reference_source: str = "inversion"   # where the reference K/V come from: "inversion" (dragnb: recorded
                                          # during the inversion, replayed, 1 image a denoising step) or
                                          # "recompute" (DragDiffusion: the original denoised beside the edit,
                                          # 2 images a step; the teaching bench is the same within 0.005)
    reference_store: str = "device"      # "inversion": keep the record on the model's device or the "cpu"
    blend: bool = True           # denoise with the original's latent outside the region (dragnb)
    drag_per_denoise: int = 0    # GoodDrag's alternation (AlDD, Zhang et al. 2024): this many steps at a
                                 # timestep, then one denoising step; 0 = all at the inverted one (DragDiffusion)
    drag_levels: int = 10        # AlDD: drag over at most this many timesteps (GoodDrag)
    supervise: str = "step"      # motion supervision pulls towards the patch at the handle now
                                 # ("step", DragDiffusion) or the original's at the start ("original", GoodDrag)
    paste_back: bool = True      # the result keeps the input's own pixels outside the editable region,
                                 # feathered over ``seam`` pixels (dragnb); off = the model's decode
    seam: int | None = None      # width of that seam in image pixels; None: 1/32 of the long side
    init: str = "inverted"       # start from the inverted latent ("inverted", DragDiffusion) or from the
                                 # inversion of the image warped along the drags ("warp", FastDrag-style,
                                 # see warp.py; the teaching model's default, see its model card)
    preview_every: int = 0       # decode a preview every k steps (0: never)
    size: int | None = None      # the long side the drag works at, in pixels; None: the model's native size
                                 # (SD 1.5: 512, as DragDiffusion; smaller is faster on a CPU, and coarser)

    @classmethod
    def for_model(cls, model: DiffusionModel, **given) -> "DragOptions":
        """The options of a drag on ``model``: the fields' defaults, then the model's overrides,
        then ``given``; checked (ValueError naming the field), with ``up_block``, ``lora`` and
        ``reference_blocks`` made concrete for this model."""
        names = {f.name for f in fields(cls)}
        own = model.defaults.get("drag", {})
        for where, values in (("the model's dragnb.json", own), ("the call", given)):
            unknown = set(values) - names
            if unknown:
                raise ValueError(f"unknown drag option(s) in {where}: {', '.join(sorted(unknown))}; "
                                 f"DragOptions has {', '.join(sorted(names))}")
        out = cls(**{**own, **given})
        out.check(model)
        return out

    def check(self, model: DiffusionModel) -> None:
        """Refuse (ValueError naming the field) any value the drag cannot use; make ints ints,
        and the model-dependent fields concrete (a non-negative ``up_block``, ``lora`` a bool,
        ``reference_blocks`` a tuple)."""
        n_up = len(model.unet.up_blocks)
        self.up_block = validate.number("up_block", self.up_block, int, -n_up, n_up - 1) % n_up
        if self.lora is None:
            self.lora = model.device.type == "cuda"
        if self.reference_blocks is None:
            self.reference_blocks = tuple(default_reference_blocks(model))
        if isinstance(self.reference_blocks, (str, bytes)) or not hasattr(self.reference_blocks, "__iter__"):
            raise ValueError(f"reference_blocks must be a tuple of up-block indices, e.g. (2, 3), or () for "
                             f"none, got {self.reference_blocks!r}")
        self.reference_blocks = tuple(validate.number("reference_blocks", b, int, 0, n_up - 1)
                                      for b in self.reference_blocks)
        ints = dict(steps=(1, 1000), max_iters=(1, 100_000), r_m=(0, 64), r_p=(0, 64),
                    lora_steps=(1, 100_000), lora_rank=(1, 1024), drag_per_denoise=(0, 100_000),
                    drag_levels=(1, 1000), preview_every=(0, 100_000))
        for name, (lo, hi) in ints.items():
            setattr(self, name, validate.number(name, getattr(self, name), int, lo, hi))
        if self.seam is not None:
            self.seam = validate.number("seam", self.seam, int, 0, 10_000)
        if self.size is not None:
            self.size = validate.number("size", self.size, int, model.multiple, 4096)
        for name, lo, lo_open, hi in (("strength", 0, True, 1), ("lr", 0, True, None), ("lora_lr", 0, True, None),
                                      ("lam", 0, False, None), ("tolerance", 0, False, None),
                                      ("feature_scale", 0, True, 1)):
            setattr(self, name, validate.number(name, getattr(self, name), float, lo, hi, lo_open))
        for name, options in CHOICES.items():
            validate.choice(name, getattr(self, name), options)

    @staticmethod
    def source(name: str, model: DiffusionModel) -> str:
        """Where field ``name``'s value for ``model`` comes from, in words."""
        if name in model.defaults.get("drag", {}):
            return f"the {model.name} model's dragnb.json"
        return SOURCES.get(name, "DragDiffusion (Shi et al., CVPR 2024)")


CHOICES = {"init": ("inverted", "warp"), "supervise": ("step", "original"),
           "reference_source": ("recompute", "inversion"), "reference_store": ("device", "cpu"),
           "preserve": ("step", "latent"), "lora": (True, False), "blend": (True, False),
           "paste_back": (True, False)}   # the values each of these DragOptions fields accepts
SOURCES = {"reference_source": "dragnb", "reference_store": "dragnb", "blend": "dragnb", "paste_back": "dragnb",
           "seam": "dragnb", "preview_every": "dragnb", "lora": "dragnb: on where the model runs on CUDA",
           "size": "the model's native size", "drag_per_denoise": "GoodDrag (Zhang et al. 2024): 0 = off",
           "drag_levels": "GoodDrag (Zhang et al. 2024)"}   # fields whose default is not DragDiffusion's


def unet_features(model: DiffusionModel, z: torch.Tensor, t: int, emb: torch.Tensor, up_block: int,
                  size: tuple, full: bool):
    """Features of ``up_blocks[up_block]`` resized to ``size`` (w, h): (C, h, w) float32,
    and the UNet's output (B, c, h, w) if ``full`` else None (the pass stops early)."""
    block = model.unet.up_blocks[up_block]
    args = (z.to(model.dtype), t)
    kw = {"encoder_hidden_states": emb.expand(z.shape[0], -1, -1)}
    if full:
        with captured([block]) as got:
            out = model.unet(*args, **kw).sample
        f = got[block]
    else:
        f, out = run_until(model.unet, block, *args, **kw), None
    f = F.interpolate(f.float(), size=(size[1], size[0]), mode="bilinear", align_corners=False)
    return f[0], out


def _patch(r: int) -> torch.Tensor:
    """Offsets (K, 2) [dx, dy] of a (2r+1)^2 square."""
    d = torch.arange(-r, r + 1, dtype=torch.float32)
    yy, xx = torch.meshgrid(d, d, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], 1)


def motion_loss(feats: torch.Tensor, handles: torch.Tensor, targets: torch.Tensor, r_m: int,
                active: torch.Tensor, anchors: list | None = None) -> torch.Tensor:
    """Pull the patch around each active handle one unit step towards its target.

    feats (C, h, w); handles, targets (N, 2) in cells; active (N,) bool. The patch one step
    ahead is pulled towards the (detached) patch at the handle now (DragDiffusion), or, with
    ``anchors`` ([(K, C)] per handle), towards the original image's patch at the handle's
    start (GoodDrag's information-preserving supervision: the handle cannot drift). Returns a scalar:
    per handle, the L1 difference averaged over channels and summed over the patch's
    cells (DragDiffusion's ``(2 r_m + 1)^2 * l1_loss``), so its balance with the summed
    preservation term (lambda) is the published one.
    """
    loss = feats.new_zeros(())
    off = _patch(r_m).to(feats.device)
    for i, (h, t, a) in enumerate(zip(handles, targets, active)):
        if not a:
            continue
        d = (t - h) / (t - h).norm().clamp_min(1e-6)
        here = sample(feats, (h + off).cpu().numpy()).detach() if anchors is None else anchors[i]
        moved = sample(feats, (h + d + off).cpu().numpy())
        loss = loss + (moved - here).abs().mean(1).sum()
    return loss


@torch.no_grad()
def track(feats: torch.Tensor, originals: torch.Tensor, handles: torch.Tensor, r_p: int) -> torch.Tensor:
    """Move each handle to the cell within ``r_p`` whose feature is nearest (L1) to its original one.

    feats (C, h, w); originals (N, C); handles (N, 2) cells. Returns new handles (N, 2).
    """
    c, h, w = feats.shape
    out = handles.clone()
    for i, (p, f0) in enumerate(zip(handles, originals)):
        x0, y0 = int(np.floor(float(p[0]) + 0.5)), int(np.floor(float(p[1]) + 0.5))
        xa, xb = max(0, x0 - r_p), min(w, x0 + r_p + 1)
        ya, yb = max(0, y0 - r_p), min(h, y0 + r_p + 1)
        dist = (feats[:, ya:yb, xa:xb] - f0[:, None, None]).abs().sum(0)
        k = int(torch.argmin(dist))
        out[i, 0] = xa + k % (xb - xa)
        out[i, 1] = ya + k // (xb - xa)
    return out


def preservation_loss(z: torch.Tensor, z_ref: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Sum of |z - z_ref| where ``keep`` (1, 1, h, w) is 1 (outside the editable region)."""
    return ((z.float() - z_ref.float()) * keep).abs().sum()


@dataclass
class Problem:
    """Everything one optimisation needs, already on the feature grid and the device.

    The drag may run at several DDIM timesteps (GoodDrag's alternation): level i is
    ``timesteps[i]``; ``originals[i]`` (1, c, h, w) is the original image's inverted latent
    there (level 0: the latent the drag starts from).
    """

    timesteps: list            # DDIM timesteps from the inverted one down (descending)
    scheduler: object          # diffusers' DDIMScheduler that steps them (the inversion's)
    originals: list            # [(1, c, h, w)] the original's latent at each timestep
    emb: torch.Tensor
    grid: tuple                # (w, h) of the supervision features
    handles: torch.Tensor      # (N, 2) cells, where the handles start
    targets: torch.Tensor      # (N, 2) cells
    keep: torch.Tensor         # (1, 1, h, w) latent cells to keep (1) or edit (0)
    z_start: torch.Tensor = None       # where the optimisation starts (default: originals[0]); a resumed run
    level: int = 0                     # the timestep index that z_start sits at
    handles_now: torch.Tensor = None   # where the handles are at the start (default: handles)
    first_step: int = 0

    @property
    def z_t(self) -> torch.Tensor:
        return self.originals[0]


@dataclass
class OptStep:
    """What ``optimise`` yields after each step: a plain record a loop can read."""

    step: int
    handles: torch.Tensor      # (N, 2) cells: where tracking found the handles this step
    losses: dict               # {"motion": float, "preserve": float}
    latent: torch.Tensor       # (1, c, h, w) the latent after the step
    level: int                 # the timestep index the latent sits at
    done: bool = False         # every handle arrived (no update made this step)
    final: bool = False        # the step budget is spent; ``handles`` tracked on the last latent


def drag_level(step: int, options: DragOptions, n_levels: int) -> int:
    """The timestep index at which optimisation step ``step`` runs.

    DragDiffusion (``drag_per_denoise`` 0): every step at the inverted timestep (0).
    GoodDrag's alternation: ``drag_per_denoise`` steps at each timestep, then one
    denoising step, over at most ``drag_levels`` timesteps.
    """
    if not options.drag_per_denoise:
        return 0
    return min(step // int(options.drag_per_denoise), int(options.drag_levels) - 1, n_levels - 1)


class _Level:
    """The fixed inputs of the drag at one timestep: the original's features and the preservation target."""

    def __init__(self, model, prob: Problem, options: DragOptions, level: int, full: bool, computed=None):
        self.t = prob.timesteps[level]
        z0 = prob.originals[level]
        if computed is None:
            with torch.no_grad():
                computed = unet_features(model, z0, self.t, prob.emb, options.up_block, prob.grid, full)
        f0, out0 = (None if x is None else x.detach() for x in computed)
        off = _patch(options.r_m).to(f0.device)
        self.tracked = sample(f0, prob.handles.cpu().numpy())              # (N, C): what tracking looks for
        self.patches = [sample(f0, (h + off).cpu().numpy()) for h in prob.handles]   # (K, C) each
        self.ref = ddim_step(prob.scheduler, out0, self.t, z0)[0].float() if full else z0.float()


def optimise(model: DiffusionModel, prob: Problem, options: DragOptions):
    """Yield an :class:`OptStep` after each completed step.

    ``handles`` are where tracking found them on the latent the step started from. The
    last item has ``done`` (every handle arrived, no update made) or ``final`` (the step
    budget is spent; the handles tracked once more on the final latent). With
    ``drag_per_denoise`` > 0 the latent takes one DDIM step down (no gradient, blended
    with the original outside the region) every ``drag_per_denoise`` steps.
    """
    full = options.preserve == "step"
    n_levels = len(prob.timesteps)
    start = prob.z_t if prob.z_start is None else prob.z_start
    z = start.detach().float().clone().requires_grad_(True)
    level = prob.level
    cuda = model.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if cuda and model.dtype == torch.float16 else None
    autocast = lambda: torch.autocast("cuda", dtype=torch.float16, enabled=scaler is not None)  # noqa: E731
    first = None
    if prob.first_step < options.max_iters and torch.equal(start.float(), prob.originals[level].float()):
        with autocast():   # DragDiffusion's start: the first step's pass is the original's, done once
            first = unet_features(model, z, prob.timesteps[level], prob.emb, options.up_block, prob.grid, full)
    ctx = _Level(model, prob, options, level, full, first)
    adam = torch.optim.Adam([z], lr=options.lr)
    handles = (prob.handles if prob.handles_now is None else prob.handles_now).clone()
    for step in range(prob.first_step, int(options.max_iters)):
        want = drag_level(step, options, n_levels)
        if want > level:
            z = denoise_step(model, prob, z.detach(), ctx.t, prob.originals[want]).requires_grad_(True)
            level, ctx = want, _Level(model, prob, options, want, full)
            adam = torch.optim.Adam([z], lr=options.lr)
        if first is not None:
            (feats, out), first = first, None
        else:
            with autocast():
                feats, out = unet_features(model, z, ctx.t, prob.emb, options.up_block, prob.grid, full)
        if step > 0 or not torch.equal(handles, prob.handles):  # the start is known exactly
            handles = track(feats.detach(), ctx.tracked, handles, options.r_p)
        dist = (handles - prob.targets).norm(dim=1)
        active = dist > options.tolerance
        if not active.any():
            yield OptStep(step, handles.clone(), {"motion": 0.0, "preserve": 0.0}, z.detach().clone(), level,
                          done=True)
            return
        anchors = ctx.patches if options.supervise == "original" else None
        lm = motion_loss(feats, handles, prob.targets, options.r_m, active, anchors)
        moved = ddim_step(prob.scheduler, out, ctx.t, z)[0].float() if full else z
        lp = preservation_loss(moved, ctx.ref, prob.keep)
        loss = lm + options.lam * lp
        optimizer_step(loss, adam, scaler)
        yield OptStep(step, handles.clone(), {"motion": float(lm.detach()), "preserve": float(lp.detach())},
                      z.detach().clone(), level)
    with torch.no_grad(), autocast():
        feats, _ = unet_features(model, z, ctx.t, prob.emb, options.up_block, prob.grid, False)
    handles = track(feats, ctx.tracked, handles, options.r_p)
    arrived = bool(((handles - prob.targets).norm(dim=1) <= options.tolerance).all())
    yield OptStep(int(options.max_iters), handles.clone(), {"motion": 0.0, "preserve": 0.0}, z.detach().clone(),
                  level, done=arrived, final=True)


@torch.no_grad()
def denoise_step(model: DiffusionModel, prob: Problem, z: torch.Tensor, t: int,
                 original_next: torch.Tensor) -> torch.Tensor:
    """One DDIM step of z (1, c, h, w) from t down; outside the region (``prob.keep`` 1) the
    original's latent at the next timestep is taken, as the final denoising does."""
    z = z.to(model.dtype)
    z = ddim_step(prob.scheduler, predict(model, z, t, prob.emb), t, z)[0].float()
    return prob.keep * original_next.float() + (1 - prob.keep) * z


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler=None) -> None:
    """zero_grad, backward and step, through the fp16 GradScaler when one is given."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()


def as_cells(points: np.ndarray, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(points), dtype=torch.float32, device=device)
