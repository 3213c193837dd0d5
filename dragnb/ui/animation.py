"""A drag as an animation: its previews and result as a GIF or MP4 (imageio), the drag drawn on each frame."""
from __future__ import annotations

import numpy as np

from .. import validate
from ..images import load_image
from .figures import HANDLE, PATH, TARGET, check_result

def save_animation(frames, path, fps: float = 8, min_side: int = 256) -> str:
    """Write frames (PIL images or arrays) as a GIF or MP4 (by the suffix) with imageio.

    Small frames are enlarged with nearest-neighbour to at least ``min_side`` pixels.
    Returns the path.
    """
    import imageio.v3 as iio
    from PIL import Image

    frames = validate.sequence("frames", frames)
    fps = validate.number("fps", fps, float, 0, 1000, lo_open=True)
    min_side = validate.number("min_side", min_side, int, 0, 4096)
    path = validate.output_file("path", path)
    arrs = []
    for f in frames:
        im = load_image(f)
        k = max(1, int(np.ceil(min_side / max(im.size))))
        if k > 1:
            im = im.resize((im.width * k, im.height * k), Image.NEAREST)
        arrs.append(np.asarray(im))
    if path.lower().endswith(".gif"):
        iio.imwrite(path, np.stack(arrs), duration=1000 / fps, loop=0)  # duration in ms (imageio v3)
    else:
        iio.imwrite(path, np.stack(arrs), fps=fps)
    return path


def drag_animation(result, path, fps: float = 4, min_side: int = 256, hold: int = 4, before: bool = False) -> str:
    """Write a ``DragResult``'s previews, then its result, as a GIF or MP4, each frame marked with
    the handles where tracking found them at that step (red), the path so far (yellow), the
    targets (blue) and the step number. The result is held for ``hold`` frames; ``before``
    puts the input first (then a drag without previews still animates). Returns the path."""
    check_result(result)
    hold = validate.number("hold", hold, int, 1, 1000)
    shots = [s for s in result.history if s.preview is not None]
    if not shots and not before:
        raise ValueError("no previews in this result: run the drag with preview_every=k")
    frames = [_marked(result.original, result.start, result.start, result.targets, "before", min_side, [])] * 2 \
        if before else []
    frames += [_marked(s.preview, result.start, s.handles, result.targets, f"step {s.step}", min_side,
                       [t.handles for t in result.history if t.step <= s.step]) for s in shots]
    last = _marked(result.image, result.start, result.handles, result.targets,
                   f"result after {len(result.history)} steps", min_side,
                   [t.handles for t in result.history] + [result.handles])
    return save_animation(frames + [last] * hold, path, fps=fps, min_side=0)


def _marked(image, start, handles, targets, label: str, min_side: int, path) -> np.ndarray:
    """``image`` enlarged (nearest) to at least ``min_side`` with the drag drawn on it: (H, W, 3) uint8."""
    from PIL import Image, ImageDraw, ImageFont

    im = load_image(image)
    k = max(1, int(np.ceil(min_side / max(im.size))))
    im = im.resize((im.width * k, im.height * k), Image.NEAREST)
    draw = ImageDraw.Draw(im)
    r = max(3, k)
    paths = np.asarray([np.asarray(start)] + [np.asarray(p) for p in path]) * k + k / 2   # (steps, N, 2)
    for i in range(paths.shape[1]):
        draw.line([tuple(p) for p in paths[:, i]], fill=PATH, width=max(1, k // 2))
    for pts, colour in ((np.asarray(targets), TARGET), (np.asarray(handles), HANDLE)):
        for x, y in pts * k + k / 2:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline="white")
    font = ImageFont.load_default(size=max(10, im.height // 16))
    draw.text((4, 2), label, fill="white", stroke_width=2, stroke_fill="black", font=font)
    return np.asarray(im)
