"""Every tutorial runs top to bottom on the CPU (into a copy: the committed outputs stay)."""
from pathlib import Path

import nbformat
import pytest

from dragnb.tutorials import NOTEBOOKS, execute

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def _shown(cell) -> tuple:
    """What a code cell showed: (pictures, whether it printed)."""
    pictures = sum("image/png" in o.get("data", {}) for o in cell.outputs)
    printed = any(o.output_type == "stream" and o.name == "stdout" and o.text.strip() for o in cell.outputs)
    return pictures, printed


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_runs_and_shows_what_its_committed_copy_shows(path, tmp_path):
    committed = nbformat.read(path, as_version=4)
    nb = nbformat.read(execute(path, tmp_path / path.name), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0].get("evalue")
    assert sum(_shown(c)[0] for c in code) >= 3
    before = [_shown(c) for c in committed.cells if c.cell_type == "code"]
    now = [_shown(c) for c in code]
    differ = [i for i, (a, b) in enumerate(zip(before, now)) if a != b]
    assert not differ, f"code cells {differ} show (pictures, printed) {[now[i] for i in differ]}, " \
                       f"committed {[before[i] for i in differ]}: re-execute with python -m dragnb.tutorials --in-place"


def test_notebooks_are_committed_executed_and_small():
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), f"{path.name} has cells that were not run"
        assert path.stat().st_size < 2_000_000, f"{path.name} is over 2 MB"
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
