"""A screenshot of the point picker in JupyterLab: ``python scripts/picker_screenshot.py``.

The picker is a live widget, which GitHub and nbviewer cannot show; tutorial 2 shows this
picture of it instead. The picker is the tutorial's own (the cat photo with its two drags),
run in JupyterLab on loopback (``scripts/jupyter_loopback.py``) and photographed with Debian's
Chromium through Playwright (as ``tests/test_browser.py`` does), into ``teaser_fig/picker.png``.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from PIL import Image

import jupyter_loopback   # scripts/, next to this file

OUT = Path(__file__).resolve().parents[1] / "teaser_fig" / "picker.png"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# tutorial 2's picker and the drags it sets from Python
CELL = """import dragnb
from skimage import data
picker = dragnb.PointPicker(data.chelsea(), prompt="a photo of a cat")
picker.handles = [(372, 28), (265, 238)]
picker.targets = [(372, 8), (235, 238)]
picker"""


def main():
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        sys.exit("needs Debian's chromium (apt-get install chromium) and playwright (pip install playwright)")
    root = Path(tempfile.mkdtemp())
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nb, root / "picker.ipynb")
    try:
        proc, url = jupyter_loopback.start("lab", root)
    except RuntimeError as e:
        sys.exit(str(e))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.goto(f"{url}/lab/tree/picker.ipynb")
            page.get_by_text("Kernel status: Idle").first.wait_for(state="attached", timeout=60_000)
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
            browser.close()
    finally:
        jupyter_loopback.stop(proc)
        shutil.rmtree(root, ignore_errors=True)
    # a photo's screenshot: 256 colours keep it small without visible loss
    Image.open(OUT).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
