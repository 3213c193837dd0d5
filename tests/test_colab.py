"""Colab as it is: dragnb's wheel installed into a stand-in of Colab's runtime (``scripts/colab_standin.py``:
Python 3.13 with the versions Colab publishes, ``tests/colab/constraints.txt``) changes nothing Colab has,
and there a drag, the picker, the widget and the four tutorials run on ipywidgets 7.7.1, ipykernel 6.17.1
and IPython 7.34. The browser half (classic Notebook 6.5.7 with widgetsnbextension 3.6.10) is in
``test_browser.py``.
"""
import json
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

import colab_standin   # scripts/, on pytest's pythonpath
from dragnb.tutorials import NOTEBOOKS

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
# the versions of Colab's runtime a notebook front-end talks to, and those the tutorials compute with
FRONT = ("ipywidgets", "widgetsnbextension", "ipykernel", "jupyter-client", "ipython", "traitlets", "notebook")
COMPUTE = ("torch", "numpy", "diffusers", "transformers", "matplotlib", "pillow")


def test_the_stand_in_holds_colabs_versions(colab):
    pins = colab_standin.colab_versions()
    for name in FRONT + COMPUTE:
        assert colab.before[name] == pins[name], (name, colab.before[name], pins[name])
    assert colab.before["ipywidgets"].startswith("7.") and "dragnb" not in colab.before


def test_installing_the_wheel_with_notebook_extras_changes_nothing_colab_has(colab):
    assert colab_standin.changed(colab.before, colab.after) == {}
    added = sorted(set(colab.after) - set(colab.before))
    print("added by dragnb[notebook]:", {n: colab.after[n] for n in added})
    assert "dragnb" in added and "ipycanvas" in added


def test_tutorial_4s_extras_would_change_nothing_either(colab, wheel):
    """``[notebook,bench]`` (tutorial 4's cell on Colab: LPIPS for IF), resolved without installing."""
    done = subprocess.run([str(colab.python), "-m", "pip", "install", "--dry-run", "-q", "--report", "-",
                           "--disable-pip-version-check", f"{wheel}[notebook,bench]"],
                          capture_output=True, text=True, env={**os.environ, "PIP_CONSTRAINT": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    wanted = {colab_standin.normalise(i["metadata"]["name"]): i["metadata"]["version"]
              for i in json.loads(done.stdout)["install"]}
    clash = {n: (colab.after[n], v) for n, v in wanted.items() if n in colab.after and n != "dragnb"}
    assert clash == {} and "lpips" in wanted


def test_a_drag_the_picker_the_widget_and_every_tutorial_run_there(colab, tmp_path):
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    done = subprocess.run([str(colab.python), str(HERE / "colab" / "on_colab.py"), str(tmp_path), *map(str, paths)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(seen, indent=1))
    assert seen["python"].startswith("3.13.") and str(colab.venv) in seen["dragnb"]
    assert (seen["ipywidgets"], seen["ipykernel"], seen["ipython"]) == (
        colab.before["ipywidgets"], colab.before["ipykernel"], colab.before["ipython"])
    assert seen["drag"][0] == [64, 64]
    assert seen["picker"][:2] == [[[10.0, 10.0]], [[20.0, 12.0]]]
    assert seen["widget_run"] == [True, 3, True] and seen["widget_stop"] == [True, True, True, True]
    for path in paths:   # the screenshots of teaser_fig/ come with the repository, not with the wheel
        ran = seen["notebooks"][path.name]
        committed = sum("image/png" in o.get("data", {}) for c in nbformat.read(path, as_version=4).cells
                        if c.cell_type == "code" and "teaser_fig" not in c.source for o in c.outputs)
        assert ran["errors"] == [], (path.name, ran["errors"])
        assert ran["pictures"] == committed, (path.name, ran["pictures"], committed)
