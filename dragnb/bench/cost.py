"""``python -m dragnb.bench cost``: one edit's seconds and UNet passes per stage, two configurations."""
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
        from ..random_models import random_model
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
