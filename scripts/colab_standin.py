"""A stand-in for Google Colab's Python runtime: a Python 3.13 virtual environment holding Colab's
own versions of the packages dragnb meets there (its kernel, its widgets, torch, diffusers, ...).

Colab publishes its runtime's packages (the ``googlecolab/backend-info`` repository, ``pip-freeze.txt``).
``tests/colab/constraints.txt`` is that list, named with its source and date; ``refresh`` rewrites it
from a newer ``pip-freeze.txt``. ``build`` makes the environment from it, ``freeze`` reads what it holds,
``changed`` compares two freezes. ``tests/test_colab.py`` installs dragnb's wheel there as a Colab user
would and checks that nothing Colab had was changed.

    python scripts/colab_standin.py build [VENV]              # default .colab-venv (ignored by git)
    python scripts/colab_standin.py refresh PIP_FREEZE --source "googlecolab/backend-info <commit>, <date>"

Torch: Colab's CPU runtime has PyTorch's CPU build (``2.11.0+cpu``), which only PyTorch's own index
serves; the stand-in takes the package index's build of the same release, which brings CUDA's libraries
and runs on the CPU all the same.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "tests" / "colab" / "constraints.txt"
VENV = ROOT / ".colab-venv"
# what Colab has that dragnb or its notebooks meet: installed at Colab's versions (with what they need)
PACKAGES = ["torch", "torchvision", "diffusers", "transformers", "tokenizers", "peft", "accelerate",
            "huggingface_hub", "safetensors", "numpy", "scipy", "scikit-image", "matplotlib", "pillow",
            "imageio", "imageio-ffmpeg", "tqdm", "requests", "ipywidgets", "widgetsnbextension",
            "jupyterlab_widgets", "notebook", "ipykernel", "jupyter_client", "ipython", "traitlets", "tornado",
            "nbclient", "nbformat", "nbconvert", "jupyter_core", "pyzmq"]
CUDA = re.compile(r"^(nvidia-|cuda-|triton=)", re.I)
# what a build takes on disk: the environment (about 5.5 GB, CUDA's libraries with the index's torch)
# and pip's unpacking room beside it
NEEDS_GB = 8
_URL = re.compile(r"^([A-Za-z0-9_.\-]+) @ \S*/[A-Za-z0-9_]+-([0-9][^-]*?)(?:%2B|\+)[^-]*-")


def refresh(freeze: str, source: str) -> str:
    """The constraints file's text for Colab's ``pip freeze`` output ``freeze``: one ``name==version`` a
    line; a package pinned by URL (torch's CPU build) becomes its plain version; other URLs are left out."""
    lines = [f"# Colab's runtime packages, from {source} (pip-freeze.txt).",
             "# Written by scripts/colab_standin.py refresh; URL pins became plain versions, other URLs left out."]
    for line in freeze.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if " @ " in line:
            m = _URL.match(line)
            if m:
                lines.append(f"{m.group(1)}=={m.group(2)}")
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def colab_versions() -> dict[str, str]:
    """{normalised name: version} of the constraints file."""
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[normalise(name)] = version.strip()
    return pins


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def find_python313() -> str | None:
    """A Python 3.13 interpreter: ``$DRAGNB_PY313``, ``python3.13`` on PATH, or pyenv's; None if none."""
    found = [os.environ.get("DRAGNB_PY313"), shutil.which("python3.13"),
             *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")), reverse=True)]
    for py in filter(None, found):
        try:
            ok = subprocess.run([py, "-c", "import sys, venv; assert sys.version_info[:2] == (3, 13)"],
                                capture_output=True).returncode == 0
        except OSError:
            ok = False
        if ok:
            return py
    return None


class Unavailable(RuntimeError):
    """This machine cannot build the stand-in (no Python 3.13, too little disk); the message says what to do."""


def room(where: Path) -> None:
    """Raise ``Unavailable`` unless the disk holding ``where`` has ``NEEDS_GB`` free."""
    where = Path(where).resolve()
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free / 2**30
    if free < NEEDS_GB:
        raise Unavailable(f"the Colab stand-in needs about {NEEDS_GB} GB free at {where}, and {free:.1f} GB are: "
                          "free some disk, or build it elsewhere (python scripts/colab_standin.py build PATH)")


def python(venv: Path) -> Path:
    return Path(venv) / "bin" / "python"


def freeze(venv: Path) -> dict[str, str]:
    """{normalised name: version} of what ``venv`` holds (pip, setuptools and wheel included)."""
    out = subprocess.run([str(python(venv)), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
                         check=True, capture_output=True, text=True).stdout
    return {normalise(n): v for n, v in (line.split("==", 1) for line in out.splitlines() if "==" in line)}


def changed(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple]:
    """{name: (before, after)} for every package of ``before`` whose version differs or that is gone."""
    return {n: (v, after.get(n)) for n, v in before.items() if after.get(n) != v}


def _stamp() -> str:
    return hashlib.sha256((CONSTRAINTS.read_text() + " ".join(PACKAGES)).encode()).hexdigest()[:16]


def build(venv: Path = VENV, py: str | None = None) -> Path:
    """Make (or reuse) the stand-in at ``venv``: Colab's packages at Colab's versions, nothing of dragnb.
    A stand-in built from other constraints, or one whose Colab packages have since changed, is rebuilt;
    packages added since (dragnb and what it brought) are uninstalled. Returns ``venv``."""
    venv = Path(venv)
    stamp, base = venv / "colab-stamp.txt", venv / "colab-freeze.txt"
    if stamp.exists() and stamp.read_text() == _stamp() and base.exists():
        kept = dict(line.split("==", 1) for line in base.read_text().splitlines())
        now = freeze(venv)
        if not changed(kept, now):
            extra = sorted(set(now) - set(kept))
            if extra:
                subprocess.run([str(python(venv)), "-m", "pip", "uninstall", "-q", "-y", *extra], check=True)
            return venv
    py = py or find_python313()
    if py is None:
        raise Unavailable("no Python 3.13 found (set DRAGNB_PY313, or install one: pyenv install 3.13)")
    shutil.rmtree(venv, ignore_errors=True)
    room(venv.parent)
    subprocess.run([py, "-m", "venv", str(venv)], check=True)
    pins = venv / "colab-constraints.txt"   # CUDA's libraries go with the index's torch, not Colab's pins
    pins.write_text("".join(f"{line}\n" for line in CONSTRAINTS.read_text().splitlines()
                            if not CUDA.match(line)))
    env = {**os.environ, "PIP_CONSTRAINT": ""}   # Colab's pins alone, not this machine's
    done = subprocess.run([str(python(venv)), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "--no-cache-dir", "-c", str(pins), *PACKAGES], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        raise RuntimeError(f"pip could not install Colab's packages into the stand-in (exit {done.returncode}):\n"
                           + (done.stdout + done.stderr)[-3000:])
    base.write_text("".join(f"{n}=={v}\n" for n, v in sorted(freeze(venv).items())))
    stamp.write_text(_stamp())
    return venv


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="make the stand-in environment")
    b.add_argument("venv", nargs="?", type=Path, default=VENV)
    r = sub.add_parser("refresh", help="rewrite tests/colab/constraints.txt from Colab's pip-freeze.txt")
    r.add_argument("freeze", type=Path)
    r.add_argument("--source", required=True, help='e.g. "googlecolab/backend-info a724079, 2026-08-19"')
    args = p.parse_args(argv)
    if args.cmd == "build":
        try:
            venv = build(args.venv)
        except Unavailable as e:
            sys.exit(f"colab_standin: {e}")
        pins = colab_versions()
        held = freeze(venv)
        print(f"{venv}: {len(held)} packages, "
              f"{sum(pins.get(n) == v for n, v in held.items())} at Colab's pinned versions")
    else:
        CONSTRAINTS.write_text(refresh(args.freeze.read_text(), args.source))
        print(f"wrote {CONSTRAINTS}")


if __name__ == "__main__":
    main()
