"""DragBench end to end: its metrics, and the resumable benchmark run over sample folders."""
import json
from pathlib import Path

import numpy as np
import pytest

import dragnb
from dragnb.bench import dragbench as db, samples
from dragnb.metrics import image_fidelity, mean_distance
from dragnb.teaching.scenes import random_scene

FAST = dict(max_iters=3, steps=10)
TINY_DIFT = dict(t=None, up_block=None)   # MD with the teaching model's own DIFT defaults


def _row(table: str, name: str) -> list:
    """The figures of a results table's row ``name``."""
    (line,) = [line for line in table.splitlines() if line.split()[:1] == [name]]
    return line.split()[1:]


def stand_in_lpips(a, b):
    """A stand-in for LPIPS in tests: mean absolute difference (0 for equal images)."""
    return (a - b).abs().mean()


@pytest.fixture(scope="module")
def tiny():
    return dragnb.load("tiny", device="cpu", verbose=False)


@pytest.fixture
def bench_dir(tmp_path):
    """Three good samples in two categories and five broken ones, in DragBench's layout."""
    root = tmp_path / "bench"
    for k, (cat, seed) in enumerate([("land_scape", 1_000_001), ("land_scape", 1_000_002), ("animals", 1_000_003)]):
        img = np.asarray(random_scene(seed).render(64))
        mask = np.zeros((64, 64), np.uint8)
        mask[16:48, 16:48] = 1
        samples.write_sample(root / cat / f"s{k}", img, [(30, 30)], [(36, 30)], mask, prompt="a landscape")
    good = root / "land_scape" / "s0"
    bad = root / "broken"
    (bad / "no_pkl").mkdir(parents=True)
    (bad / "no_pkl" / "original_image.png").write_bytes((good / "original_image.png").read_bytes())
    trunc = bad / "truncated"
    trunc.mkdir()
    (trunc / "original_image.png").write_bytes((good / "original_image.png").read_bytes())
    (trunc / "meta_data.pkl").write_bytes((good / "meta_data.pkl").read_bytes()[:40])
    img = np.asarray(random_scene(1_000_004).render(64))
    import pickle
    samples.write_sample(bad / "outside", img, [(30, 30)], [(36, 30)])   # write_sample refuses it: rewrite the pkl
    meta = samples.read_meta(bad / "outside" / "meta_data.pkl")
    (bad / "outside" / "meta_data.pkl").write_bytes(pickle.dumps({**meta, "points": [[30, 30], [90, 30]]}))
    samples.write_sample(bad / "mask_size", img, [(30, 30)], [(36, 30)])
    (bad / "mask_size" / "meta_data.pkl").write_bytes(pickle.dumps({**meta, "mask": np.ones((8, 8), np.uint8)}))
    samples.write_sample(bad / "wrong_structure", img, [(30, 30)], [(36, 30)])
    (bad / "wrong_structure" / "meta_data.pkl").write_bytes(pickle.dumps([[30, 30], [36, 30]]))
    return root


def test_mean_distance_of_an_unedited_image_is_the_drag_length(tiny):
    img = np.asarray(random_scene(1_000_010).render(64))
    handle = [(20.0, 40.0)]
    assert mean_distance(tiny, img, img, handle, handle, t=None, up_block=None) <= 2.0
    d = mean_distance(tiny, img, img, handle, [(30.0, 40.0)], t=None, up_block=None)
    assert 8.0 <= d <= 12.0


def test_image_fidelity_is_one_for_the_same_image_and_less_otherwise():
    img = np.asarray(random_scene(1_000_011).render(64))
    assert image_fidelity(img, img, stand_in_lpips) == pytest.approx(1.0)
    assert image_fidelity(img, 255 - img, stand_in_lpips) < 0.9


def test_image_fidelity_without_lpips_says_how_to_get_it(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_lpips(name, *a, **k):
        if name == "lpips":
            raise ImportError("no lpips here")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_lpips)
    with pytest.raises(ValueError, match="pip install lpips"):
        image_fidelity(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))


def test_samples_are_found_in_both_layouts(bench_dir):
    found = db.find_samples(bench_dir)
    assert [(c, n) for c, n, _ in found if c != "broken"] == [("animals", "s2"), ("land_scape", "s0"),
                                                              ("land_scape", "s1")]
    assert len([c for c, _, _ in found if c == "broken"]) == 5
    assert {c for c, _, _ in db.find_samples(samples.SAMPLES)} == {"animals", "human_head", "land_scape",
                                                              "other_objects"}


def test_the_shipped_samples_are_package_data():
    import fnmatch
    import tomllib

    globs = tomllib.loads((Path(dragnb.__file__).parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["dragnb"]
    files = [p.relative_to(Path(dragnb.__file__).parent).as_posix() for p in samples.SAMPLES.rglob("*") if p.is_file()]
    assert len(files) == 13   # a README and three files in each of four samples
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in globs)]
    assert not missing, f"not in pyproject.toml's package-data (a wheel would lack them): {missing}"


def test_the_benchmark_records_failures_by_name_and_goes_on(tiny, bench_dir, tmp_path):
    out = tmp_path / "out"
    recs = db.run_benchmark(tiny, bench_dir, out, tiny, TINY_DIFT, stand_in_lpips, progress=False, **FAST)
    by = {r["name"]: r for r in recs}
    assert len(recs) == 8 and all(by[n]["ok"] for n in ("s0", "s1", "s2"))
    assert "meta_data.pkl is missing" in by["no_pkl"]["error"]
    assert "truncated" in by and not by["truncated"]["ok"] and "meta_data.pkl" in by["truncated"]["error"]
    assert "outside" in by["outside"]["error"]
    assert "mask has shape (8, 8) but the image is 64x64" in by["mask_size"]["error"]
    assert "holds a list, not DragBench's dict" in by["wrong_structure"]["error"]
    rec = json.loads((out / "land_scape" / "s0" / "result.json").read_text())
    assert rec["md"] >= 0 and 0 < rec["if"] <= 1 and "denoising" in rec["seconds"]
    from PIL import Image
    edit = np.asarray(Image.open(out / "land_scape" / "s0" / "edited.png"))
    assert edit.shape == (64, 64, 3)
    table = db.results_table(out)
    assert "land_scape" in table and "animals" in table and _row(table, "all")[:2] == ["8", "5"]
    assert _row(table, "doing")[-2:] == ["1.000", "-"]   # IF of the original with itself; no CLIP asked for


def test_a_second_run_drags_nothing_twice_and_two_shares_make_the_same_table(tiny, bench_dir, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    db.run_benchmark(tiny, bench_dir, one, tiny, TINY_DIFT, stand_in_lpips, progress=False, **FAST)
    assert db.run_benchmark(tiny, bench_dir, one, tiny, TINY_DIFT, stand_in_lpips, progress=False, **FAST) == []
    for rank in (0, 1):   # what two processes of `accelerate launch` each run
        db.run_benchmark(tiny, bench_dir, two, tiny, TINY_DIFT, stand_in_lpips, rank=rank, world=2, progress=False, **FAST)
    assert db.results_table(one) == db.results_table(two)


def test_an_interrupted_run_loses_at_most_the_sample_in_flight(tiny, bench_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = []
    real = db.run_sample

    def stop_on_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(db, "run_sample", stop_on_second)
    with pytest.raises(KeyboardInterrupt):
        db.run_benchmark(tiny, bench_dir, out, None, None, None, progress=False, **FAST)
    assert len(list(out.rglob("result.json"))) == 1
    monkeypatch.setattr(db, "run_sample", real)
    assert len(db.run_benchmark(tiny, bench_dir, out, None, None, None, progress=False, **FAST)) == 7


def test_the_command_line_runs_the_real_samples(tmp_path, capsys):
    from dragnb.bench.cli import main
    main(["dragbench", str(samples.SAMPLES), "--model", "tiny", "--md-model", "tiny", "--no-fidelity",
          "--out", str(tmp_path), "--max-iters", "2"])
    table = capsys.readouterr().out
    assert _row(table, "all")[:2] == ["4", "0"] and "doing nothing" in table
    assert len(list(tmp_path.rglob("edited.png"))) == 4


def test_psnr_is_the_textbook_figure_over_the_whole_image_or_a_mask():
    from dragnb.metrics import psnr

    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0] = 255   # one row of four fully wrong: mse = 255^2 / 4 -> 10 log10(4) dB
    assert psnr(a, b) == pytest.approx(10 * np.log10(4))
    where = np.zeros((4, 4), bool)
    where[1:] = True
    assert psnr(a, b, where) == pytest.approx(10 * np.log10(255.0 ** 2 / 1e-10))   # identical there: mse floor


def test_the_benchmark_bar_honours_the_environment_switch(bench_dir, tmp_path, monkeypatch):
    """Its bar is dragnb.progress's: none under DRAGNB_PROGRESS=0 (a saved notebook keeps no dead widget)."""
    import tqdm.auto

    from dragnb import progress as p
    bars = []

    def fake_tqdm(items, **kw):
        bars.append(kw["desc"])
        return items

    monkeypatch.setattr(tqdm.auto, "tqdm", fake_tqdm)
    monkeypatch.setattr(p, "tqdm", fake_tqdm)
    monkeypatch.setattr(db, "run_sample", lambda *a, **k: {"ok": False})
    for env, flag, expected in [("0", True, []), ("1", False, []), ("1", True, ["DragBench"])]:
        monkeypatch.setenv("DRAGNB_PROGRESS", env)
        bars.clear()
        assert len(db.run_benchmark(None, bench_dir, tmp_path / f"out{env}{flag}", progress=flag)) == 8
        assert bars == expected, (env, flag)


def test_a_photo_on_the_teaching_model_is_warned_once_per_run_and_recorded_per_sample(teaching, tmp_path):
    import warnings

    from dragnb.bench.dragbench import run_benchmark
    from dragnb.bench.samples import SAMPLES

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recs = run_benchmark(teaching, SAMPLES, tmp_path, progress=False, max_iters=1, size=64)
    photo = [w for w in caught if "teaching model" in str(w.message)]
    assert len(recs) == 4 and all(r["ok"] and len(r["warnings"]) == 1 for r in recs)
    assert len(photo) == 1 and photo[0].filename == __file__
