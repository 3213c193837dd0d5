"""The picker's state without a browser: handles, targets, mask and prompt of one edit, with undo/redo.

``PickerState`` holds everything in the *original* image's pixels and converts to and
from the display (``display_scale``: whole-number zoom for small images, shrink for
large); ``PointPicker`` (``picker``) draws it and wires the events.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .. import validate
from ..samples import write_sample
from ..images import load_image

MIN_SIDE, MAX_SIDE = 384, 640
HIT = 9          # display pixels within which a click grabs an existing point
def display_size(size, scale: float) -> tuple:
    """An image of ``size`` (w, h) shown at ``scale`` display pixels per image pixel: (W, H)."""
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def enlarge(image: Image.Image, scale: float) -> Image.Image:
    """``image`` at ``scale`` display pixels per image pixel: crisp blocks when enlarged, Lanczos when shrunk."""
    return image.resize(display_size(image.size, scale), Image.NEAREST if scale >= 1 else Image.LANCZOS)


def display_point(x: float, y: float, scale: float) -> tuple:
    """Image pixel (x, y) (its centre) in display coordinates at ``scale``."""
    return ((x + 0.5) * scale, (y + 0.5) * scale)


def display_scale(size, min_side: int = MIN_SIDE, max_side: int = MAX_SIDE) -> float:
    """Display pixels per image pixel: whole-number zoom for small images, shrink for large."""
    long = max(size)
    if long < min_side:
        return float(int(np.ceil(min_side / long)))
    if long > max_side:
        return max_side / long
    return 1.0


class PickerState:
    """Handles, targets and mask of one edit (and its prompt), with undo/redo; no widgets.

    Coordinates: ``to_image``/``to_display`` convert between canvas coordinates
    (continuous: display pixel i spans [i, i+1), as ipycanvas reports mouse events) and
    image pixels (centres at integers, as everywhere in dragnb), clamped to the image.
    Undo covers points and mask; the prompt is plain text, outside the history.
    """

    def __init__(self, image, handles=None, targets=None, mask=None, prompt: str = "", scale=None):
        self.image = load_image(image)
        self.size = self.image.size
        self.scale = display_scale(self.size) if scale is None else validate.number("scale", scale, float, 0,
                                                                                    lo_open=True)
        self.handles = self.valid_points(handles, "handle")
        self.targets = self.valid_points(targets, "target")
        if len(self.targets) > len(self.handles):
            raise ValueError(f"got {len(self.handles)} handles but {len(self.targets)} targets: "
                             "each target needs its handle")
        w, h = self.size
        self.mask = self.valid_mask(mask)
        self.prompt = validate.text("prompt", prompt)
        self._undo, self._redo = [], []

    @property
    def display_size(self) -> tuple:
        return display_size(self.size, self.scale)

    def valid_points(self, points, name: str) -> list:
        """Points as a list of (x, y) floats, checked like the drag's (one (x, y) or many)."""
        if points is None:
            return []
        return [tuple(map(float, p)) for p in validate.image_points(points, self.size, name)]

    def valid_mask(self, mask) -> np.ndarray:
        """The picker's mask may be empty (nothing painted yet; None clears it); otherwise the drag's rules."""
        if mask is None:
            return np.zeros((self.size[1], self.size[0]), bool)
        return validate.mask(mask, self.size, allow_all=False, allow_empty=True)

    # -- coordinates ----------------------------------------------------------------
    def to_image(self, x: float, y: float) -> tuple:
        x, y = validate.number("x", x), validate.number("y", y)
        w, h = self.size
        return (float(np.clip(x / self.scale - 0.5, 0, w - 1)),
                float(np.clip(y / self.scale - 0.5, 0, h - 1)))

    def to_display(self, x: float, y: float) -> tuple:
        return display_point(x, y, self.scale)

    # -- history ----------------------------------------------------------------------
    def snapshot(self):
        return (list(self.handles), list(self.targets), self.mask.copy())

    def checkpoint(self) -> None:
        """Remember the current state for undo (call before each change)."""
        self._undo.append(self.snapshot())
        self._undo = self._undo[-50:]
        self._redo.clear()

    def _restore(self, snap) -> None:
        self.handles, self.targets, self.mask = list(snap[0]), list(snap[1]), snap[2].copy()

    def undo(self) -> bool:
        """Go back one edit; False if there is none."""
        return self._step(self._undo, self._redo)

    def redo(self) -> bool:
        """Redo the last undone edit; False if there is none."""
        return self._step(self._redo, self._undo)

    def _step(self, source: list, other: list) -> bool:
        if not source:
            return False
        other.append(self.snapshot())
        self._restore(source.pop())
        return True

    # -- edits (display coordinates in, image coordinates stored) --------------------
    def point_at(self, x: float, y: float):
        """("handle"|"target", index) of the point within HIT display pixels, else None."""
        best, which = HIT ** 2, None
        for kind, pts in (("target", self.targets), ("handle", self.handles)):
            for i, p in enumerate(pts):
                dx, dy = np.subtract(self.to_display(*p), (x, y))
                if dx * dx + dy * dy <= best:
                    best, which = dx * dx + dy * dy, (kind, i)
        return which

    def click(self, x: float, y: float) -> tuple:
        """Add a handle (if every handle has its target) or the pending handle's target."""
        self.checkpoint()
        p = self.to_image(x, y)
        if len(self.handles) == len(self.targets):
            self.handles.append(p)
            return ("handle", len(self.handles) - 1)
        self.targets.append(p)
        return ("target", len(self.targets) - 1)

    def move(self, which, x: float, y: float) -> None:
        """Move ``which`` (("handle" | "target", index), as ``point_at`` gives) to a display position."""
        kind, i = which if isinstance(which, tuple) and len(which) == 2 else (None, None)
        points = {"handle": self.handles, "target": self.targets}.get(kind)
        if points is None or isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -len(points) <= i < len(points):
            raise ValueError(f"which must name an existing point, e.g. ('handle', 0), got {which!r}")
        points[i] = self.to_image(x, y)

    def remove_pair(self, i: int = -1) -> None:
        """Remove handle ``i`` (Python indexing) and its target; nothing if there are no handles."""
        n = len(self.handles)
        i = validate.number("i", i, int, -max(n, 1), max(n - 1, 0))
        self.checkpoint()
        if self.handles:
            i = i % n
            self.handles.pop(i)
            if i < len(self.targets):
                self.targets.pop(i)

    def paint(self, x: float, y: float, radius: float, value: bool = True) -> None:
        """Paint (or erase) a disc of ``radius`` *image* pixels at a display position."""
        radius = validate.number("radius", radius, float, 0, lo_open=True)
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"value must be True (paint) or False (erase), got {value!r}")
        cx, cy = self.to_image(x, y)
        h, w = self.mask.shape
        yy, xx = np.ogrid[:h, :w]
        self.mask[(xx - cx) ** 2 + (yy - cy) ** 2 <= radius ** 2] = value

    def clear(self) -> None:
        self.checkpoint()
        self.handles, self.targets = [], []
        self.mask = np.zeros_like(self.mask)

    # -- files ------------------------------------------------------------------------
    def save(self, folder):
        if len(self.handles) != len(self.targets):
            raise ValueError(f"handle {len(self.handles) - 1} has no target yet: click its target or remove it")
        return write_sample(folder, self.image, self.handles, self.targets, self.mask, self.prompt)
