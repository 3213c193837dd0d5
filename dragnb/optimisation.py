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

All coordinates and distances here are *feature cells* (``Problem``); the session converts
the user's image pixels to them (``Geometry.to_grid``, ``DragOptions.on_grid``) and back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .features import captured, run_until, sample
from .inversion import blend, ddim_step, predict
from .loading import DiffusionModel, optimizer_step
from .options import DragOptions


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
    for i, (h, d, a) in enumerate(zip(handles, pulls(handles, targets, active), active)):
        if not a:
            continue
        here = sample(feats, (h + off).cpu().numpy()).detach() if anchors is None else anchors[i]
        moved = sample(feats, (h + d + off).cpu().numpy())
        loss = loss + (moved - here).abs().mean(1).sum()
    return loss


@torch.no_grad()
def windows(feats: torch.Tensor, originals: torch.Tensor, handles: torch.Tensor, r_p: int) -> list:
    """What point tracking compares: per handle, the L1 distance of each cell's feature to the
    handle's original one, over the window of cells within ``r_p`` of where the handle is.

    feats (C, h, w); originals (N, C); handles (N, 2) cells. Returns [(distances (rows, cols), (x, y)
    of the window's top-left cell)], one per handle; a window is cut off at the grid's edge.
    """
    c, h, w = feats.shape
    out = []
    for p, f0 in zip(handles, originals):
        x0, y0 = int(np.floor(float(p[0]) + 0.5)), int(np.floor(float(p[1]) + 0.5))
        xa, xb = max(0, x0 - r_p), min(w, x0 + r_p + 1)
        ya, yb = max(0, y0 - r_p), min(h, y0 + r_p + 1)
        out.append(((feats[:, ya:yb, xa:xb] - f0[:, None, None]).abs().sum(0), (xa, ya)))
    return out


def nearest(seen: list, handles: torch.Tensor) -> torch.Tensor:
    """Each window's nearest cell (``windows``' output): new handles (N, 2) cells."""
    out = handles.clone()
    for i, (dist, (xa, ya)) in enumerate(seen):
        k = int(torch.argmin(dist))
        out[i, 0] = xa + k % dist.shape[1]
        out[i, 1] = ya + k // dist.shape[1]
    return out


def track(feats: torch.Tensor, originals: torch.Tensor, handles: torch.Tensor, r_p: int) -> torch.Tensor:
    """Move each handle to the cell within ``r_p`` whose feature is nearest (L1) to its original one.

    feats (C, h, w); originals (N, C); handles (N, 2) cells. Returns new handles (N, 2).
    """
    return nearest(windows(feats, originals, handles, r_p), handles)


def pulls(handles: torch.Tensor, targets: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """The unit step d = (target - h) / |target - h| that motion supervision pulls each patch by:
    (N, 2) cells, 0 for a handle that has arrived (not pulled)."""
    d = (targets - handles) / (targets - handles).norm(dim=1, keepdim=True).clamp_min(1e-6)
    return d * active[:, None].float()


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
    tolerance: float           # stop distance, cells (``DragOptions.on_grid``)
    r_m: int                   # motion-supervision patch radius, cells
    r_p: int                   # point-tracking window radius, cells
    z_start: torch.Tensor = None       # where the optimisation starts (default: originals[0]); a resumed run
    level: int = 0                     # the timestep index that z_start sits at
    handles_now: torch.Tensor = None   # where the handles are at the start (default: handles)
    first_step: int = 0

    @property
    def z_t(self) -> torch.Tensor:
        return self.originals[0]


@dataclass
class Mechanism:
    """How one step worked (``DragOptions(mechanism=True)``), per handle i, in cells of the
    feature grid (``Problem.grid``) except ``change``, in cells of the latent.

    Point tracking looked in a window of cells around ``before[i]`` for the feature nearest
    the handle's original one and put the handle at ``found[i]``; motion supervision then
    pulled the (2 r_m + 1)^2 patch around ``found[i]`` towards its copy shifted by
    ``pulls[i]``; the Adam step changed the latent by ``change`` (``so_far``: the net change
    since the start). Size: each change map is (h/8) x (w/8) floats for an h x w image on
    Stable Diffusion (64 x 64, 16 KiB, at 512 px), a window (2 r_p + 1)^2 floats
    (DragDiffusion's r_p = 3 cells: 49): about 33 KiB a step.
    """

    windows: list               # [(rows, cols) float32] L1 distance of each window cell's feature to the original's
    corners: np.ndarray         # (N, 2) [x, y] of each window's top-left cell
    before: np.ndarray          # (N, 2) where the handle was when the step began (the window's centre)
    found: np.ndarray           # (N, 2) where tracking put it (the window's nearest cell; at step 0, the start)
    pulls: np.ndarray           # (N, 2) the unit step the patch is pulled by; 0: arrived, not pulled
    r_m: int                    # motion-supervision patch radius, cells
    change: np.ndarray | None   # (h, w) latent cells: |z after - z before|, L2 over channels; None: no update
    so_far: np.ndarray | None   # (h, w) latent cells: |z after - z at the start|, the net change since the
                                # optimisation started at this timestep (L2 over channels)
    tracked: bool               # tracking ran (step 0 and a warp start's first step know the handle)


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
    mechanism: Mechanism | None = None   # how the step worked (``DragOptions.mechanism``)


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
        off = _patch(prob.r_m).to(f0.device)
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
    seen = _Recorder(options.mechanism, z)
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
            seen.restart(z)
            adam = torch.optim.Adam([z], lr=options.lr)
        if first is not None:
            (feats, out), first = first, None
        else:
            with autocast():
                feats, out = unet_features(model, z, ctx.t, prob.emb, options.up_block, prob.grid, full)
        tracked = step > 0 or not torch.equal(handles, prob.handles)   # else the start is known exactly
        handles = seen.track(feats.detach(), ctx.tracked, handles, prob.r_p, tracked)
        active = (handles - prob.targets).norm(dim=1) > prob.tolerance
        if not active.any():
            yield OptStep(step, handles.clone(), {"motion": 0.0, "preserve": 0.0}, z.detach().clone(), level,
                          done=True, mechanism=seen.record(None, prob, active))
            return
        anchors = ctx.patches if options.supervise == "original" else None
        lm = motion_loss(feats, handles, prob.targets, prob.r_m, active, anchors)
        moved = ddim_step(prob.scheduler, out, ctx.t, z)[0].float() if full else z
        lp = preservation_loss(moved, ctx.ref, prob.keep)
        loss = lm + options.lam * lp
        z_before = seen.keep(z)
        optimizer_step(loss, adam, scaler)
        yield OptStep(step, handles.clone(), {"motion": float(lm.detach()), "preserve": float(lp.detach())},
                      z.detach().clone(), level, mechanism=seen.record((z_before, z), prob, active))
    with torch.no_grad(), autocast():
        feats, _ = unet_features(model, z, ctx.t, prob.emb, options.up_block, prob.grid, False)
    handles = track(feats, ctx.tracked, handles, prob.r_p)
    arrived = bool(((handles - prob.targets).norm(dim=1) <= prob.tolerance).all())
    yield OptStep(int(options.max_iters), handles.clone(), {"motion": 0.0, "preserve": 0.0}, z.detach().clone(),
                  level, done=arrived, final=True)


class _Recorder:
    """Point tracking, keeping what ``Mechanism`` needs of each step when asked (``on``); else
    tracking alone, and nothing kept."""

    def __init__(self, on: bool, z: torch.Tensor):
        self.on = on
        self.restart(z)

    def restart(self, z: torch.Tensor) -> None:
        """The net change is measured from ``z`` (1, c, h, w) on (the start, or a new timestep)."""
        self.origin = z.detach().float().clone() if self.on else None

    def track(self, feats, originals, handles, r_p: int, tracked: bool) -> torch.Tensor:
        """``track``'s new handles (N, 2), or ``handles`` themselves where not ``tracked``."""
        self.before, self.seen, self.tracked = handles, None, tracked
        if tracked or self.on:
            self.seen = windows(feats, originals, handles, r_p)
        self.found = nearest(self.seen, handles) if tracked else handles
        return self.found

    def keep(self, z: torch.Tensor):
        """The latent before the update (when on)."""
        return z.detach().clone() if self.on else None

    def record(self, update, prob: Problem, active: torch.Tensor) -> Mechanism | None:
        """The step's ``Mechanism`` (None when off): ``update`` is (latent before, after) or None."""
        if not self.on:
            return None

        def cpu(x):
            return x.detach().float().cpu().numpy()

        change = so_far = None
        if update is not None:
            change, so_far = (cpu((update[1].detach() - x).norm(dim=1)[0]) for x in (update[0], self.origin))
        corners = np.array([c for _, c in self.seen], dtype=np.int64).reshape(-1, 2)
        return Mechanism([cpu(d) for d, _ in self.seen], corners, cpu(self.before), cpu(self.found),
                         cpu(pulls(self.found, prob.targets, active)), prob.r_m, change, so_far, self.tracked)


@torch.no_grad()
def denoise_step(model: DiffusionModel, prob: Problem, z: torch.Tensor, t: int,
                 original_next: torch.Tensor) -> torch.Tensor:
    """One DDIM step of z (1, c, h, w) from t down; outside the region (``prob.keep`` 1) the
    original's latent at the next timestep is taken, as the final denoising does."""
    z = z.to(model.dtype)
    z = ddim_step(prob.scheduler, predict(model, z, t, prob.emb), t, z)[0].float()
    return blend(z, original_next.float(), prob.keep)


def as_cells(points: np.ndarray, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(points), dtype=torch.float32, device=device)
