"""``python -m dragnb.bench dragbench DIR``: DragBench's samples dragged and scored, MD and IF per category.

Resumable (a sample counts as done once its ``result.json`` exists) and shared among
processes (``accelerate launch`` or ``torchrun``: each takes every world-th sample).
The file format is ``dragnb.bench.samples``; the figures are ``dragnb.metrics``'.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import validate
from ..loading import check_model, load
from ..metrics import MD_ENSEMBLE, MD_T, MD_UP_BLOCK, image_fidelity, lpips_network, mean_distance
from ..progress import progress as bar
from ..session import drag
from .samples import read_sample

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

    A failure is recorded (``ok`` False, ``error`` naming it), not raised; the drag's user warnings
    (a photo on the teaching model) are recorded too, under ``warnings``.
    """
    check_model(model)
    out_dir = validate.new_folder("out_dir", out_dir)
    rec = {"sample": str(folder), "ok": False}
    start = time.perf_counter()
    try:
        s = read_sample(folder)
        if model.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        mask = s.mask if s.mask.any() else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = drag(model, s.image, s.handles, s.targets, mask=mask, prompt=s.prompt, **options)
        said = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)))
        if said:
            rec["warnings"] = said
        r.image.save(out_dir / "edited.png")
        rec.update(seconds=r.timings, steps=len(r.history), arrived=r.arrived)
        if model.device.type == "cuda":
            rec["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
        if md_model is not None:
            rec["md"] = mean_distance(md_model, s.image, r.image, s.handles, s.targets, s.prompt, **(md_kw or {}))
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
    samples ``rank``, ``rank + world``, ...). Returns the records run now; the drags' distinct user
    warnings are warned once each, at the end. Its progress bar is :func:`dragnb.progress.progress`'s:
    off with ``progress=False`` or ``DRAGNB_PROGRESS=0``."""
    world = validate.number("world", world, int, 1, 100_000)
    rank = validate.number("rank", rank, int, 0, world - 1)
    todo = [(c, n, f) for c, n, f in find_samples(root)[rank::world]
            if not (Path(out) / c / n / "result.json").exists()]
    recs = []
    stage = f"DragBench{f' [{rank}/{world}]' if world > 1 else ''}"
    for category, name, folder in (bar(todo, stage) if progress else todo):
        rec = run_sample(model, folder, Path(out) / category / name, md_model, md_kw, fidelity_net, **options)
        recs.append({"category": category, "name": name, **rec})
    for said in dict.fromkeys(w for rec in recs for w in rec.get("warnings", [])):
        warnings.warn(said, UserWarning, stacklevel=2)
    return recs


def results_table(out) -> str:
    """MD and IF per category and overall, from every ``result.json`` under ``out``."""
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
def dragbench_main(args, options: dict) -> None:
    """``bench dragbench``: this process's share of the samples (``accelerate launch`` or
    ``torchrun`` set several), then the table from every process's results."""
    rank, world, wait = 0, 1, (lambda: None)
    try:
        from accelerate import PartialState
        state = PartialState(cpu=True) if os.environ.get("WORLD_SIZE") else None
        if state is not None:
            rank, world, wait = state.process_index, state.num_processes, state.wait_for_everyone
    except ImportError:
        pass
    net = None if args.no_fidelity else lpips_network()
    model = load(args.model, verbose=rank == 0)
    md_model = model if args.md_model == args.model else load(args.md_model, verbose=rank == 0)
    md_kw = (dict(t=None, up_block=None) if args.md_model == "tiny"   # the teaching model's own DIFT defaults
             else dict(t=MD_T, up_block=MD_UP_BLOCK, ensemble=MD_ENSEMBLE, size=512))
    with warnings.catch_warnings(record=True) as caught:   # a command line prints them plainly
        warnings.simplefilter("always")
        run_benchmark(model, args.dir, args.out, md_model, md_kw, net, rank, world, **options)
    for said in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)):
        print(f"warning: {said}", file=sys.stderr)
    wait()
    if rank == 0:
        print(results_table(args.out))

