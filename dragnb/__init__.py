"""dragnb: drag-based image editing with diffusion models, made to be learnt in notebooks.

The house. The method's stages are at the top, in the order the data flows (image ->
latent -> features -> edited latent -> image), one module each:

- ``loading``:      ``load`` a Stable-Diffusion-shaped model (SD 1.5/2.1, or the bundled
                    teaching model ``"tiny"`` that runs on a CPU);
- ``features``:     ``dift_features``, ``similarity_map``, ``match_points`` (DIFT);
- ``region``:       ``find_region``, the part of the image a drag from a point moves;
- ``pulled``:       ``pulled_region``, that region fitted to its drag (what a raise pulls
                    along; a tail: the thread at the handle, ``thread``, ``drawn_thread``),
                    and ``drag_region``, it swept along the drag;
- ``inversion``:    ``invert`` (DDIM inversion) and ``denoise``; every DDIM step of the
                    package is ``inversion.ddim_step`` (diffusers' schedulers);
- ``warp``:         the optional warped start (``init="warp"``): where each pixel goes;
- ``reveal``:       the warp's pixels pushed there, what they uncover filled, and what a
                    drag keeps of the warp once tracking confirms it (``keep_warped``);
- ``lora``:         the optional identity LoRA;
- ``optimisation``: motion supervision, point tracking, preservation;
- ``reference``:    denoising with the original's self-attention keys/values;
- ``session``:      ``drag`` and ``DragSession``, the stages run in order, step by step.

Beside them: ``options`` (``DragOptions``, every knob of a drag and where its value comes
from), ``images`` (loading, sizes, ``Geometry``: image pixels to latent and feature
cells), ``validate`` (the checks every entry point shares), ``costs`` (seconds and UNet
passes per stage), ``metrics`` (PSNR, DragBench's MD, IF and CLIP similarity), ``samples``
(DragBench's sample format, the package's file format for points and masks), ``progress``
(progress bars), ``random_models`` (random SD-shaped models for tests), ``tutorials`` (runs
the notebooks). Rooms of their own: ``teaching`` (the teaching model, its scene world, the
edit cases it draws exactly, its training), ``ui`` (``plots``, ``PointPicker``,
``DragWidget``) and ``bench`` (the benchmarks, ``python -m dragnb.bench``). Imports run one
way: the stages and ``teaching`` import neither ``ui`` nor ``bench``, and ``ui`` does not
import ``bench``.

Where a default comes from: a stage function's own keyword default (the published value,
cited in its module), or for a drag a ``DragOptions`` field; a model may override either in
its folder's ``dragnb.json`` (the teaching model's are explained in its model card); what
the caller passes wins. Points and distances are in the user's image pixels everywhere.
"""
import sys

from .features import Features, dift_features, match_points, similarity_map
from .images import Geometry, load_image
from .inversion import Inversion, denoise, generate, invert
from .loading import DiffusionModel, WeightsNotFoundError, load
from .pulled import drag_region
from .region import Region, find_region, region_steps
from .options import DragOptions
from .session import DragResult, DragSession, DragStep, drag
from .ui import plots
from .ui.picker import PickerState, PointPicker
from .ui.widget import DragWidget
from .samples import read_sample, write_sample

__version__ = "0.1.0"
__all__ = ["load", "DiffusionModel", "WeightsNotFoundError", "dift_features", "Features",
           "similarity_map", "match_points", "find_region", "region_steps", "Region", "invert",
           "denoise", "generate", "Inversion", "Geometry", "load_image", "plots", "drag", "DragSession",
           "DragStep", "DragResult", "DragOptions", "drag_region",
           "PointPicker", "PickerState", "DragWidget", "read_sample", "write_sample"]

sys.modules[__name__ + ".plots"] = plots   # ``import dragnb.plots`` reaches dragnb.ui.plots
