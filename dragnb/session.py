"""A drag edit from start to end, one observable step at a time.

    session = dragnb.DragSession(model, image, handles=[(20, 30)], targets=[(34, 30)])
    for state in session.run():          # one DragStep per optimisation step
        print(state.step, state.handles, state.losses)
    result = session.result()            # DragResult: the edited image and everything seen

Stages (each timed, ``costs.Costs``): identity LoRA (optional) -> DDIM inversion -> editable
region (``pulled.drag_region``, unless a mask is given) ->
(``init="warp"``: the image warped along the drags, ``warp.py``, and inverted too) ->
latent optimisation (``optimisation.optimise``) -> denoising with reference attention -> the
input's own pixels pasted back outside the editable region (``images.paste_back``). A "shape"
warp start on which tracking finds every handle on its target before any step keeps the warped
pixels, the model's output only where the warp left background bare (``reveal.keep_warped``).
Interrupting ``run()`` (KeyboardInterrupt) keeps the last completed step: ``result()``
then finishes from there. The user's image, points and mask are never modified.
"""
from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import validate
from .costs import Costs
from .images import load_image, paste_back
from .inversion import Inversion, ddim_step, invert, predict
from .loading import DiffusionModel, warn_if_photo_on_teaching_model
from .lora import ADAPTER, fit_identity_lora, remove_lora, use_lora
from .optimisation import Problem, as_cells, optimise
from .options import DragOptions
from .reference import ReferenceTokens, denoise_with_reference, reference_attention
from .pulled import drag_region, handle_regions
from .reveal import keep_warped
from .warp import warp_with_field


@dataclass
class StepMechanism:
    """How one step worked, in the user's image pixels (``optimisation.Mechanism``, converted).

    Per handle i: point tracking searched the window ``boxes[i]`` around ``before[i]`` and
    chose its nearest cell ``found[i]`` (``windows[i]``: each cell's L1 feature distance to
    the handle's original feature); motion supervision pulled the square patch of half side
    ``patch`` around ``found[i]`` towards its copy shifted by ``pulls[i]``; the update changed
    the latent by ``change`` (one value per latent cell, over ``change_box``; ``so_far``: the
    net change since the optimisation started).
    """

    windows: list              # [(rows, cols)] L1 feature distances, one per handle
    boxes: np.ndarray          # (N, 4) each window's left, top, right, bottom (cell edges), image pixels
    before: np.ndarray         # (N, 2) where the handle was when the step began
    found: np.ndarray          # (N, 2) where tracking put it
    pulls: np.ndarray          # (N, 2) the patch's pull (one feature cell long; 0 once arrived), image pixels
    patch: float               # the patch's half side, (r_m + 1/2) feature cells, in image pixels
    change: np.ndarray | None  # (h, w) latent cells: how much the step's update changed each; None: no update
    so_far: np.ndarray | None  # (h, w) latent cells: the net change since the optimisation started
    change_box: tuple          # (left, top, right, bottom) of ``change`` over the image, image pixels
    cell: float                # image pixels per feature cell
    latent_cell: float         # image pixels per latent cell
    tracked: bool              # tracking ran this step (not at the start, where the handle is known)

    @classmethod
    def from_cells(cls, m, geo, grid: tuple, latent_grid: tuple) -> "StepMechanism":
        """``m`` (an ``optimisation.Mechanism``) on the feature grid ``grid`` and the latent grid
        ``latent_grid`` (each (w, h)) of the image whose ``Geometry`` is ``geo``."""
        cell = geo.cell_size(grid)
        sizes = np.array([d.shape[::-1] for d in m.windows], float)                  # (N, 2) cols, rows
        first, last = (geo.from_grid(m.corners + k - 0.5, grid) for k in (0, sizes))  # cell edges
        lw, lh = latent_grid
        box = tuple(geo.from_grid([[-0.5, -0.5], [lw - 0.5, lh - 0.5]], latent_grid).ravel())
        return cls(list(m.windows), np.concatenate([first, last], 1), geo.from_grid(m.before, grid),
                   geo.from_grid(m.found, grid), m.pulls * cell, (m.r_m + 0.5) * cell, m.change, m.so_far,
                   box, cell, geo.cell_size(latent_grid), m.tracked)


@dataclass
class DragStep:
    """One optimisation step: where the handles are (image pixels) and the losses."""

    step: int
    handles: np.ndarray          # (N, 2) tracked handle positions, image pixels
    distance: float              # largest handle-to-target distance, image pixels
    losses: dict                 # {"motion": float, "preserve": float}
    preview: Image.Image | None = None
    level: int = 0               # the DDIM timestep index of the latent (> 0 once AlDD has denoised)
    mechanism: StepMechanism | None = None   # how the step worked (``DragOptions(mechanism=True)``)


@dataclass
class DragResult:
    """What a drag gives: the edited image and everything seen on the way."""

    image: Image.Image           # the edited image, at the input's size
    original: Image.Image
    handles: np.ndarray          # (N, 2) final handle positions, image pixels
    start: np.ndarray            # (N, 2) where the handles started
    targets: np.ndarray          # (N, 2)
    mask: np.ndarray             # (H, W) bool, the editable region used
    history: list                # [DragStep, ...]
    timings: dict                # seconds per stage
    options: DragOptions
    arrived: bool                # point tracking found every handle within tolerance of its target
    lora_losses: list = field(default_factory=list)
    passes: dict = field(default_factory=dict)    # per stage: UNet passes {"forward": n, "backward": n}
    peak_gb: dict = field(default_factory=dict)   # per stage: peak CUDA memory, GiB (GPU only)
    kept_warp: bool = False      # the image keeps the warped pixels, the model's only where the warp left
                                 # background bare (``DragOptions.keep_warped``)

    def costs(self) -> str:
        """A line per stage: seconds, UNet passes forward/backward, peak GPU memory (``costs.Costs``)."""
        return Costs(self.timings, self.passes, self.peak_gb).report()

    @property
    def distance(self) -> float:
        """The largest distance, in image pixels, from where tracking last found a handle to its target."""
        return float(np.linalg.norm(self.handles - self.targets, axis=1).max())

    def change_near(self, radius: float | None = None, net: bool = True) -> float:
        """The share of the latent's change in latent cells whose centre lies within ``radius`` image
        pixels (default: each pair's drag length) of a handle's start; the change is the net one
        after the last step (``net``) or the steps' own changes summed. Needs ``mechanism=True``."""
        return change_near(self.history, self.start, self.targets, radius, net)


class DragSession:
    """One drag edit; see the module docstring. Options: ``DragOptions`` fields."""

    def __init__(self, model: DiffusionModel, image, handles, targets, mask=None, prompt: str = "",
                 seed: int = 0, **options):
        self.model = model
        self.image = load_image(image).copy()
        self.start, self.targets = validate.drag_points(handles, targets, self.image.size)
        self.user_mask = validate.mask(mask, self.image.size)
        self.prompt = validate.text("prompt", prompt)
        self.seed = validate.seed("seed", seed)
        self.options = DragOptions.for_model(model, self.image.size, **options)
        warn_if_photo_on_teaching_model(model, self.image, self.options.size)
        self.history: list = []
        self.costs = Costs()             # seconds, UNet passes and peak GPU memory per stage
        self.mask = None
        self.inversion: Inversion | None = None
        self.lora_losses: list = []
        self.warped: Image.Image | None = None   # init="warp": the image the optimisation starts from
        self.warp_field: np.ndarray | None = None   # init="warp": where the warp sent each pixel (H, W, 2)
        self._lora = None
        self._tokens = None      # reference_source="inversion": the original's self-attention inputs
        self._latent = None      # the latent after the last completed step
        self._level = 0          # the timestep index it sits at (> 0 after AlDD's denoising steps)
        self._handles = self.start.copy()
        self._started = False
        self._arrived = False
        self._result = None

    # -- stages ---------------------------------------------------------------------
    def _timed(self, stage, fn, *args, **kw):
        """Run ``fn``, adding its seconds, UNet passes and peak CUDA memory to ``stage``'s account."""
        return self.costs.timed(self.model, stage, fn, *args, **kw)

    def prepare(self) -> None:
        """LoRA (optional), inversion and the editable region; run() calls it once."""
        if self.inversion is not None:
            return
        m, o = self.model, self.options
        if o.lora:
            def fit():
                from .images import prepare as prep
                _, x, _ = prep(self.image, m.native_size, m.multiple, o.size)
                return fit_identity_lora(m, m.encode(x), m.embed(self.prompt), steps=o.lora_steps,
                                         rank=o.lora_rank, lr=o.lora_lr, seed=self.seed)
            self.lora_losses = self._timed("lora", fit)
            self.costs.account("lora")["backward"] += 4 * len(self.lora_losses)   # batch 4 (DragDiffusion's)
            self._lora = ADAPTER
        record = nullcontext()
        if o.reference_source == "inversion" and len(o.reference_blocks):
            self._tokens = ReferenceTokens(o.reference_store)
            record = reference_attention(m, o.reference_blocks, record=self._tokens)
        with use_lora(m, self._lora), record:
            self.inversion = self._timed("inversion", invert, m, self.image, self.prompt, o.strength, o.steps, o.size)
        regions = None
        if self.user_mask is None or o.init == "warp":
            regions = self._timed("region", handle_regions, m, self.image, self.start, self.prompt, o.size,
                                  self.targets)
        if self.user_mask is None:
            self.mask = self._timed("region", drag_region, m, self.image, self.start, self.targets,
                                    prompt=self.prompt, regions=regions)
        elif isinstance(self.user_mask, str):
            self.mask = np.ones((self.image.height, self.image.width), bool)
        else:
            self.mask = self.user_mask.copy()
        self._latent = self.inversion.latent.detach().clone()
        if o.init == "warp":
            self.warped, self.warp_field = self._timed("warp", warp_with_field, self.image, regions, self.start,
                                                       self.targets, self.mask, warp=o.warp)
            with use_lora(m, self._lora):
                start = self._timed("inversion", invert, m, self.warped, self.prompt, o.strength, o.steps, o.size)
            self._latent = start.latent.detach().clone()
            self._handles = self.targets.copy()   # tracking checks where the warped content is

    def problem(self) -> Problem:
        """The optimisation's inputs on the feature grid; resumes from the last completed step."""
        inv, o = self.inversion, self.options
        geo, z = inv.geometry, inv.latent
        grid = geo.grid(o.feature_scale)
        on_grid = o.on_grid(geo.cell_size(grid))
        start = as_cells(geo.to_grid(self.start, grid), z.device)
        targets = as_cells(geo.to_grid(self.targets, grid), z.device)
        length = torch.as_tensor(np.linalg.norm(self.targets - self.start, axis=1), device=z.device)
        short = ((targets - start).norm(dim=1) <= on_grid["tolerance"]) & (length >= 0.5)   # equal pairs: warned
        if short.any() and not self.history:
            warnings.warn(f"handle {int(short.nonzero()[0, 0])} is within the stop tolerance of its target "
                          f"({o.tolerance:g} image pixels): it will not move. Drag further, or lower tolerance.")
        return Problem(list(inv.timesteps), inv.scheduler, self._originals(), inv.embedding, grid, start, targets,
                       self._keep(), **on_grid, z_start=self._latent, level=self._level,
                       handles_now=as_cells(geo.to_grid(self._handles, grid), z.device),
                       first_step=self.history[-1].step + 1 if self.history else 0)

    def _original(self, level: int) -> torch.Tensor:
        """The original's inverted latent at ``inversion.timesteps[level]`` (level = their count: the
        clean latent z0): (1, c, h, w)."""
        inv = self.inversion
        return inv.latent if level == 0 else inv.trajectory[-1 - level].to(inv.latent.device, inv.latent.dtype)

    def _originals(self) -> list:
        """The original's inverted latent at each timestep still to denoise: [(1, c, h, w)]."""
        return [self._original(i) for i in range(len(self.inversion.timesteps))]

    def _keep(self) -> torch.Tensor:
        """(1, 1, h, w) latent cells outside the editable region (1 = keep): a cell is
        editable if any of its pixels is."""
        z = self.inversion.latent
        framed = self.inversion.geometry.frame_mask(self.mask)   # padding: not editable
        editable = torch.from_numpy(framed.astype(np.float32))[None, None]
        editable = F.interpolate(editable, size=z.shape[-2:], mode="area") > 0
        return (~editable).float().to(z.device)

    def run(self):
        """Yield a DragStep per optimisation step; stops early when every handle arrived.

        After an interruption, calling ``run()`` again continues from the last completed step.
        """
        if self._result is not None:
            raise ValueError("this session has finished; start a new DragSession (e.g. on result.image)")
        if self._arrived:
            return
        self.prepare()
        self._started = True
        prob = self.problem()
        o = self.options
        geo = self.inversion.geometry
        with use_lora(self.model, self._lora):
            steps = optimise(self.model, prob, o)
            while True:
                item = self._timed("optimisation", next, steps, None)
                if item is None:
                    break
                if not (item.done or item.final):
                    self.costs.account("optimisation")["backward"] += 1   # one loss.backward through the UNet
                handles = geo.from_grid(item.handles.cpu().numpy(), prob.grid)
                dist = float(np.linalg.norm(handles - self.targets, axis=1).max())
                self._handles = handles
                self._latent, self._level = item.latent, item.level
                if item.done or item.final:
                    self._arrived = item.done
                    break
                preview = None
                if o.preview_every and item.step % o.preview_every == 0:
                    preview = self._timed("previews", self.preview, item.latent)
                seen = None if item.mechanism is None else StepMechanism.from_cells(
                    item.mechanism, geo, prob.grid, tuple(prob.z_t.shape[-1:-3:-1]))
                state = DragStep(item.step, handles, dist, item.losses, preview, item.level, seen)
                self.history.append(state)
                yield state

    @torch.no_grad()
    def preview(self, z: torch.Tensor | None = None) -> Image.Image:
        """A quick look at a latent: the UNet's one-step estimate of the clean image, with the
        input's own pixels outside the editable region when the result has them (``paste_back``)."""
        m, inv = self.model, self.inversion
        if inv is None:
            raise ValueError("nothing to preview yet: call run() (or prepare()) first")
        z = self._latent if z is None else z
        t = inv.timesteps[self._level]
        z = z.to(m.dtype)
        x0 = ddim_step(inv.scheduler, predict(m, z, t, inv.embedding), t, z)[1]
        image = inv.geometry.image(m.decode(x0.to(m.dtype)))
        return paste_back(self.image, image, self.mask, self.options.seam) if self.options.paste_back else image

    def _denoised(self, stage: str, decoding: str) -> Image.Image:
        """The last completed step's latent denoised with reference attention and decoded, at the
        image's size, with the input's own pixels outside the region if ``paste_back``; the
        seconds and UNet passes go to the stages named ``stage`` and ``decoding``."""
        m, inv = self.model, self.inversion
        with use_lora(m, self._lora):   # run() may hold it already, suspended at a step
            keep = self._keep() if self.options.blend else None
            lv = self._level
            recorded = None
            if self.options.reference_source == "inversion":   # the original's K/V and latents, as recorded
                recorded = (self._tokens, [self._original(i) for i in range(lv + 1, len(inv.timesteps) + 1)])
            z0 = self._timed(stage, denoise_with_reference, m, self._original(lv), self._latent,
                             inv.timesteps[lv:], inv.embedding, inv.scheduler, self.options.reference_blocks, keep,
                             recorded)
            image = self._timed(decoding, lambda: inv.geometry.image(m.decode(z0)))
        if self.options.paste_back:
            image = paste_back(self.image, image, self.mask, self.options.seam)
        if self.kept_warp:
            image = keep_warped(self.warped, image, self.warp_field, self.options.seam)
        return image

    @property
    def kept_warp(self) -> bool:
        """Whether the result keeps the warped pixels (``DragOptions.keep_warped``): a "shape" warp
        start on which tracking found every handle on its target before any step."""
        o = self.options
        return (o.keep_warped and o.init == "warp" and o.warp == "shape" and self.warped is not None
                and self._arrived and not self.history)

    def outcome(self) -> Image.Image:
        """The image ``result()`` would give if the drag stopped now (a whole denoising: slower
        than ``preview``, and what a learner should judge a step by). Its cost goes to "outcomes"."""
        if self.inversion is None:
            raise ValueError("nothing to denoise yet: call run() (or prepare()) first")
        return self._denoised("outcomes", "outcomes")

    def result(self) -> DragResult:
        """Finish (running any steps left) and denoise the last completed latent."""
        if self._result is not None:
            return self._result
        if not self._started:
            for _ in self.run():
                pass
        image = self._denoised("denoising", "decoding")
        if self._lora is not None:
            remove_lora(self.model, self._lora)
            self._lora = None
        spent = self.costs.copy()
        self._result = DragResult(image, self.image, self._handles.copy(), self.start.copy(), self.targets.copy(),
                                  self.mask, list(self.history), spent.timings, self.options, self._arrived,
                                  self.lora_losses, spent.passes, spent.peak_gb, self.kept_warp)
        return self._result


def change_near(history: list, start: np.ndarray, targets: np.ndarray, radius: float | None = None,
                net: bool = True) -> float:
    """``DragResult.change_near`` for ``history`` ([DragStep] recorded with ``mechanism``) and the
    pairs' ``start`` and ``targets`` (N, 2) image pixels."""
    seen = [s.mechanism for s in history if s.mechanism is not None and s.mechanism.change is not None]
    if not seen:
        raise ValueError("no step recorded its mechanism (drag with mechanism=True), or none changed the latent")
    total = seen[-1].so_far if net else np.sum([m.change for m in seen], axis=0)
    h, w = total.shape
    left, top, right, bottom = seen[0].change_box
    xs = left + (np.arange(w) + 0.5) * (right - left) / w
    ys = top + (np.arange(h) + 0.5) * (bottom - top) / h
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    lengths = np.linalg.norm(np.asarray(targets) - np.asarray(start), axis=1)
    near = np.zeros((h, w), bool)
    for (x, y), n in zip(np.asarray(start), lengths):
        near |= np.hypot(xx - x, yy - y) <= (n if radius is None else radius)
    return float(total[near].sum() / max(total.sum(), 1e-12))


def drag(model: DiffusionModel, image, handles, targets, mask=None, prompt: str = "", seed: int = 0,
         **options) -> DragResult:
    """Drag the content at ``handles`` to ``targets`` (lists of (x, y) image pixels).

    ``mask``: None (the region under each handle, found automatically), "all", or an
    (H, W) array with 1 = may change. Options: see ``DragOptions``.
    """
    session = DragSession(model, image, handles, targets, mask, prompt, seed, **options)
    for _ in session.run():
        pass
    return session.result()
