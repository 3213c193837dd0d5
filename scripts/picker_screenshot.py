"""A screenshot of the point picker in JupyterLab: ``python scripts/picker_screenshot.py``.

The picker is a live widget, which GitHub and nbviewer cannot show; tutorial 2 shows this
picture of it instead. The picker is the tutorial's own (the cat photo with its two drags),
run in JupyterLab on loopback (``scripts/jupyter_loopback.py``) and photographed with Debian's
Chromium through Playwright (as ``tests/test_browser.py`` does), into ``teaser_fig/picker.png``.
"""
from __future__ import annotations

import time
from pathlib import Path

import jupyter_loopback   # scripts/, next to this file

OUT = Path(__file__).resolve().parents[1] / "teaser_fig" / "picker.png"
# tutorial 2's picker and the drags it sets from Python
CELL = """import dragnb
from skimage import data
picker = dragnb.PointPicker(data.chelsea(), prompt="a photo of a cat")
picker.handles = [(372, 28), (265, 238)]
picker.targets = [(372, 8), (235, 238)]
picker"""


def main():
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with jupyter_loopback.lab_page([CELL], "picker.ipynb") as (page, _root):
        output = page.locator(".jp-OutputArea-output").filter(has=page.locator("canvas")).last
        for _ in range(4):   # the first Shift+Enter can reach the page before the kernel
            page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            try:
                output.wait_for(timeout=30_000)
                break
            except PlaywrightTimeout:
                continue
        time.sleep(2.0)   # the canvas draws the photo and the points
        output.screenshot(path=str(OUT))
    jupyter_loopback.shrink(OUT)


if __name__ == "__main__":
    main()
