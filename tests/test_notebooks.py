"""Every tutorial runs top to bottom on the CPU (into a copy: the committed outputs stay)."""
from pathlib import Path

import nbformat
import pytest

from dragnb.tutorials import NOTEBOOKS, execute

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_runs_and_shows_pictures(path, tmp_path):
    out = execute(path, tmp_path / path.name)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3


def test_notebooks_are_committed_executed_and_small():
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), f"{path.name} has cells that were not run"
        assert path.stat().st_size < 2_000_000, f"{path.name} is over 2 MB"
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
