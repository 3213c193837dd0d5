"""The drag widget: pick points, press Drag, watch it move, compare before and after.

    dragnb.DragWidget(model, image)

It is a :class:`PointPicker` plus a Drag button that runs a :class:`DragSession` with a
progress bar, a live preview with the handles' paths drawn on it, and a before/after
toggle at the end. "Continue from result" puts the result into the picker for a second
drag. A failed run (a point missing, say) says why and keeps every point and mask.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageColor, ImageDraw

from .picker import PointPicker, display_point, enlarge
from .plots import HANDLE, PATH, TARGET
from .session import DragSession


def annotate(image: Image.Image, paths, targets, scale: float) -> Image.Image:
    """``image`` enlarged by ``scale`` with each handle's path (yellow), where it is (red) and its target (blue)."""
    big = enlarge(image, scale)
    d = ImageDraw.Draw(big)

    def px(p):   # PIL addresses pixel corners, the canvas pixel centres: half a pixel apart
        x, y = display_point(p[0], p[1], scale)
        return (x - 0.5, y - 0.5)

    def dot(p, colour):
        x, y = px(p)
        d.ellipse([x - 5, y - 5, x + 5, y + 5], fill=ImageColor.getrgb(colour), outline="white")

    for path in paths:
        if len(path) > 1:
            d.line([px(p) for p in path], fill=ImageColor.getrgb(PATH), width=3)
        dot(path[-1], HANDLE)
    for t in targets:
        dot(t, TARGET)
    return big


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


class DragWidget:
    """A picker with a Drag button; ``results`` keeps every finished drag (DragResult)."""

    def __init__(self, model, image, prompt: str = "", preview_every: int = 5, **options):
        import ipywidgets as W

        self.model = model
        self.options = dict(options, preview_every=preview_every)
        self.picker = PointPicker(image, prompt=prompt, model=model)
        self.results = []
        self.session = None
        self.button = W.Button(description="Drag", button_style="primary", icon="arrows")
        self.button.on_click(lambda _b: self.run())
        self.again = W.Button(description="continue from result", disabled=True)
        self.again.on_click(lambda _b: self.continue_from_result())
        self.progress = W.IntProgress(value=0, min=0, max=1, description="steps")
        self.message = W.HTML()
        w, h = self.picker.state.display_size
        self.view = W.Image(format="png", width=w, height=h)
        self.compare = W.ToggleButtons(options=["before", "after"], value="after", disabled=True)
        self.compare.observe(lambda _ch: self._show_compare(), "value")
        self.widget = W.VBox([self.picker.widget,
                              W.HBox([self.button, self.progress, self.again]), self.message,
                              W.HBox([self.view, self.compare])])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def run(self):
        """Run one drag with the picker's points, mask and prompt (what the Drag button does)."""
        p = self.picker
        mask = p.mask if p.mask.any() else None
        self.button.disabled = True
        try:
            self.session = DragSession(self.model, p.image, p.handles, p.targets, mask=mask, prompt=p.prompt,
                                       **self.options)
            self.message.value = "inverting the image and finding the region..."
            self.progress.max = int(self.session.options.max_iters)
            self.progress.value = 0
            paths = [[tuple(h)] for h in self.session.start]
            for state in self.session.run():
                self.progress.value = state.step + 1
                for path, hp in zip(paths, state.handles):
                    path.append(tuple(hp))
                if state.preview is not None:
                    self._set_view(annotate(state.preview, paths, self.session.targets, p.state.scale))
                self.message.value = f"step {state.step}: {state.distance:.1f} px to go"
            result = self.session.result()
        except ValueError as e:
            self.message.value = f"<b style='color:#c62828'>cannot drag:</b> {e}"
            return None
        finally:
            self.button.disabled = False
        self.results.append(result)
        self.progress.value = self.progress.max if result.arrived else self.progress.value
        took = sum(result.timings.values())
        costs = " · ".join(f"{stage} {sec:.1f} s ({result.passes.get(stage, {}).get('forward', 0)} UNet passes)"
                           for stage, sec in result.timings.items() if sec >= 0.05)
        self.message.value = (f"done in {took:.1f} s, {len(result.history)} steps; "
                              f"{'arrived' if result.arrived else 'stopped before arriving'}"
                              f"<br><small>{costs}</small>")
        self.compare.disabled = False
        self.again.disabled = False
        self.compare.value = "after"
        self._show_compare()
        return result

    def _set_view(self, image: Image.Image):
        self.view.value = _png(image)

    def _show_compare(self):
        if not self.results:
            return
        r = self.results[-1]
        scale = self.picker.state.scale
        if self.compare.value == "before":
            self._set_view(annotate(r.original, [[tuple(h)] for h in r.start], r.targets, scale))
        else:
            paths = [[tuple(s)] + [tuple(st.handles[i]) for st in r.history] + [tuple(r.handles[i])]
                     for i, s in enumerate(r.start)]
            self._set_view(annotate(r.image, paths, r.targets, scale))

    def continue_from_result(self):
        """Start a new drag on the last result (points and mask cleared, prompt kept)."""
        if not self.results:
            return
        prompt = self.picker.prompt
        old = self.picker.widget
        self.picker = PointPicker(self.results[-1].image, prompt=prompt, model=self.model)
        self.widget.children = (self.picker.widget,) + tuple(c for c in self.widget.children if c is not old)
        self.again.disabled = True
