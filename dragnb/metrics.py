"""How good an edit is: PSNR, and DragBench's figures, Mean Distance (MD), Image Fidelity (IF) and CLIP
image similarity, computed as DragDiffusion's evaluation scripts compute them
(github.com/Yujun-Shi/DragDiffusion, ``drag_bench_evaluation/run_eval_point_matching.py`` and
``run_eval_similarity.py``).

- **PSNR** (dB, 8-bit images): 10 log10(255^2 / mean squared error), over the whole
  image or the pixels a mask marks; the teaching model's checks and the synthetic bench use it.

- **MD** (lower is better): the edit resized to the original's size with PIL's bilinear filter;
  DIFT features of both (published: Stable Diffusion 2.1 at t = 261, ``up_blocks[1]``, ensemble 8,
  the sample's prompt, each image at its own size; any model ``dragnb.load`` reads can stand in),
  each upsampled to the image's (H, W) with torch's bilinear interpolation; each handle's vector
  read at its integer (row, col) in the original's map, the edit's map searched by cosine argmax,
  and the distance of that place to the handle's target. The scripts keep **one distance per
  handle-target pair** and average them over every pair of every sample (``pair_distances``).
- **IF** = 1 - LPIPS (higher is better): the edit resized as for MD, both images as ``x / 127.5 - 1``
  interpolated to 224 x 224 with torch's bilinear interpolation, the ``lpips`` package's AlexNet;
  averaged over samples.
- **CLIP similarity** (higher is better): CLIP ViT-B/32 image embeddings of the original and of the
  resized edit (CLIP's own preprocessing), normalised, dot product; averaged over samples.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import validate
from .features import dift_features
from .images import load_image
from .loading import DiffusionModel, check_model

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


def _reference_size(original, edited) -> tuple:
    """The two images as PIL RGB, the edit resized to the original's size as the scripts do (bilinear)."""
    original, edited = load_image(original), load_image(edited)
    if edited.size != original.size:
        edited = edited.resize(original.size, Image.BILINEAR)
    return original, edited


def dift_map(model: DiffusionModel, image: Image.Image, **dift) -> torch.Tensor:
    """DIFT features of ``image`` over the image itself (the model frame's padding cut off): (1, C, h, w)."""
    f = dift_features(model, image, **dift)
    (mw, mh), (cw, ch) = f.geometry.model, f.geometry.content
    _, h, w = f.fmap.shape
    return f.fmap[:, :max(1, round(h * ch / mh)), :max(1, round(w * cw / mw))][None].float()


def _featurizer(model, prompt: str = "", t: int | None = MD_T, up_block: int | None = MD_UP_BLOCK,
                ensemble: int = MD_ENSEMBLE, size: int | None = None):
    kw = dict(prompt=prompt, t=t, up_block=up_block, ensemble=ensemble, size=size)
    if t is not None or up_block is not None:   # published DIFT: no centring, no context block
        kw.update(center=False, context_weight=0.0)
    return lambda image: dift_map(model, image, **kw)


def match_reference(src: torch.Tensor, dst: torch.Tensor, size: tuple, handles) -> np.ndarray:
    """Where each handle's feature lies in the edit, as the MD script finds it: (N, 2) (x, y) pixels.

    src, dst: (1, C, h, w) feature maps of the original and the edit; size: the original's (W, H).
    Both maps are upsampled to (H, W) bilinearly, the handle's vector read at its integer (row, col).
    """
    up_src = _upsampled(src, size)
    return _matches(up_src, up_src if dst is src else _upsampled(dst, size), handles)


def _upsampled(fmap: torch.Tensor, size: tuple) -> torch.Tensor:
    """A (1, C, h, w) map bilinearly upsampled to the image's (W, H) ``size``: (1, C, H, W)."""
    w, h = size
    return F.interpolate(fmap, (h, w), mode="bilinear")


def _matches(up_src: torch.Tensor, up_dst: torch.Tensor, handles) -> np.ndarray:
    """``match_reference`` on maps already upsampled to the image: (N, 2) (x, y) pixels."""
    _, _, h, w = up_src.shape
    out = []
    for x, y in np.asarray(handles):
        r, c = min(max(int(round(y)), 0), h - 1), min(max(int(round(x)), 0), w - 1)
        cos = F.cosine_similarity(up_src[:, :, r:r + 1, c:c + 1], up_dst, dim=1).cpu().numpy()[0]
        row, col = np.unravel_index(cos.argmax(), cos.shape)
        out.append((float(col), float(row)))
    return np.array(out)


def found_handles(model: DiffusionModel, original, edited, handles, prompt: str = "",
                  t: int | None = MD_T, up_block: int | None = MD_UP_BLOCK, ensemble: int = MD_ENSEMBLE,
                  size: int | None = None) -> np.ndarray:
    """Where each handle's DIFT feature lies in the edit: (N, 2) pixels of the original (``match_reference``).

    ``t``/``up_block`` None: the model's own DIFT defaults (use that for the teaching model).
    ``size``: the long side DIFT runs at (DragBench: the image's own, 512; default: the
    model's native size).
    """
    original, edited = _reference_size(original, edited)
    handles = validate.image_points(handles, original.size, "handle")
    feats = _featurizer(check_model(model), prompt, t, up_block, ensemble, size)
    return match_reference(feats(original), feats(edited), original.size, handles)


def pair_distances(model: DiffusionModel, original, edited, handles, targets, prompt: str = "",
                   nothing: bool = False, **dift):
    """DragBench's distance of each handle-target pair of one edit, as the MD script keeps it: (N,)
    |found - target| in the original's pixels (``dift``: ``found_handles``' keyword arguments).
    ``nothing``: also what doing nothing scores, the original as its own edit (its features reused):
    a pair of (N,) arrays."""
    original, edited = _reference_size(original, edited)
    handles, targets = validate.pairs(handles, targets, original.size)
    feats = _featurizer(check_model(model), prompt, **dift)
    up_src = _upsampled(feats(original), original.size)   # once, for the edit and for doing nothing
    rounded = np.round(np.asarray(targets, np.float64))   # the scripts' integer (row, col)
    far = [np.linalg.norm(_matches(up_src, up_dst, handles) - rounded, axis=1)
           for up_dst in [_upsampled(feats(edited), original.size), *([up_src] if nothing else [])]]
    return tuple(far) if nothing else far[0]


def mean_distance(model: DiffusionModel, original, edited, handles, targets, prompt: str = "", **dift) -> float:
    """The mean of one edit's ``pair_distances`` (a benchmark pools the pairs of all samples instead)."""
    return float(pair_distances(model, original, edited, handles, targets, prompt, **dift).mean())


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


def if_inputs(original, edited) -> tuple:
    """The two (1, 3, 224, 224) tensors in [-1, 1] the IF script gives LPIPS."""
    pair = _reference_size(original, edited)
    return tuple(F.interpolate(torch.from_numpy(np.asarray(im, np.float32)).permute(2, 0, 1)[None] / 127.5 - 1,
                               (IF_SIZE, IF_SIZE), mode="bilinear") for im in pair)


@torch.no_grad()
def image_fidelity(original, edited, net=None) -> float:
    """1 - LPIPS between the two images at 224 x 224 (``if_inputs``). ``net``: any callable (a, b) ->
    distance on (1, 3, 224, 224) tensors in [-1, 1]; default: ``lpips_network()``."""
    net = lpips_network() if net is None else net
    d = net(*if_inputs(original, edited))
    return float(1.0 - torch.as_tensor(d).float().mean())


CLIP_MODEL = "openai/clip-vit-base-patch32"   # OpenAI's ViT-B/32, as the similarity script loads it
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def clip_inputs(image: Image.Image) -> torch.Tensor:
    """CLIP's own preprocessing: the short side to 224 (bicubic), the centre 224 x 224, normalised:
    (1, 3, 224, 224)."""
    w, h = image.size
    short = min(w, h)
    size = (IF_SIZE, int(IF_SIZE * h / w)) if w == short else (int(IF_SIZE * w / h), IF_SIZE)
    im = image.convert("RGB").resize(size, Image.BICUBIC)
    left, top = int(round((size[0] - IF_SIZE) / 2.0)), int(round((size[1] - IF_SIZE) / 2.0))
    a = np.asarray(im.crop((left, top, left + IF_SIZE, top + IF_SIZE)), np.float32) / 255.0
    x = (torch.from_numpy(a).permute(2, 0, 1) - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]
    return x[None]


def clip_network():
    """CLIP ViT-B/32's image encoder (``transformers``; weights fetched once from the hub): a callable
    (B, 3, 224, 224) -> (B, D) embeddings, or a ValueError that says how to get it."""
    try:
        from transformers import CLIPModel

        model = CLIPModel.from_pretrained(CLIP_MODEL).eval()
    except Exception as e:   # offline, or not in the cache
        raise ValueError(f"CLIP similarity needs {CLIP_MODEL}'s weights from the Hugging Face hub (fetched once "
                         f"into its cache): connect once, or leave CLIP out ({type(e).__name__}: {e})") from e

    def embed(x: torch.Tensor) -> torch.Tensor:
        out = model.get_image_features(pixel_values=x)
        return getattr(out, "pooler_output", out) if not torch.is_tensor(out) else out
    return embed


@torch.no_grad()
def clip_similarity(original, edited, net=None) -> float:
    """Cosine of the CLIP image embeddings of the original and of the edit (resized to the original's
    size). ``net``: a callable (B, 3, 224, 224) -> (B, D); default: ``clip_network()``."""
    net = clip_network() if net is None else net
    a, b = (net(clip_inputs(im)).float() for im in _reference_size(original, edited))
    a, b = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    return float((a * b).sum())
