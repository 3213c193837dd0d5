"""Images and points: the one place where coordinates change frames.

Everywhere in the public API a point is ``(x, y)`` in the user's image pixels: x to
the right, y down, pixel centres at integers, so a W x H image holds points with
``0 <= x <= W-1`` and ``0 <= y <= H-1``. Internally the image is resized to the
model's working size (a multiple of the model's factor), and features live on a
coarser grid. :class:`Geometry` converts between these frames, with the same
pixel-centre convention in every direction, so that a round trip is exact.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from . import validate


def load_image(image) -> Image.Image:
    """A PIL RGB image from a PIL image, a uint8 array (H, W, 3|4 or H, W), a file path, or an open
    binary file (``io.BytesIO``, an upload: what ``PIL.Image.open`` reads).

    RGBA is composited on white, grayscale and palette images are converted.
    Raises ``ValueError`` naming the problem for anything else.
    """
    if isinstance(image, (str, os.PathLike)):
        image = _read_file(image)
    elif hasattr(image, "read") and not isinstance(image, Image.Image):   # a file-like object
        image = _read_file(image)
    image = validate.untensor(image)
    if isinstance(image, np.ndarray):
        image = _array_to_pil(image)
    if not isinstance(image, Image.Image):
        raise ValueError(f"expected a PIL image, a uint8 array or a file path, got {type(image).__name__}")
    if image.width < 1 or image.height < 1:
        raise ValueError(f"image is empty ({image.width}x{image.height})")
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode != "RGB":
        if image.mode in ("I", "I;16", "F"):
            raise ValueError(f"image mode {image.mode!r} (high bit depth) is not supported; convert to 8-bit RGB")
        image = image.convert("RGB")
    return image


def _read_file(path) -> Image.Image:
    """Open an image file (a path, or a file-like object read whole); anything unreadable is a
    ValueError naming the file."""
    import io
    import warnings

    from PIL import ImageOps

    name = "the file object" if hasattr(path, "read") else str(path)
    if hasattr(path, "read"):
        try:
            data = path.read()
        except (OSError, ValueError) as e:   # closed, or opened for writing only
            raise ValueError(f"the file object could not be read ({type(e).__name__}: {e})") from None
        if not isinstance(data, bytes):
            raise ValueError(f"the file object gave {type(data).__name__}, not bytes: open it in binary mode ('rb')")
        path = io.BytesIO(data)
    elif not os.path.exists(path):
        raise ValueError(f"image file not found: {path!s}")
    elif os.path.isdir(path):
        raise ValueError(f"{path!s} is a folder, not an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(path)
            png = opened.format == "PNG"
            image = ImageOps.exif_transpose(opened)  # phone photos: upright as shown
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(f"{name} is too large to open safely ({e})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:   # not an image, truncated, empty
        raise ValueError(f"{name} is not a readable image ({type(e).__name__}: {e})") from None
    if png:
        _check_png(path, name)
    return image


def _check_png(path, name: str) -> None:
    """Refuse a PNG file any of whose chunks fails its CRC (Pillow checks only some)."""
    import struct
    import zlib

    data = path.getvalue() if hasattr(path, "getvalue") else open(path, "rb").read()
    at = 8   # after the signature
    while at + 12 <= len(data):
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        end = at + 8 + n
        if end + 4 > len(data) or zlib.crc32(data[at + 4:end]) != struct.unpack(">I", data[end:end + 4])[0]:
            raise ValueError(f"{name} is a corrupt PNG (chunk {kind.decode('latin-1')!r} fails its checksum)")
        if kind == b"IEND":
            return
        at = end + 4


def _array_to_pil(a: np.ndarray) -> Image.Image:
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        raise ValueError("image array has NaN or infinite values")
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and a.size and np.nanmin(a) >= 0 and np.nanmax(a) <= 1:
            a = np.round(a * 255).astype(np.uint8)
        else:
            raise ValueError(f"image array must be uint8 (or float in [0, 1]), got {a.dtype}")
    if a.ndim == 2:
        return Image.fromarray(a)   # uint8 (H, W): mode L
    if a.ndim == 3 and a.shape[2] in (1, 3, 4):
        if a.shape[2] == 1:
            return Image.fromarray(np.ascontiguousarray(a[:, :, 0]))
        return Image.fromarray(np.ascontiguousarray(a))   # uint8 (H, W, 3 | 4): RGB | RGBA
    raise ValueError(f"image array must have shape (H, W), (H, W, 3) or (H, W, 4), got {a.shape}")


def _scale(p: np.ndarray, src, dst) -> np.ndarray:
    """Map points between two grids covering the same image (pixel centres at integers)."""
    s = np.array([dst[0] / src[0], dst[1] / src[1]])
    return (np.asarray(p, dtype=np.float64) + 0.5) * s - 0.5


@dataclass(frozen=True)
class Geometry:
    """Sizes of one image in its frames, each (width, height).

    ``user``: the image as given. ``model``: the frame the model works in (multiples of
    its factor). ``content``: the image scaled by one factor for both axes, in the model
    frame's top-left corner; the rest of the frame is padding (edge pixels repeated), so
    the aspect ratio is kept (default: the whole frame). Grids (latent, features) cover
    the whole model frame and are given per call as (w, h).
    """

    user: tuple
    model: tuple
    content: tuple = None

    def __post_init__(self):
        if self.content is None:
            object.__setattr__(self, "content", tuple(self.model))

    def to_model(self, points) -> np.ndarray:
        return _scale(points, self.user, self.content)

    def to_user(self, points) -> np.ndarray:
        return _scale(points, self.content, self.user)

    def to_grid(self, points, grid) -> np.ndarray:
        """User pixels -> cell coordinates of a (w, h) grid over the model frame."""
        return _scale(self.to_model(points), self.model, grid)

    def from_grid(self, points, grid) -> np.ndarray:
        return self.to_user(_scale(points, grid, self.model))

    def grid(self, scale: float) -> tuple:
        """(w, h) of a grid over the model frame at ``scale`` x its pixels (at least 1 x 1)."""
        return tuple(max(1, round(m * scale)) for m in self.model)

    def cell_size(self, grid) -> float:
        """How many user-image pixels one cell of a (w, h) grid over the model frame spans (the
        larger of the two axes)."""
        return max(u / c * m / g for u, c, m, g in zip(self.user, self.content, self.model, grid))

    @property
    def framed(self) -> tuple:
        """The model frame at the user's scale (W, H): the user image plus its padding."""
        return tuple(max(u, int(round(m * u / c))) for u, m, c in zip(self.user, self.model, self.content))

    def image(self, x: torch.Tensor) -> Image.Image:
        """A decoded model-frame tensor (1, 3, h, w) in [-1, 1] -> PIL at the user's size, padding cut off."""
        h, w = x.shape[-2:]
        cw, ch = (round(c * w / m) for c, m in zip(self.content, self.model))
        return to_pil(x[..., :ch, :cw], self.user)

    def frame_mask(self, mask: np.ndarray) -> np.ndarray:
        """A (H, W) user-size mask placed in the model frame at the user's scale (padding False)."""
        fw, fh = self.framed
        out = np.zeros((fh, fw), bool)
        out[:mask.shape[0], :mask.shape[1]] = mask
        return out


def default_seam(size) -> int:
    """The width, in pixels, of a seam or margin that scales with an image of ``size`` (W, H):
    1/32 of its long side, at least 1 (dragnb's choice for the paste-back seam and the margin
    grown around a drag's region)."""
    return max(1, round(max(size) / 32))


def model_size(size, native: int, multiple: int, target: int | None = None) -> tuple:
    """The working frame for an image of ``size`` (W, H): (content (w, h), frame (w, h)).

    The long side becomes ``target`` (default: the model's native size) with the aspect
    ratio kept (``content``); the frame rounds each side up to a multiple of ``multiple``.
    """
    w, h = size
    target = target or native
    s = target / max(w, h)
    content = (max(1, int(round(w * s))), max(1, int(round(h * s))))
    frame = tuple(max(multiple, -(-c // multiple) * multiple) for c in content)
    return content, frame


def prepare(image, native: int, multiple: int, size: int | None = None):
    """User image -> (PIL RGB as given, tensor (1, 3, h, w) in [-1, 1] of the model frame, Geometry)."""
    pil = load_image(image)
    if size is not None:
        size = validate.number("size", size, int, 1, 4096)
    content, frame = model_size(pil.size, native, multiple, size)
    resized = pil if pil.size == content else pil.resize(content, Image.BICUBIC)
    a = np.asarray(resized, dtype=np.float32)
    if content != frame:   # pad right and bottom with the edge pixels
        a = np.pad(a, ((0, frame[1] - content[1]), (0, frame[0] - content[0]), (0, 0)), mode="edge")
    x = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None] / 127.5 - 1
    return pil, x, Geometry(pil.size, frame, content)


def to_pil(x: torch.Tensor, size=None) -> Image.Image:
    """Tensor (1, 3, h, w) in [-1, 1] -> PIL RGB, resized to ``size`` (W, H) if given."""
    a = ((x[0].detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
    im = Image.fromarray(np.ascontiguousarray(a.permute(1, 2, 0).numpy()))
    if size is not None and tuple(size) != im.size:
        im = im.resize(tuple(size), Image.BICUBIC)
    return im


def paste_back(original: Image.Image, edited: Image.Image, mask: np.ndarray, seam: int) -> Image.Image:
    """The edit inside ``mask``, the original's own pixels outside it, feathered across a seam.

    original, edited: PIL RGB of the same size (W, H); mask (H, W) bool, True = editable.
    The edit's weight is 1 on the mask and falls linearly to 0 at ``seam`` pixels from it:
    farther out the result *is* the original, bit for bit.
    """
    from scipy import ndimage

    if edited.size != original.size:
        raise ValueError(f"edited image is {edited.size}, original {original.size}: they must match")
    dist = ndimage.distance_transform_edt(~np.asarray(mask, bool))   # 0 on the mask
    alpha = np.clip(1.0 - dist / (max(int(seam), 0) + 1), 0.0, 1.0)[..., None]
    a, b = np.asarray(original.convert("RGB"), np.float64), np.asarray(edited, np.float64)
    out = np.round(alpha * b + (1 - alpha) * a).astype(np.uint8)
    return Image.fromarray(out)


def as_image(name: str, value) -> Image.Image:
    """``value`` as a PIL RGB image (``load_image``), or a ValueError naming ``name``."""
    try:
        return load_image(value)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None
