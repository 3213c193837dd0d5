"""The knobs of a drag: ``DragOptions``, and where each value comes from.

A field's default is the published value (its comment names the source: DragDiffusion
unless it says otherwise); a model may override any field in its folder's ``dragnb.json``
(``"drag"``); what the caller passes wins. ``DragOptions.for_model`` applies that order
and makes every model-dependent value concrete, here and nowhere else. Distances
(``tolerance``, ``r_m``, ``r_p``, ``seam``) are in the user's image pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from . import validate
from .images import default_seam
from .loading import DiffusionModel, default_reference_blocks


@dataclass
class DragOptions:
    """The knobs of a drag, field by field with its unit and source.

    A default is DragDiffusion's published value for SD 1.5 (Shi et al., CVPR 2024,
    github.com/Yujun-Shi/DragDiffusion) unless its comment names another source
    (``SOURCES``). DragDiffusion works on 512-px images with features at half that
    size, so its distances in feature cells are twice as many image pixels here.

    Where a drag's value comes from, later winning: the field's default here; the model's
    override, its ``dragnb.json``'s ``"drag"`` entry (the teaching model's are explained
    in its model card); the caller's argument. ``DragOptions.for_model(model, **given)``
    applies that order, and ``drag``/``DragSession`` call it with their keyword arguments.
    """

    strength: float = 0.7        # inversion strength: 0.7 = invert 35 of 50 steps
    steps: int = 50              # DDIM steps
    max_iters: int = 80          # optimisation steps
    lr: float = 0.01             # Adam on the latent
    r_m: float = 2.0             # motion-supervision patch radius, image pixels (DragDiffusion: 1 feature cell)
    r_p: float = 6.0             # point-tracking window radius, image pixels (DragDiffusion: 3 feature cells)
    lam: float = 0.1             # preservation weight
    up_block: int = -2           # supervised up-block, Python-indexed: -2 = second-to-last (SD 1.5: up_blocks[2])
    feature_scale: float = 0.5   # supervision features resized to this x the working frame
    tolerance: float = 4.0       # stop once every handle is this close to its target, image pixels
                                 # (DragDiffusion: 2 feature cells)
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
                                          # 2 images a step)
    reference_store: str = "device"      # "inversion": keep the record on the model's device or the "cpu"
    blend: bool = True           # denoise with the original's latent outside the region (dragnb)
    drag_per_denoise: int = 0    # GoodDrag's alternation (AlDD, Zhang et al. 2024): this many steps at a
                                 # timestep, then one denoising step; 0 = all at the inverted one (DragDiffusion)
    drag_levels: int = 10        # AlDD: drag over at most this many timesteps (GoodDrag)
    supervise: str = "step"      # motion supervision pulls towards the patch at the handle now
                                 # ("step", DragDiffusion) or the original's at the start ("original", GoodDrag)
    paste_back: bool = True      # the result keeps the input's own pixels outside the editable region,
                                 # feathered over ``seam`` pixels (dragnb); off = the model's decode
    seam: int | None = None      # width of that seam, image pixels; None: ``images.default_seam``
                                 # (1/32 of the long side), made concrete once the image is known
    init: str = "inverted"       # start from the inverted latent ("inverted", DragDiffusion) or from the
                                 # inversion of the image warped along the drags ("warp", FastDrag-style,
                                 # see warp.py)
    warp: str = "shape"          # init="warp": the warp's geometry, "shape" (the region deforms about its
                                 # anchors, shapes kept) or "falloff" (the handle's part moves, the rest
                                 # follows by a fall-off; dragnb, warp.py)
    keep_warped: bool = True     # init="warp", warp="shape": when tracking finds every handle on its target
                                 # before any step, the result keeps the warped pixels, the model's output only
                                 # where the warp left background bare (Inpaint4Drag's division, Lu et al. 2025)
    preview_every: int = 0       # decode a preview every k steps (0: never)
    mechanism: bool = False      # record each step's mechanism (``optimisation.Mechanism``): the tracking
                                 # windows, the motion patches and the latent's change (dragnb)
    size: int | None = None      # the long side the drag works at, pixels; None: the model's native size
                                 # (SD 1.5: 512, as DragDiffusion; smaller is faster on a CPU, and coarser)

    @classmethod
    def for_model(cls, model: DiffusionModel, image_size: tuple | None = None, **given) -> "DragOptions":
        """The options of a drag on ``model``: the fields' defaults, then the model's overrides,
        then ``given``; checked (ValueError naming the field), and every model-dependent value
        made concrete: ``up_block`` non-negative, ``lora`` a bool, ``reference_blocks`` a tuple,
        ``size`` the model's native size if None, and, given the image's ``image_size`` (W, H),
        ``seam`` its default width if None."""
        names = {f.name for f in fields(cls)}
        own = model.defaults.get("drag", {})
        for where, values in (("the model's dragnb.json", own), ("the call", given)):
            unknown = set(values) - names
            if unknown:
                raise ValueError(f"unknown drag option(s) in {where}: {', '.join(sorted(unknown))}; "
                                 f"DragOptions has {', '.join(sorted(names))}")
        out = cls(**{**own, **given})
        out.check(model)
        n_up = len(model.unet.up_blocks)
        out.up_block %= n_up
        out.lora = model.device.type == "cuda" if out.lora is None else out.lora
        out.reference_blocks = (tuple(default_reference_blocks(model)) if out.reference_blocks is None
                                else out.reference_blocks)
        out.size = model.native_size if out.size is None else out.size
        if out.seam is None and image_size is not None:
            out.seam = default_seam(image_size)
        if image_size is not None:   # a radius or tolerance beyond the image asks for nothing a drag can do
            side = max(image_size)
            for name in ("r_m", "r_p", "tolerance", "seam"):
                value = getattr(out, name)
                if value is not None and value > side:
                    raise ValueError(f"{name} = {value:g} image pixels is larger than the image ({side} px on its "
                                     f"long side): distances are in image pixels")
        return out

    def check(self, model: DiffusionModel) -> None:
        """Refuse (ValueError naming the field) any value a drag on ``model`` cannot use; make
        ints ints and numbers floats."""
        n_up = len(model.unet.up_blocks)
        self.up_block = validate.number("up_block", self.up_block, int, -n_up, n_up - 1)
        if self.reference_blocks is not None:
            if isinstance(self.reference_blocks, (str, bytes)) or not hasattr(self.reference_blocks, "__iter__"):
                raise ValueError(f"reference_blocks must be a tuple of up-block indices, e.g. (2, 3), or () for "
                                 f"none, got {self.reference_blocks!r}")
            self.reference_blocks = tuple(validate.number("reference_blocks", b, int, 0, n_up - 1)
                                          for b in self.reference_blocks)
        ints = dict(steps=(1, 1000), max_iters=(1, 100_000), lora_steps=(1, 100_000), lora_rank=(1, 1024),
                    drag_per_denoise=(0, 100_000), drag_levels=(1, 1000), preview_every=(0, 100_000))
        for name, (lo, hi) in ints.items():
            setattr(self, name, validate.number(name, getattr(self, name), int, lo, hi))
        if self.seam is not None:
            self.seam = validate.number("seam", self.seam, int, 0, 10_000)
        if self.size is not None:
            self.size = validate.number("size", self.size, int, model.multiple, 4096)
        for name, lo, lo_open, hi in (("strength", 0, True, 1), ("lr", 0, True, None), ("lora_lr", 0, True, None),
                                      ("lam", 0, False, None), ("tolerance", 0, False, None),
                                      ("r_m", 0, False, 10_000), ("r_p", 0, False, 10_000),
                                      ("feature_scale", 0, True, 1)):
            setattr(self, name, validate.number(name, getattr(self, name), float, lo, hi, lo_open))
        for name, options in CHOICES.items():
            if not (name == "lora" and self.lora is None):   # None: decided by the model's device
                validate.choice(name, getattr(self, name), options)

    def on_grid(self, cell: float) -> dict:
        """The distances the optimisation uses, in cells of a feature grid whose cell is ``cell``
        image pixels: ``tolerance`` (float), ``r_m`` and ``r_p`` (ints; a positive radius is at
        least one cell)."""
        def radius(px: float) -> int:
            return max(1, round(px / cell)) if px > 0 else 0

        return {"tolerance": self.tolerance / cell, "r_m": radius(self.r_m), "r_p": radius(self.r_p)}

    @staticmethod
    def source(name: str, model: DiffusionModel) -> str:
        """Where field ``name``'s value for ``model`` comes from, in words."""
        if name in model.defaults.get("drag", {}):
            return f"the {model.name} model's dragnb.json"
        return SOURCES.get(name, "DragDiffusion (Shi et al., CVPR 2024)")


CHOICES = {"init": ("inverted", "warp"), "warp": ("shape", "falloff"), "supervise": ("step", "original"),
           "reference_source": ("recompute", "inversion"), "reference_store": ("device", "cpu"),
           "preserve": ("step", "latent"), "lora": (True, False), "blend": (True, False),
           "paste_back": (True, False), "mechanism": (True, False),
           "keep_warped": (True, False)}   # the values each of these DragOptions fields accepts
SOURCES = {"reference_source": "dragnb", "reference_store": "dragnb", "blend": "dragnb", "paste_back": "dragnb",
           "seam": "dragnb", "preview_every": "dragnb", "mechanism": "dragnb", "warp": "dragnb",
           "keep_warped": "dragnb, after Inpaint4Drag (Lu et al. 2025)", "lora": "dragnb: on where the model runs on CUDA",
           "size": "the model's native size", "drag_per_denoise": "GoodDrag (Zhang et al. 2024): 0 = off",
           "drag_levels": "GoodDrag (Zhang et al. 2024)"}   # fields whose default is not DragDiffusion's
