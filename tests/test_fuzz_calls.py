"""Fuzzing the plots and the lower-level calls: good input of any reasonable type works, bad
input is refused with a ValueError/TypeError/FileNotFoundError naming the argument.

Every generated argument comes labelled good or bad; a call given only good ones must
return its answer, a call given a bad one must be refused (accepting it would be a silent
wrong answer), and nothing else may come out of it (a crash from deep inside numpy,
matplotlib or torch). ``DRAGNB_FUZZ=N`` runs N examples per test (CI: a few).
"""
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from PIL import Image

import dragnb
from dragnb import plots, validate
from dragnb.session import DragStep

N = int(os.environ.get("DRAGNB_FUZZ", "25"))
FUZZ = settings(max_examples=N, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
CLEAR = (ValueError, TypeError, FileNotFoundError)
W, H = 12, 9


def check(call, args: dict, names=None):
    """Call ``call(**values)`` where ``args`` maps name -> (value, good); returns the answer or None."""
    values = {k: v for k, (v, _) in args.items()}
    bad = [k for k, (_, good) in args.items() if not good]
    try:
        out = call(**values)
    except CLEAR as e:
        assert bad, f"good input refused: {type(e).__name__}: {e}"
        said = str(e).lower()
        assert any(k.lower() in said for k in bad + list(names or [])), f"{e!r} names none of {bad}"
        return None
    assert not bad, f"bad {bad} accepted: {[values[k] for k in bad]!r}"
    return out


def good(strategy):
    return strategy.map(lambda v: (v, True))


def bad(*values):
    return st.sampled_from(values).map(lambda v: (v, False))


@st.composite
def picture(draw):
    kind = draw(st.sampled_from(["uint8", "pil", "float", "tensor", "bf16"]))
    a = np.random.default_rng(draw(st.integers(0, 99))).integers(0, 256, (H, W, 3), dtype=np.uint8)
    return {"uint8": a, "pil": Image.fromarray(a).convert(draw(st.sampled_from(["RGB", "L", "P", "RGBA"]))),
            "float": a / 255.0, "tensor": torch.from_numpy(a), "bf16": torch.from_numpy(a / 255.0).bfloat16()}[kind]


def image_arg():
    return st.one_of(good(picture()), bad(None, 3, "no such file.png", np.zeros((H, W, 3)) * np.nan,
                                          np.zeros((0, W, 3), np.uint8), np.zeros((H, W, 5), np.uint8)))


def as_type(points: np.ndarray, draw):
    kind = draw(st.sampled_from(["list", "tuple", "numpy", "torch", "grad", "bf16", "f64"]))
    if kind == "list":
        return points.tolist()
    if kind == "tuple":
        return [tuple(p) for p in points.tolist()]
    if kind == "numpy":
        return points
    t = torch.tensor(points, dtype={"bf16": torch.bfloat16, "f64": torch.float64}.get(kind, torch.float32))
    return t.requires_grad_(True) if kind == "grad" else t


@st.composite
def points_arg(draw, n=None, name_ok=True):
    k = n or draw(st.integers(1, 3))
    p = np.round(np.random.default_rng(draw(st.integers(0, 99))).uniform(0, [W - 1, H - 1], (k, 2)))
    if draw(st.integers(0, 2)) or not name_ok:
        return as_type(p, draw), True
    return draw(st.sampled_from([[], [[np.nan, 1.0]], [[np.inf, 0.0]], [(1, 2, 3)], "ab", {"x": 1},
                                 [[1, 2], [3]], np.zeros((k + 1, 2)) if n else [[1.0]]])), False


def required_points(n=None):
    return st.one_of(points_arg(n), bad(None))


def count(lo=1, hi=10):
    return st.one_of(good(st.integers(lo, hi)), bad(lo - 1, -5, np.nan, np.inf, 1.5, "3", None, 10 ** 9, True))


@given(image=image_arg(), sim=st.one_of(good(st.sampled_from(["numpy", "list", "bf16"])),
                                        bad("nan", "3d", "scalar", "wrong", None)),
       point=points_arg(), alpha=st.one_of(good(st.floats(0, 1)), bad(-0.5, 2.0, np.nan, "x")))
@FUZZ
def test_heatmap(image, sim, point, alpha):
    s = np.random.default_rng(0).random((H, W))
    value = {"numpy": s, "list": s.tolist(), "bf16": torch.from_numpy(s).bfloat16(), "nan": s * np.nan,
             "3d": s[None], "scalar": 0.5, "wrong": s[:, :3], None: None}[sim[0]]
    wrong = sim[0] == "wrong"
    out = check(plots.heatmap, {"image": image, "similarity": (value, sim[1]), "point": point, "alpha": alpha},
                names=["similarity map"] if wrong else None)
    assert out is None or isinstance(out, Figure)


@given(image=image_arg(), mask=st.one_of(good(st.sampled_from(["bool", "uint8", "list", "empty", "torch"])),
                                         bad("string", None, "shape", "nan")), points=st.one_of(
    points_arg(), st.just((None, True))))
@FUZZ
def test_mask_overlay(image, mask, points):
    m = np.zeros((H, W), bool)
    m[2:5, 3:8] = True
    value = {"bool": m, "uint8": m.astype(np.uint8), "list": m.tolist(), "empty": ~np.ones((H, W), bool),
             "torch": torch.from_numpy(m), "string": "all", None: None, "shape": m[:3],
             "nan": m * np.nan}[mask[0]]
    out = check(plots.mask_overlay, {"image": image, "mask": (value, mask[1]), "points": points})
    assert out is None or isinstance(out, Figure)


@given(handles=required_points(2), targets=required_points(2), image=image_arg())
@FUZZ
def test_drag_arrows(handles, targets, image):
    out = check(plots.drag_arrows, {"image": image, "handles": handles, "targets": targets},
                names=["handles", "targets"])   # a count that does not match is named on either side
    assert out is None or isinstance(out, Figure)


@given(n=st.integers(0, 4), cols=count(), titles=st.sampled_from(["none", "same", "short", "string"]),
       scale=st.one_of(good(st.floats(0.5, 3)), bad(0, -1.0, np.inf, "big")))
@FUZZ
def test_image_grid(n, cols, titles, scale):
    images = [np.full((H, W, 3), 40 * i, np.uint8) for i in range(n)]
    t = {"none": (None, True), "same": ([f"{i}" for i in range(n)], True),
         "short": (["a"] * max(0, n - 1), n == 0), "string": ("abc", False)}[titles]
    out = check(plots.image_grid, {"images": (images, n > 0), "cols": cols, "titles": t, "scale": scale})
    if out is not None:
        assert len([ax for ax in out.axes if ax.get_images()]) == n


@given(curves=st.sampled_from(["ok", "scalar", "dict-empty", "list", "none", "strings", "nan"]),
       smooth=count(1, 30))
@FUZZ
def test_loss_curve(curves, smooth):
    value, ok = {"ok": ({"a": [1.0, 2.0, 0.5], "b": torch.rand(5, requires_grad=True)}, True),
                 "scalar": ({"a": 3.0}, False), "dict-empty": ({}, False), "list": ([1.0, 2.0], False),
                 "none": (None, False), "strings": ({"a": ["x", "y"]}, False),
                 "nan": ({"a": [1.0, np.nan, 2.0]}, True)}[curves]
    out = check(plots.loss_curve, {"curves": (value, ok), "smooth": smooth})
    assert out is None or isinstance(out, Figure)


def _history(n, preview=True):
    return [DragStep(i, np.array([[2.0 + i, 3.0]]), 5.0 - i, {"motion": 1.0, "preserve": 0.5},
                     Image.new("RGB", (W, H), (0, 9 * i, 0)) if preview else None) for i in range(n)]


@given(history=st.sampled_from(["ok", "none", "empty", "junk", "no-previews"]), targets=required_points(1),
       start=st.one_of(points_arg(n=1), st.just((None, True))), most=count(1, 12))
@FUZZ
def test_trajectory_and_gallery(history, targets, start, most):
    value, ok = {"ok": (_history(3), True), "none": (None, False), "empty": ([], True), "junk": ([1, 2], False),
                 "no-previews": (_history(2, preview=False), True)}[history]
    image = np.zeros((H, W, 3), np.uint8)
    n_t = len(validate.points("t", targets[0])) if targets[1] else None
    n_s = None if start[0] is None or not start[1] else len(validate.points("s", start[0]))
    tracked = n_t if history == "empty" else 1           # the steps of _history track one handle
    counts = targets[1] and n_t == tracked and (start[0] is None or (start[1] and n_s == n_t))
    out = check(plots.trajectory, {"image": (image, True), "history": (value, ok),
                                   "targets": (targets[0], counts), "start": (start[0], counts or not start[1])},
                names=["targets", "start", "history"])
    assert out is None or isinstance(out, Figure)
    previews = ok and history not in ("empty", "no-previews")
    out = check(plots.gallery, {"history": (value, previews), "most": most},
                names=["preview"] if ok and not previews else None)
    if out is not None:
        assert len([ax for ax in out.axes if ax.get_images()]) == min(3, most[0])


@given(frames=st.sampled_from(["ok", "empty", "none", "bad-frame"]),
       fps=st.one_of(good(st.floats(0.5, 30)), bad(0, -2.0, np.nan, "fast")),
       path=st.sampled_from(["ok", "missing-folder", "folder", "none"]))
@FUZZ
def test_save_animation(frames, fps, path, tmp_path_factory):
    root = tmp_path_factory.mktemp("anim")
    value, ok = {"ok": ([np.zeros((H, W, 3), np.uint8)] * 2, True), "empty": ([], False), "none": (None, False),
                 "bad-frame": ([np.zeros((H, W, 3), np.uint8), "x.png"], False)}[frames]
    where = {"ok": (root / "a.gif", True), "missing-folder": (root / "no" / "a.gif", False),
             "folder": (root, False), "none": (None, False)}[path]
    out = check(plots.save_animation, {"frames": (value, ok), "path": where, "fps": fps},
                names=["image", "frame"])
    if out is not None:
        assert os.path.getsize(out) > 0


@given(result=st.sampled_from([None, 3, "result", {"image": 1}]))
@FUZZ
def test_result_plots_refuse_what_is_not_a_result(result):
    for fn in (plots.before_after, plots.costs, plots.drag_losses):
        with pytest.raises(CLEAR):
            fn(result)
    with pytest.raises(CLEAR):
        plots.drag_animation(result, "x.gif")


# -- the lower-level calls ------------------------------------------------------------------

def seeds():
    return st.one_of(good(st.integers(0, 2 ** 63 - 1)), bad(-1, 2 ** 64, np.nan, 1.5, "7", None))


@pytest.fixture(scope="module")
def inverted(tiny_sd):
    return dragnb.invert(tiny_sd, np.zeros((32, 32, 3), np.uint8), steps=4, strength=0.5)


@given(latent=st.sampled_from(["same", "f64", "bf16", "grad", "channels", "size", "int", "none-ok", "nan",
                               "numpy"]),
       inversion=st.sampled_from(["ok", "none", "latent"]))
@FUZZ
def test_denoise_latents(latent, inversion, tiny_sd, inverted):
    z = inverted.latent
    value, ok = {"same": (z.clone(), True), "f64": (z.double(), True), "bf16": (z.bfloat16(), True),
                 "grad": (z.clone().requires_grad_(True), True), "channels": (z[:, :2], False),
                 "size": (z[..., :2, :2], False), "int": (z.long(), False), "none-ok": (None, True),
                 "nan": (z * np.nan, False), "numpy": (z.numpy(), False)}[latent]
    inv = {"ok": (inverted, True), "none": (None, False), "latent": (z, False)}[inversion]
    out = check(lambda model, inversion, latent: dragnb.denoise(model, inversion, latent),
                {"model": (tiny_sd, True), "inversion": inv, "latent": (value, ok)})
    assert out is None or out.size == (32, 32)


@given(n=count(1, 2), seed=seeds(), size=st.one_of(good(st.sampled_from([None, 32])), bad(0, -32, 33, np.nan, 10 ** 6)),
       guidance=st.one_of(good(st.floats(0, 5)), bad(np.inf, -1.0, "high")))
@FUZZ
def test_generate(n, seed, size, guidance, tiny_sd):
    out = check(lambda **kw: dragnb.generate(tiny_sd, steps=2, **kw),
                {"n": n, "seed": seed, "size": size, "guidance": guidance})
    if out is not None:
        assert len(out) == n[0] and all(np.isfinite(np.asarray(im, float)).all() for im in out)


@given(handle=st.one_of(points_arg(), bad(None)), grow=st.one_of(good(st.integers(-40, 4000)),
                                                                   bad(np.nan, np.inf, 1.5, "2", 10 ** 7)))
@FUZZ
def test_find_region_on_a_thin_image(handle, grow, tiny_sd):
    thin = np.zeros((H, 300, 3), np.uint8)     # (W 300, H 9): a very thin image
    thin[:, 100:200] = 200
    out = check(lambda **kw: dragnb.find_region(tiny_sd, thin, ensemble=1, **kw), {"handle": handle, "grow": grow})
    assert out is None or (out.shape == (H, 300) and out.dtype == bool)


@given(points=st.one_of(points_arg(), bad(None)), which=st.sampled_from(["features", "image", "none"]))
@FUZZ
def test_match_points_and_similarity(points, which, tiny_sd):
    f = dragnb.dift_features(tiny_sd, np.zeros((H, W, 3), np.uint8), ensemble=1)
    other = {"features": (f, True), "image": (np.zeros((H, W, 3), np.uint8), False), "none": (None, False)}[which]
    out = check(lambda src, dst, points: dragnb.match_points(src, dst, points),
                {"src": (f, True), "dst": other, "points": points}, names=["point"])
    n = len(validate.points("points", points[0])) if points[1] else 0
    if out is not None:
        assert out.shape == (n, 2)
    one = n == 1
    out = check(lambda features, point, target: dragnb.similarity_map(features, point, target),
                {"features": (f, True), "point": (points[0], one), "target": other if which != "none" else (None, True)},
                names=["point", "one point"])
    assert out is None or out.shape == (H, W)


@st.composite
def picker_ops(draw):
    ops = []
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(["click", "move", "undo", "redo", "remove", "paint", "clear"]))
        arg = draw(st.one_of(st.floats(-50, 150), st.sampled_from([np.nan, np.inf, -1.0, 0.0, "3", None])))
        idx = draw(st.sampled_from([0, 1, -1, 5, -9, 1.5, "a", None, ("handle", 0), ("target", 3), ("x", 0)]))
        ops.append((op, arg, idx))
    return ops


@given(ops=picker_ops())
@FUZZ
def test_picker_state_survives_any_sequence(ops):
    s = dragnb.PickerState(np.zeros((H, W, 3), np.uint8), scale=4)
    for op, arg, idx in ops:
        before = s.snapshot()
        try:
            {"click": lambda: s.click(arg, arg), "move": lambda: s.move(idx, arg, 10.0),
             "undo": s.undo, "redo": s.redo, "remove": lambda: s.remove_pair(idx),
             "paint": lambda: s.paint(10.0, 10.0, arg), "clear": s.clear}[op]()
        except CLEAR:
            after = s.snapshot()   # a refused op changes nothing the user made
            assert after[0] == before[0] and after[1] == before[1] and (after[2] == before[2]).all()
        for p in s.handles + s.targets:
            assert np.isfinite(p).all() and 0 <= p[0] <= W - 1 and 0 <= p[1] <= H - 1
        assert len(s.targets) <= len(s.handles)


@given(kind=st.sampled_from(["meta-folder", "corrupt-png", "truncated", "ok", "missing"]),
       write=st.sampled_from(["ok", "under-file", "is-file"]))
@FUZZ
def test_dragbench_files(kind, write, tmp_path_factory):
    from dragnb.bench.samples import read_sample, write_sample

    root = tmp_path_factory.mktemp("db")
    image = np.full((H, W, 3), 90, np.uint8)
    folder = write_sample(root / "s", image, [(1, 1)], [(3, 3)], None, "p")
    png = folder / "original_image.png"
    if kind == "meta-folder":
        (folder / "meta_data.pkl").unlink()
        (folder / "meta_data.pkl").mkdir()
    elif kind == "corrupt-png":
        x = bytearray(png.read_bytes())
        x[x.find(b"IDAT") + 6] ^= 0x10
        png.write_bytes(bytes(x))
    elif kind == "truncated":
        png.write_bytes(png.read_bytes()[:40])
    elif kind == "missing":
        png.unlink()
    out = check(read_sample, {"folder": (folder, kind == "ok")},
                names=["meta_data", "png", "image", "missing", str(folder)])
    assert out is None or np.array_equal(np.asarray(out.image), image)
    (root / "file").write_text("x")
    target = {"ok": (root / "new", True), "under-file": (root / "file" / "s", False), "is-file": (root / "file", False)}[write]
    out = check(lambda folder: write_sample(folder, image, [(1, 1)], [(3, 3)]), {"folder": target},
                names=["file", "folder"])
    assert out is None or (out / "meta_data.pkl").exists()


@given(a=st.sampled_from(["uint8", "float", "pil", "tensor", "none", "text", "nan", "1d"]),
       b=st.sampled_from(["same", "other-shape"]),
       where=st.sampled_from(["none", "ok", "empty", "shape", "string", "bf16"]))
@FUZZ
def test_psnr(a, b, where):
    from dragnb.metrics import psnr

    x = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    first = {"uint8": (x, True), "float": (x.astype(float), True), "pil": (Image.fromarray(x), True),
             "tensor": (torch.from_numpy(x), True), "none": (None, False), "text": ("x", False),
             "nan": (x * np.nan, False), "1d": (x.ravel(), False)}[a]
    other = {"same": (np.full((H, W, 3), 7, np.uint8), True), "other-shape": (np.zeros((H, W), np.uint8), False)}[b]
    m = np.zeros((H, W), bool)
    m[:3] = True
    w = {"none": (None, True), "ok": (m, True), "empty": (~np.ones((H, W), bool), False), "shape": (m[:2], False),
         "string": ("all", False), "bf16": (torch.from_numpy(m).bfloat16(), True)}[where]
    out = check(psnr, {"a": first, "b": other, "where": w}, names=["a and b"])
    assert out is None or np.isfinite(out)


@given(reference_blocks=st.one_of(good(st.sampled_from([(), (1,), [0, 1], None])),
                                  bad(1, "12", (9,), (np.nan,), (1.5,))),
       seed=seeds())
@FUZZ
def test_drag_options_and_seed(reference_blocks, seed, tiny_sd):
    out = check(lambda reference_blocks, seed: dragnb.DragSession(
        tiny_sd, np.zeros((32, 32, 3), np.uint8), [(4, 4)], [(8, 4)], seed=seed, reference_blocks=reference_blocks),
        {"reference_blocks": reference_blocks, "seed": seed})
    assert out is None or isinstance(out.options.reference_blocks, tuple)


@given(src=required_points(2), dst=required_points(2), image=image_arg())
@FUZZ
def test_correspondence(src, dst, image):
    out = check(plots.correspondence, {"src_image": image, "dst_image": (np.zeros((H, W, 3), np.uint8), True),
                                       "src_points": src, "dst_points": dst}, names=["src_points", "dst_points"])
    assert out is None or isinstance(out, Figure)


@given(points=st.one_of(points_arg(), bad(None)), titles=st.sampled_from(["none", "same", "short"]),
       features=st.sampled_from(["ok", "image", "none"]))
@FUZZ
def test_heatmaps(points, titles, features, tiny_sd):
    f = dragnb.dift_features(tiny_sd, np.zeros((H, W, 3), np.uint8), ensemble=1)
    n = len(validate.points("p", points[0])) if points[1] else 1
    t = {"none": (None, True), "same": (["t"] * n, True), "short": (["t"] * (n - 1), False)}[titles]
    feats = {"ok": (f, True), "image": (np.zeros((H, W, 3), np.uint8), False), "none": (None, False)}[features]
    out = check(plots.heatmaps, {"features": feats, "points": points, "titles": t})
    if out is not None:
        assert len([ax for ax in out.axes if ax.get_images()]) == n + 1   # the picture, then a map a point


@given(seen=st.sampled_from(["ok", "empty", "none", "junk"]),
       length=st.one_of(good(st.sampled_from([None, 0.0, 9.0])), bad(-1.0, np.nan, "long")))
@FUZZ
def test_two_distances(seen, length):
    from dragnb.bench import Seen

    value, ok = {"ok": ([Seen(i, 9.0 - i, 9.0, None) for i in range(3)], True), "empty": ([], False),
                 "none": (None, False), "junk": ([1, 2], False)}[seen]
    out = check(plots.two_distances, {"seen": (value, ok), "length": length})
    assert out is None or isinstance(out, Figure)


@given(index=st.one_of(good(st.just("mountain")), bad(-1, 99, 1.5, None, "0")),
       key=st.one_of(good(st.just("peak")), bad("nose", None, 3)),
       dx=st.one_of(good(st.floats(-0.2, 0.2)), bad(np.nan, np.inf, 5.0, "1")),
       image=st.sampled_from(["ok", "small", "none"]))
@FUZZ
def test_edit_case_and_picture_distance(index, key, dx, image):
    from dragnb.bench import edit_case, picture_distance
    from dragnb.teaching.scenes import random_scene

    scene = random_scene(2_000_188)
    m = next(i for i in scene.draggable() if scene.objects[i].kind == "mountain")
    i = (m, True) if index[0] == "mountain" else index
    case = check(lambda index, key, dx: edit_case(scene, index, key, dx, -0.1), {"index": i, "key": key, "dx": dx})
    if case is None:
        return
    pic = {"ok": (case.truth, True), "small": (case.truth[:10], False), "none": (None, False)}[image]
    out = check(lambda image: picture_distance(case, image), {"image": pic})
    assert out is None or out < 1.5     # the truth is where the edit put the peak


def test_a_float64_tensor_keeps_its_precision_and_bfloat16_converts():
    x = torch.tensor([[1.0 + 1e-12, 2.0]], dtype=torch.float64, requires_grad=True)
    assert validate.array("a", x)[0, 0] - 1.0 == pytest.approx(1e-12, rel=1e-6)
    assert validate.points("p", x.detach().bfloat16()).tolist() == [[1.0, 2.0]]
