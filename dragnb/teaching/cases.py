"""The synthetic bench's cases and its measurement of a picture.

A case is a teaching-model scene (held apart from training) and one edit whose result
the scene world can draw exactly: an object moved, a mountain's peak raised, a tree
grown, a creature's tail bent. The handle is the keypoint, the target where it should
go. ``picture_distance`` measures, from an image alone, where the keypoint's content is:
the object's pixels around the keypoint are searched for in the image by redrawing the
edit by every offset (analysis through synthesis). ``watch`` follows one drag step by
step with it (tutorial 3): where point tracking finds the handle, and where the
picture's content is, on the same latent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .. import validate
from ..images import as_image
from ..metrics import psnr
from .scenes import random_scene

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


def length(case: Case) -> float:
    """The drag's length in pixels."""
    return float(np.hypot(case.target[0] - case.handle[0], case.target[1] - case.handle[1]))


def picture_distance(case: Case, image) -> float:
    """How far, in pixels, the keypoint's content in ``image`` (the case's size) is from the target:
    ``locate`` searched up to the drag's length plus 4 pixels around the handle."""
    validate.instance("case", case, Case, "a bench Case (make_cases or edit_case)")
    image = as_image("image", image)
    if image.size != case.image.shape[1::-1]:
        raise ValueError(f"image is {image.width}x{image.height}, the case's picture "
                         f"{case.image.shape[1]}x{case.image.shape[0]}")
    found = locate(case, np.asarray(image), int(np.ceil(length(case))) + 4)
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
    n = length(case)
    bg = ~editable
    return {"rel": picture_distance(case, result) / n, "bg_psnr": psnr(result, case.image, bg) if bg.any() else float("nan"),
            "truth_psnr": psnr(result, case.truth), "length": n}
