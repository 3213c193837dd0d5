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
from .images import check_points, load_image
from .loading import check_model

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
        pts = check_points(pts, image.size, "point")
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
    h = check_points(handles, image.size, "handle")
    t = check_points(targets, image.size, "target")
    if len(h) != len(t):
        raise ValueError(f"got {len(h)} handles but {len(t)} targets: they come in pairs")
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


# -- running the benchmark ------------------------------------------------------------------

def find_samples(root) -> list:
    """Every sample folder under ``root``: [(category, name, folder)], sorted.

    A sample is a folder holding ``original_image.png`` or ``meta_data.pkl`` (a broken one is
    found too, and fails on its own). DragBench's layout is ``category/sample/``; a flat
    folder of ``category__sample`` folders works as well.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of DragBench samples")
    found = {p.parent for pat in ("original_image.png", "meta_data.pkl") for p in root.rglob(pat)}
    out = []
    for folder in sorted(found):
        rel = folder.relative_to(root).parts
        category = rel[-2] if len(rel) >= 2 else (folder.name.split("__")[0] if "__" in folder.name else "")
        out.append((category, folder.name, folder))
    return out


def run_sample(model, folder, out_dir, md_model=None, md_kw=None, fidelity_net=None, **options) -> dict:
    """Drag one sample, write its edit and ``result.json`` into ``out_dir``; return the record.

    A failure is recorded (``ok`` False, ``error`` naming it), not raised.
    """
    import json
    import time

    import torch

    from .metrics import found_handles, image_fidelity
    from .session import drag

    check_model(model)
    out_dir = validate.new_folder("out_dir", out_dir)
    rec = {"sample": str(folder), "ok": False}
    start = time.perf_counter()
    try:
        s = read_sample(folder)
        if model.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        mask = s.mask if s.mask.any() else None
        r = drag(model, s.image, s.handles, s.targets, mask=mask, prompt=s.prompt, **options)
        r.image.save(out_dir / "edited.png")
        rec.update(seconds=r.timings, steps=len(r.history), arrived=r.arrived)
        if model.device.type == "cuda":
            rec["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
        if md_model is not None:
            found = found_handles(md_model, s.image, r.image, s.handles, s.prompt, **(md_kw or {}))
            rec["found"] = found.tolist()
            rec["md"] = float(np.linalg.norm(found - s.targets, axis=1).mean())
        if fidelity_net is not None:
            rec["if"] = image_fidelity(s.image, r.image, fidelity_net)
        rec["ok"] = True
    except Exception as e:   # recorded per sample: the run goes on
        rec["error"] = f"{type(e).__name__}: {e}"
    rec["wall"] = time.perf_counter() - start
    tmp = out_dir / "result.json.tmp"
    tmp.write_text(json.dumps(rec, indent=1))
    tmp.replace(out_dir / "result.json")   # a sample counts as done only once this exists
    return rec


def run_benchmark(model, root, out, md_model=None, md_kw=None, fidelity_net=None, rank: int = 0,
                  world: int = 1, progress: bool = True, **options) -> list:
    """Run every sample under ``root`` not yet finished in ``out`` (this process's share:
    samples ``rank``, ``rank + world``, ...). Returns the records run now. Its progress bar is
    :func:`dragnb.progress.progress`'s: off with ``progress=False`` or ``DRAGNB_PROGRESS=0``."""
    from .progress import progress as bar

    world = validate.number("world", world, int, 1, 100_000)
    rank = validate.number("rank", rank, int, 0, world - 1)
    todo = [(c, n, f) for c, n, f in find_samples(root)[rank::world]
            if not (Path(out) / c / n / "result.json").exists()]
    recs = []
    stage = f"DragBench{f' [{rank}/{world}]' if world > 1 else ''}"
    for category, name, folder in (bar(todo, stage) if progress else todo):
        rec = run_sample(model, folder, Path(out) / category / name, md_model, md_kw, fidelity_net, **options)
        recs.append({"category": category, "name": name, **rec})
    return recs


def results_table(out) -> str:
    """MD and IF per category and overall, from every ``result.json`` under ``out``."""
    import json

    if not Path(out).is_dir():
        raise FileNotFoundError(f"out: {out} is not a folder of DragBench results")
    rows = {}
    for p in sorted(Path(out).rglob("result.json")):
        try:
            rec = json.loads(p.read_text())
        except ValueError as e:
            raise ValueError(f"{p} is not readable JSON ({e})") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{p} holds a {type(rec).__name__}, not a result record")
        rows.setdefault(p.parent.parent.name if p.parent.parent != Path(out) else "", []).append(rec)

    def line(name, recs):
        ok = [r for r in recs if r.get("ok")]
        md = [r["md"] for r in ok if "md" in r]
        fi = [r["if"] for r in ok if "if" in r]
        fmt = (lambda v: f"{np.mean(v):8.2f}" if v else "       -")
        fmt3 = (lambda v: f"{np.mean(v):8.3f}" if v else "       -")
        return f"{name[:26]:26s} {len(recs):7d} {len(recs) - len(ok):6d} {fmt(md)} {fmt3(fi)}"

    lines = [f"{'category':26s} {'samples':>7s} {'failed':>6s} {'MD (px)':>8s} {'IF':>8s}"]
    lines += [line(c, r) for c, r in sorted(rows.items())]
    lines.append(line("all", [r for recs in rows.values() for r in recs]))
    return "\n".join(lines)
