"""Run the tutorial notebooks headless: ``python -m dragnb.tutorials``.

Each notebook in ``notebooks/`` is executed top to bottom with the current Python (the
default model is the bundled teaching model on a CPU) into ``notebooks/executed/``
(ignored by git: a user's clone stays clean), where it runs and leaves its files; without
progress bars, which a saved notebook would only carry as dead widgets.
``--in-place`` writes the committed notebooks back with their pictures instead (what the
project does before a release, so a reader sees them before running anything).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(path: Path, out: Path | None = None, timeout: int = 900) -> Path:
    """Execute the notebook at ``path``; write it (with outputs) to ``out`` (default: in place)."""
    import os

    import nbformat
    from nbclient import NotebookClient

    os.environ.setdefault("DRAGNB_PROGRESS", "0")  # a saved notebook keeps no progress bars
    nb = nbformat.read(path, as_version=4)
    out = out or path
    out.parent.mkdir(parents=True, exist_ok=True)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(out.parent)}}).execute()
    nbformat.write(nb, out)
    return out


def section(path: Path, tag: str, out: Path) -> Path:
    """Write to ``out`` the notebook at ``path`` cut down to its first two code cells (install and
    setup) and the code cells tagged ``tag`` (tutorial 3's "stable-diffusion" section); returns ``out``."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if tag in c.metadata.get("tags", [])]
    if not tagged:
        raise ValueError(f"{path.name} has no cell tagged {tag!r}")
    nb.cells = code[:2] + tagged
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    p.add_argument("--in-place", action="store_true", help="write the outputs into the notebooks themselves")
    args = p.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        sys.exit(f"no notebooks found in {NOTEBOOKS}")
    for nb in paths:
        start = time.time()
        print(f"running {nb.name} ...", flush=True)
        out = execute(nb, None if args.in_place else NOTEBOOKS / "executed" / nb.name)
        size = out.stat().st_size / 1e6
        print(f"executed {nb.name} in {time.time() - start:.0f} s -> {out} ({size:.2f} MB)", flush=True)


if __name__ == "__main__":
    main()
