"""The command line of ``python -m dragnb.bench``: one subcommand per benchmark, and a flag per drag option."""
from __future__ import annotations

import argparse
from dataclasses import fields
from typing import get_args, get_type_hints

from ..loading import SD21
from ..options import DragOptions
from . import cost, dragbench, regions, synthetic
from ..teaching.cases import SEED
from .regions import REGION_SEED

def _kind(name: str) -> type:
    """A ``DragOptions`` field's type, from its resolved annotation (``int`` for ``int | None``)."""
    hint = get_type_hints(DragOptions)[name]
    return next(a for a in (get_args(hint) or (hint,)) if a is not type(None))


def _bool(v: str) -> bool:
    return {"true": True, "false": False, "1": True, "0": False}[v.lower()]


def _blocks(v: str) -> tuple:
    return tuple(int(b) for b in v.split(",") if b.strip())


def _caster(name: str):
    """The command-line parser of a ``DragOptions`` field, by its type."""
    return {bool: _bool, tuple: _blocks, int: int, float: float}.get(_kind(name), str)


def _option_flags(p: argparse.ArgumentParser) -> None:
    """One flag per ``DragOptions`` field (``--max-iters 40``), typed by the field, plus ``--option NAME=VALUE``."""
    group = p.add_argument_group("drag options (DragOptions fields; default: the model's)")
    for f in fields(DragOptions):
        group.add_argument("--" + f.name.replace("_", "-"), dest="opt_" + f.name, type=_caster(f.name), default=None,
                           metavar=_kind(f.name).__name__.upper(), help=f"field default: {f.default!r}")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="a DragOptions field, e.g. --option max_iters=40 (or --max-iters 40)")


def _options(args) -> dict:
    """The drag options given on the command line: {field: value}."""
    names = [f.name for f in fields(DragOptions)]
    opts = {name: getattr(args, "opt_" + name) for name in names if getattr(args, "opt_" + name) is not None}
    for o in args.option:
        k, _, v = o.partition("=")
        if k not in names:
            raise SystemExit(f"--option {o}: DragOptions has no field {k!r}; it has {', '.join(names)}")
        try:
            opts[k] = _caster(k)(v)
        except (ValueError, KeyError):
            raise SystemExit(f"--option {o}: {v!r} is not a {_kind(k).__name__}") from None
    return opts


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
    syn.add_argument("--compare-old-warp", action="store_true",
                     help="also run the drag from the earlier 'falloff' warp (dragnb.warp) on the same cases")
    _option_flags(syn)
    db = sub.add_parser("dragbench", help="DragBench's samples (category/sample/ folders): MD and IF per category")
    db.add_argument("dir", help="a DragBench folder")
    db.add_argument("--model", default="auto", help="the model that drags (default: dragnb.load's choice)")
    db.add_argument("--out", default="dragbench-results", help="where edits and result.json files go (resumable)")
    db.add_argument("--md-model", default=SD21,
                    help="the DIFT model for MD (published: SD 2.1 at t=261, up_blocks[1]); 'tiny' uses "
                         "the teaching model with its own DIFT defaults")
    db.add_argument("--no-fidelity", action="store_true", help="skip IF (1 - LPIPS)")
    db.add_argument("--clip", action="store_true", help="also CLIP image similarity (ViT-B/32, fetched once)")
    db.add_argument("--redo", action="store_true",
                    help="redo samples that --out holds with other settings (default: stop and say what differs)")
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
    co.add_argument("--compare", choices=sorted(cost.PAIRS), default="published",
                    help="published: DragDiffusion's cost structure against dragnb's default; mechanism: a drag "
                         "without and with its mechanism recorded (mechanism=True)")
    _option_flags(co)
    args = p.parse_args(argv)
    if args.which == "cost":
        print(cost.cost_summary(cost.cost_runs(args.model, args.repeats, args.compare, **_options(args))))
        return
    if args.which == "regions":
        print(regions.region_summary(regions.region_scores(args.model, args.n, args.seed)))
        return
    if args.which == "synthetic":
        print(synthetic.summary(synthetic.run(args.model, args.n, args.mask, args.seed, args.alone,
                                                    args.compare_old_warp, **_options(args))))
        return
    try:
        dragbench.dragbench_main(args, _options(args))
    except ValueError as e:   # missing weights or packages: say what to do, no traceback
        hint = "\n(or run without IF: --no-fidelity)" if "LPIPS" in str(e) or "lpips" in str(e) else ""
        raise SystemExit(f"dragnb.bench dragbench: {e}{hint}")
