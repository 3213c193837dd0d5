"""``python -m dragnb.bench synthetic``: drags on teaching-model scenes scored against the scene world.

For each case (``cases.make_cases``) the script measures, from the images alone:

- **where the keypoint ended up** (``cases.picture_distance``), as its distance to the
  target relative to the drag's length (0 = arrived, 1 = did not move);
- **background PSNR**: result vs. input outside the editable region;
- **PSNR to the truth**: result vs. the scene world's own rendering of the edit;
- **wall time**.

Two baselines run in the same call on the same cases: doing nothing, and cutting the
region out and pasting it at the target (the hole filled with the nearest colours). With
``old_warp``, the same drag starting from the earlier warp (``warp.py``'s "falloff") runs too.
"""
from __future__ import annotations

import time

import numpy as np
from scipy import ndimage

from ..loading import load
from ..session import drag
from ..teaching.cases import SEED, Case, cut_and_paste, length, make_cases, score

ALONE = {"init": "inverted", "strength": 0.7}   # the optimisation alone, from DragDiffusion's start


def run(model="tiny", n: int = 40, mask: str = "auto", seed: int = SEED, alone: bool = False,
        old_warp: bool = False, **options) -> list:
    """Score ``n`` drags (cases from ``seed``) with the defaults (plus ``options``); with
    ``alone``, also the optimisation alone (``ALONE``: no warp) on the same cases; with
    ``old_warp``, also the drag started from the "falloff" warp (key "old")."""
    m = load(model, verbose=False)
    rows = []
    for k, case in enumerate(make_cases(n, m.native_size, seed)):
        given = "all" if mask == "all" else None
        if mask == "truth":
            given = ndimage.binary_dilation(case.obj_mask, iterations=int(np.ceil(length(case))) + 1)
        row = {"case": k, "name": case.name, **_one(m, case, given, options)}
        if alone:
            row["alone"] = _one(m, case, given, {**options, **ALONE})
        if old_warp:
            row["old"] = _one(m, case, given, {**options, "warp": "falloff"})
        row["nothing"] = score(case, case.image, row["mask"])
        row["paste"] = score(case, cut_and_paste(case.image, row["mask"] & _object_region(case), case.handle,
                                                 case.target), row["mask"])
        rows.append(row)
        extra = f"  alone rel {row['alone']['rel']:.2f}" if alone else ""
        extra += f"  old warp rel {row['old']['rel']:.2f} truth {row['old']['truth_psnr']:5.1f} dB" if old_warp else ""
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
               ([("old warp", lambda r: r["old"]["rel"])] if "old" in rows[0] else []) + \
               [("cut-and-paste", lambda r: r["paste"]["rel"])]
        counts = ", ".join(f"{name} {sum(f(r) <= 0.25 for r in sub)}/{len(sub)}" for name, f in cols)
        lines.append(f"    {kind:12s} {counts}")
    return "\n".join(lines + _by_kind(rows))


def _by_kind(rows: list) -> list:
    """Lines of the summary per kind of edit (and all moves together): median relative distance,
    mean background PSNR, mean PSNR to the truth, for dragnb, the old warp (if run) and doing nothing."""
    runs = [("dragnb", None)] + ([("old warp", "old")] if "old" in rows[0] else []) + [("nothing", "nothing")]
    kinds = sorted({r["name"] for r in rows})
    groups = [(k, [r for r in rows if r["name"] == k]) for k in kinds]
    if sum(k.startswith("move") for k in kinds) > 1:
        groups.append(("move, all", [r for r in rows if r["name"].startswith("move")]))
    lines = ["  by kind: median relative distance | mean background PSNR | mean PSNR to the true edit"]
    for kind, sub in groups:
        cols = []
        for name, key in runs:
            got = [r[key] if key else r for r in sub]
            bg = f"{np.nanmean([g['bg_psnr'] for g in got]):5.1f} dB" if key != "nothing" else "    -   "
            cols.append(f"{name} {np.median([g['rel'] for g in got]):.3f} | {bg} | "
                        f"{np.mean([g['truth_psnr'] for g in got]):5.2f} dB")
        lines.append(f"    {kind:14s} " + "; ".join(cols))
    if "old" in rows[0]:
        old = [r["old"] for r in rows]
        lines.append(f"  old warp, all: median relative distance {np.median([o['rel'] for o in old]):.3f}, "
                     f"within 0.25 {sum(o['rel'] <= 0.25 for o in old)}/{len(rows)}, background "
                     f"{np.nanmean([o['bg_psnr'] for o in old]):.2f} dB, truth {np.mean([o['truth_psnr'] for o in old]):.2f} "
                     f"dB, wall time median {np.median([o['wall'] for o in old]):.1f} s")
    return lines
