"""Every tutorial runs top to bottom on the CPU (into a copy: the committed outputs stay)."""
import json
import re
from pathlib import Path

import nbformat
import pytest

from dragnb.tutorials import NOTEBOOKS, execute, section

PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
# a path of the machine that executed a notebook (a warning's file name, say) says nothing to a reader
ABSOLUTE = re.compile(r"/work/|/home/|/root/|/tmp/|/Users/|[A-Za-z]:\\|site-packages")


def _shown(cell) -> tuple:
    """What a code cell showed: (pictures, whether it printed)."""
    pictures = sum("image/png" in o.get("data", {}) for o in cell.outputs)
    printed = any(o.output_type == "stream" and o.name == "stdout" and o.text.strip() for o in cell.outputs)
    return pictures, printed


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("name", ["03_drag_step_by_step.ipynb", "04_dragbench.ipynb"])
def test_the_stable_diffusion_sections_run_on_a_stand_in_model(name, tiny_sd_path, tmp_path, monkeypatch):
    """A tutorial's setup cells and its cells tagged "stable-diffusion", with DRAGNB_SD_MODEL set to a random
    SD-shaped folder on a CPU: the GPU section's own code, pictures and all."""
    part = section(NOTEBOOKS / name, "stable-diffusion", tmp_path / "sd_section.ipynb")
    monkeypatch.setenv("DRAGNB_SD_MODEL", str(tiny_sd_path))
    ran = nbformat.read(execute(part, tmp_path / "run" / part.name), as_version=4)
    errors = [o for c in ran.cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0].get("evalue")
    shown = [_shown(c) for c in ran.cells[2:]]
    assert sum(p for p, _ in shown) >= 2 and not any("skipped" in t for c in ran.cells for t in _texts(c))


def _install(source: str | None, colab: bool, monkeypatch, path=None, stderr: str = "", code: int = 0) -> list:
    """Run a tutorial's first code cell as IPython would, with ``DRAGNB_SOURCE`` = ``source``, on Colab or
    not, pip answering with exit ``code`` and ``stderr``: what it asked of pip and of Colab."""
    import subprocess
    import sys
    import types

    from IPython.core.inputtransformer2 import TransformerManager

    cell = [c for c in nbformat.read(path or PATHS[0], as_version=4).cells if c.cell_type == "code"][0]
    ran = []

    def pip(args, **kw):
        ran.append(("pip", args[args.index("install"):]))
        return subprocess.CompletedProcess(args, code, "", stderr)

    colab_mod = types.ModuleType("google.colab")
    colab_mod.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: ran.append(("widgets", "")))
    monkeypatch.setattr(subprocess, "run", pip)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", colab_mod)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    if source is None:
        monkeypatch.delenv("DRAGNB_SOURCE", raising=False)
    else:
        monkeypatch.setenv("DRAGNB_SOURCE", source)
    code_ = TransformerManager().transform_cell(cell.source)
    exec(compile(code_, "install-cell", "exec"), {"__name__": "__main__"})
    return ran


def test_every_tutorial_starts_with_the_same_install_cell_but_its_extras():
    first = [[c for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code"][0].source for p in PATHS]
    same = {"\n".join(line for line in f.splitlines() if not line.startswith("EXTRAS =")) for f in first}
    assert len(same) == 1 and "DRAGNB_SOURCE" in first[0] and "%pip" not in first[0]


@pytest.mark.parametrize("source, spec", [
    (None, "dragnb[notebook]"),
    ("dragnb-0.1.0-py3-none-any.whl", "dragnb-0.1.0-py3-none-any.whl[notebook]"),
    ("/content/dragnb", "/content/dragnb[notebook]"),
    ("git+https://example.org/me/dragnb", "dragnb[notebook] @ git+https://example.org/me/dragnb")])
def test_the_install_cell_installs_the_notebook_extras_from_the_source_given_on_colab(source, spec, monkeypatch):
    ran = _install(source, True, monkeypatch)
    assert ran == [("pip", ["install", "-q", spec]), ("widgets", "")]


def test_tutorial_4_installs_what_if_needs_on_colab(monkeypatch):
    ran = _install(None, True, monkeypatch, path=NOTEBOOKS / "04_dragbench.ipynb")
    assert ran[0] == ("pip", ["install", "-q", "dragnb[notebook,bench]"])


def test_dragnb_missing_from_the_index_says_in_one_line_how_to_install_from_the_repository(monkeypatch):
    said = "ERROR: Could not find a version that satisfies the requirement dragnb (from versions: none)\n" \
           "ERROR: No matching distribution found for dragnb\n"
    with pytest.raises(SystemExit) as e:
        _install(None, True, monkeypatch, stderr=said, code=1)
    message = str(e.value)
    assert "\n" not in message and "not on the package index" in message
    assert "DRAGNB_SOURCE" in message and "git+https://" in message


def test_another_pip_failure_is_shown_as_pip_said_it(monkeypatch):
    with pytest.raises(SystemExit) as e:
        _install("/content/dragnb", True, monkeypatch, stderr="ERROR: Directory '/content/dragnb' does not exist", code=1)
    assert "/content/dragnb[notebook]" in str(e.value) and "does not exist" in str(e.value)


def test_the_install_cell_does_nothing_off_colab(monkeypatch):
    assert _install("dragnb-0.1.0-py3-none-any.whl", False, monkeypatch) == []


def _sentences(path):
    """(markdown cell index, text without fenced code) of every markdown cell."""
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "markdown":
            yield i, re.sub(r"```.*?```", "", cell.source, flags=re.S)


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_no_long_sentence_twice_and_inline_code_closed(path):
    seen, twice, open_code = {}, [], []
    for i, text in _sentences(path):
        if text.count("`") % 2:
            open_code.append(i)
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
            key = sentence.strip().lower()
            if len(key.split()) >= 8:
                if key in seen:
                    twice.append((seen[key], i, sentence[:80]))
                seen.setdefault(key, i)
    assert not open_code, f"{path.name}: markdown cells {open_code} leave inline code open"
    assert not twice, f"{path.name}: sentences said twice (cells, sentence): {twice}"
