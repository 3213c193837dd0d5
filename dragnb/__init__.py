"""dragnb: drag-based image editing with diffusion models, made to be learnt in notebooks.

The method, one module per stage (data flows image -> latent -> features -> edited
latent -> image):

- ``loading``:      ``load`` a Stable-Diffusion-shaped model (SD 1.5/2.1, or the bundled
                    teaching model ``"tiny"`` that runs on a CPU);
- ``features``:     ``dift_features``, ``similarity_map``, ``match_points`` (DIFT);
- ``region``:       ``find_region``, the part of the image a drag from a point moves;
- ``inversion``:    ``invert`` (DDIM inversion) and ``denoise``; every DDIM step of the
                    package is ``inversion.ddim_step`` (diffusers' schedulers);
- ``warp``:         the optional warped start (``init="warp"``);
- ``optimisation``: motion supervision, point tracking, preservation; ``DragOptions``,
                    whose fields carry the published defaults;
- ``reference``:    denoising with the original's self-attention keys/values;
- ``lora``:         the optional identity LoRA;
- ``session``:      ``drag`` and ``DragSession``, the stages run in order, step by step;
- ``plots``:        a picture of each stage; ``picker`` and ``widgets``: the notebook UI.

Beside them: ``images`` (loading, sizes, ``Geometry``), ``validate`` (the checks every entry
point shares), ``metrics`` (PSNR, DragBench's MD and IF), ``bench`` and ``dragbench``
(benchmarks), ``progress`` (progress bars), ``teaching`` (the teaching model and its world).

Where a default comes from: a stage function's own keyword default (the published value,
cited in its module), or for a drag a ``DragOptions`` field; a model may override either in
its folder's ``dragnb.json`` (the teaching model's are explained in its model card); what
the caller passes wins. Points are (x, y) in the user's image pixels everywhere.
"""
from . import plots
from .features import Features, dift_features, match_points, similarity_map
from .images import Geometry, load_image
from .inversion import Inversion, denoise, generate, invert
from .loading import DiffusionModel, WeightsNotFoundError, load
from .region import Region, find_region, region_steps
from .optimisation import DragOptions
from .session import DragResult, DragSession, DragStep, drag, drag_region
from .picker import PickerState, PointPicker
from .widgets import DragWidget
from .dragbench import read_sample, write_sample

__version__ = "0.1.0"
__all__ = ["load", "DiffusionModel", "WeightsNotFoundError", "dift_features", "Features",
           "similarity_map", "match_points", "find_region", "region_steps", "Region", "invert",
           "denoise", "generate", "Inversion", "Geometry", "load_image", "plots", "drag", "DragSession",
           "DragStep", "DragResult", "DragOptions", "drag_region",
           "PointPicker", "PickerState", "DragWidget", "read_sample", "write_sample"]
