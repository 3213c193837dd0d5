"""DragBench's sample format, read safely and written compatibly.

A sample is a folder with ``original_image.png`` and ``meta_data.pkl``: a pickled dict
with ``prompt`` (str), ``points`` (a list of [x, y]; even indices are handles, odd ones
targets) and ``mask`` (uint8 H x W, 1 = editable). A pickle can run code when loaded,
so it is read with an unpickler that allows plain Python values and exactly numpy's
array-reconstruction functions, nothing else. It is written with numpy's classic
module names, so that older numpy versions (and DragBench's own scripts) read it too.
"""
from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .images import load_image

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
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
    """The dict in a ``meta_data.pkl``, loaded with the restricted unpickler."""
    with open(path, "rb") as f:
        return _SafeUnpickler(f).load()


def read_sample(folder) -> Sample:
    folder = Path(folder)
    for name in ("original_image.png", "meta_data.pkl"):
        if not (folder / name).exists():
            raise ValueError(f"{folder} is not a DragBench sample: {name} is missing")
    meta = read_meta(folder / "meta_data.pkl")
    if not isinstance(meta, dict):
        raise ValueError(f"{folder}: meta_data.pkl holds a {type(meta).__name__}, not DragBench's dict")
    image = load_image(folder / "original_image.png")
    pts = np.asarray(meta.get("points", []), dtype=np.float64).reshape(-1, 2)
    if len(pts) % 2:
        raise ValueError(f"{folder}: meta_data.pkl has an odd number of points ({len(pts)})")
    mask = meta.get("mask")
    mask = np.zeros((image.height, image.width), bool) if mask is None else np.asarray(mask) > 0
    if mask.shape != (image.height, image.width):
        raise ValueError(f"{folder}: mask {mask.shape} does not match the image {image.size}")
    return Sample(image, pts[0::2], pts[1::2], mask, str(meta.get("prompt", "")))


def write_sample(folder, image, handles, targets, mask=None, prompt: str = "") -> Path:
    """Write a DragBench sample folder; points are stored as Python numbers, mask as uint8."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    image = load_image(image)
    image.save(folder / "original_image.png")
    h = np.asarray(handles, dtype=np.float64).reshape(-1, 2)
    t = np.asarray(targets, dtype=np.float64).reshape(-1, 2)
    if len(h) != len(t):
        raise ValueError(f"got {len(h)} handles but {len(t)} targets: they come in pairs")
    points = []
    for a, b in zip(h, t):
        points += [[_num(a[0]), _num(a[1])], [_num(b[0]), _num(b[1])]]
    m = np.zeros((image.height, image.width), np.uint8) if mask is None else (np.asarray(mask) > 0).astype(np.uint8)
    buf = io.BytesIO()
    _ClassicNames(buf, protocol=4).dump({"prompt": str(prompt), "points": points, "mask": m})
    (folder / "meta_data.pkl").write_bytes(buf.getvalue())
    return folder


def _num(v: float):
    """Whole numbers as int (as DragBench stores them), others as float."""
    return int(v) if float(v).is_integer() else float(v)
