"""The wheel is complete: built from the checkout, installed with ``[notebook]`` into a fresh virtual
environment outside the source tree, it loads the teaching model and drags.

The new environment borrows the test environment's installed packages (torch, diffusers, ...) through a
path entry, so that nothing is downloaded and the install takes seconds; dragnb itself comes only from
the wheel (the checkout's editable install is not visible there).
"""
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow   # builds a wheel and a virtual environment


def test_the_wheel_holds_the_teaching_weights_its_settings_and_the_samples(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "dragnb/teaching/weights/dragnb.json" in names
    assert any(n.startswith("dragnb/teaching/weights/unet/") and n.endswith(".safetensors") for n in names)
    assert sum(n.startswith("dragnb/data/dragbench-samples/") for n in names) >= 12


def test_the_wheel_installed_with_notebook_extras_elsewhere_loads_tiny_and_drags(wheel, tmp_path):
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    py = env / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")   # dependencies, not dragnb
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation",
                    f"{wheel}[notebook]"], check=True, cwd=tmp_path)
    code = ("import dragnb, dragnb.bench.dragbench, ipycanvas, ipywidgets, numpy as np\n"
            "assert dragnb.__file__.startswith(%r), dragnb.__file__\n"
            "m = dragnb.load('tiny', verbose=False)\n"
            "r = dragnb.drag(m, np.full((64, 64, 3), 120, np.uint8), [(20, 30)], [(28, 30)], max_iters=3)\n"
            "print('ok', r.image.size, len(dragnb.bench.dragbench.find_samples(dragnb.bench.samples.SAMPLES)))") % str(site)
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ok (64, 64) 4" in out.stdout
