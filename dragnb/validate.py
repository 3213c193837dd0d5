"""The checks every entry point shares, so that the drag, the features, the region, the
picker and the DragBench reader accept and refuse the same things with the same words.

Each returns the value in its working form or raises ``ValueError`` naming the argument,
the value given and what would be accepted. NaN and infinities are refused everywhere.
(Images: ``images.load_image``.)
"""
from __future__ import annotations

import math
import numbers
import os
import warnings
from pathlib import Path

import numpy as np


def number(name: str, value, kind=float, lo=None, hi=None, lo_open: bool = False, hi_open: bool = False):
    """``value`` as ``kind`` (int or float), finite and within [lo, hi] (open ends if asked)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    exact = isinstance(value, (numbers.Integral, np.integer))   # kept exact: a float rounds big seeds
    v = int(value) if exact else float(value)
    if not exact and not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if kind is int:
        if v != int(v):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        v = int(v)
    else:
        v = float(v)
    low = lo is not None and (v <= lo if lo_open else v < lo)
    high = hi is not None and (v >= hi if hi_open else v > hi)
    if low or high:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        span = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
        raise ValueError(f"{name} must be in {span}, got {value!r}")
    return v


def choice(name: str, value, options):
    """``value`` if it is one of ``options``."""
    if not any(value == o and type(value) is type(o) for o in options):
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}, got {value!r}")
    return value


def text(name: str, value) -> str:
    """A string (``None`` counts as empty)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    return value


def untensor(value):
    """A torch tensor as a numpy array (detached, on the CPU; bfloat16, which numpy lacks, as
    float32); anything else as it is."""
    if not hasattr(value, "detach"):
        return value
    import torch

    value = value.detach().cpu()
    return (value.float() if value.dtype == torch.bfloat16 else value).numpy()


def mask(value, size, allow_all: bool = True, allow_empty: bool = False, name: str = "mask"):
    """None, "all", or an editable-region mask for an image of ``size`` (W, H) as (H, W) bool.

    Accepted: (H, W) of bools or numbers (> 0 = editable), a painted mask image (H, W, 1|3|4:
    non-black = editable) and (1, H, W). Empty masks are refused unless ``allow_empty``.
    """
    if value is None or (allow_all and isinstance(value, str) and value == "all"):
        return value
    if isinstance(value, str):
        raise ValueError(f"{name} must be None, 'all' or an (H, W) array, got {value!r}")
    try:
        m = np.asarray(untensor(value))
    except Exception:
        raise ValueError(f"{name} must be an (H, W) array, got {type(value).__name__}") from None
    if m.dtype == object or not (np.issubdtype(m.dtype, np.number) or m.dtype == bool):
        raise ValueError(f"{name} must hold numbers or bools, got dtype {m.dtype}")
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    elif m.ndim == 3 and m.shape[2] in (1, 3, 4):   # a mask image: painted (non-black) = editable
        m = m[..., :3].max(-1)
    w, h = size
    if m.shape != (h, w):
        raise ValueError(f"{name} has shape {m.shape} but the image is {w}x{h} (expected ({h}, {w}))")
    if np.issubdtype(m.dtype, np.floating) and not np.isfinite(m).all():
        raise ValueError(f"{name} has NaN or infinite values")
    m = m > 0
    if not allow_empty and not m.any():
        raise ValueError(f"{name} is empty: mark the region that may change (1 = editable), or pass mask=None")
    return m


def array(name: str, value, ndim=None, finite: bool = True) -> np.ndarray:
    """``value`` as a float64 array: lists, tuples, numpy arrays and torch tensors of any dtype
    and device (gradients dropped) are accepted; ``ndim`` (an int or a tuple of ints) the
    dimensions it may have; empty arrays and (if ``finite``) NaN or infinities are refused."""
    if value is None or isinstance(value, (str, bytes, dict)):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        a = np.asarray(untensor(value), dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}") from None
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and a.ndim not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name} has NaN or infinite values")
    return a


def points(name: str, value, n: int | None = None) -> np.ndarray:
    """One (x, y) point or a sequence of them as an (N, 2) float array, finite and not empty;
    exactly ``n`` of them if ``n`` is given. (Inside an image: ``image_points``.)"""
    p = array(name, value, (1, 2))
    if p.shape == (2,):
        p = p[None]
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name} must be (x, y) pairs: expected shape (N, 2), got {p.shape}")
    if n is not None and len(p) != n:
        raise ValueError(f"{name} must hold {n} point(s), got {len(p)}")
    return p


def image_points(points, size, name: str = "point") -> np.ndarray:
    """Validate points against an image size (W, H): float array (N, 2).

    Accepts one point ``(x, y)`` or a sequence of them. Raises ``ValueError`` for
    wrong shapes, NaN/inf, or points outside the image.
    """
    points = untensor(points)
    if points is None or isinstance(points, (dict, str, bytes)):
        raise ValueError(f"{name}s must be (x, y) pairs of numbers, got {points!r}")
    try:
        p = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name}s must be (x, y) pairs of numbers, got {points!r}") from None
    if p.size == 0:
        return np.zeros((0, 2))
    if p.ndim == 1 and p.shape == (2,):
        p = p[None]
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name}s must be (x, y) pairs: expected shape (N, 2), got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError(f"{name} has NaN or infinite coordinates: {p.tolist()}")
    w, h = size
    bad = (p[:, 0] < 0) | (p[:, 0] > w - 1) | (p[:, 1] < 0) | (p[:, 1] > h - 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} {i} at (x={p[i, 0]:g}, y={p[i, 1]:g}) is outside the "
                         f"{w}x{h} image (x must be in [0, {w - 1}], y in [0, {h - 1}])")
    return p


def pairs(handles, targets, size) -> tuple:
    """Handles and targets inside an image of ``size`` (W, H), as many of each: two (N, 2) arrays."""
    return _paired(image_points(handles, size, "handle"), image_points(targets, size, "target"))


def _paired(h: np.ndarray, t: np.ndarray) -> tuple:
    """Checked handles and targets (N, 2) if there are as many of each."""
    if len(h) != len(t):
        raise ValueError(f"got {len(h)} handles but {len(t)} targets: they come in pairs")
    return h, t


def drag_points(handles, targets, size) -> tuple:
    """``pairs`` that make a drag: at least one, and not every handle on its target (a handle
    on its target stays where it is, with a warning, as DragDiffusion skips such a pair)."""
    h, t = (image_points(np.zeros((0, 2)) if p is None else p, size, name)
            for p, name in ((handles, "handle"), (targets, "target")))
    if len(h) == 0 or len(t) == 0:
        raise ValueError("a drag needs at least one handle and one target point")
    h, t = _paired(h, t)
    same = np.linalg.norm(h - t, axis=1) < 0.5
    if same.all():
        raise ValueError(f"handle 0 at ({h[0, 0]:g}, {h[0, 1]:g}) equals its target: nothing to drag"
                         if len(h) == 1 else "every handle equals its target: nothing to drag")
    if same.any():
        which = ", ".join(str(i) for i in np.flatnonzero(same))
        warnings.warn(f"handle(s) {which} equal their targets: they stay where they are; the other pairs are dragged")
    return h, t


def sequence(name: str, value, least: int = 1) -> list:
    """``value`` (a list, tuple or other iterable, not a string) as a list of at least ``least`` items."""
    if value is None or isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list, got {type(value).__name__}")
    items = list(value)
    if len(items) < least:
        raise ValueError(f"{name} must hold at least {least} item(s), got {len(items)}")
    return items


def titles(name: str, value, n: int):
    """None, or ``n`` titles (strings or None)."""
    if value is None:
        return None
    items = sequence(name, value, 0)
    if len(items) != n:
        raise ValueError(f"{name} must hold one title per picture ({n}), got {len(items)}")
    return [None if t is None else str(t) for t in items]


def seed(name: str, value) -> int:
    """A random seed: a whole number in [0, 2**63 - 1] (what torch's generators accept)."""
    return number(name, value, int, 0, 2 ** 63 - 1)


def output_file(name: str, value) -> str:
    """A path a file can be written to: its folder exists and it is not itself a folder."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path, got {type(value).__name__}")
    path = Path(value)
    if path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder, not a file")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{name}: the folder {str(path.parent)!r} does not exist")
    return str(path)


def instance(name: str, value, kind, what: str):
    """``value`` if it is a ``kind`` (TypeError saying ``what`` it must be otherwise)."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    return value


def latent(name: str, value, like):
    """A latent shaped like the tensor ``like`` ((B, c, h, w)): any float dtype and device, moved
    to ``like``'s; refused if it is not a tensor, has another shape or NaN/infinite values."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor shaped {tuple(like.shape)}, got {type(value).__name__}")
    if tuple(value.shape) != tuple(like.shape):
        raise ValueError(f"{name} has shape {tuple(value.shape)}, expected {tuple(like.shape)} (batch, channels, "
                         "height, width of this model and image)")
    if not value.is_floating_point():
        raise ValueError(f"{name} must hold floats, got {value.dtype}")
    value = value.detach().to(like.device, like.dtype)
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} has NaN or infinite values")
    return value




def new_folder(name: str, value) -> Path:
    """The folder at ``value``, made (with its parents) if missing; refused if it, or a folder
    above it, is a file."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder path, got {type(value).__name__}")
    folder = Path(value)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(f"{name}: cannot make a folder at {folder}: it, or a folder above it, is a file") from None
    return folder
