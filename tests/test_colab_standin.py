"""The Colab stand-in's builder (``scripts/colab_standin.py``) says why it cannot build, in words: too little
disk, or pip's own last lines when an install fails; and it leaves no half-built environment behind."""
import shutil
import sys
from collections import namedtuple

import pytest

import colab_standin   # scripts/, on pytest's pythonpath


def test_too_little_disk_is_named_before_anything_is_built(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda where: usage(10 * 2**30, 7 * 2**30, 3 * 2**30))
    with pytest.raises(colab_standin.Unavailable, match=r"needs about 8 GB free .* 3\.0 GB are"):
        colab_standin.build(tmp_path / "venv", py=sys.executable)
    assert not (tmp_path / "venv").exists()


def test_a_failed_install_reports_pips_words_and_removes_the_environment(tmp_path, monkeypatch):
    monkeypatch.setattr(colab_standin, "NEEDS_GB", 0)
    monkeypatch.setattr(colab_standin, "PACKAGES", [str(tmp_path / "no-such-package")])
    with pytest.raises(RuntimeError, match=r"pip could not install(.|\n)*no-such-package"):
        colab_standin.build(tmp_path / "venv", py=sys.executable)
    assert not (tmp_path / "venv").exists()
