"""How good an edit is: PSNR, and DragBench's two figures, Mean Distance (MD) and Image Fidelity (IF).

- **PSNR** (dB, 8-bit images): 10 log10(255^2 / mean squared error), over the whole
  image or the pixels a mask marks; the teaching model's checks and the synthetic bench use it.

- **MD** (lower is better; DragDiffusion's protocol): DIFT features of the original and
  of the edit (resized to the original's size), each handle's feature in the original
  looked up in the edit by cosine argmax, and the distance of that place to the
  handle's target, in the original's pixels (DragBench's images are 512 wide). The
  published DIFT setting is Stable Diffusion 2.1 at t = 261, ``up_blocks[1]``,
  ensemble 8, the sample's prompt; any model ``dragnb.load`` reads can stand in.
- **IF** = 1 - LPIPS (higher is better): the ``lpips`` package's AlexNet network on both
  images resized to 224 x 224 in [-1, 1].
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from . import validate
from .features import dift_features, match_points
from .images import load_image
from .loading import DiffusionModel

def psnr(a, b, where: np.ndarray | None = None) -> float:
    """PSNR in dB between two images on the 0-255 scale (PIL, or arrays (H, W) or (H, W, C) of any
    number type) of one shape, over ``where`` (bool (H, W), not empty) if given."""
    a, b = (np.asarray(x, np.float64) if isinstance(x, Image.Image) else validate.array(name, x, (2, 3))
            for name, x in (("a", a), ("b", b)))
    if a.shape != b.shape:
        raise ValueError(f"a and b differ in shape: {a.shape} and {b.shape}")
    if where is not None:
        where = validate.mask(where, (a.shape[1], a.shape[0]), allow_all=False, name="where")
    d = (a - b) ** 2
    m = d[where].mean() if where is not None else d.mean()
    return float(10 * np.log10(255.0 ** 2 / max(m, 1e-10)))


MD_T, MD_UP_BLOCK, MD_ENSEMBLE = 261, 1, 8     # DIFT as DragBench's evaluation uses it (SD 2.1)
IF_SIZE = 224


def found_handles(model: DiffusionModel, original, edited, handles, prompt: str = "",
                  t: int | None = MD_T, up_block: int | None = MD_UP_BLOCK, ensemble: int = MD_ENSEMBLE,
                  size: int | None = None) -> np.ndarray:
    """Where each handle's DIFT feature lies in the edit: (N, 2) pixels of the original.

    ``t``/``up_block`` None: the model's own DIFT defaults (use that for the teaching model).
    ``size``: the long side DIFT runs at (DragBench: the image's own, 512; default: the
    model's native size).
    """
    original = load_image(original)
    edited = load_image(edited)
    if edited.size != original.size:
        edited = edited.resize(original.size, Image.BICUBIC)
    handles = validate.image_points(handles, original.size, "handle")
    kw = dict(prompt=prompt, t=t, up_block=up_block, ensemble=ensemble, size=size)
    if t is not None or up_block is not None:   # published DIFT: no centring, no context block
        kw.update(center=False, context_weight=0.0)
    src = dift_features(model, original, **kw)
    dst = dift_features(model, edited, **kw)
    return match_points(src, dst, handles)


def mean_distance(model: DiffusionModel, original, edited, handles, targets, prompt: str = "", **dift) -> float:
    """DragBench's MD for one edit: mean over handles of |found - target| in the original's pixels
    (``found_handles``; ``dift``: its keyword arguments)."""
    original = load_image(original)
    handles, targets = validate.pairs(handles, targets, original.size)
    found = found_handles(model, original, edited, handles, prompt, **dift)
    return float(np.linalg.norm(found - targets, axis=1).mean())


def lpips_network():
    """The ``lpips`` package's AlexNet LPIPS, or a ValueError that says how to get it."""
    try:
        import lpips
    except Exception as e:   # not installed, or torchvision built for another torch
        raise ValueError("Image Fidelity needs the `lpips` package (and a torchvision matching your torch): "
                         "`pip install lpips torchvision`, or pass `net=` a network of your own "
                         f"({type(e).__name__}: {e})") from e
    try:
        return lpips.LPIPS(net="alex", verbose=False).eval()
    except Exception as e:   # torchvision downloads AlexNet's weights on first use
        raise ValueError("LPIPS could not load AlexNet's weights (torchvision downloads them once, into "
                         "~/.cache/torch/hub/checkpoints): connect once, or copy alexnet-owt-7be5be79.pth "
                         f"there ({type(e).__name__}: {e})") from e


def _as_tensor(image: Image.Image) -> torch.Tensor:
    a = np.asarray(image.convert("RGB").resize((IF_SIZE, IF_SIZE), Image.BICUBIC), np.float32)
    return torch.from_numpy(a).permute(2, 0, 1)[None] / 127.5 - 1


@torch.no_grad()
def image_fidelity(original, edited, net=None) -> float:
    """1 - LPIPS between the two images at 224 x 224. ``net``: any callable (a, b) -> distance
    on (1, 3, 224, 224) tensors in [-1, 1]; default: ``lpips_network()``."""
    net = lpips_network() if net is None else net
    d = net(_as_tensor(load_image(original)), _as_tensor(load_image(edited)))
    return float(1.0 - torch.as_tensor(d).float().mean())
