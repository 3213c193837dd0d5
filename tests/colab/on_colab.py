"""Run inside the Colab stand-in (``scripts/colab_standin.py``) after dragnb's wheel is installed there:
a teaching drag, the point picker driven as its canvas would drive it, the drag widget's ``run()`` and a
background drag stopped, then the given notebooks executed by Colab's nbclient and ipykernel.
Prints one JSON line of what it saw; ``tests/test_colab.py`` reads it.

    python on_colab.py OUT_DIR [NOTEBOOK ...]
"""
import json
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path

os.environ.update(HF_HUB_OFFLINE="1", DRAGNB_PROGRESS="0", MPLBACKEND="Agg")

import numpy as np  # noqa: E402

import dragnb  # noqa: E402
from dragnb.teaching.scenes import random_scene  # noqa: E402


def main(out: Path, notebooks: list[Path]) -> dict:
    seen = {"python": sys.version.split()[0], "dragnb": dragnb.__file__,
            **{name: version(name) for name in ("ipywidgets", "ipykernel", "ipython", "ipycanvas", "torch")}}
    model = dragnb.load("tiny", verbose=False)
    image = random_scene(seed=3_000_014).render(64)
    result = dragnb.drag(model, image, [(30.2, 9.0)], [(23.8, 9.0)])
    seen["drag"] = [result.image.size, len(result.history)]

    picker = dragnb.PointPicker(image)
    for x, y in [(10, 10), (20, 12)]:              # two clicks on the canvas: a handle, then its target
        picker._down(*picker.state.to_display(x, y))
    seen["picker"] = [picker.handles, picker.targets, picker.canvas.width]

    widget = dragnb.DragWidget(model, image, max_iters=3, tolerance=0.0, init="inverted")
    widget.picker.handles, widget.picker.targets = [(30.2, 9.0)], [(23.8, 9.0)]
    done = widget.run()
    seen["widget_run"] = [done is not None, len(done.history) if done else None, widget.view.value[:4] == b"\x89PNG"]
    widget.picker.handles, widget.picker.targets = [(30.2, 9.0)], [(30.2, 30.0)]
    started = widget.start()
    time.sleep(0.5)
    widget.stop()
    stopped = widget.wait(120)
    seen["widget_stop"] = [started, stopped is not None, widget.error is None, not widget.running]

    from dragnb.tutorials import execute
    import nbformat
    seen["notebooks"] = {}
    for path in notebooks:
        start = time.monotonic()
        ran = nbformat.read(execute(path, out / path.name), as_version=4)
        errors = [o.get("evalue") for c in ran.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        pictures = sum("image/png" in o.get("data", {}) for c in ran.cells
                       if c.cell_type == "code" and "teaser_fig" not in c.source for o in c.outputs)
        seen["notebooks"][path.name] = {"errors": errors, "pictures": pictures,
                                        "seconds": round(time.monotonic() - start, 1)}
    return seen


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])))
