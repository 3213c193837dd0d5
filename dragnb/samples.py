"""DragBench's sample format, read safely and written compatibly.

A sample is a folder with ``original_image.png`` and ``meta_data.pkl``: a pickled dict
with ``prompt`` (str), ``points`` (a list of [x, y]; even indices are handles, odd ones
targets) and ``mask`` (uint8 H x W, 1 = editable). A pickle can run code when loaded,
so it is read with an unpickler that allows plain Python values and exactly numpy's
array-reconstruction functions, nothing else. It is written with numpy's classic
module names, so that older numpy versions (and DragBench's own scripts) read it too.

``SAMPLES`` is a folder of four real DragBench samples that ships with the package.
"""
from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import validate
from .images import load_image

# four real DragBench samples shipped with the package (DragDiffusion's benchmark, Shi et al.,
# CVPR 2024: github.com/Yujun-Shi/DragDiffusion); their README says where they come from
SAMPLES = Path(__file__).resolve().parent / "data" / "dragbench-samples"

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),                                   # protocols 0-2: an array's bytes
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),   # protocol 5
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"meta_data.pkl refers to {module}.{name}, which a DragBench "
                                         "sample never needs: refusing to load it")
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core"):] if hasattr(np, "_core") else module
        return super().find_class(module, name)


class _ClassicNames(pickle._Pickler):
    """Write numpy 2's ``numpy._core`` as ``numpy.core``, which every numpy reads."""

    def save_global(self, obj, name=None):
        module = getattr(obj, "__module__", "")
        if module.startswith("numpy._core"):
            self.write(pickle.GLOBAL + ("numpy.core" + module[len("numpy._core"):]).encode() + b"\n"
                       + (name or obj.__name__).encode() + b"\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


@dataclass
class Sample:
    """One drag edit: image, handles and targets ((N, 2) pixels), mask (H, W) bool, prompt."""

    image: Image.Image
    handles: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    prompt: str = ""


def read_meta(path) -> dict:
    """The dict in a ``meta_data.pkl``, loaded with the restricted unpickler.

    A corrupt or truncated file raises a ValueError naming it (a refused class stays an
    ``UnpicklingError`` saying which)."""
    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder, not a meta_data.pkl file")
    with open(path, "rb") as f:
        try:
            return _SafeUnpickler(f).load()
        except pickle.UnpicklingError as e:
            if "refusing" in str(e):
                raise
            raise ValueError(f"{path} is not a readable pickle (corrupt or truncated?): {e}") from e
        except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
            raise ValueError(f"{path} is not a readable pickle (corrupt or truncated?): "
                             f"{type(e).__name__}: {e}") from e


def read_sample(folder) -> Sample:
    """Read a DragBench sample folder; anything wrong is a ValueError naming the folder."""
    folder = Path(folder)
    for name in ("original_image.png", "meta_data.pkl"):
        if not (folder / name).exists():
            raise ValueError(f"{folder} is not a DragBench sample: {name} is missing")
    meta = read_meta(folder / "meta_data.pkl")
    if not isinstance(meta, dict):
        raise ValueError(f"{folder}: meta_data.pkl holds a {type(meta).__name__}, not DragBench's dict")
    image = load_image(folder / "original_image.png")
    raw = meta.get("points")
    if raw is None or isinstance(raw, (dict, str)):
        raise ValueError(f"{folder}: meta_data.pkl's points must be a list of [x, y], got {raw!r}")
    try:
        pts = np.asarray(raw, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise ValueError(f"{folder}: meta_data.pkl's points must be a list of [x, y], got {raw!r}") from None
    if len(pts) % 2:
        raise ValueError(f"{folder}: meta_data.pkl has an odd number of points ({len(pts)})")
    try:
        pts = validate.image_points(pts, image.size, "point")
        mask = validate.mask(meta.get("mask"), image.size, allow_all=False, allow_empty=True)
        prompt = validate.text("prompt", meta.get("prompt"))
    except ValueError as e:
        raise ValueError(f"{folder}: {e}") from None
    mask = np.zeros((image.height, image.width), bool) if mask is None else mask
    return Sample(image, pts[0::2], pts[1::2], mask, prompt)


def write_sample(folder, image, handles, targets, mask=None, prompt: str = "") -> Path:
    """Write a DragBench sample folder; points are stored as Python numbers, mask as uint8.

    Everything is checked before anything is written, and the two files replace any old
    ones only once both are complete: a failed write leaves no half sample.
    ``mask``: None (nothing editable), "all", or what ``validate.mask`` accepts.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a folder path, got {type(folder).__name__}")
    image = load_image(image)
    h, t = validate.pairs(handles, targets, image.size)
    m = validate.mask(mask, image.size, allow_empty=True)
    m = np.zeros((image.height, image.width), bool) if m is None else (
        np.ones((image.height, image.width), bool) if isinstance(m, str) else m)
    points = []
    for a, b in zip(h, t):
        points += [[_num(a[0]), _num(a[1])], [_num(b[0]), _num(b[1])]]
    buf = io.BytesIO()
    _ClassicNames(buf, protocol=4).dump({"prompt": validate.text("prompt", prompt), "points": points,
                                         "mask": m.astype(np.uint8)})
    folder = validate.new_folder("folder", folder)
    tmp_png, tmp_pkl = folder / ".original_image.png.tmp", folder / ".meta_data.pkl.tmp"
    try:
        image.save(tmp_png, format="PNG")
        tmp_pkl.write_bytes(buf.getvalue())
        os.replace(tmp_png, folder / "original_image.png")
        os.replace(tmp_pkl, folder / "meta_data.pkl")
    finally:
        for f in (tmp_png, tmp_pkl):
            f.unlink(missing_ok=True)
    return folder


def _num(v: float):
    """Whole numbers as int (as DragBench stores them), others as float."""
    return int(v) if float(v).is_integer() else float(v)


