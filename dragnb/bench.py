"""Drags scored against geometry: ``python -m dragnb.bench synthetic``.

Each case is a teaching-model scene (held apart from training) and one edit whose
result the scene world can draw exactly: an object moved, a mountain's peak raised,
a tree grown, a creature's tail bent. The handle is the keypoint, the target where it
should go. For each drag the script measures, from the images alone:

- **where the keypoint ended up**: the object's pixels around the keypoint (its
  colours, in its shape: the visible mask) are searched for in the result; the best
  match (least squared error) gives the keypoint's new place. Reported as its distance
  to the target relative to the drag's length (0 = arrived, 1 = did not move);
- **background PSNR**: result vs. input outside the editable region;
- **PSNR to the truth**: result vs. the scene world's own rendering of the edit;
- **wall time**.

Two baselines run in the same call on the same cases: doing nothing, and cutting the
region out and pasting it at the target (the hole filled with the nearest colours).

The same measurement follows one drag step by step (tutorial 3): ``edit_case`` makes an
edit with its truth, ``watch`` runs a ``DragSession`` and records, on the same latent,
where point tracking finds the handle and where the picture's content is.
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage

from . import validate
from .loading import SD21, load
from .metrics import psnr
from .optimisation import DragOptions
from .session import drag
from .teaching.scenes import random_scene

SEED = 2_000_000


@dataclass
class Case:
    name: str
    image: np.ndarray        # (H, W, 3) uint8
    truth: np.ndarray        # the scene world's rendering of the edit
    obj_mask: np.ndarray     # (H, W) bool, the dragged object's visible pixels
    handle: tuple
    target: tuple
    scene: object            # the scene, to redraw the edit by any amount
    index: int               # the dragged object
    key: str                 # its keypoint
    move: bool               # a rigid move (else the keypoint alone moves)

    def render(self, dx: float, dy: float) -> np.ndarray:
        """The scene with the keypoint displaced by (dx, dy) pixels."""
        size = self.image.shape[0]
        s = (self.scene.moved(self.index, dx / size, dy / size) if self.move
             else self.scene.reshaped(self.index, self.key, dx / size, dy / size))
        return np.asarray(s.render(size))


def make_cases(n: int = 40, size: int = 64, seed: int = SEED) -> list:
    """``n`` drag cases on distinct held-apart scenes, cycling through the edit kinds.

    A case is kept only if its edit is measurable: ``locate`` on the scene world's own
    rendering of the edit must find the keypoint within 0.15 of the drag's length
    (this drops, e.g., a tail hidden behind a tree).
    """
    n = validate.number("n", n, int, 1, 10_000)
    size = validate.number("size", size, int, 16, 1024)
    seed = validate.seed("seed", seed)
    kinds = ["move", "peak", "tree", "tail"]
    cases, s = [], seed
    while len(cases) < n:
        kind = kinds[len(cases) % len(kinds)]
        s += 1
        rng = np.random.default_rng(s)
        scene = random_scene(s)
        c = _case(scene, kind, rng, size)
        if c is not None and score(c, c.truth, np.zeros_like(c.obj_mask))["rel"] < 0.15:
            cases.append(c)  # kept only if the measurement finds the keypoint in the true edit
    return cases


def _case(scene, kind, rng, size):
    objs = scene.objects
    want = {"move": ("sun", "tree", "house", "creature"), "peak": ("mountain",), "tree": ("tree",),
            "tail": ("creature",)}[kind]
    idx = [i for i in scene.draggable() if objs[i].kind in want]
    if not idx:
        return None
    i = int(rng.choice(idx))
    masks = scene.masks(size)
    if masks[i].sum() < 12:
        return None
    if kind == "move":
        key = {"sun": "center", "tree": "top", "house": "roof", "creature": "head"}[objs[i].kind]
        d = rng.uniform(0.1, 0.2) * rng.choice([-1, 1])
        dx, dy = (d, 0.0) if rng.random() < 0.7 else (0.0, d * 0.6)
    else:
        key = {"peak": "peak", "tree": "top", "tail": "tail"}[kind]
        dx, dy = {"peak": (rng.uniform(-0.05, 0.05), -rng.uniform(0.08, 0.15)),
                  "tree": (0.0, -rng.uniform(0.06, 0.12)),
                  "tail": (rng.uniform(-0.05, 0.05), -rng.uniform(0.08, 0.14))}[kind]
    c = edit_case(scene, i, key, dx, dy, size, move=kind == "move")
    if c is None:
        return None
    inside = all(2 <= v <= size - 3 for v in (*c.handle, *c.target))
    if not inside or not masks[i][int(round(c.handle[1])), int(round(c.handle[0]))] and kind != "tail":
        return None
    return c


def edit_case(scene, index: int, key: str, dx: float, dy: float, size: int = 64, move: bool = False) -> Case | None:
    """The case of one edit of ``scene``: object ``index`` moved by (dx, dy) (``move``), or its
    keypoint ``key`` displaced by (dx, dy) (fractions of the side); None if the keypoint is hidden."""
    index = validate.number("index", index, int, 0, len(scene.objects) - 1)
    dx, dy = validate.number("dx", dx, float, -1, 1), validate.number("dy", dy, float, -1, 1)
    size = validate.number("size", size, int, 16, 1024)
    if key not in scene.objects[index].keypoints():
        raise ValueError(f"key must be one of object {index}'s keypoints "
                         f"({', '.join(scene.objects[index].keypoints()) or 'it has none'}), got {key!r}")
    edited = scene.moved(index, dx, dy) if move else scene.reshaped(index, key, dx, dy)
    kind = scene.objects[index].kind
    name = f"move {kind}" if move else {"peak": "raise peak", "top": "grow tree", "tail": "bend tail"}.get(
        key, f"reshape {kind}")
    kp = scene.keypoints(size, inside=False).get((index, key))
    new = edited.keypoints(size, inside=False).get((index, key))
    if kp is None or new is None:
        return None
    return Case(name, np.asarray(scene.render(size)), np.asarray(edited.render(size)), scene.masks(size)[index],
                (float(kp[0]), float(kp[1])), (float(new[0]), float(new[1])), scene, index, key, move)


def locate(case: Case, result: np.ndarray, reach: int) -> tuple:
    """Where the keypoint is in ``result``, by analysis through synthesis.

    The scene world redraws the edit with the keypoint displaced by every offset up to
    ``reach`` pixels (2 px grid, then 0.5 px around the best); the drawing closest to
    ``result`` near the object (mean squared colour error) gives the keypoint's place.
    """
    near = ndimage.binary_dilation(case.obj_mask, iterations=reach)
    res = result.astype(np.float64)

    def err(o):
        return ((case.render(*o).astype(np.float64) - res)[near] ** 2).mean()

    grid = [(dx, dy) for dx in range(-reach, reach + 1, 2) for dy in range(-reach, reach + 1, 2)]
    best = min(grid, key=err)
    fine = [(best[0] + a, best[1] + b) for a in np.arange(-1.5, 1.51, 0.5) for b in np.arange(-1.5, 1.51, 0.5)]
    best = min(fine, key=err)
    return case.handle[0] + best[0], case.handle[1] + best[1]


def _length(case: Case) -> float:
    """The drag's length in pixels."""
    return float(np.hypot(case.target[0] - case.handle[0], case.target[1] - case.handle[1]))


def picture_distance(case: Case, image) -> float:
    """How far, in pixels, the keypoint's content in ``image`` (the case's size) is from the target:
    ``locate`` searched up to the drag's length plus 4 pixels around the handle."""
    validate.instance("case", case, Case, "a bench Case (make_cases or edit_case)")
    image = validate.image("image", image)
    if image.size != case.image.shape[1::-1]:
        raise ValueError(f"image is {image.width}x{image.height}, the case's picture "
                         f"{case.image.shape[1]}x{case.image.shape[0]}")
    found = locate(case, np.asarray(image), int(np.ceil(_length(case))) + 4)
    return float(np.hypot(found[0] - case.target[0], found[1] - case.target[1]))


@dataclass
class Seen:
    """One look at a drag under way: its distance to the target twice, and the picture."""

    step: int          # optimisation steps taken
    tracking: float    # where point tracking finds the handle's feature, pixels to the target
    picture: float     # where the content is in the picture (``picture_distance``), pixels to the target
    image: object      # the picture: what the drag would give if it stopped here (PIL)


def watch(session, case: Case, every: int = 1) -> tuple:
    """Run ``session`` (a ``DragSession`` on ``case``'s image and drag) to the end, looking every
    ``every`` steps at both distances, each taken on the same latent: tracking's (``DragStep.distance``)
    and the picture's (the latent denoised as the result would be, ``DragSession.outcome``, located
    in the scene world). Returns (the ``DragResult``, [``Seen``, ...]) with the start and the end."""
    validate.instance("case", case, Case, "a bench Case (make_cases or edit_case)")
    every = validate.number("every", every, int, 1, 100_000)
    session.prepare()
    seen, picture, taken = [], session.outcome(), 0
    for state in session.run():
        if state.step == taken:   # the picture of the latent this step tracked on
            seen.append(Seen(state.step, state.distance, picture_distance(case, picture), picture))
        if (state.step + 1) % every == 0:
            picture, taken = session.outcome(), state.step + 1
    result = session.result()
    seen.append(Seen(len(result.history), result.distance, picture_distance(case, result.image), result.image))
    return result, seen


def cut_and_paste(image: np.ndarray, region: np.ndarray, handle, target) -> np.ndarray:
    """Baseline: move the region's pixels by target - handle; fill the hole with the nearest colours."""
    dx, dy = int(round(target[0] - handle[0])), int(round(target[1] - handle[1]))
    out = image.copy()
    idx = ndimage.distance_transform_edt(region, return_distances=False, return_indices=True)
    out[region] = image[idx[0][region], idx[1][region]]
    ys, xs = np.nonzero(region)
    y2, x2 = ys + dy, xs + dx
    ok = (y2 >= 0) & (y2 < image.shape[0]) & (x2 >= 0) & (x2 < image.shape[1])
    out[y2[ok], x2[ok]] = image[ys[ok], xs[ok]]
    return out


def score(case: Case, result: np.ndarray, editable: np.ndarray) -> dict:
    length = _length(case)
    bg = ~editable
    return {"rel": picture_distance(case, result) / length, "bg_psnr": psnr(result, case.image, bg) if bg.any() else float("nan"),
            "truth_psnr": psnr(result, case.truth), "length": length}


ALONE = {"init": "inverted", "strength": 0.7}   # the optimisation alone, from DragDiffusion's start


def run(model="tiny", n: int = 40, mask: str = "auto", seed: int = SEED, alone: bool = False, **options) -> list:
    """Score ``n`` drags (cases from ``seed``) with the defaults (plus ``options``); with
    ``alone``, also the optimisation alone (``ALONE``: no warp) on the same cases."""
    m = load(model, verbose=False)
    rows = []
    for k, case in enumerate(make_cases(n, m.native_size, seed)):
        given = "all" if mask == "all" else None
        if mask == "truth":
            given = ndimage.binary_dilation(case.obj_mask, iterations=int(np.ceil(_length(case))) + 1)
        row = {"case": k, "name": case.name, **_one(m, case, given, options)}
        if alone:
            row["alone"] = _one(m, case, given, {**options, **ALONE})
        row["nothing"] = score(case, case.image, row["mask"])
        row["paste"] = score(case, cut_and_paste(case.image, row["mask"] & _object_region(case), case.handle,
                                                 case.target), row["mask"])
        rows.append(row)
        extra = f"  alone rel {row['alone']['rel']:.2f}" if alone else ""
        print(f"{k:3d} {case.name:12s} len {row['length']:5.1f}px  rel {row['rel']:.2f} "
              f"(nothing {row['nothing']['rel']:.2f}, paste {row['paste']['rel']:.2f}){extra}  "
              f"bg {row['bg_psnr']:5.1f} dB  truth {row['truth_psnr']:5.1f} dB "
              f"(nothing {row['nothing']['truth_psnr']:5.1f}, paste {row['paste']['truth_psnr']:5.1f})  "
              f"{row['steps']:2d} steps {row['wall']:5.1f} s", flush=True)
    return rows


def _one(m, case: Case, mask, options: dict) -> dict:
    """One drag of ``case``, scored: the score's keys plus wall time, steps and the mask used."""
    start = time.perf_counter()
    r = drag(m, case.image, [case.handle], [case.target], mask=mask, **options)
    wall = time.perf_counter() - start
    return {"wall": wall, "steps": len(r.history), "mask": r.mask, **score(case, np.asarray(r.image), r.mask)}


def _object_region(case: Case) -> np.ndarray:
    return ndimage.binary_dilation(case.obj_mask, iterations=1)


def summary(rows: list) -> str:
    def med(key, sub=None):
        return float(np.median([(r[sub] if sub else r)[key] for r in rows]))

    def mean(key, sub=None):
        v = [(r[sub] if sub else r)[key] for r in rows]
        return float(np.nanmean(v))

    alone = "alone" in rows[0]
    a_rel = f"| optimisation alone {med('rel', 'alone'):.3f} " if alone else ""
    a_bg = f"| optimisation alone {mean('bg_psnr', 'alone'):.2f} dB " if alone else ""
    a_tr = f"| optimisation alone {mean('truth_psnr', 'alone'):.2f} dB " if alone else ""
    lines = [f"{len(rows)} drags",
             f"  median relative final distance: dragnb {med('rel'):.3f} {a_rel}| nothing {med('rel', 'nothing'):.3f} "
             f"| cut-and-paste {med('rel', 'paste'):.3f}",
             f"  mean background PSNR (outside the editable region): dragnb {mean('bg_psnr'):.2f} dB {a_bg}",
             f"  mean PSNR to the true edit: dragnb {mean('truth_psnr'):.2f} dB {a_tr}| nothing "
             f"{mean('truth_psnr', 'nothing'):.2f} dB | cut-and-paste {mean('truth_psnr', 'paste'):.2f} dB",
             f"  wall time per drag: median {med('wall'):.1f} s, max {max(r['wall'] for r in rows):.1f} s",
             "  within 0.25 of the drag's length, by kind:"]
    for kind in sorted({r["name"] for r in rows}):
        sub = [r for r in rows if r["name"] == kind]
        cols = [("dragnb", lambda r: r["rel"])] + ([("alone", lambda r: r["alone"]["rel"])] if alone else []) + \
               [("cut-and-paste", lambda r: r["paste"]["rel"])]
        counts = ", ".join(f"{name} {sum(f(r) <= 0.25 for r in sub)}/{len(sub)}" for name, f in cols)
        lines.append(f"    {kind:12s} {counts}")
    return "\n".join(lines)


# -- the region under a handle, scored against the scene world's object masks -----------------

REGION_SEED = 5_000_000


def flood_region(image: np.ndarray, handle, tolerance: float = 30.0) -> np.ndarray:
    """Baseline: the pixels within ``tolerance`` (RGB distance) of the handle's colour, connected to it."""
    x, y = int(round(handle[0])), int(round(handle[1]))
    near = np.linalg.norm(image.astype(float) - image[y, x].astype(float), axis=-1) <= tolerance
    labels, _ = ndimage.label(near)
    return labels == labels[y, x]


def disc_region(shape, handle, radius: float) -> np.ndarray:
    """Baseline: a disc of ``radius`` pixels around the handle."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return (xx - handle[0]) ** 2 + (yy - handle[1]) ** 2 <= radius ** 2


def _overlap(found: np.ndarray, truth: np.ndarray) -> dict:
    inter = float((found & truth).sum())
    return {"iou": inter / max(1.0, float((found | truth).sum())), "precision": inter / max(1.0, float(found.sum())),
            "recall": inter / max(1.0, float(truth.sum()))}


def region_scores(model="tiny", n: int = 40, seed: int = REGION_SEED) -> list:
    """For every visible keypoint of every draggable object in ``n`` held-apart scenes: the IoU,
    precision and recall with the object's true mask of ``find_region`` (its default and
    ``method="threshold"``) and of two baselines (a disc of 1/8 of the image around the handle, a
    colour flood fill from it)."""
    from .features import dift_features
    from .region import find_region, image_pieces

    m = load(model, verbose=False)
    size, rows = m.native_size, []
    for s in range(seed + 1, seed + 1 + n):
        scene = random_scene(s)
        image, masks = np.asarray(scene.render(size)), scene.masks(size)
        feats = dift_features(m, image)
        pieces = image_pieces(feats)
        for (i, key), kp in scene.keypoints(size).items():
            truth = masks[i]
            y, x = int(round(kp[1])), int(round(kp[0]))
            if i not in scene.draggable() or truth.sum() < 4 or not truth[y, x]:
                continue   # a hidden keypoint, or one that is not on its object's visible part
            found = {"dragnb": find_region(m, image, kp, features=feats, pieces=pieces),
                     "thresh": find_region(m, image, kp, features=feats, method="threshold"),
                     "disc": disc_region(truth.shape, kp, size / 8), "flood": flood_region(image, kp)}
            rows.append({"scene": s, "kind": scene.objects[i].kind, "key": key,
                         **{name: _overlap(f, truth) for name, f in found.items()}})
    return rows


def region_summary(rows: list) -> str:
    methods = ("dragnb", "thresh", "disc", "flood")   # thresh: find_region(method="threshold"), the first recipe

    def mean(sub, name, what="iou"):
        return float(np.mean([r[name][what] for r in sub]))

    lines = [f"{len(rows)} keypoints on {len({r['scene'] for r in rows})} scenes: mean IoU with the true object "
             "(precision / recall)"]
    for name in methods:
        lines.append(f"  {name:7s} IoU {mean(rows, name):.3f}  ({mean(rows, name, 'precision'):.3f} / "
                     f"{mean(rows, name, 'recall'):.3f})")
    for field in ("kind", "key"):
        lines.append(f"  by {'object' if field == 'kind' else 'keypoint'} kind, IoU " + " | ".join(methods))
        for k in sorted({r[field] for r in rows}):
            sub = [r for r in rows if r[field] == k]
            lines.append(f"    {k:10s} n={len(sub):3d}  " + "  ".join(f"{mean(sub, name):.3f}" for name in methods))
    return "\n".join(lines)


def _kind(f) -> str:
    """A ``DragOptions`` field's type name from its annotation ("int" for ``int | None``)."""
    return str(f.type).split("|")[0].strip()


def _caster(f):
    """The command-line parser of a ``DragOptions`` field, from its annotation."""
    kind = _kind(f)
    if kind == "bool":
        return lambda v: {"true": True, "false": False, "1": True, "0": False}[v.lower()]
    if kind == "tuple":
        return lambda v: tuple(int(b) for b in v.split(",") if b.strip())
    return {"int": int, "float": float}.get(kind, str)


def _option_flags(p: argparse.ArgumentParser) -> None:
    """One flag per ``DragOptions`` field (``--max-iters 40``), typed by the field, plus ``--option NAME=VALUE``."""
    group = p.add_argument_group("drag options (DragOptions fields; default: the model's)")
    for f in fields(DragOptions):
        group.add_argument("--" + f.name.replace("_", "-"), dest="opt_" + f.name, type=_caster(f), default=None,
                           metavar=_kind(f).upper(), help=f"field default: {f.default!r}")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="a DragOptions field, e.g. --option max_iters=40 (or --max-iters 40)")


def _options(args) -> dict:
    kinds = {f.name: f for f in fields(DragOptions)}
    opts = {name: getattr(args, "opt_" + name) for name in kinds if getattr(args, "opt_" + name) is not None}
    for o in args.option:
        k, _, v = o.partition("=")
        if k not in kinds:
            raise SystemExit(f"--option {o}: DragOptions has no field {k!r}; it has {', '.join(kinds)}")
        try:
            opts[k] = _caster(kinds[k])(v)
        except (ValueError, KeyError):
            raise SystemExit(f"--option {o}: {v!r} is not a {kinds[k].type}") from None
    return opts


# DragDiffusion's cost structure in dragnb: the original denoised beside the edit (its K/V recomputed),
# the preservation target one full DDIM step ahead (full UNet passes); UNet weights frozen, as dragnb's are
PUBLISHED_COST = {"reference_source": "recompute", "preserve": "step"}
DEFAULT_COST = {}   # dragnb's defaults


def cost_runs(model="tiny", repeats: int = 2, **options) -> list:
    """The same edit (a 30%-of-the-side drag, mask "all", tolerance 0 so every step runs) in the
    "published" and the default configuration, interleaved ``repeats`` times; returns their results.
    The image is ``options["size"]`` pixels square (the size the drag works at), else the model's native size."""
    m = _cost_model(model)
    side = options.get("size") or m.native_size
    image = np.asarray(random_scene(SEED).render(side)) if m.native_size <= 64 else \
        np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    h, t = (side * 0.35, side * 0.5), (side * 0.65, side * 0.5)
    runs = {"published": [], "default": []}
    for _ in range(repeats):
        for name, extra in (("published", PUBLISHED_COST), ("default", DEFAULT_COST)):
            kw = {"mask": "all", "tolerance": 0.0, "lora": False, **options, **extra}
            runs[name].append(drag(m, image, [h], [t], **kw))
    return runs


def _cost_model(model: str):
    if model.startswith("random-"):
        from .random_models import random_model
        return random_model(model[len("random-"):])
    return load(model, verbose=False)


def cost_summary(runs: dict) -> str:
    """Per stage: median seconds of each configuration, their ratio, and UNet passes (forward+backward)."""
    def med(name, stage):
        return float(np.median([r.timings.get(stage, 0.0) for r in runs[name]]))

    def passes(name, stage=None):
        p = runs[name][0].passes
        stages = [stage] if stage else list(p)
        return sum(p.get(s, {}).get("forward", 0) + p.get(s, {}).get("backward", 0) for s in stages)

    stages = list(dict.fromkeys([*runs["published"][0].timings, *runs["default"][0].timings]))
    lines = [f"{'stage':13s} {'published':>10s} {'default':>9s} {'ratio':>6s}   UNet passes published/default"]
    for st in stages:
        a, b = med("published", st), med("default", st)
        lines.append(f"{st:13s} {a:9.2f}s {b:8.2f}s {b / a if a else float('nan'):6.2f}   "
                     f"{passes('published', st)}/{passes('default', st)}")
    a = float(np.median([sum(r.timings.values()) for r in runs["published"]]))
    b = float(np.median([sum(r.timings.values()) for r in runs["default"]]))
    lines.append(f"{'whole edit':13s} {a:9.2f}s {b:8.2f}s {b / a:6.2f}   "
                 f"{passes('published')}/{passes('default')} ({passes('default') / passes('published'):.2f})")
    x, y = (np.asarray(runs[k][0].image, np.float64) for k in ("published", "default"))
    lines.append(f"the two results differ by {np.abs(x - y).mean():.2f} 8-bit levels on average "
                 f"(PSNR {psnr(x, y):.1f} dB)")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="which", required=True)
    syn = sub.add_parser("synthetic", help="drags on teaching-model scenes scored against the scene world")
    syn.add_argument("--model", default="tiny")
    syn.add_argument("-n", type=int, default=40)
    syn.add_argument("--mask", choices=["auto", "truth", "all"], default="auto")
    syn.add_argument("--seed", type=int, default=SEED, help=f"cases from the scenes after this seed (default {SEED})")
    syn.add_argument("--alone", action="store_true",
                     help="also run the optimisation alone (init='inverted', strength 0.7) on the same cases")
    _option_flags(syn)
    db = sub.add_parser("dragbench", help="DragBench's samples (category/sample/ folders): MD and IF per category")
    db.add_argument("dir", help="a DragBench folder")
    db.add_argument("--model", default="auto", help="the model that drags (default: dragnb.load's choice)")
    db.add_argument("--out", default="dragbench-results", help="where edits and result.json files go (resumable)")
    db.add_argument("--md-model", default=SD21,
                    help="the DIFT model for MD (published: SD 2.1 at t=261, up_blocks[1]); 'tiny' uses "
                         "the teaching model with its own DIFT defaults")
    db.add_argument("--no-fidelity", action="store_true", help="skip IF (1 - LPIPS)")
    _option_flags(db)
    rg = sub.add_parser("regions", help="find_region against the scene world's object masks, beside baselines")
    rg.add_argument("--model", default="tiny")
    rg.add_argument("-n", type=int, default=40, help="scenes")
    rg.add_argument("--seed", type=int, default=REGION_SEED, help=f"scenes after this seed (default {REGION_SEED})")
    co = sub.add_parser("cost", help="one edit's seconds and UNet passes per stage: DragDiffusion's cost "
                                     "structure ('published') against dragnb's default, interleaved")
    co.add_argument("--model", default="tiny", help="a model dragnb.load reads, or random-sd15 (SD 1.5's "
                    "shape, random weights: no download)")
    co.add_argument("--repeats", type=int, default=2)
    _option_flags(co)
    args = p.parse_args(argv)
    if args.which == "cost":
        print(cost_summary(cost_runs(args.model, args.repeats, **_options(args))))
        return
    if args.which == "regions":
        print(region_summary(region_scores(args.model, args.n, args.seed)))
        return
    if args.which == "synthetic":
        print(summary(run(args.model, args.n, args.mask, args.seed, args.alone, **_options(args))))
        return
    try:
        dragbench_main(args)
    except ValueError as e:   # missing weights or packages: say what to do, no traceback
        raise SystemExit(f"dragnb.bench dragbench: {e}\n(or run without IF: --no-fidelity)")


def dragbench_main(args) -> None:
    """``bench dragbench``: this process's share of the samples (``accelerate launch`` or
    ``torchrun`` set several), then the table from every process's results."""
    from . import dragbench as db
    from .metrics import MD_ENSEMBLE, MD_T, MD_UP_BLOCK, lpips_network

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
    db.run_benchmark(model, args.dir, args.out, md_model, md_kw, net, rank, world, **_options(args))
    wait()
    if rank == 0:
        print(db.results_table(args.out))


if __name__ == "__main__":
    main()
