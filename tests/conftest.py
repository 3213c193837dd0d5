"""Shared fixtures: a tiny random Stable-Diffusion-shaped model, saved and loaded like a real one.

The hub is forced offline and every non-loopback connection fails, so no test can
touch the network.
"""
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["DRAGNB_PROGRESS"] = "0"
os.environ.setdefault("MPLBACKEND", "Agg")

import socket  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")) \
            and self.family in (socket.AF_INET, socket.AF_INET6):
        raise OSError(f"tests may not use the network (tried {address})")
    return _connect(self, address)


socket.socket.connect = _loopback_only


@pytest.fixture(scope="session")
def tiny_sd_path(tmp_path_factory):
    """A random SD-shaped model (32 px images, 16x16 latents) saved as a diffusers folder."""
    from dragnb.random_models import save_random_model

    return save_random_model(tmp_path_factory.mktemp("models") / "tiny-sd", "test")


@pytest.fixture(scope="session")
def tiny_sd(tiny_sd_path):
    import dragnb

    return dragnb.load(tiny_sd_path, device="cpu")


@pytest.fixture
def scene_image():
    """A 32x32 two-colour test picture: a red square on a blue background."""
    a = np.zeros((32, 32, 3), np.uint8)
    a[:] = (40, 60, 200)
    a[8:20, 10:22] = (220, 30, 30)
    return a


@pytest.fixture(autouse=True)
def _close_figures():
    """Outside a Jupyter kernel dragnb's figures are pyplot's: close them after each test."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="session")
def teaching():
    """The bundled teaching model."""
    import dragnb

    return dragnb.load("tiny", device="cpu", verbose=False)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """dragnb's wheel, built from the checkout."""
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(Path(__file__).resolve().parents[1])], check=True, cwd=out)
    (path,) = out.glob("dragnb-*.whl")
    return path


@pytest.fixture(scope="session")
def colab(wheel):
    """The Colab stand-in (``scripts/colab_standin.py``: Python 3.13 with Colab's published versions) with
    dragnb's wheel installed as a Colab notebook's first cell installs it, ``[notebook]``: a namespace of
    ``venv``, ``python`` and the ``before`` and ``after`` freezes. Skipped where the stand-in cannot be
    built (no Python 3.13, too little disk), failed for that in CI, where one is expected."""
    import subprocess
    import types

    import colab_standin   # scripts/, on pytest's pythonpath

    try:
        venv = colab_standin.build()
    except colab_standin.Unavailable as e:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"no Colab stand-in here: {e}")
    before = colab_standin.freeze(venv)
    py = colab_standin.python(venv)
    done = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[notebook]"],
                          capture_output=True, text=True, env={**os.environ, "PIP_CONSTRAINT": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    return types.SimpleNamespace(venv=venv, python=py, before=before, after=colab_standin.freeze(venv))
