"""The scene world of the teaching model: procedural landscapes with ground truth.

A :class:`Scene` is a list of plain objects (sky, sun, mountains, ground, trees,
houses, creatures) whose geometry lives in unit coordinates (0..1, x right, y
down), so one scene renders at any size. Every scene knows, for each object, its
visible mask and its named keypoints (a mountain's ``peak``, a tree's ``top``, a
creature's ``tail``), and can be re-rendered with one object moved or one
keypoint displaced by a known amount: that is what lets drags be scored against
geometry.

    >>> scene = random_scene(seed=3)
    >>> image = scene.render(64)             # PIL RGB, 64 x 64
    >>> scene.keypoints(64)                  # {(object index, name): (x, y) px}
    >>> moved = scene.moved(2, dx=0.1)       # same scene, object 2 shifted right
    >>> raised = scene.reshaped(1, "peak", dy=-0.1)
"""
from __future__ import annotations

import colorsys
import copy
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 4  # render at 4x and box-filter down: smooth, deterministic edges


def _rgb(h, s, v):
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _shade(color, f):
    return tuple(int(max(0, min(255, c * f))) for c in color)


def gradient(d, y0: int, s: float, top: tuple, bottom: tuple, fill=None) -> None:
    """Rows y0..s of the drawing ``d`` in colours running from ``top`` to ``bottom`` (or all ``fill``)."""
    w = d.im.size[0]
    for y in range(y0, int(s) + 1):
        a = (y - y0) / max(s - y0, 1)
        c = fill or tuple(int(t * (1 - a) + b * a) for t, b in zip(top, bottom))
        d.line([(0, y), (w, y)], fill=c)


@dataclass
class Sky:
    """A vertical gradient of colour from ``top`` to ``bottom``; every position below is a fraction of the side."""
    kind: ClassVar[str] = "sky"
    top: tuple
    bottom: tuple

    def draw(self, d, s, fill=None):
        gradient(d, 0, s, self.top, self.bottom, fill)

    def keypoints(self):
        return {}

    def shift(self, dx, dy):
        pass


@dataclass
class Sun:
    """A disc at (``x``, ``y``) of radius ``r``; its keypoint is its centre."""
    kind: ClassVar[str] = "sun"
    x: float
    y: float
    r: float
    color: tuple

    def draw(self, d, s, fill=None):
        d.ellipse([(self.x - self.r) * s, (self.y - self.r) * s,
                   (self.x + self.r) * s, (self.y + self.r) * s], fill=fill or self.color)

    def keypoints(self):
        return {"center": (self.x, self.y)}

    def shift(self, dx, dy):
        self.x += dx
        self.y += dy

    def move_keypoint(self, name, dx, dy):
        self.shift(dx, dy)


@dataclass
class Mountain:
    """A triangle on ``base`` from ``left`` to ``right``; its keypoint is its ``peak`` (x, y)."""
    kind: ClassVar[str] = "mountain"
    left: float
    right: float
    base: float
    peak: tuple
    color: tuple
    snow: bool

    def _poly(self, s):
        return [(self.left * s, self.base * s), (self.peak[0] * s, self.peak[1] * s),
                (self.right * s, self.base * s)]

    def draw(self, d, s, fill=None):
        d.polygon(self._poly(s), fill=fill or self.color)
        if self.snow and fill is None:
            px, py = self.peak
            f = 0.28
            lx = px + (self.left - px) * f
            rx = px + (self.right - px) * f
            y = py + (self.base - py) * f
            d.polygon([(px * s, py * s), (lx * s, y * s), (rx * s, y * s)], fill=(245, 245, 250))

    def keypoints(self):
        return {"peak": tuple(self.peak)}

    def shift(self, dx, dy):
        self.left += dx
        self.right += dx
        self.base += dy
        self.peak = (self.peak[0] + dx, self.peak[1] + dy)

    def move_keypoint(self, name, dx, dy):
        if name != "peak":
            return self.shift(dx, dy)
        self.peak = (self.peak[0] + dx, self.peak[1] + dy)


@dataclass
class Ground:
    """Everything below the horizon ``y``."""
    kind: ClassVar[str] = "ground"
    y: float
    top: tuple
    bottom: tuple

    def draw(self, d, s, fill=None):
        gradient(d, int(self.y * s), s, self.top, self.bottom, fill)

    def keypoints(self):
        return {}

    def shift(self, dx, dy):
        self.y += dy


@dataclass
class Tree:
    """A trunk and a crown (a pine's triangle or a round one) standing at ``x`` on ``base``;
    keypoints: its top and its base."""
    kind: ClassVar[str] = "tree"
    x: float
    base: float
    height: float
    crown: float
    pine: bool
    trunk_color: tuple
    color: tuple

    def draw(self, d, s, fill=None):
        tw = max(self.crown * 0.25, 0.008)
        top = self.base - self.height
        d.rectangle([(self.x - tw / 2) * s, (top + self.crown) * s,
                     (self.x + tw / 2) * s, self.base * s], fill=fill or self.trunk_color)
        if self.pine:
            d.polygon([(self.x * s, top * s),
                       ((self.x - self.crown) * s, (top + 2.2 * self.crown) * s),
                       ((self.x + self.crown) * s, (top + 2.2 * self.crown) * s)],
                      fill=fill or self.color)
        else:
            d.ellipse([(self.x - self.crown) * s, top * s, (self.x + self.crown) * s,
                       (top + 2 * self.crown) * s], fill=fill or self.color)

    def keypoints(self):
        return {"top": (self.x, self.base - self.height), "base": (self.x, self.base)}

    def shift(self, dx, dy):
        self.x += dx
        self.base += dy

    def move_keypoint(self, name, dx, dy):
        if name == "top":  # the tree grows or shrinks; its base stays
            self.height = max(self.crown * 1.5, self.height - dy)
            self.x += dx
        else:
            self.shift(dx, dy)


@dataclass
class House:
    """A box with walls ``h`` high and a roof ``roof`` above them, standing on ``base``;
    keypoints: its roof and its door."""
    kind: ClassVar[str] = "house"
    x: float            # the centre of its front
    base: float         # where it stands
    w: float            # width
    h: float            # height of the walls
    roof: float         # height of the roof above them
    wall: tuple         # colours (r, g, b)
    roof_color: tuple

    def draw(self, d, s, fill=None):
        l, r, t = self.x - self.w / 2, self.x + self.w / 2, self.base - self.h
        d.rectangle([l * s, t * s, r * s, self.base * s], fill=fill or self.wall)
        d.polygon([((l - 0.01) * s, t * s), (self.x * s, (t - self.roof) * s),
                   ((r + 0.01) * s, t * s)], fill=fill or self.roof_color)
        if fill is None:
            dw = self.w * 0.22
            d.rectangle([(self.x - dw / 2) * s, (self.base - self.h * 0.5) * s,
                         (self.x + dw / 2) * s, self.base * s], fill=_shade(self.wall, 0.45))

    def keypoints(self):
        return {"roof": (self.x, self.base - self.h - self.roof), "door": (self.x, self.base)}

    def shift(self, dx, dy):
        self.x += dx
        self.base += dy

    def move_keypoint(self, name, dx, dy):
        if name == "roof":  # the roof gets taller or flatter
            self.roof = max(0.01, self.roof - dy)
        else:
            self.shift(dx, dy)


@dataclass
class Creature:
    """A body, a head and a tail; keypoints: its head and its tail."""
    kind: ClassVar[str] = "creature"
    x: float            # the centre of its body
    y: float
    rx: float           # the body's half-width and half-height
    ry: float
    facing: int         # 1: looks right, -1: left
    tail: tuple         # the tail's tip (x, y)
    color: tuple

    def _head(self):
        return (self.x + self.facing * self.rx * 1.05, self.y - self.ry * 0.9, self.ry * 0.75)

    def draw(self, d, s, fill=None):
        c = fill or self.color
        leg = self.ry * 1.2
        for f in (-0.55, 0.55):
            lx = self.x + f * self.rx
            d.rectangle([(lx - 0.01) * s, self.y * s, (lx + 0.01) * s, (self.y + self.ry + leg) * s],
                        fill=fill or _shade(self.color, 0.7))
        root = (self.x - self.facing * self.rx * 0.9, self.y - self.ry * 0.2)
        d.line([(root[0] * s, root[1] * s), (self.tail[0] * s, self.tail[1] * s)], fill=c,
               width=max(1, int(0.022 * s)))
        d.ellipse([(self.tail[0] - 0.013) * s, (self.tail[1] - 0.013) * s,
                   (self.tail[0] + 0.013) * s, (self.tail[1] + 0.013) * s], fill=c)
        d.ellipse([(self.x - self.rx) * s, (self.y - self.ry) * s, (self.x + self.rx) * s,
                   (self.y + self.ry) * s], fill=c)
        hx, hy, hr = self._head()
        d.ellipse([(hx - hr) * s, (hy - hr) * s, (hx + hr) * s, (hy + hr) * s], fill=c)
        if fill is None:
            e = hr * 0.28
            ex = hx + self.facing * hr * 0.4
            d.ellipse([(ex - e) * s, (hy - e) * s, (ex + e) * s, (hy + e) * s], fill=(20, 20, 20))

    def keypoints(self):
        hx, hy, _ = self._head()
        return {"head": (hx, hy), "tail": tuple(self.tail)}

    def shift(self, dx, dy):
        self.x += dx
        self.y += dy
        self.tail = (self.tail[0] + dx, self.tail[1] + dy)

    def move_keypoint(self, name, dx, dy):
        if name == "tail":  # the tail bends; the body stays
            self.tail = (self.tail[0] + dx, self.tail[1] + dy)
        else:
            self.shift(dx, dy)


NAMES = {"sun": ("sun", "suns"), "mountain": ("mountain", "mountains"), "tree": ("tree", "trees"),
         "house": ("house", "houses"), "creature": ("creature", "creatures")}
NUMBERS = ("no", "a", "two", "three", "four", "five")


@dataclass
class Scene:
    """A list of objects drawn back to front, plus the seed that made it."""

    objects: list
    seed: int = 0
    draw_order: list = field(default_factory=list)

    def render(self, size: int = 64) -> Image.Image:
        """The scene as a size x size RGB image."""
        s = size * SUPERSAMPLE
        im = Image.new("RGB", (s, s))
        d = ImageDraw.Draw(im)
        for obj in self.objects:
            obj.draw(d, s)
        return im.resize((size, size), Image.BOX)

    def masks(self, size: int = 64) -> np.ndarray:
        """Visible masks, bool (n_objects, size, size): what of each object is seen."""
        s = size * SUPERSAMPLE
        label = Image.new("L", (s, s), 0)
        d = ImageDraw.Draw(label)
        for i, obj in enumerate(self.objects):
            obj.draw(d, s, fill=i + 1)
        lab = np.asarray(label).reshape(size, SUPERSAMPLE, size, SUPERSAMPLE)
        out = np.stack([(lab == i + 1).mean(axis=(1, 3)) >= 0.5 for i in range(len(self.objects))])
        return out

    def keypoints(self, size: int = 64, inside: bool = True) -> dict:
        """Named keypoints in pixels: {(object index, name): (x, y)}; ``inside``: only those in the image."""
        out = {(i, name): (p[0] * size, p[1] * size)
               for i, obj in enumerate(self.objects) for name, p in obj.keypoints().items()}
        if inside:
            out = {k: p for k, p in out.items() if 0 <= p[0] <= size - 1 and 0 <= p[1] <= size - 1}
        return out

    def draggable(self) -> list:
        """Indices of objects a person would drag (not sky or ground)."""
        return [i for i, o in enumerate(self.objects) if o.kind not in ("sky", "ground")]

    def moved(self, index: int, dx: float = 0.0, dy: float = 0.0) -> "Scene":
        """A copy with object ``index`` translated by (dx, dy) in unit coordinates."""
        out = copy.deepcopy(self)
        out.objects[index].shift(dx, dy)
        return out

    def reshaped(self, index: int, keypoint: str, dx: float = 0.0, dy: float = 0.0) -> "Scene":
        """A copy with one keypoint displaced (a peak raised, a tail bent, a tree grown)."""
        out = copy.deepcopy(self)
        out.objects[index].move_keypoint(keypoint, dx, dy)
        return out

    def caption(self) -> str:
        """A short prompt naming what is in the scene, e.g. 'two mountains, a sun and a tree'."""
        counts = {}
        for o in self.objects:
            if o.kind in NAMES:
                counts[o.kind] = counts.get(o.kind, 0) + 1
        parts = [f"{NUMBERS[n]} {NAMES[k][n > 1]}" for k, n in counts.items()]
        if not parts:
            return "a landscape"
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def random_scene(seed: int, background_seed: int | None = None) -> Scene:
    """A random landscape, deterministic by ``seed``.

    ``background_seed`` (when given) draws the sky and ground colours from another seed,
    so the same objects can be put on another background.
    """
    rng = np.random.default_rng(seed)
    bg = np.random.default_rng(seed if background_seed is None else background_seed)
    u = rng.uniform
    hue = bg.uniform(0.5, 0.7) if bg.uniform() < 0.7 else bg.uniform(0.0, 0.12)
    sky = Sky(_rgb(hue, bg.uniform(0.3, 0.8), bg.uniform(0.6, 0.95)),
              _rgb(hue + 0.05, bg.uniform(0.05, 0.35), bg.uniform(0.85, 1.0)))
    horizon = u(0.55, 0.75)
    ghue = bg.uniform(0.2, 0.38) if bg.uniform() < 0.75 else bg.uniform(0.07, 0.13)
    ground = Ground(horizon, _rgb(ghue, bg.uniform(0.4, 0.8), bg.uniform(0.45, 0.8)),
                    _rgb(ghue, bg.uniform(0.4, 0.9), bg.uniform(0.25, 0.5)))
    objects = [sky]
    if u() < 0.7:
        r = u(0.05, 0.1)
        objects.append(Sun(u(0.1, 0.9), u(0.08, horizon - 0.2), r,
                           _rgb(u(0.1, 0.16), u(0.6, 0.9), 1.0) if u() < 0.8 else (240, 240, 225)))
    for _ in range(rng.integers(0, 4)):
        px, w = u(0.1, 0.9), u(0.18, 0.4)
        peak = (px + u(-0.1, 0.1), horizon - u(0.15, 0.42))
        objects.append(Mountain(px - w, px + w, horizon + 0.01, peak,
                                _rgb(u(0.55, 0.75), u(0.1, 0.35), u(0.3, 0.6)), bool(u() < 0.5)))
    objects.append(ground)
    things = []
    for _ in range(rng.integers(0, 4)):
        h = u(0.15, 0.3)
        things.append(Tree(u(0.05, 0.95), u(horizon + 0.02, 0.95), h, h * u(0.25, 0.4),
                           bool(u() < 0.5), _rgb(0.08, 0.6, u(0.25, 0.4)),
                           _rgb(u(0.22, 0.4), u(0.5, 0.9), u(0.3, 0.6))))
    if u() < 0.4:
        w = u(0.14, 0.24)
        things.append(House(u(0.15, 0.85), u(horizon + 0.05, 0.9), w, w * u(0.6, 0.9), w * u(0.3, 0.6),
                            _rgb(u(0, 1), u(0.1, 0.4), u(0.7, 0.95)), _rgb(u(0, 0.05), u(0.5, 0.8), u(0.4, 0.7))))
    if u() < 0.5:
        rx = u(0.08, 0.13)
        x, y = u(0.2, 0.8), u(horizon + 0.08, 0.86)
        facing = 1 if u() < 0.5 else -1
        tail = (x - facing * rx * u(1.5, 2.2), y - u(0.05, 0.15))
        things.append(Creature(x, y, rx, rx * u(0.5, 0.65), facing, tail,
                               _rgb(u(0, 1), u(0.4, 0.8), u(0.3, 0.8))))
    things.sort(key=lambda o: o.base if hasattr(o, "base") else o.y)  # far (high) first
    return Scene(objects + things, seed=seed)


def render_batch(seeds, size: int = 64) -> np.ndarray:
    """uint8 (len(seeds), size, size, 3) images of ``random_scene(seed)``."""
    return np.stack([np.asarray(random_scene(int(s)).render(size)) for s in seeds])
