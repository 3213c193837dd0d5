"""``python -m dragnb.bench cost``: one edit's seconds and UNet passes per stage, two configurations
(``PAIRS``: DragDiffusion's cost structure against dragnb's default, or a drag without and with its
mechanism recorded)."""
from __future__ import annotations

import numpy as np

from ..loading import load
from ..metrics import psnr
from ..session import drag
from ..teaching.scenes import random_scene
from ..teaching.cases import SEED

# DragDiffusion's cost structure in dragnb: the original denoised beside the edit (its K/V recomputed),
# the preservation target one full DDIM step ahead (full UNet passes); UNet weights frozen, as dragnb's are
PUBLISHED_COST = {"reference_source": "recompute", "preserve": "step"}
DEFAULT_COST = {}   # dragnb's defaults
PAIRS = {"published": (("published", PUBLISHED_COST), ("default", DEFAULT_COST)),
         "mechanism": (("not recorded", {"mechanism": False}), ("recorded", {"mechanism": True}))}


def cost_runs(model="tiny", repeats: int = 2, compare: str = "published", **options) -> dict:
    """The same edit (a 30%-of-the-side drag, mask "all", tolerance 0 so every step runs) in the two
    configurations of ``PAIRS[compare]``, interleaved ``repeats`` times; returns {name: [results]}.
    The image is ``options["size"]`` pixels square (the size the drag works at), else the model's native size."""
    m = _cost_model(model)
    side = options.get("size") or m.native_size
    image = np.asarray(random_scene(SEED).render(side)) if m.native_size <= 64 else \
        np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    h, t = (side * 0.35, side * 0.5), (side * 0.65, side * 0.5)
    pair = PAIRS[compare]
    runs = {name: [] for name, _ in pair}
    for _ in range(repeats):
        for name, extra in pair:
            kw = {"mask": "all", "tolerance": 0.0, "lora": False, **options, **extra}
            runs[name].append(drag(m, image, [h], [t], **kw))
    return runs


def _cost_model(model: str):
    if model.startswith("random-"):
        from ..random_models import random_model
        return random_model(model[len("random-"):])
    return load(model, verbose=False)


def cost_summary(runs: dict) -> str:
    """Per stage: median seconds of each configuration, their ratio, and UNet passes (forward+backward);
    then the optimisation's seconds per step."""
    def med(name, stage):
        return float(np.median([r.timings.get(stage, 0.0) for r in runs[name]]))

    def passes(name, stage=None):
        p = runs[name][0].passes
        stages = [stage] if stage else list(p)
        return sum(p.get(s, {}).get("forward", 0) + p.get(s, {}).get("backward", 0) for s in stages)

    one, two = runs
    stages = list(dict.fromkeys([*runs[one][0].timings, *runs[two][0].timings]))
    lines = [f"{'stage':13s} {one[:12]:>12s} {two[:12]:>12s} {'ratio':>6s}   UNet passes {one}/{two}"]
    for st in stages:
        a, b = med(one, st), med(two, st)
        lines.append(f"{st:13s} {a:11.2f}s {b:11.2f}s {b / a if a else float('nan'):6.2f}   "
                     f"{passes(one, st)}/{passes(two, st)}")
    a = float(np.median([sum(r.timings.values()) for r in runs[one]]))
    b = float(np.median([sum(r.timings.values()) for r in runs[two]]))
    lines.append(f"{'whole edit':13s} {a:11.2f}s {b:11.2f}s {b / a:6.2f}   "
                 f"{passes(one)}/{passes(two)} ({passes(two) / passes(one):.2f})")
    a, b = (float(np.median([r.timings["optimisation"] / max(1, len(r.history)) for r in runs[k]])) for k in runs)
    lines.append(f"{'per step':13s} {a:11.3f}s {b:11.3f}s {b / a:6.2f}   optimisation seconds per step")
    x, y = (np.asarray(runs[k][0].image, np.float64) for k in runs)
    lines.append(f"the two results differ by {np.abs(x - y).mean():.2f} 8-bit levels on average "
                 f"(PSNR {psnr(x, y):.1f} dB)")
    return "\n".join(lines)
