"""The drag widget: pick points, press Drag, watch it move, stop it, tune it, compare drags.

    dragnb.DragWidget(model, image)          # or a teaching-model scene instead of the image

A :class:`PointPicker` with, under it: **Drag** (runs a :class:`DragSession` in a
background thread, so the notebook stays usable) and **Stop** (ends the drag after the
step under way and keeps what it did as the result); a progress bar; the live preview
with the handles' paths; live charts of the handle's distance to its target and of the
losses (``charts``: on a scene, also where the picture's content is); the mechanism of a
chosen step (``mechanism_plots``: what point tracking compared, what motion supervision
pulled, where the latent changed), following the drag or any drag of the history; a
settings panel (``settings``) and the history of finished drags (``history``).
``run()`` does the same as Drag in the calling thread (scripts, tests); ``start()``,
``stop()`` and ``wait()`` are the buttons' Python side. A refused drag says why and keeps
every point and mask.
"""
from __future__ import annotations

import io
import threading
import time
import warnings

import numpy as np
from PIL import Image, ImageColor, ImageDraw

from ..teaching.cases import picture_distance
from ..options import DragOptions
from ..session import DragSession
from .charts import Trace, chart_png, scene_case
from .figures import HANDLE, PATH, TARGET
from .history import Entry, HistoryPanel, export_gif, export_sample
from .mechanism_plots import mechanism_png, recorded
from .picker import PointPicker
from .picker_state import display_point, enlarge
from .settings import FIELDS, SettingsPanel

CHART_EVERY = 0.5   # seconds between two redraws of the live charts
MECHANISM_EVERY = 2.0   # seconds between two redraws of the live mechanism view


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


def _for_user(caught) -> list[str]:
    """The caught warnings a user should read, each once: not the libraries' deprecation notices (a
    background drag also catches those of the kernel's own threads)."""
    noise = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
    return list(dict.fromkeys(str(w.message) for w in caught if not issubclass(w.category, noise)))


def _paths(result) -> list:
    """Each handle's path through a ``DragResult``: [[(x, y), ...], ...]."""
    return [[tuple(s)] + [tuple(st.handles[i]) for st in result.history] + [tuple(result.handles[i])]
            for i, s in enumerate(result.start)]


class DragWidget:
    """A picker with Drag and Stop, live charts, settings and a history (``history``: [Entry])."""

    def __init__(self, model, image, prompt: str = "", preview_every: int = 5, scene=None, **options):
        import ipywidgets as W

        if hasattr(image, "render") and hasattr(image, "keypoints"):   # a teaching-model scene
            scene, image = image, image.render(model.native_size)
        DragOptions.for_model(model, preview_every=preview_every, **options)   # refuse bad options now
        self.model, self.scene = model, scene
        self.options = {k: v for k, v in options.items() if k not in FIELDS}
        self.options["preview_every"] = preview_every
        self.options.setdefault("mechanism", True)   # the step view records each step's mechanism
        self.settings = SettingsPanel(model, **{k: v for k, v in options.items() if k in FIELDS})
        self.picker = PointPicker(image, prompt=prompt, model=model)
        self.history: list = []
        self.session = None
        self.error = None                 # the last unexpected error of a drag in the background
        self._stop = threading.Event()
        self._thread = None
        self._running = False
        self.button = W.Button(description="Drag", button_style="primary", icon="arrows")
        self.button.on_click(lambda _b: self.start())
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                    tooltip="end the drag after the step under way; what it did is kept")
        self.stop_button.on_click(lambda _b: self.stop())
        self.again = W.Button(description="continue from result", disabled=True)
        self.again.on_click(lambda _b: self.continue_from_result())
        self.progress = W.IntProgress(value=0, min=0, max=1, description="steps")
        self.message = W.HTML()
        w, h = self.picker.state.display_size
        self.view = W.Image(format="png", width=w, height=h)
        self.chart = W.Image(format="png")
        self.panel = HistoryPanel(self)
        self.step_box = W.BoundedIntText(description="view step", min=0, max=0, layout=W.Layout(width="170px"),
                                         tooltip="the optimisation step whose mechanism is shown below")
        self.step_slider = W.IntSlider(min=0, max=0, continuous_update=False, readout=False,
                                       layout=W.Layout(width="280px"))
        W.link((self.step_box, "value"), (self.step_slider, "value"))
        self.step_box.observe(self._on_step, "value")
        self.step_caption = W.HTML("<small>the mechanism of a step shows here once a drag has taken one</small>")
        self.mechanism = W.Image(format="png", width=460)
        self.viewed = None                # (the drag shown in the step view, its step), once one is
        self._viewing = None              # the DragSession or DragResult the step view reads
        self._following = True            # the step view follows the newest step
        self._setting = False
        self.accordion = W.Accordion(children=[self.settings.widget], selected_index=None)
        self.accordion.set_title(0, "settings")   # ipywidgets 7 (Colab) and 8 alike
        self.widget = W.VBox([self.picker.widget,
                              W.HBox([self.button, self.stop_button, self.progress, self.again]), self.message,
                              self.accordion,
                              W.HBox([self.view, self.chart, W.VBox([W.HBox([self.step_box, self.step_slider]),
                                                                     self.step_caption, self.mechanism],
                                                                    layout=W.Layout(width="480px"))],
                                     layout=W.Layout(flex_flow="row wrap")),
                              self.panel.widget])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    @property
    def results(self) -> list:
        """Every finished drag's ``DragResult``, oldest first."""
        return [e.result for e in self.history]

    @property
    def running(self) -> bool:
        """A drag is under way (Drag is off, Stop on)."""
        return self._running

    # -- running a drag ---------------------------------------------------------------
    def start(self) -> bool:
        """Start a drag in a background thread (what Drag does); False if it was refused."""
        if self.running:
            return False
        job = self._prepare()
        if job is None:
            return False
        self._thread = threading.Thread(target=self._background, args=job, daemon=True, name="dragnb-drag")
        self._thread.start()
        return True

    def run(self):
        """Run one drag in this thread: the ``DragResult``, or None if it was refused (the message says why)."""
        job = self._prepare()
        if job is None:
            return None
        try:
            return self._drive(*job)
        except ValueError as e:
            self._refused(e)
            return None
        finally:
            self._busy(False)

    def stop(self) -> None:
        """End the drag under way after its current step (what Stop does)."""
        self._stop.set()

    def wait(self, timeout: float | None = None):
        """Wait for a background drag to end; the last ``DragResult`` (None if none)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.history[-1].result if self.history else None

    def _prepare(self):
        """Check the picker's drag and the settings in this thread: (session, job details) or None."""
        p = self.picker
        painted = p.mask if p.mask.any() else None
        settings = {**self.settings.values(), **self.options}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                session = DragSession(self.model, p.image, p.handles, p.targets, mask=painted, prompt=p.prompt,
                                      **settings)
        except ValueError as e:
            self._refused(e)
            return None
        self._stop.clear()
        self.session = session
        self._busy(True)
        return session, dict(settings=settings, painted=painted, prompt=p.prompt, warned=_for_user(caught))

    def _background(self, session, job):
        try:
            self._drive(session, job)
        except ValueError as e:
            self._refused(e)
        except Exception as e:   # shown in the widget: a thread's exception would reach no cell
            self.error = e
            self.message.value = f"<b style='color:#c62828'>the drag failed:</b> {type(e).__name__}: {e}"
        finally:
            self._busy(False)

    def _drive(self, session, job):
        """Run ``session`` to its end or to Stop, showing each step; keep and return its result."""
        h, t = session.start[0], session.targets[0]
        trace = Trace(length=float(np.hypot(*(t - h))))
        case = None if self.scene is None else scene_case(self.scene, h, t, session.image.width)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self._say("inverting the image and finding the region...", job)
            session.prepare()
            where = "painted" if job["painted"] is not None else "found under the handles"
            region = f"editable region: {int(session.mask.sum())} image pixels ({where})"
            self.progress.max, self.progress.value = session.options.max_iters, 0
            stopped = self._steps(session, trace, case, region, job)
            result = session.result()
        job["warned"] = list(dict.fromkeys(job["warned"] + _for_user(caught)))
        if case is not None:
            trace.result_picture = picture_distance(case, result.image)
        entry = Entry(result, job["settings"], job["painted"], job["prompt"], stopped, trace)
        self.history.append(entry)
        self._done(entry, region, job)
        return result

    def _steps(self, session, trace: Trace, case, region: str, job) -> bool:
        """Step ``session`` until it ends or Stop is pressed (True: stopped)."""
        paths = [[tuple(hp)] for hp in session.start]
        drawn = looked = 0.0
        self._following = True
        steps = session.run()
        try:
            for state in steps:
                trace.add(state)
                self.progress.value = state.step + 1
                for path, hp in zip(paths, state.handles):
                    path.append(tuple(hp))
                if state.preview is not None:
                    self.view.value = _png(annotate(state.preview, paths, session.targets, self.picker.state.scale))
                    if case is not None:
                        trace.picture.append((state.step, picture_distance(case, state.preview)))
                if time.monotonic() - drawn > CHART_EVERY:
                    self.chart.value, drawn = chart_png(trace, height=self._chart_height()), time.monotonic()
                now = time.monotonic() - looked > MECHANISM_EVERY
                self._offer(session, state.step, render=now and self._following)   # else: only the range grows
                looked = time.monotonic() if now else looked
                seen = f"; the picture {trace.picture[-1][1]:.1f} px" if trace.picture else ""
                self._say(f"step {state.step}: tracking finds the handle {state.distance:.1f} image pixels from "
                          f"its target{seen}<br><small>{region}</small>", job)
                if self._stop.is_set():
                    return True
        finally:
            steps.close()
        return self._stop.is_set()

    def _say(self, text: str, job) -> None:
        warned = "".join(f"<br><small style='color:#b26a00'>warning: {w}</small>" for w in job["warned"])
        self.message.value = text + warned

    def _done(self, entry: Entry, region: str, job) -> None:
        r = entry.result
        took = sum(r.timings.values())
        end = ("stopped by you" if entry.stopped else "arrived" if r.arrived
               else f"did not arrive in max_iters = {r.options.max_iters} steps")
        costs = " · ".join(f"{stage} {sec:.1f} s ({r.passes.get(stage, {}).get('forward', 0)} UNet passes)"
                           for stage, sec in r.timings.items() if sec >= 0.05)
        self.progress.value = len(r.history)
        self.panel.update()   # shows the result, its charts and its last step's mechanism (show_picture)
        self._busy(False)
        self._say(f"done in {took:.1f} s, {len(r.history)} steps: {end}; tracking finds the handle "
                  f"{r.distance:.1f} image pixels from its target<br><small>{region}</small>"
                  f"<br><small>{costs}</small>", job)   # last: once it shows, the widget is ready

    def _chart_height(self) -> int:
        return int(min(480, max(300, self.picker.state.display_size[1])))

    def _refused(self, e: Exception) -> None:
        self.message.value = f"<b style='color:#c62828'>cannot drag:</b> {e}"

    def _busy(self, busy: bool) -> None:
        self._running = busy
        self.button.disabled = busy
        self.stop_button.disabled = not busy
        self.again.disabled = busy or not self.history

    # -- the history ------------------------------------------------------------------
    def show_picture(self, k: int, which: str) -> None:
        """Show drag ``k``'s input ("before") or result ("after") with its points."""
        r = self.history[k].result
        scale = self.picker.state.scale
        if which == "before":
            self.view.value = _png(annotate(r.original, [[tuple(h)] for h in r.start], r.targets, scale))
        else:
            self.view.value = _png(annotate(r.image, _paths(r), r.targets, scale))
        self.chart.value = chart_png(self.history[k].trace, height=self._chart_height())
        self._following = True
        self._offer(r, r.history[-1].step if r.history else 0)

    # -- the step view ----------------------------------------------------------------
    def show_step(self, step: int) -> None:
        """Show ``step``'s mechanism (of the drag under way, or of the drag last shown from the history)."""
        self.step_box.value = step   # the box's observer draws it

    def _on_step(self, change) -> None:
        if self._setting:
            return
        self._following = change["new"] >= self.step_box.max
        self._draw_step(change["new"])

    def _offer(self, drag, last: int, render: bool = True) -> None:
        """Let the step view choose among ``drag``'s steps up to ``last``; show ``last`` if following."""
        self._viewing = drag
        self._setting = True
        try:
            first = drag.history[0].step if drag.history else 0
            for w in (self.step_box, self.step_slider):
                w.max = max(last, first)
                w.min = first
            if self._following and render:   # the box shows the step the view shows
                self.step_box.value = last
        finally:
            self._setting = False
        if render:
            self._draw_step(self.step_box.value)

    def _draw_step(self, step: int) -> None:
        drag = self._viewing
        if drag is None:
            return
        try:
            steps = recorded(drag)
        except ValueError:
            self.step_caption.value = "<small>this drag did not record its mechanism (mechanism=False)</small>"
            return
        if not steps:
            self.step_caption.value = "<small>this drag took no optimisation step: no mechanism to show</small>"
            self.mechanism.value = b""
            return
        step = min(max(step, steps[0].step), steps[-1].step)
        self.mechanism.value = mechanism_png(drag, step)
        self.viewed = (drag, step)
        which = "the drag under way" if hasattr(drag, "run") else f"drag {self._number(drag)}"
        self.step_caption.value = (f"<small>{which}, step {step}: tracking's window (bright: nearest the "
                                   "handle's feature; star: where it put the handle), the patch motion "
                                   "supervision pulls, and the latent's change by the step and so far</small>")

    def _number(self, result) -> int:
        return next((k + 1 for k, e in enumerate(self.history) if e.result is result), len(self.history))

    def save_gif(self, path, k: int = -1) -> str:
        """Drag ``k`` of the history (the last by default) as a GIF: input, previews, result, marked."""
        return export_gif(self.history[k], path)

    def save_sample(self, folder, k: int = -1):
        """Drag ``k`` as a DragBench sample folder, its result beside it as ``edited.png``."""
        return export_sample(self.history[k], folder)

    def continue_from_result(self):
        """Start a new drag on the last result (points and mask cleared, prompt kept)."""
        if self.history:
            self._new_picker(self.history[-1].result.image, prompt=self.picker.prompt)
            self.again.disabled = True

    def back(self):
        """The picker returns to where the last drag started: its image, points, painted mask and
        prompt (the drag stays in the history)."""
        if self.history and not self.running:
            e = self.history[-1]
            r = e.result
            self._new_picker(r.original, [tuple(p) for p in r.start], [tuple(p) for p in r.targets], e.painted,
                             e.prompt)

    def _new_picker(self, image, handles=None, targets=None, mask=None, prompt: str = ""):
        old = self.picker.widget
        self.picker = PointPicker(image, handles, targets, mask, prompt=prompt, model=self.model)
        self.widget.children = (self.picker.widget,) + tuple(c for c in self.widget.children if c is not old)
