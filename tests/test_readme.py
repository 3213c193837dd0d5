"""The README's first example runs as written on a CPU and moves the peak."""
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _blank(path) -> bool:
    from PIL import Image

    return np.asarray(Image.open(path).convert("L"), float).std() < 1.0


def test_the_readmes_first_example_runs_as_written_and_drags(tmp_path, monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    r = scope["result"]
    assert r.image.size == (64, 64) and scope["mask"][9, 30]
    assert len(r.history) >= 5 and r.history[-1].distance < r.history[0].distance   # the loop ran and tracked
    changed = np.abs(np.asarray(r.image, int) - np.asarray(scope["image"], int)).max(-1) > 20
    assert changed[4:14, 20:27].any()   # something moved between the old sun and the target
    plt.savefig("pyplot.png")            # the figure is pyplot's current one in a script
    assert not _blank("drag.png") and not _blank("pyplot.png")
    plt.close("all")


def test_a_photo_on_the_teaching_model_is_warned_about_once():
    import warnings

    import dragnb

    model = dragnb.load("tiny", device="cpu", verbose=False)
    photo = np.zeros((300, 400, 3), np.uint8)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")    # Python's own: once per place a warning is issued from
        for _ in range(2):
            dragnb.DragSession(model, photo, [(10, 10)], [(30, 10)])
    assert len([w for w in seen if "knows only 64-px landscapes" in str(w.message)]) == 1
