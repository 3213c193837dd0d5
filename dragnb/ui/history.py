"""The drag widget's history: every finished drag kept with its settings, compared, exported.

``Entry`` is one finished drag; ``HistoryPanel`` shows any two pictures of the history
(each drag's input and result) one at a time behind an A/B toggle, steps the picker back
to where the last drag started, and writes a drag as a GIF (``plots.drag_animation``) or
as a DragBench sample folder with its result (``samples.write_sample`` + ``edited.png``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..samples import write_sample
from .animation import drag_animation
from .charts import Trace


@dataclass
class Entry:
    """One finished drag."""

    result: object            # DragResult
    settings: dict            # the options it was given
    painted: np.ndarray | None   # the mask the user painted (None: the region was found)
    prompt: str
    stopped: bool             # ended by Stop
    trace: Trace

    def label(self, k: int) -> str:
        """A line saying what drag ``k`` (from 1) did."""
        r = self.result
        end = "stopped" if self.stopped else "arrived" if r.arrived else "did not arrive"
        return f"drag {k}: {len(r.history)} steps, {end}, {r.distance:.1f} px to go"


def export_gif(entry: Entry, path) -> str:
    """The drag as a GIF: the input, each preview, the result, marked with handles and targets."""
    return drag_animation(entry.result, path, before=True)


def export_sample(entry: Entry, folder) -> Path:
    """The drag as a DragBench sample folder (its input, points, editable region and prompt),
    with the result beside it as ``edited.png``."""
    r = entry.result
    folder = write_sample(folder, r.original, r.start, r.targets, r.mask, entry.prompt)
    r.image.save(Path(folder) / "edited.png")
    return Path(folder)


class HistoryPanel:
    """Compare two pictures of the history (A/B), step back, export; ``owner`` is the DragWidget."""

    def __init__(self, owner):
        import ipywidgets as W

        self.owner = owner
        self.a = W.Dropdown(description="A", options=[], layout=W.Layout(width="220px"),
                            style={"description_width": "20px"})
        self.b = W.Dropdown(description="B", options=[], layout=W.Layout(width="220px"),
                            style={"description_width": "20px"})
        self.show = W.ToggleButtons(options=["A", "B"], value="B", style={"button_width": "40px"})
        self._filling = False   # update() sets several values: one refresh at its end, not one each
        for w in (self.a, self.b, self.show):
            w.observe(lambda _ch: None if self._filling else self.refresh(), "value")
        self.back = W.Button(description="step back", icon="undo", layout=W.Layout(width="auto"),
                             tooltip="the picker returns to where the last drag started, with its points and mask")
        self.back.on_click(lambda _b: owner.back())
        self.path = W.Text(value="dragnb-export", description="export to", layout=W.Layout(width="300px"))
        self.gif = W.Button(description="save GIF", layout=W.Layout(width="auto"))
        self.gif.on_click(lambda _b: self._export("gif"))
        self.sample = W.Button(description="save DragBench sample", layout=W.Layout(width="auto"))
        self.sample.on_click(lambda _b: self._export("sample"))
        self.message = W.HTML()
        self.widget = W.VBox([W.HBox([self.a, self.b, self.show, self.back]),
                              W.HBox([self.path, self.gif, self.sample]), self.message])
        self.update()

    def pictures(self) -> list:
        """[(label, (entry index, "before" | "after"))] for the dropdowns."""
        out = []
        for k, e in enumerate(self.owner.history):
            out += [(f"drag {k + 1}: before", (k, "before")), (f"drag {k + 1}: after", (k, "after"))]
        return out

    def update(self) -> None:
        """Fill the dropdowns after a drag and show B: A = the last drag's input, B = its result."""
        items = self.pictures()
        self._filling = True
        try:
            for w in (self.a, self.b):
                w.options = items
            if items:
                self.a.value, self.b.value = items[-2][1], items[-1][1]
            self.show.value = "B"
        finally:
            self._filling = False
        for w in (self.a, self.b, self.show, self.back, self.gif, self.sample):
            w.disabled = not items
        self.refresh()

    def shown(self):
        """(entry index, "before" | "after") of the picture the toggle shows, or None."""
        return (self.a if self.show.value == "A" else self.b).value

    def refresh(self) -> None:
        which = self.shown()
        if which is not None:
            self.owner.show_picture(*which)

    def _export(self, kind: str) -> None:
        which = self.shown()
        k = which[0] if which is not None else -1
        base = Path(self.path.value or "dragnb-export")
        try:
            out = (self.owner.save_gif(base.with_suffix(".gif"), k) if kind == "gif"
                   else self.owner.save_sample(base, k))
        except (ValueError, OSError) as e:
            self.message.value = f"<b style='color:#c62828'>cannot save:</b> {e}"
            return
        self.message.value = f"drag {k + 1 if k >= 0 else len(self.owner.history)} saved to <code>{out}</code>"
