"""Click points and paint masks in a notebook: ``dragnb.PointPicker(image)``.

Click once for a handle (red), again for its target (blue); drag a point to move it.
In brush mode, paint (or erase) the region that may change. "auto region" (with a model)
suggests the region under the latest handle (``dragnb.find_region``); in region mode each
click adds a point to that suggestion (a roof as well as a door), and the "similar"
slider grows or shrinks it live; "accept region" adds it to the mask. Everything the
picker reports is in the *original* image's pixels, whatever size it is shown at.

The state (points, mask, undo history, display scale) is a plain object,
:class:`PickerState`, that works without a browser; :class:`PointPicker` draws it
on an ipycanvas ``MultiCanvas`` (image, mask overlay, points) and wires the events.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .. import validate
from ..samples import read_sample
from .figures import HANDLE, TARGET
from .picker_state import PickerState, enlarge

# Keys no notebook binds in command mode (JupyterLab, Notebook 7, VS Code): a, b, x, y, z... would
# insert, cut or retype cells there, and Lumino takes them before the canvas sees them.
SHORTCUTS = ("p points · w brush · e erase · t region points · u undo · U redo · q remove last pair · "
             "g auto region")


def _rgba(mask: np.ndarray, color=(40, 220, 90), alpha: int = 100) -> np.ndarray:
    out = np.zeros((*mask.shape, 4), np.uint8)
    out[mask] = (*color, alpha)
    return out


class PointPicker:
    """The picker widget; display it as the last expression of a cell.

    ``handles``, ``targets``, ``mask``, ``prompt`` can be read and set at any time.
    ``model``: needed only for the "auto region" button (``dragnb.find_region``).
    """

    def __init__(self, image, handles=None, targets=None, mask=None, prompt: str = "", model=None, scale=None):
        self.state = PickerState(image, handles, targets, mask, prompt, scale)
        self.model = model
        self._grab = None
        self._painting = False
        self._suggestion = None
        self._region_points = []   # points the suggested region must hold (image pixels)
        self._features = None      # the image's DIFT features and pieces, computed once for the suggestions
        self._pieces = None
        self._build()
        self.redraw(image=True)

    # -- public state -------------------------------------------------------------------
    def _points(kind: str):   # noqa: N805 -- builds the handles/targets properties below
        def get(self) -> list:
            return list(getattr(self.state, kind + "s"))

        def put(self, pts):
            pts = self.state.valid_points(pts, kind)
            n_handles = len(pts) if kind == "handle" else len(self.state.handles)
            n_targets = len(pts) if kind == "target" else len(self.state.targets)
            if n_targets > n_handles:   # a handle may wait for its target, never the other way round
                raise ValueError(f"that leaves {n_targets} target(s) for {n_handles} handle(s): every target needs "
                                 f"its handle (set the targets first when there are to be fewer handles)")
            self.state.checkpoint()
            setattr(self.state, kind + "s", pts)
            self.redraw()
        return property(get, put, doc=f"The {kind} points, (x, y) image pixels; setting them checks them (no more "
                                      f"targets than handles) and redraws.")

    handles = _points("handle")
    targets = _points("target")
    del _points

    @property
    def mask(self) -> np.ndarray:
        return self.state.mask.copy()

    @mask.setter
    def mask(self, m):
        self.state.checkpoint()
        self.state.mask = self.state.valid_mask(m)
        self.redraw()

    @property
    def prompt(self) -> str:
        return self.state.prompt

    @prompt.setter
    def prompt(self, text: str):
        text = validate.text("prompt", text)   # None: no prompt
        self.state.prompt = text
        self._prompt.value = text

    @property
    def image(self) -> Image.Image:
        return self.state.image

    def save(self, folder):
        """Write the edit as a DragBench sample folder."""
        return self.state.save(folder)

    @classmethod
    def load(cls, folder, model=None, **kw) -> "PointPicker":
        """A picker from a DragBench sample folder."""
        s = read_sample(folder)
        return cls(s.image, [tuple(p) for p in s.handles], [tuple(p) for p in s.targets], s.mask, s.prompt,
                   model=model, **kw)

    # -- widgets ------------------------------------------------------------------------
    def _build(self):
        import ipywidgets as W
        from ipycanvas import MultiCanvas

        w, h = self.state.display_size
        self.canvas = MultiCanvas(3, width=w, height=h)
        self.canvas.layout.width, self.canvas.layout.height = f"{w}px", f"{h}px"
        self._mode = W.ToggleButtons(options=[("points", "points"), ("brush", "brush"), ("erase", "erase"),
                                              ("region", "region")],
                                     value="points", style={"button_width": "64px"})
        self._similar = W.FloatSlider(value=0.5, min=-0.2, max=1.0, step=0.01, description="similar",
                                      tooltip="the suggested region's similarity threshold: lower grows it")
        self._similar.observe(lambda ch: self._suggest(threshold=ch["new"]) if self._region_points else None,
                              "value")
        self._radius = W.IntSlider(value=max(2, round(max(self.state.size) / 24)), min=1,
                                   max=max(4, max(self.state.size) // 4), description="radius")
        self._prompt = W.Text(value=self.state.prompt, placeholder="prompt (optional)", description="prompt")
        self._prompt.observe(lambda ch: setattr(self.state, "prompt", ch["new"]), "value")
        buttons = {"undo": self.undo, "redo": self.redo, "remove pair": self.remove_pair, "clear": self.clear,
                   "auto region": self.auto_region, "accept region": self.accept_region}
        self._buttons = {}
        for label, fn in buttons.items():
            b = W.Button(description=label, layout=W.Layout(width="auto"))
            b.on_click(lambda _b, fn=fn: fn())
            self._buttons[label] = b
        self._info = W.HTML()
        self._help = W.HTML(f"<small>{SHORTCUTS}</small>")
        self.widget = W.VBox([W.HBox([self._mode, self._radius, self._similar]), self.canvas,
                              W.HBox(list(self._buttons.values())), self._prompt, self._info, self._help])
        self.canvas.on_mouse_down(self._down)
        self.canvas.on_mouse_move(self._drag)
        self.canvas.on_mouse_up(self._up)
        self.canvas.on_key_down(self._key)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # -- events -------------------------------------------------------------------------
    def _down(self, x, y):
        if self._mode.value == "region":
            self.add_region_point(*self.state.to_image(x, y))
        elif self._mode.value == "points":
            self._grab = self.state.point_at(x, y)
            if self._grab is not None:
                self.state.checkpoint()
            else:
                self.state.click(x, y)
            self.redraw()
        else:
            self.state.checkpoint()
            self._painting = True
            self.state.paint(x, y, self._radius.value, self._mode.value == "brush")
            self.redraw(points=False)

    def _drag(self, x, y):
        if self._grab is not None:
            self.state.move(self._grab, x, y)
            self.redraw(mask=False)
        elif self._painting:
            self.state.paint(x, y, self._radius.value, self._mode.value == "brush")
            self.redraw(points=False)

    def _up(self, x, y):
        self._grab = None
        self._painting = False

    def _key(self, key, shift, ctrl, meta):
        if ctrl or meta:
            return
        if key == "U" or (key == "u" and shift):
            return self.redo()
        actions = {"u": self.undo, "q": self.remove_pair, "g": self.auto_region}
        modes = {"p": "points", "w": "brush", "e": "erase", "t": "region"}
        if key in modes:
            self._mode.value = modes[key]
        elif key in actions:
            actions[key]()

    # -- actions --------------------------------------------------------------------------
    def undo(self):
        self._grab = None   # the point held may be gone
        self.state.undo()
        self.redraw()

    def redo(self):
        self._grab = None
        self.state.redo()
        self.redraw()

    def remove_pair(self, i: int = -1):
        self._grab = None
        self.state.remove_pair(i)
        self.redraw()

    def clear(self):
        self._grab = None
        self.state.clear()
        self._suggestion = None
        self._region_points = []
        self.redraw()

    def auto_region(self):
        """Suggest ``find_region`` for the latest handle (orange), at its automatic threshold (the
        "similar" slider moves to it); "accept region" adds it to the mask."""
        if self.model is None or not self.state.handles:
            self._info.value = "auto region needs <code>model=</code> and at least one handle"
            return
        self._region_points = [tuple(self.state.handles[-1])]
        self._suggest("auto")

    def add_region_point(self, x: float, y: float):
        """Add (x, y) (image pixels) to the points the suggested region holds, at the slider's threshold."""
        if self.model is None:
            self._info.value = "region points need <code>model=</code>"
            return
        self._region_points.append(tuple(validate.image_points((x, y), self.state.size, "region point")[0]))
        self._suggest(self._similar.value)

    def _suggest(self, threshold):
        from ..features import dift_features
        from ..region import image_pieces, region_steps

        if self._features is None:
            self._features = dift_features(self.model, self.state.image)
        if self._pieces is None:
            self._pieces = image_pieces(self._features)
        steps = region_steps(None, self.state.image, self._region_points, threshold=threshold,
                             features=self._features, pieces=self._pieces)
        self._suggestion = steps.mask
        if threshold == "auto":   # show where the automatic threshold put the slider, without re-suggesting
            points, self._region_points = self._region_points, []
            self._similar.value = round(steps.threshold, 2)
            self._region_points = points
        self._info.value = (f"suggested region: {int(steps.mask.sum())} pixels from {len(self._region_points)} "
                            f"point(s), similarity >= {steps.threshold:.2f}; click <b>accept region</b>, "
                            "move <i>similar</i>, or add points in region mode")
        self.redraw()

    def accept_region(self):
        if self._suggestion is None:
            return
        self.state.checkpoint()
        self.state.mask = self.state.mask | self._suggestion
        self._suggestion = None
        self._region_points = []
        self.redraw()

    # -- drawing --------------------------------------------------------------------------
    def redraw(self, image: bool = False, mask: bool = True, points: bool = True):
        from ipycanvas import hold_canvas

        s = self.state
        w, h = s.display_size
        with hold_canvas():
            if image:
                self.canvas[0].put_image_data(np.asarray(enlarge(s.image, s.scale)), 0, 0)
            if mask:
                over = _rgba(s.mask)
                if self._suggestion is not None:
                    over[self._suggestion & ~s.mask] = (255, 150, 30, 90)
                layer = Image.fromarray(over).resize((w, h), Image.NEAREST)
                self.canvas[1].clear()
                self.canvas[1].put_image_data(np.asarray(layer), 0, 0)
            if points:
                self._draw_points()
        if self._suggestion is None:
            self._info.value = self.status()

    def status(self) -> str:
        s = self.state
        n = len(s.handles)
        pending = " — click its target" if len(s.targets) < n else ""
        painted = int(s.mask.sum())
        mask = (f"mask: {painted} image pixels painted" if painted
                else "mask: none painted (a drag finds the region under its handles)")
        return (f"{n} handle(s), {len(s.targets)} target(s){pending}; {mask}; "
                f"image {s.size[0]}x{s.size[1]} pixels shown x{s.scale:.2f}")

    def _draw_points(self):
        c = self.canvas[2]
        c.clear()
        s = self.state
        for p in self._region_points if self._suggestion is not None else []:
            c.fill_style = "rgb(255, 150, 30)"
            c.fill_circle(*s.to_display(*p), 4)
        for i, hp in enumerate(s.handles):
            hx, hy = s.to_display(*hp)
            if i < len(s.targets):
                tx, ty = s.to_display(*s.targets[i])
                c.stroke_style, c.line_width = "white", 4
                c.stroke_line(hx, hy, tx, ty)
                c.stroke_style, c.line_width = "black", 1.5
                c.stroke_line(hx, hy, tx, ty)
                c.fill_style = TARGET
                c.fill_circle(tx, ty, 6)
                c.stroke_style, c.line_width = "white", 1.5
                c.stroke_circle(tx, ty, 6)
            c.fill_style = HANDLE
            c.fill_circle(hx, hy, 6)
            c.stroke_style, c.line_width = "white", 1.5
            c.stroke_circle(hx, hy, 6)
            c.fill_style, c.font = "white", "bold 12px sans-serif"
            c.fill_text(str(i + 1), hx + 8, hy - 8)
