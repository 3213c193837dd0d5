"""``python -m dragnb.bench dragbench DIR``: DragBench's samples dragged and scored, MD, IF (and CLIP
similarity, on request) per category, pooled as DragDiffusion's evaluation scripts pool them.

Resumable: a sample counts as done once its ``result.json`` exists and records the same settings
(``made_by``: models, MD's DIFT, the drag options given and as the drag resolves them, dragnb's
version and a fingerprint of its code); one made otherwise stops the run with what differs, or is
redone (``redo``). Shared among processes (``accelerate launch`` or
``torchrun``: each takes every world-th sample). The file format is ``dragnb.samples``; the
figures are ``dragnb.metrics``'.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .. import validate
from ..loading import DiffusionModel, check_model, load
from ..metrics import (MD_ENSEMBLE, MD_T, MD_UP_BLOCK, clip_network, clip_similarity, image_fidelity,
                       lpips_network, pair_distances)
from ..options import DragOptions
from ..progress import progress as bar
from ..session import drag
from ..samples import read_sample

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


def made_by(model, md_model=None, md_kw=None, fidelity_net=None, clip_net=None, **options) -> dict:
    """What a sample's figures depend on, as ``result.json`` records it (JSON values): the options
    given (``options``) and every drag option as the model resolves them (``resolved``: a changed
    package or model default shows there), and ``code``, a fingerprint of dragnb's sources (a
    change of behaviour within one version shows there)."""
    from .. import __version__

    name = (lambda net: None if net is None else getattr(net, "__name__", type(net).__name__))
    resolved = asdict(DragOptions.for_model(model, **options)) if isinstance(model, DiffusionModel) else None
    said = {"model": getattr(model, "name", None), "md_model": getattr(md_model, "name", None), "md": md_kw or {},
            "if": name(fidelity_net), "clip": name(clip_net), "options": options, "resolved": resolved,
            "dragnb": __version__, "code": code_fingerprint()}
    return json.loads(json.dumps(said, sort_keys=True, default=str))


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """The first 12 hex digits of a SHA-256 over dragnb's Python sources (names and bytes, in order),
    read once per process."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def run_sample(model, folder, out_dir, md_model=None, md_kw=None, fidelity_net=None, clip_net=None,
               **options) -> dict:
    """Drag one sample, write its edit and ``result.json`` into ``out_dir``; return the record.

    The record holds one MD distance per handle-target pair (``md_pairs``) and what doing nothing
    scores (``md_nothing``), IF, CLIP similarity, and ``made_by``. A failure is recorded (``ok``
    False, ``error`` naming it), not raised; the drag's user warnings (a photo on the teaching model)
    are recorded too, under ``warnings``.
    """
    check_model(model)
    out_dir = validate.new_folder("out_dir", out_dir)
    rec = {"sample": str(folder), "ok": False,
           "made_by": made_by(model, md_model, md_kw, fidelity_net, clip_net, **options)}
    start = time.perf_counter()
    try:
        s = read_sample(folder)
        if model.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        mask = s.mask if s.mask.any() else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = drag(model, s.image, s.handles, s.targets, mask=mask, prompt=s.prompt, **options)
        said = _user_warnings(caught)
        if said:
            rec["warnings"] = said
        r.image.save(out_dir / "edited.png")
        rec.update(seconds=r.timings, steps=len(r.history), arrived=r.arrived)
        if model.device.type == "cuda":
            rec["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
        if md_model is not None:
            edit, nothing = pair_distances(md_model, s.image, r.image, s.handles, s.targets, s.prompt,
                                           nothing=True, **(md_kw or {}))
            rec.update(md=float(edit.mean()), md_pairs=edit.tolist(), md_nothing=nothing.tolist())
        if fidelity_net is not None:
            rec["if"] = image_fidelity(s.image, r.image, fidelity_net)
        if clip_net is not None:
            rec["clip"] = clip_similarity(s.image, r.image, clip_net)
        rec["ok"] = True
    except Exception as e:   # recorded per sample: the run goes on
        rec["error"] = f"{type(e).__name__}: {e}"
    rec["wall"] = time.perf_counter() - start
    tmp = out_dir / "result.json.tmp"
    tmp.write_text(json.dumps(rec, indent=1))
    tmp.replace(out_dir / "result.json")   # a sample counts as done only once this exists
    return rec


def _user_warnings(caught) -> list:
    """The distinct messages of the caught ``UserWarning``s (a photo on the teaching model), in order."""
    return list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)))


def _read(path: Path) -> dict:
    try:
        rec = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path} is not readable JSON ({e})") from None
    if not isinstance(rec, dict):
        raise ValueError(f"{path} holds a {type(rec).__name__}, not a result record")
    return rec


def _differ(old, new: dict) -> str:
    """What differs between two ``made_by`` records, in words."""
    if not isinstance(old, dict):
        return "it records no settings (an older dragnb made it)"
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a != b and isinstance(a, dict) and isinstance(b, dict) and k != "options":
            out += [f"{k}.{f}: {a.get(f)!r} there, {b.get(f)!r} now" for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f)]
        elif a != b:
            out.append(f"{k}: {a!r} there, {b!r} now")
    return "; ".join(out)


def _todo(samples, out: Path, said: dict, redo: bool) -> list:
    """The samples to run: not done, or done with other settings (an error unless ``redo``)."""
    todo = []
    for category, name, folder in samples:
        path = out / category / name / "result.json"
        if path.exists():
            old = _read(path).get("made_by")
            if old == said:
                continue
            if not redo:
                raise ValueError(f"{path.parent} was made with other settings ({_differ(old, said)}): "
                                 f"give another out folder, delete {out} to start over, or redo=True "
                                 f"(--redo) to redo such samples")
        todo.append((category, name, folder))
    return todo


def run_benchmark(model, root, out, md_model=None, md_kw=None, fidelity_net=None, rank: int = 0,
                  world: int = 1, progress: bool = True, clip_net=None, redo: bool = False, **options) -> list:
    """Run every sample under ``root`` not yet finished in ``out`` with these settings (this process's
    share: samples ``rank``, ``rank + world``, ...). A sample finished with other settings stops the
    run before anything runs (a ValueError saying what differs), or is redone with ``redo``. Returns
    the records run now; the drags' distinct user warnings are warned once each, at the end. Its
    progress bar is :func:`dragnb.progress.progress`'s: off with ``progress=False`` or
    ``DRAGNB_PROGRESS=0``."""
    world = validate.number("world", world, int, 1, 100_000)
    rank = validate.number("rank", rank, int, 0, world - 1)
    said = made_by(model, md_model, md_kw, fidelity_net, clip_net, **options)
    todo = _todo(find_samples(root)[rank::world], Path(out), said, redo)
    recs = []
    stage = f"DragBench{f' [{rank}/{world}]' if world > 1 else ''}"
    for category, name, folder in (bar(todo, stage) if progress else todo):
        rec = run_sample(model, folder, Path(out) / category / name, md_model, md_kw, fidelity_net, clip_net,
                         **options)
        recs.append({"category": category, "name": name, **rec})
    for warned in dict.fromkeys(w for rec in recs for w in rec.get("warnings", [])):
        warnings.warn(warned, UserWarning, stacklevel=2)
    return recs


def _pairs(rec: dict, key: str) -> list:
    """A record's per-pair distances (``md_pairs`` or ``md_nothing``; an older record's mean MD as one)."""
    if key in rec:
        return list(rec[key])
    return [rec["md"]] if key == "md_pairs" and "md" in rec else []


def _row(name: str, recs: list) -> str:
    ok = [r for r in recs if r.get("ok")]
    md = [d for r in ok for d in _pairs(r, "md_pairs")]   # pooled over every pair, as the MD script
    fi, cs = [r["if"] for r in ok if "if" in r], [r["clip"] for r in ok if "clip" in r]
    fmt = (lambda v, d: f"{np.mean(v):8.{d}f}" if v else "       -")
    return f"{name[:26]:26s} {len(recs):7d} {len(recs) - len(ok):6d} {len(md):6d} {fmt(md, 2)} {fmt(fi, 3)} {fmt(cs, 3)}"


def results_table(out) -> str:
    """MD (pooled over every handle-target pair), IF and CLIP similarity (averaged over samples) per
    category and overall, from every ``result.json`` under ``out``; below them what doing nothing
    scores (the unedited original: its MD, IF 1, CLIP 1), and the settings the rows come from."""
    if not Path(out).is_dir():
        raise FileNotFoundError(f"out: {out} is not a folder of DragBench results")
    rows = {}
    for p in sorted(Path(out).rglob("result.json")):
        rows.setdefault(p.parent.parent.name if p.parent.parent != Path(out) else "", []).append(_read(p))
    every = [r for recs in rows.values() for r in recs]
    lines = [f"{'category':26s} {'samples':>7s} {'failed':>6s} {'pairs':>6s} {'MD (px)':>8s} {'IF':>8s} {'CLIP':>8s}"]
    lines += [_row(c, r) for c, r in sorted(rows.items())]
    lines.append(_row("all", every))
    nothing = [d for r in every if r.get("ok") for d in _pairs(r, "md_nothing")]
    if nothing:   # IF and CLIP of an image with itself: 1, where the rows have them
        ones = [f"{1.0:8.3f}" if any(k in r for r in every) else "       -" for k in ("if", "clip")]
        lines.append(f"{'doing nothing (all)':26s} {'':7s} {'':6s} {len(nothing):6d} {np.mean(nothing):8.2f} "
                     + " ".join(ones))
    settings = Counter(json.dumps(r.get("made_by"), sort_keys=True) for r in every)
    lines += [_made_by_line(json.loads(key), n) for key, n in settings.items()]
    return "\n".join(lines)


def _made_by_line(said, n: int) -> str:
    """One table line: the settings ``n`` samples were made with."""
    if not isinstance(said, dict):
        return f"made by ({n} samples): not recorded (an older dragnb)"
    kw = (lambda d: ", ".join(f"{k}={v}" for k, v in d.items()))
    return (f"made by ({n} samples): model {said.get('model')} ({kw(said.get('options', {})) or 'its defaults'}); "
            f"MD by {said.get('md_model') or '-'} ({kw(said.get('md', {})) or 'published DIFT'}); "
            f"IF by {said.get('if') or '-'}; CLIP by {said.get('clip') or '-'}; dragnb {said.get('dragnb')}")


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
    clip_net = clip_network() if args.clip else None
    model = load(args.model, verbose=rank == 0)
    md_model = model if args.md_model == args.model else load(args.md_model, verbose=rank == 0)
    md_kw = (dict(t=None, up_block=None) if args.md_model == "tiny"   # the teaching model's own DIFT defaults
             else dict(t=MD_T, up_block=MD_UP_BLOCK, ensemble=MD_ENSEMBLE, size=512))
    with warnings.catch_warnings(record=True) as caught:   # a command line prints them plainly
        warnings.simplefilter("always")
        run_benchmark(model, args.dir, args.out, md_model, md_kw, net, rank, world, clip_net=clip_net,
                      redo=args.redo, **options)
    for said in _user_warnings(caught):
        print(f"warning: {said}", file=sys.stderr)
    wait()
    if rank == 0:
        print(results_table(args.out))

