"""Every tutorial runs top to bottom on the CPU (into a copy: the committed outputs stay)."""
import json
import re
from pathlib import Path

import nbformat
import pytest

from dragnb.tutorials import NOTEBOOKS, execute

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
# a path of the machine that executed a notebook (a warning's file name, say) says nothing to a reader
ABSOLUTE = re.compile(r"/work/|/home/|/root/|/tmp/|/Users/|[A-Za-z]:\\|site-packages")


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


def _texts(cell):
    """Every text a code cell's outputs hold (pictures' bytes left out)."""
    for o in cell.outputs:
        if o.output_type == "stream":
            yield o.text
        elif o.output_type == "error":
            yield from [o.get("evalue", ""), *o.get("traceback", [])]
        else:
            for mime, value in o.get("data", {}).items():
                if mime.startswith("text/") or mime.endswith("json"):
                    yield value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_committed_outputs_hold_no_absolute_path(path):
    nb = nbformat.read(path, as_version=4)
    found = [(i, m.group(0), text[max(0, m.start() - 40):m.end() + 40])
             for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for text in _texts(cell) for m in [ABSOLUTE.search(text)] if m]
    assert not found, f"{path.name}: cell {found[0][0]} shows a path of the machine ({found[0][1]!r}): " \
                      f"...{found[0][2]}..."
