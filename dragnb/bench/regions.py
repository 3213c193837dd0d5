"""``python -m dragnb.bench regions``: the region under a handle, scored against the scene world's object masks."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..features import dift_features
from ..loading import load
from ..region import find_region, image_pieces
from ..teaching.scenes import random_scene

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
