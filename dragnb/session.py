"""A drag edit from start to end, one observable step at a time.

    session = dragnb.DragSession(model, image, handles=[(20, 30)], targets=[(34, 30)])
    for state in session.run():          # one DragStep per optimisation step
        print(state.step, state.handles, state.losses)
    result = session.result()            # DragResult: the edited image and everything seen

Stages (each timed): identity LoRA (optional) -> DDIM inversion -> editable region ->
(``init="warp"``: the image warped along the drags, ``warp.py``, and inverted too) ->
latent optimisation (``drag.optimise``) -> denoising with reference attention -> the
input's own pixels pasted back outside the editable region (``images.paste_back``).
Interrupting ``run()`` (KeyboardInterrupt) keeps the last completed step: ``result()``
then finishes from there. The user's image, points and mask are never modified.
"""
from __future__ import annotations

import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import validate
from .optimisation import DragOptions, Problem, as_cells, optimise
from .features import dift_features
from .images import check_points, load_image, paste_back
from .inversion import Inversion, ddim_step, invert, predict
from .loading import SD15, DiffusionModel
from .lora import ADAPTER, fit_identity_lora, remove_lora, use_lora
from .reference import ReferenceTokens, denoise_with_reference, reference_attention
from .region import find_region, grow_mask, image_pieces
from .warp import warped_image


@dataclass
class DragStep:
    """One optimisation step: where the handles are (image pixels) and the losses."""

    step: int
    handles: np.ndarray          # (N, 2) tracked handle positions, image pixels
    distance: float              # largest handle-to-target distance, image pixels
    losses: dict                 # {"motion": float, "preserve": float}
    preview: Image.Image | None = None
    level: int = 0               # the DDIM timestep index of the latent (> 0 once AlDD has denoised)


@dataclass
class DragResult:
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
    passes: dict = field(default_factory=dict)    # per stage: UNet passes {"forward": n, "backward": n},
                                                  # counted in images (a batch of 2 is 2; a pass stopped
                                                  # after the supervised block counts as one)
    peak_gb: dict = field(default_factory=dict)   # per stage: peak CUDA memory, GiB (GPU only)

    def costs(self) -> str:
        """A line per stage: seconds, UNet passes forward/backward, peak GPU memory."""
        rows = []
        for stage, sec in self.timings.items():
            p = self.passes.get(stage, {})
            mem = f", peak {self.peak_gb[stage]:.1f} GiB" if stage in self.peak_gb else ""
            rows.append(f"{stage:13s} {sec:7.2f} s  UNet passes {p.get('forward', 0):4d} forward, "
                        f"{p.get('backward', 0):4d} backward{mem}")
        total = sum(self.timings.values())
        fwd = sum(p["forward"] for p in self.passes.values())
        bwd = sum(p["backward"] for p in self.passes.values())
        return "\n".join(rows + [f"{'whole edit':13s} {total:7.2f} s  UNet passes {fwd:4d} forward, {bwd:4d} backward"])

    @property
    def distance(self) -> float:
        """The largest distance, in image pixels, from where tracking last found a handle to its target."""
        return float(np.linalg.norm(self.handles - self.targets, axis=1).max())


@contextmanager
def unet_passes(unet, counts: dict):
    """Within the block, add to ``counts["forward"]`` the images of every UNet call (whole or
    stopped early)."""
    def seen(_module, args, kwargs):
        x = args[0] if args else kwargs["sample"]
        counts["forward"] += int(x.shape[0])

    handle = unet.register_forward_pre_hook(seen, with_kwargs=True)
    try:
        yield counts
    finally:
        handle.remove()


def check_drag_points(handles, targets, size) -> tuple:
    """Validate handle/target lists for an image of ``size`` (W, H): two (N, 2) arrays."""
    h = check_points(handles, size, "handle") if handles is not None else np.zeros((0, 2))
    t = check_points(targets, size, "target") if targets is not None else np.zeros((0, 2))
    if len(h) == 0 or len(t) == 0:
        raise ValueError("a drag needs at least one handle and one target point")
    if len(h) != len(t):
        raise ValueError(f"got {len(h)} handles but {len(t)} targets: they come in pairs")
    same = np.linalg.norm(h - t, axis=1) < 0.5
    if same.all():
        i = 0
        raise ValueError(f"handle {i} at ({h[i, 0]:g}, {h[i, 1]:g}) equals its target: nothing to drag"
                         if len(h) == 1 else "every handle equals its target: nothing to drag")
    if same.any():   # DragDiffusion skips such a pair (two of DragBench's samples have one)
        which = ", ".join(str(i) for i in np.flatnonzero(same))
        warnings.warn(f"handle(s) {which} equal their targets: they stay where they are; the other pairs are dragged")
    return h, t


def check_mask(mask, size) -> np.ndarray | str | None:
    """None, "all", or a (H, W) mask (1/True = editable) as a bool array (``validate.mask``)."""
    return validate.mask(mask, size)


_WARNED_PHOTO = []


def _warn_if_photo_on_teaching_model(model: DiffusionModel, image, size: int | None) -> None:
    """Once per process: the teaching model knows only 64-px landscapes (``size``: the drag's working side)."""
    if model.name == "tiny" and max(image.size) > 2 * model.native_size and not _WARNED_PHOTO:
        _WARNED_PHOTO.append(True)
        warnings.warn(f"this {image.width}x{image.height} image goes to the teaching model, which knows only "
                      f"{model.native_size}-px landscapes: it is worked on at {size or model.native_size} px and comes "
                      "back smudged inside the editable region (outside it stays your own pixels). For photos, "
                      f"load Stable Diffusion on a GPU: dragnb.load('{SD15}').",
                      stacklevel=3)


def handle_regions(model: DiffusionModel, image, handles, prompt: str = "", size: int | None = None) -> list:
    """The region under each handle (``find_region``, one DIFT pass at ``size``, the image cut into
    pieces once): [(H, W) bool, ...]."""
    image = load_image(image)
    feats = dift_features(model, image, prompt=prompt, size=size)
    pieces = image_pieces(feats)
    return [find_region(model, image, hp, features=feats, pieces=pieces) for hp in handles]


def drag_region(model: DiffusionModel, image, handles, targets, grow: int | None = None,
              prompt: str = "", regions: list | None = None, size: int | None = None) -> np.ndarray:
    """The region under each handle (``find_region``), swept along its path to the target."""
    image = load_image(image)
    w, h = image.size
    handles = check_points(handles, image.size, "handle")
    targets = check_points(targets, image.size, "target")
    if len(handles) == 0 or len(handles) != len(targets):
        raise ValueError(f"drag_region needs handles and targets in pairs, got {len(handles)} and {len(targets)}")
    grow = max(1, round(max(w, h) / 32)) if grow is None else validate.number("grow", grow, int, -100_000, 100_000)
    if regions is not None and (len(validate.sequence("regions", regions)) != len(handles)):
        raise ValueError(f"regions must hold one mask per handle ({len(handles)}), got {len(regions)}")
    regions = handle_regions(model, image, handles, prompt, size) if regions is None else regions
    out = np.zeros((h, w), bool)
    for region, hp, tp in zip(regions, handles, targets):
        d = np.asarray(tp) - np.asarray(hp)
        n = int(np.ceil(np.abs(d).max())) + 1
        for s in np.linspace(0, 1, n):
            dx, dy = int(round(s * d[0])), int(round(s * d[1]))
            out |= np.roll(np.roll(region, dy, 0), dx, 1) & _inside(region.shape, dx, dy)
    return grow_mask(out, grow)


def _inside(shape, dx, dy) -> np.ndarray:
    """Where a roll by (dx, dy) did not wrap around."""
    m = np.ones(shape, bool)
    if dy > 0:
        m[:dy] = False
    elif dy < 0:
        m[dy:] = False
    if dx > 0:
        m[:, :dx] = False
    elif dx < 0:
        m[:, dx:] = False
    return m


class DragSession:
    """One drag edit; see the module docstring. Options: ``DragOptions`` fields."""

    def __init__(self, model: DiffusionModel, image, handles, targets, mask=None, prompt: str = "",
                 seed: int = 0, **options):
        self.model = model
        self.image = load_image(image).copy()
        self.start, self.targets = check_drag_points(handles, targets, self.image.size)
        self.user_mask = check_mask(mask, self.image.size)
        self.prompt = validate.text("prompt", prompt)
        self.seed = validate.seed("seed", seed)
        self.options = DragOptions.for_model(model, **options)
        _warn_if_photo_on_teaching_model(model, self.image, self.options.size)
        self.history: list = []
        self.timings: dict = {}          # seconds per stage
        self.passes: dict = {}           # per stage: UNet passes {"forward": images, "backward": images}
        self.peak_gb: dict = {}          # per stage: peak CUDA memory (GiB), on a GPU
        self.mask = None
        self.inversion: Inversion | None = None
        self.lora_losses: list = []
        self.warped: Image.Image | None = None   # init="warp": the image the optimisation starts from
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
        start = time.perf_counter()
        cuda = self.model.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.model.device)
        with unet_passes(self.model.unet, self.passes.setdefault(stage, {"forward": 0, "backward": 0})):
            out = fn(*args, **kw)
        if cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated(self.model.device) / 2 ** 30
            self.peak_gb[stage] = max(self.peak_gb.get(stage, 0.0), peak)
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start
        return out

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
            self.passes["lora"]["backward"] += 4 * len(self.lora_losses)   # batch 4 (DragDiffusion's)
            self._lora = ADAPTER
        record = nullcontext()
        if o.reference_source == "inversion" and len(o.reference_blocks):
            self._tokens = ReferenceTokens(o.reference_store)
            record = reference_attention(m, o.reference_blocks, record=self._tokens)
        with use_lora(m, self._lora), record:
            self.inversion = self._timed("inversion", invert, m, self.image, self.prompt, o.strength, o.steps, o.size)
        regions = None
        if self.user_mask is None or o.init == "warp":
            regions = self._timed("region", handle_regions, m, self.image, self.start, self.prompt, o.size)
        if self.user_mask is None:
            self.mask = self._timed("region", drag_region, m, self.image, self.start, self.targets,
                                    prompt=self.prompt, regions=regions)
        elif isinstance(self.user_mask, str):
            self.mask = np.ones((self.image.height, self.image.width), bool)
        else:
            self.mask = self.user_mask.copy()
        self._latent = self.inversion.latent.detach().clone()
        if o.init == "warp":
            self.warped = self._timed("warp", warped_image, self.image, regions, self.start, self.targets,
                                      self.mask)
            with use_lora(m, self._lora):
                start = self._timed("inversion", invert, m, self.warped, self.prompt, o.strength, o.steps, o.size)
            self._latent = start.latent.detach().clone()
            self._handles = self.targets.copy()   # tracking checks where the warped content is

    def problem(self) -> Problem:
        """The optimisation's inputs on the feature grid; resumes from the last completed step."""
        inv, o = self.inversion, self.options
        mw, mh = inv.geometry.model
        grid = (max(1, round(mw * o.feature_scale)), max(1, round(mh * o.feature_scale)))
        geo = inv.geometry
        z = inv.latent
        keep = self._keep()
        start = as_cells(geo.to_grid(self.start, grid), z.device)
        targets = as_cells(geo.to_grid(self.targets, grid), z.device)
        length = torch.as_tensor(np.linalg.norm(self.targets - self.start, axis=1), device=z.device)
        short = ((targets - start).norm(dim=1) <= o.tolerance) & (length >= 0.5)   # equal pairs: warned already
        if short.any() and not self.history:
            warnings.warn(f"handle {int(short.nonzero()[0, 0])} is within the stop tolerance of its target "
                          f"({o.tolerance} feature cells): it will not move. Drag further, or lower tolerance.")
        return Problem(list(inv.timesteps), inv.scheduler, self._originals(), inv.embedding, grid, start, targets, keep,
                       z_start=self._latent, level=self._level, handles_now=as_cells(geo.to_grid(self._handles, grid), z.device),
                       first_step=self.history[-1].step + 1 if self.history else 0)

    def _seam(self) -> int:
        """The paste-back seam in image pixels: ``seam``, else 1/32 of the long side (at least 1)."""
        seam = self.options.seam
        return max(1, round(max(self.image.size) / 32)) if seam is None else int(seam)

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
                    self.passes["optimisation"]["backward"] += 1   # one loss.backward through the UNet
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
                state = DragStep(item.step, handles, dist, item.losses, preview, item.level)
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
        return paste_back(self.image, image, self.mask, self._seam()) if self.options.paste_back else image

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
            image = paste_back(self.image, image, self.mask, self._seam())
        return image

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
        self._result = DragResult(image, self.image, self._handles.copy(), self.start.copy(), self.targets.copy(), self.mask,
                                  list(self.history), dict(self.timings), self.options, self._arrived,
                                  self.lora_losses, {k: dict(v) for k, v in self.passes.items()},
                                  dict(self.peak_gb))
        return self._result


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
