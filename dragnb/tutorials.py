"""Run the tutorial notebooks headless and keep their outputs: ``python -m dragnb.tutorials``.

Each notebook in ``notebooks/`` is executed top to bottom with the current Python
(the default model is the bundled teaching model on a CPU) and written back with
its pictures, so a reader sees them before running anything.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(path: Path, out: Path | None = None, timeout: int = 900) -> Path:
    """Execute the notebook at ``path``; write it (with outputs) to ``out`` (default: in place)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    out = out or path
    nbformat.write(nb, out)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    args = p.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        sys.exit(f"no notebooks found in {NOTEBOOKS}")
    for nb in paths:
        start = time.time()
        execute(nb)
        size = nb.stat().st_size / 1e6
        print(f"executed {nb} in {time.time() - start:.0f} s ({size:.2f} MB)")


if __name__ == "__main__":
    main()
