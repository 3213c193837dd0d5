"""dragnb's DragBench figures against DragDiffusion's evaluation scripts (github.com/Yujun-Shi/DragDiffusion,
``drag_bench_evaluation/run_eval_point_matching.py`` and ``run_eval_similarity.py``), whose arithmetic is
re-done here line by line: their order of operations, their resizes, one distance per pair. DIFT is stood
in for by the teaching model's features (``dragnb.metrics.dift_map``), LPIPS and CLIP by small functions.
"""
import pickle

import numpy as np
import PIL
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

import dragnb
from dragnb import metrics
from dragnb.bench import dragbench as db, samples
from dragnb.teaching.scenes import random_scene

DIFT = dict(t=None, up_block=None)   # the teaching model's own DIFT defaults stand in for SD 2.1's


@pytest.fixture(scope="module")
def tiny():
    return dragnb.load("tiny", device="cpu", verbose=False)


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    """Four samples of two, three and one pairs in two categories (DragBench's layout), and for each an
    edit of another size than the original (the scene moved a little, then resized)."""
    root = tmp_path_factory.mktemp("multi")
    pairs = {("animals", 1_000_021): [(20, 30), (26, 30), (40, 12), (40, 20)],
             ("animals", 1_000_022): [(10, 50), (14, 44), (32, 32), (38, 32), (50, 20), (50, 28)],
             ("land_scape", 1_000_023): [(30, 20), (30, 12), (12, 40), (20, 40)],
             ("land_scape", 1_000_024): [(44, 44), (36, 40)]}
    found = []
    for k, ((cat, seed), pts) in enumerate(pairs.items()):
        img = np.asarray(random_scene(seed).render(64))
        folder = root / cat / f"s{k}"
        samples.write_sample(folder, img, pts[0::2], pts[1::2], np.ones((64, 64), np.uint8), prompt="a landscape")
        edit = Image.fromarray(np.roll(img, 3, axis=1)).resize((80 + 8 * k, 72), Image.BICUBIC)
        edit.save(folder / "dragged_image.png")
        found.append((cat, folder))
    return found


def _stand_in(model):
    """``SDFeaturizer.forward`` stood in for: the model's DIFT map of the image with the sample's prompt."""
    return lambda image, prompt: metrics.dift_map(model, image, prompt=prompt, **DIFT)


def reference_md(featurize, found, dragged="dragged_image.png"):
    """run_eval_point_matching.py's loop, with ``featurize(PIL image, prompt)`` for ``dift.forward``: every
    pair's distance, per category, and what doing nothing scores (the original as the edit)."""
    all_dist, per_category, nothing = [], {}, []
    for cat, folder in found:
        with open(folder / "meta_data.pkl", "rb") as f:
            meta_data = pickle.load(f)
        prompt = meta_data["prompt"]
        points = meta_data["points"]
        handle_points, target_points = [], []
        for idx, point in enumerate(points):
            cur_point = torch.tensor([point[1], point[0]])   # from now on, (row, col)
            (handle_points if idx % 2 == 0 else target_points).append(cur_point)
        source_image_PIL = Image.open(folder / "original_image.png")
        for edited_name, into in ((dragged, all_dist), ("original_image.png", nothing)):
            dragged_image_PIL = Image.open(folder / edited_name)
            dragged_image_PIL = dragged_image_PIL.resize(source_image_PIL.size, PIL.Image.BILINEAR)
            source_image_tensor = (torch.from_numpy(np.array(source_image_PIL)).permute(2, 0, 1) / 255.0 - 0.5) * 2
            _, H, W = source_image_tensor.shape
            ft_source = F.interpolate(featurize(source_image_PIL, prompt), (H, W), mode="bilinear")
            ft_dragged = F.interpolate(featurize(dragged_image_PIL, prompt), (H, W), mode="bilinear")
            cos = nn.CosineSimilarity(dim=1)
            for pt_idx in range(len(handle_points)):
                hp, tp = handle_points[pt_idx], target_points[pt_idx]
                num_channel = ft_source.size(1)
                src_vec = ft_source[0, :, hp[0], hp[1]].view(1, num_channel, 1, 1)
                cos_map = cos(src_vec, ft_dragged).cpu().numpy()[0]
                max_rc = np.unravel_index(cos_map.argmax(), cos_map.shape)
                dist = (tp - torch.tensor(max_rc)).float().norm()
                into.append(dist.item())
                if into is all_dist:
                    per_category.setdefault(cat, []).append(dist.item())
    return np.array(all_dist), {c: np.mean(d) for c, d in per_category.items()}, np.array(nothing)


def test_md_is_the_reference_scripts_distance_per_pair_for_edits_of_another_size(tiny, multi):
    ref, _, ref_nothing = reference_md(_stand_in(tiny), multi)
    ours, ours_nothing = [], []
    for _, folder in multi:
        s = dragnb.read_sample(folder)
        edit, nothing = metrics.pair_distances(tiny, s.image, Image.open(folder / "dragged_image.png"), s.handles,
                                               s.targets, s.prompt, nothing=True, **DIFT)
        ours += edit.tolist()
        ours_nothing += nothing.tolist()
    assert len(ref) == 8 == len(ours)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    np.testing.assert_allclose(ours_nothing, ref_nothing, atol=1e-4)
    assert ref.std() > 0   # the pairs differ, so pooling per pair and per sample differ


def test_the_tables_md_is_pooled_per_pair_per_category_and_overall(tiny, multi, tmp_path):
    root = multi[0][1].parents[1]
    out = tmp_path / "out"
    db.run_benchmark(tiny, root, out, tiny, DIFT, None, progress=False, max_iters=2)
    found = [(cat, out / cat / folder.name) for cat, folder in multi]
    for (_, folder), (_, done) in zip(multi, found):   # the reference reads the edits beside the originals
        for name in ("original_image.png", "meta_data.pkl"):
            (done / name).write_bytes((folder / name).read_bytes())
    ref, per_category, nothing = reference_md(_stand_in(tiny), found, "edited.png")
    table = db.results_table(out)
    print(table)
    rows = {line.split()[0]: line.split() for line in table.splitlines()}
    for cat, md in per_category.items():
        assert abs(float(rows[cat][4]) - md) <= 0.005 + 1e-9, (cat, rows[cat], md)
    assert abs(float(rows["all"][4]) - ref.mean()) <= 0.005 + 1e-9
    per_sample = np.mean([np.mean(d) for d in np.split(ref, [2, 5, 7])])
    assert abs(ref.mean() - per_sample) > 0.01 or np.allclose(ref, ref[0])   # pooling is what changed it
    floor = [line for line in table.splitlines() if line.startswith("doing nothing")][0].split()
    assert abs(float(floor[4]) - nothing.mean()) <= 0.005 + 1e-9 and floor[5:] == ["-", "-"]
    assert "made by (4 samples): model tiny (max_iters=2); MD by tiny (t=None, up_block=None)" in table


def test_if_inputs_are_the_reference_scripts_for_an_edit_of_another_size(multi):
    _, folder = multi[1]
    source_image_PIL = Image.open(folder / "original_image.png")
    dragged_image_PIL = Image.open(folder / "dragged_image.png")
    assert dragged_image_PIL.size != source_image_PIL.size
    dragged_image_PIL = dragged_image_PIL.resize(source_image_PIL.size, PIL.Image.BILINEAR)

    def preprocess_image(image):   # the script's own, with einops' rearrange written out
        image = torch.from_numpy(image).float() / 127.5 - 1
        return image.permute(2, 0, 1)[None]

    ref = [F.interpolate(preprocess_image(np.array(im)), (224, 224), mode="bilinear")
           for im in (source_image_PIL, dragged_image_PIL)]
    ours = metrics.if_inputs(Image.open(folder / "original_image.png"), Image.open(folder / "dragged_image.png"))
    diff = max(float((a - b).abs().max()) for a, b in zip(ours, ref))
    print(f"IF inputs: largest difference from the script's {diff:.2e}")
    assert diff <= 1e-4


def test_clip_similarity_is_a_cosine_of_embeddings_and_refused_offline_clearly(multi):
    _, folder = multi[0]
    original, edit = Image.open(folder / "original_image.png"), Image.open(folder / "dragged_image.png")
    x = metrics.clip_inputs(original)
    assert x.shape == (1, 3, 224, 224) and abs(float(x.mean())) < 3
    flat = lambda t: F.avg_pool2d(t, 16).flatten(1)   # noqa: E731  a stand-in image encoder
    assert metrics.clip_similarity(original, original, flat) == pytest.approx(1.0, abs=1e-6)
    assert metrics.clip_similarity(original, edit, flat) < 1.0
    with pytest.raises(ValueError, match="CLIP similarity needs openai/clip-vit-base-patch32"):
        metrics.clip_network()


def test_a_second_run_with_other_settings_is_refused_saying_what_differs_or_redone(tiny, multi, tmp_path):
    root = multi[0][1].parents[1]
    out = tmp_path / "out"
    assert len(db.run_benchmark(tiny, root, out, None, None, None, progress=False, max_iters=2)) == 4
    assert db.run_benchmark(tiny, root, out, None, None, None, progress=False, max_iters=2) == []
    with pytest.raises(ValueError, match=r"other settings \(options: .*max_iters.*--redo"):
        db.run_benchmark(tiny, root, out, None, None, None, progress=False, max_iters=3)
    redone = db.run_benchmark(tiny, root, out, None, None, None, progress=False, redo=True, max_iters=3)
    assert len(redone) == 4 and all(r["made_by"]["options"] == {"max_iters": 3} for r in redone)
    table = db.results_table(out)
    assert table.count("made by") == 1 and "(max_iters=3)" in table


def test_a_result_made_by_other_code_or_other_defaults_is_not_reused(tiny, multi, tmp_path, monkeypatch):
    root = multi[0][1].parents[1]
    out = tmp_path / "out"
    done = db.run_benchmark(tiny, root, out, None, None, None, progress=False, max_iters=2)
    said = done[0]["made_by"]
    assert said["resolved"]["max_iters"] == 2 and said["resolved"]["init"] == tiny.defaults["drag"]["init"]
    assert len(said["code"]) == 12 and said["code"] == db.code_fingerprint()
    monkeypatch.setattr(db, "code_fingerprint", lambda: "0" * 12)
    with pytest.raises(ValueError, match=r"code: '[0-9a-f]{12}' there, '000000000000' now"):
        db.run_benchmark(tiny, root, out, None, None, None, progress=False, max_iters=2)
    monkeypatch.undo()
    monkeypatch.setitem(tiny.defaults, "drag", {**tiny.defaults["drag"], "lam": 0.3})
    with pytest.raises(ValueError, match=r"resolved\.lam: 0\.1 there, 0\.3 now"):
        db.run_benchmark(tiny, root, out, None, None, None, progress=False, max_iters=2)


def test_an_older_result_without_settings_is_not_reused(tiny, multi, tmp_path):
    import json

    root = multi[0][1].parents[1]
    out = tmp_path / "out"
    db.run_benchmark(tiny, root, out, None, None, None, progress=False, max_iters=2)
    path = next(out.rglob("result.json"))
    rec = json.loads(path.read_text())
    del rec["made_by"]
    path.write_text(json.dumps(rec))
    with pytest.raises(ValueError, match="records no settings"):
        db.run_benchmark(tiny, root, out, None, None, None, progress=False, max_iters=2)
