"""The drag widget driven in a browser: ``python scripts/widget_screenshots.py`` photographs it.

``drive(page, root)`` is one visit, shared with ``tests/test_browser.py``: on the notebook
``notebook(root)`` writes (a ``DragWidget`` on the teaching model, raising a peak with
DragDiffusion's loop, ``max_iters=200``), it presses **Drag**, runs another cell while the
drag runs and sees the step view follow the drag, presses **Stop** once the step
``stop_after`` shows, opens the settings, sets ``lam`` and ``max_iters``, drags again,
compares drag 1 with drag 2 in the history, steps back and types a step into *view step*;
then a last cell writes what the kernel holds to ``root/state.json``.

Run as a script, it does this in JupyterLab on loopback (``jupyter_loopback.py``) with
Debian's Chromium and saves the widget mid-run and after the two drags into
``teaser_fig/widget-running.png`` and ``teaser_fig/widget-two-drags.png`` (tutorial 2).
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat

import jupyter_loopback   # scripts/, next to this file

FIG = Path(__file__).resolve().parents[1] / "teaser_fig"
CELLS = ["""import dragnb
from dragnb.teaching.scenes import random_scene

model = dragnb.load("tiny")
scene = random_scene(2_000_188)
m = next(i for i in scene.draggable() if scene.objects[i].kind == "mountain")
peak = scene.keypoints(64)[(m, "peak")]
widget = dragnb.DragWidget(model, scene, preview_every=2, init="inverted", tolerance=0.0, max_iters=200)
widget.picker.handles, widget.picker.targets = [peak], [(peak[0], peak[1] - 9)]
widget""",
         """import json
json.dump({"running": widget.running, "steps": len(widget.session.history)}, open("alive.json", "w"))""",
         """json.dump({"drags": [{"steps": len(e.result.history), "stopped": e.stopped, "lam": e.result.options.lam,
                      "max_iters": e.result.options.max_iters} for e in widget.history],
           "handles": widget.picker.handles, "start": widget.history[-1].result.start.tolist(),
           "shown": list(widget.panel.shown()), "error": repr(widget.error),
           "disabled": [widget.button.disabled, widget.stop_button.disabled],
           "viewed": [widget._number(widget.viewed[0]), widget.viewed[1], len(widget.mechanism.value)]},
          open("state.json", "w"))"""]


def notebook(root: Path) -> Path:
    """The widget's notebook in ``root``."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path = Path(root) / "widget.ipynb"
    nbformat.write(nb, path)
    return path


def _wait_file(path: Path, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                return json.loads(path.read_text())
            except ValueError:   # being written
                pass
        time.sleep(0.2)
    raise TimeoutError(f"{path.name} was not written in {timeout:.0f} s")


def _wait_step(output, least: int, timeout: float = 120) -> int:
    """Wait until the widget's message shows step ``least`` or a later one; that step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.findall(r"step (\d+):", output.inner_text())
        if found and int(found[-1]) >= least:
            return int(found[-1])
        time.sleep(0.03)
    raise TimeoutError(f"the widget did not show step {least} in {timeout:.0f} s")


def _button(output, label: str):
    """The button labelled ``label`` (by its text: an icon would be part of its accessible name)."""
    return output.locator("button").filter(has_text=re.compile(rf"^\s*{label}\s*$"))


def _field(page, output, name: str, value: str) -> None:
    box = output.locator(".widget-text").filter(has=page.get_by_text(name, exact=True)).locator("input")
    box.fill(value)
    box.press("Enter")


def drive(page, root: Path, stop_after: int = 2, shots: Path | None = None, app: str = "lab") -> dict:
    """One visit (see the module docstring) in front-end ``app`` (``jupyter_loopback``'s names): what the
    kernel wrote, with ``alive`` (the cell run during the drag) and ``pressed`` (the steps the widget had
    shown when Stop was pressed)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    view = jupyter_loopback.view(page, app, "alive.json")
    output = view.locator(jupyter_loopback.OUTPUT[app]).filter(has=page.locator("canvas")).last

    def run(index):
        jupyter_loopback.run_cell(page, app, "alive.json", index)

    for name in ("alive.json", "state.json"):   # what the kernel writes now, not a file of an earlier visit
        (root / name).unlink(missing_ok=True)

    for _ in range(4):   # the first Shift+Enter can reach the page before the kernel
        run(0)
        try:
            output.wait_for(timeout=60_000)
            break
        except PlaywrightTimeout:
            continue
    _button(output, "Drag").click()
    _wait_step(output, 0)
    run(1)                    # the kernel answers a cell while the drag runs
    alive = _wait_file(root / "alive.json", 60)
    output.get_by_text("the drag under way, step", exact=False).wait_for(timeout=60_000)   # the step view follows
    if shots:
        _wait_step(output, stop_after - 1)
        time.sleep(0.6)                   # the chart's next redraw
        output.screenshot(path=str(shots / "widget-running.png"))
    pressed = _wait_step(output, stop_after) + 1    # steps done when Stop is pressed
    _button(output, "Stop").click()
    output.get_by_text("stopped by you").wait_for(timeout=60_000)
    output.get_by_text("settings", exact=True).click()
    _field(page, output, "lam", "0.5")
    _field(page, output, "max_iters", "6")
    _button(output, "Drag").click()
    output.get_by_text("did not arrive in max_iters = 6").wait_for(timeout=120_000)
    output.get_by_text("settings", exact=True).click()   # folded again
    history_a = output.locator(".widget-dropdown").filter(has=page.get_by_text("A", exact=True)).locator("select")
    history_a.select_option(label="drag 1: after")   # A: drag 1's result
    _button(output, "A").click()
    time.sleep(1.5)                       # the picture and the charts of drag 1
    if shots:
        output.screenshot(path=str(shots / "widget-two-drags.png"))
    _button(output, "step back").click()
    time.sleep(0.5)
    _field(page, output, "view step", "1")    # drag 1's step 1, in the step view
    output.get_by_text("drag 1, step 1:", exact=False).wait_for(timeout=60_000)
    time.sleep(0.5)
    run(2)
    state = _wait_file(root / "state.json", 60)
    buttons = {label: _button(output, label).is_enabled() for label in ("Drag", "Stop")}
    pictures = output.locator("img").evaluate_all("els => els.filter(e => e.complete && e.naturalWidth > 0).length")
    return {**state, "alive": alive, "pressed": pressed, "enabled": buttons, "pictures": pictures}


def main():
    with jupyter_loopback.lab_page(CELLS, "widget.ipynb", height=1800, width=1750) as (page, root):
        print(drive(page, root, stop_after=12, shots=FIG))
    for name in ("widget-running.png", "widget-two-drags.png"):
        jupyter_loopback.shrink(FIG / name)


if __name__ == "__main__":
    main()
