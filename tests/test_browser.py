"""The point picker and the drag widget in a real browser: JupyterLab 4 and Notebook 7 on
loopback, and the classic Notebook 6.5.7 with widgetsnbextension 3.6.10 and ipywidgets 7.7.1
(Colab's generation of front-end and widgets, served from the Colab stand-in: ``test_colab.py``);
Debian's Chromium, Playwright.

Clicks and a brush stroke on the canvas, then the kernel writes what the picker holds;
the test checks it against where it clicked, in the original image's pixels (the image
is shown scaled). The drag widget: Drag, a cell run while it drags, the step view following
it, Stop, a setting changed, a second drag, the history, a step typed into the step view
(``scripts/widget_screenshots.py``'s ``drive``). The server is ``scripts/jupyter_loopback.py``'s.
Skipped where Chromium or Playwright is missing; ``.ci/run`` installs both.
"""
import json
import os
import time
from pathlib import Path

import jupyter_loopback   # scripts/, on pytest's pythonpath
import widget_screenshots
import nbformat
import numpy as np
import pytest

CHROMIUM = jupyter_loopback.CHROMIUM
pw = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

W, H = 100, 75          # shown at x4: 400 x 300 display pixels


def _notebook(folder: Path) -> Path:
    cells = [nbformat.v4.new_code_cell(
        "import numpy as np, dragnb\n"
        f"rng = np.random.default_rng(0)\nimage = rng.integers(0, 255, ({H}, {W}, 3), dtype=np.uint8)\n"
        "picker = dragnb.PointPicker(image)\npicker"),
        nbformat.v4.new_code_cell(
            "import json\n"
            "json.dump({'handles': picker.handles, 'targets': picker.targets, 'scale': picker.state.scale,\n"
            "           'mask': np.argwhere(picker.mask).tolist()}, open('state.json', 'w'))")]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path = folder / "picker.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module", params=["lab", "notebook", "classic"])
def lab(request, tmp_path_factory):
    """A Jupyter server on loopback (JupyterLab 4, Notebook 7, or the classic Notebook 6 of the Colab
    stand-in): (url of the picker's notebook, root, app)."""
    app = request.param
    python = None
    if app == "notebook":
        pytest.importorskip("notebook")
    if app == "classic":
        python = str(request.getfixturevalue("colab").python)
    root = tmp_path_factory.mktemp(app)
    _notebook(root)
    widget_screenshots.notebook(root)
    try:
        proc, url = jupyter_loopback.start(app, root, python=python)
    except RuntimeError as e:
        pytest.fail(str(e))
    yield jupyter_loopback.url(url, app, "picker.ipynb"), root, app
    jupyter_loopback.stop(proc)


def _dismiss_dialogs(page):
    """Accept any dialog JupyterLab put up (a kernel choice, a notice): it would swallow the clicks."""
    for _ in range(3):
        dialog = page.locator(".jp-Dialog")
        if not dialog.count():
            return
        print("dismissing a JupyterLab dialog:", dialog.first.inner_text()[:200].replace("\n", " "))
        accept = dialog.first.locator(".jp-mod-accept")
        (accept.first.click() if accept.count() else page.keyboard.press("Escape"))
        time.sleep(0.5)


def _picker_view(page, app):
    """The picker notebook's view (JupyterLab may hold the widget's notebook in another tab)."""
    return jupyter_loopback.view(page, app, "picker.state.scale")


def _run_cell(page, app, index: int):
    _dismiss_dialogs(page)
    jupyter_loopback.run_cell(page, app, "picker.state.scale", index)


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"])


def test_clicks_and_a_stroke_reach_the_kernel_in_image_pixels(lab):
    url, root, app = lab
    rng = np.random.default_rng(1)
    clicks = []  # ten random display positions, far enough apart not to grab an earlier point
    while len(clicks) < 10:
        c = rng.uniform([10, 10], [390, 290])
        if all(np.hypot(*(c - d)) > 25 for d in clicks):
            clicks.append(c)
    clicks = np.array(clicks)
    with pw.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            _picker_view(page, app).locator(jupyter_loopback.CELL[app]).first.wait_for(timeout=60_000)
            jupyter_loopback.wait_kernel(page, app)
            canvas = _picker_view(page, app).locator(f"{jupyter_loopback.OUTPUT[app]} canvas").last
            for attempt in range(4):  # the first Shift+Enter can reach the page before the kernel
                _run_cell(page, app, 0)
                try:
                    canvas.wait_for(timeout=10_000 if app == "classic" else 20_000)
                    break
                except pw.TimeoutError:
                    page.screenshot(path=str(root / f"no-canvas-{attempt}.png"))
            for _ in range(40):   # its layout (400 x 300 display pixels) may come a moment after it
                time.sleep(0.25)
                box = canvas.bounding_box()
                if abs(box["width"] - 400) < 1 and abs(box["height"] - 300) < 1:
                    break
            assert abs(box["width"] - 400) < 1 and abs(box["height"] - 300) < 1, box
            for x, y in clicks:
                page.mouse.click(box["x"] + x, box["y"] + y)
                time.sleep(0.15)
            extra = (200, 5)  # an eleventh click, then the "u" shortcut takes it back
            page.mouse.click(box["x"] + extra[0], box["y"] + extra[1])
            time.sleep(0.2)
            page.keyboard.press("u")
            time.sleep(0.3)
            n_cells = _picker_view(page, app).locator(jupyter_loopback.CELL[app]).count()   # "u" left the notebook be
            page.get_by_text("brush", exact=True).click()
            stroke = [(60 + 20 * i, 150) for i in range(8)]
            page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
            page.mouse.down()
            for x, y in stroke[1:]:
                page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
                time.sleep(0.05)
            page.mouse.up()
            time.sleep(0.5)
            (root / "state.json").unlink(missing_ok=True)   # the widget test writes one too
            _run_cell(page, app, 1)
            for _ in range(120):
                if (root / "state.json").exists():
                    break
                time.sleep(0.25)
            page.screenshot(path=str(root / "screenshot.png"))
        finally:
            browser.close()
    state = json.loads((root / "state.json").read_text())
    assert state["scale"] == 4.0
    assert n_cells == 2
    assert len(state["handles"]) == len(state["targets"]) == 5  # the 11th click was undone by "u"
    expected = clicks / 4 - 0.5  # canvas coordinates (pixel i spans [i, i+1)) -> image pixel centres
    got = np.array([p for pair in zip(state["handles"], state["targets"]) for p in pair])
    assert got.shape == (10, 2)
    err = np.abs(got - expected).max()
    print(f"ten clicks on a x4 display: largest error {err:.3f} image pixels")
    assert err <= 1.0, f"clicks landed {err:.2f} image pixels off"
    mask = np.array(state["mask"])  # (row, col) of painted pixels
    assert len(mask) > 0
    for x, y in stroke:
        ix, iy = x / 4 - 0.5, y / 4 - 0.5
        assert np.min(np.hypot(mask[:, 1] - ix, mask[:, 0] - iy)) <= 1.0


def test_the_drag_widget_stops_takes_a_setting_and_keeps_its_history(lab):
    url, root, app = lab
    url = url.replace("picker.ipynb", "widget.ipynb")
    with pw.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(url)
            jupyter_loopback.view(page, app, "alive.json").locator(jupyter_loopback.CELL[app]).first.wait_for(
                timeout=60_000)
            jupyter_loopback.wait_kernel(page, app)
            _dismiss_dialogs(page)
            try:
                state = widget_screenshots.drive(page, root, stop_after=2, app=app)
            finally:
                page.screenshot(path=str(root / "widget.png"))
        finally:
            browser.close()
    print(state)
    first, second = state["drags"]
    assert state["alive"]["running"] and state["error"] == "None"      # a cell ran while it dragged
    # Stop ends the drag after the step under way when the click lands; the page read the step count a
    # moment (one short step at most) before the click
    assert first["stopped"] and state["pressed"] <= first["steps"] <= state["pressed"] + 2 < 200
    assert first["lam"] == 0.1 and second["lam"] == 0.5 and second["max_iters"] == second["steps"] == 6
    assert state["shown"] == [0, "after"]                            # A: drag 1's result
    assert state["handles"] == state["start"]                        # stepped back to drag 2's start
    assert state["disabled"] == [False, True] and state["enabled"] == {"Drag": True, "Stop": False}
    assert state["viewed"][:2] == [1, 1] and state["viewed"][2] > 1000  # the step typed in: drag 1's step 1
    assert state["pictures"] >= 3                                    # the picture, the chart, the step view
