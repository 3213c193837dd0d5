"""Fuzzing the public API: every call either works or raises the documented clear error.

The contract (see ``dragnb.validate``): a ``ValueError`` (or ``FileNotFoundError``) whose
message names the problem; never another exception from deep inside numpy, PIL or torch,
never NaN passed on silently, never the user's input changed. Deterministic (hypothesis
with ``derandomize``); ``DRAGNB_FUZZ=N`` runs N examples per test instead of CI's few
(``DRAGNB_FUZZ=200 pytest tests/test_fuzz.py`` is the long run).
"""
import os
import pickle

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import dragnb
from dragnb import validate
from dragnb.bench import samples as dragbench
from dragnb.options import DragOptions
from dragnb.images import load_image
from dragnb.ui.picker_state import PickerState

N = int(os.environ.get("DRAGNB_FUZZ", "25"))
FUZZ = settings(max_examples=N, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
CLEAR = (ValueError, FileNotFoundError)

numbers = st.one_of(st.integers(-5, 100), st.floats(allow_nan=True, allow_infinity=True, width=32),
                    st.sampled_from([None, "3", True, [1, 2], 2.5, -0.0, 1e30]))
modes = st.sampled_from(["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "LA", "I;16"])


@st.composite
def images(draw):
    """PIL images of every mode, arrays of odd dtypes and shapes, NaN floats, tensors."""
    kind = draw(st.sampled_from(["pil", "array", "float", "tensor", "junk"]))
    w, h = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    if kind == "pil":
        mode = draw(modes)
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode)
    if kind == "array":
        shape = draw(st.sampled_from([(h, w), (h, w, 1), (h, w, 3), (h, w, 4), (h, w, 2), (h,), (0, w, 3)]))
        dtype = draw(st.sampled_from([np.uint8, np.int16, np.int64, bool, np.float16]))
        return rng.integers(0, 256, shape).astype(dtype)
    if kind == "float":
        a = rng.random((h, w, 3)) * draw(st.sampled_from([1.0, 2.0, -1.0]))
        if draw(st.booleans()):
            a[0, 0, 0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return a
    if kind == "tensor":
        return torch.rand(h, w, 3, requires_grad=draw(st.booleans()))
    return draw(st.sampled_from([None, 3, "no such file.png", b"\x89PNG", [1, 2, 3], {"a": 1}]))


@st.composite
def points(draw):
    kind = draw(st.sampled_from(["ok", "nested", "odd", "tensor", "junk"]))
    if kind == "ok":
        return [(draw(numbers), draw(numbers)) for _ in range(draw(st.integers(0, 3)))]
    if kind == "nested":
        return [[(1, 2), (3, 4)]]
    if kind == "odd":
        return [(1, 2, 3)]
    if kind == "tensor":
        return torch.tensor([[draw(st.floats(-5, 40)), draw(st.floats(-5, 40))]], requires_grad=True)
    return draw(st.sampled_from([None, {}, {"x": 1}, "ab", 5, (1,), [None, None]]))


@st.composite
def masks(draw):
    kind = draw(st.sampled_from(["ok", "shape", "painted", "lead", "nan", "junk", "empty"]))
    if kind == "ok":
        return np.random.default_rng(draw(st.integers(0, 99))).random((16, 16)) > 0.5
    if kind == "shape":
        return np.ones((draw(st.integers(1, 20)), draw(st.integers(1, 20))))
    if kind == "painted":
        return np.full((16, 16, draw(st.sampled_from([1, 3, 4]))), 255, np.uint8)
    if kind == "lead":
        return np.ones((1, 16, 16))
    if kind == "nan":
        m = np.ones((16, 16))
        m[0, 0] = np.nan
        return m
    if kind == "empty":
        return np.zeros((16, 16))
    return draw(st.sampled_from(["all", "some", 3, None, [[1, 2]], {"m": 1}]))


def _clear(fn, *args, **kw):
    """Call fn; a clear error is fine (its message must not be empty). Returns the result or None."""
    try:
        return fn(*args, **kw)
    except CLEAR as e:
        assert str(e).strip(), f"{type(e).__name__} with no message"
        return None


@FUZZ
@given(images())
def test_any_image_loads_as_rgb_or_is_refused_clearly(image):
    before = image.copy() if hasattr(image, "copy") else image
    out = _clear(load_image, image)
    if out is not None:
        assert out.mode == "RGB" and out.width >= 1 and out.height >= 1
        a = np.asarray(out)
        if isinstance(image, np.ndarray) and image.dtype.kind == "f":   # floats in [0, 1] only, no NaN
            assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1
        assert a.dtype == np.uint8
    if isinstance(image, np.ndarray):
        assert np.array_equal(image, before, equal_nan=True)   # the user's array is untouched


@FUZZ
@given(st.sampled_from(["empty", "truncated", "text", "folder", "bomb"]))
def test_unreadable_files_are_value_errors_naming_the_file(tmp_path_factory, kind):
    d = tmp_path_factory.mktemp("files")
    path = d / "x.png"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        Image.new("RGB", (40, 40), "red").save(path)
        path.write_bytes(path.read_bytes()[:60])
    elif kind == "text":
        path.write_text("not an image")
    elif kind == "folder":
        path.mkdir()
    else:
        Image.new("L", (1, 1)).save(path)
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = 0.1          # any image now counts as a decompression bomb
    try:
        with pytest.raises(ValueError, match="x.png"):
            load_image(path)
    finally:
        if kind == "bomb":
            Image.MAX_IMAGE_PIXELS = old


@FUZZ
@given(points(), st.integers(1, 30), st.integers(1, 30))
def test_points_are_finite_and_inside_or_refused_clearly(pts, w, h):
    out = _clear(validate.image_points, pts, (w, h))
    if out is not None:
        assert out.ndim == 2 and out.shape[1] == 2 and np.isfinite(out).all()
        assert (out >= 0).all() and (out[:, 0] <= w - 1).all() and (out[:, 1] <= h - 1).all()


@FUZZ
@given(masks())
def test_masks_follow_one_rule_everywhere(mask):
    drag_rule = _clear(validate.mask, mask, (16, 16))
    try:
        picker = PickerState(np.zeros((16, 16, 3), np.uint8), mask=mask).mask
    except CLEAR:
        picker = None
    if isinstance(drag_rule, np.ndarray):
        assert drag_rule.shape == (16, 16) and drag_rule.dtype == bool and drag_rule.any()
        assert picker is not None and np.array_equal(picker, drag_rule)   # the picker accepts what the drag does


FIELDS = ["strength", "steps", "max_iters", "lr", "r_m", "r_p", "lam", "up_block", "feature_scale", "tolerance",
          "lora_steps", "lora_rank", "lora_lr", "drag_per_denoise", "drag_levels", "seam", "preview_every"]


@FUZZ
@given(st.dictionaries(st.sampled_from(FIELDS), numbers, max_size=3),
       st.sampled_from([{}, {"init": "x"}, {"preserve": None}, {"lora": 1}, {"blend": "yes"}, {"supervise": "o"}]))
def test_drag_options_are_usable_or_refused_by_name(tiny_sd, opts, choice):
    try:
        o = DragOptions.for_model(tiny_sd, **opts, **choice)
    except CLEAR as e:
        assert any(name in str(e) for name in [*opts, *choice]), str(e)
        return
    for name in FIELDS:   # what passed is a finite number of the right kind
        v = getattr(o, name)
        assert v is None or (np.isfinite(float(v)) and not isinstance(v, bool))
    assert isinstance(o.steps, int) and isinstance(o.r_m, float) and o.lr > 0 and o.strength > 0


@FUZZ
@given(st.sampled_from(["missing", "truncated", "list", "points_none", "points_dict", "points_nan",
                        "points_outside", "prompt_none", "mask_shape", "evil", "ok"]),
       st.integers(0, 5))
def test_dragbench_folders_read_or_fail_by_name(tmp_path_factory, kind, protocol):
    d = tmp_path_factory.mktemp("sample")
    img = np.zeros((20, 30, 3), np.uint8)
    dragbench.write_sample(d, img, [(3, 4)], [(9, 4)], prompt="p")
    meta = dragbench.read_meta(d / "meta_data.pkl")
    changes = {"points_none": {"points": None}, "points_dict": {"points": {"a": 1}},
               "points_nan": {"points": [[np.nan, 1], [2, 2]]}, "points_outside": {"points": [[3, 4], [99, 4]]},
               "prompt_none": {"prompt": None}, "mask_shape": {"mask": np.ones((3, 3), np.uint8)}}
    if kind in changes:
        (d / "meta_data.pkl").write_bytes(pickle.dumps({**meta, **changes[kind]}, protocol=protocol))
    elif kind == "ok":
        (d / "meta_data.pkl").write_bytes(pickle.dumps(meta, protocol=protocol))
    elif kind == "missing":
        (d / "meta_data.pkl").unlink()
    elif kind == "truncated":
        (d / "meta_data.pkl").write_bytes((d / "meta_data.pkl").read_bytes()[:25])
    elif kind == "list":
        (d / "meta_data.pkl").write_bytes(pickle.dumps([1, 2], protocol=protocol))
    elif kind == "evil":
        (d / "meta_data.pkl").write_bytes(pickle.dumps(os.system, protocol=protocol))
    try:
        s = dragbench.read_sample(d)
    except pickle.UnpicklingError as e:
        assert kind == "evil" and "refusing" in str(e)
        return
    except ValueError as e:
        assert kind not in ("ok", "prompt_none") and str(d) in str(e), (kind, str(e))
        return
    assert kind in ("ok", "prompt_none"), kind
    assert s.prompt == ("p" if kind == "ok" else "")
    assert s.handles.tolist() == [[3, 4]] and s.targets.tolist() == [[9, 4]]


@FUZZ
@given(masks(), st.sampled_from(["", None, 3]))
def test_write_sample_is_all_or_nothing(tmp_path_factory, mask, prompt):
    d = tmp_path_factory.mktemp("out") / "sample"
    try:
        dragbench.write_sample(d, np.zeros((16, 16, 3), np.uint8), [(1, 1)], [(5, 5)], mask=mask, prompt=prompt)
    except CLEAR:
        assert not d.exists() or not any(d.iterdir())   # nothing half-written
        return
    s = dragbench.read_sample(d)     # what it writes, it reads back
    assert s.mask.shape == (16, 16) and s.prompt == ("" if prompt is None else prompt)


@FUZZ
@given(points(), points(), masks())
def test_a_drag_session_starts_or_says_what_is_wrong_and_changes_nothing(tiny_sd, handles, targets, mask):
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    keep = (image.copy(), pickle.dumps(handles), pickle.dumps(targets),
            None if not isinstance(mask, np.ndarray) else mask.copy())
    _clear(dragnb.DragSession, tiny_sd, image, handles, targets, mask=mask, max_iters=1, steps=2)
    assert np.array_equal(image, keep[0]) and pickle.dumps(handles) == keep[1] and pickle.dumps(targets) == keep[2]
    if keep[3] is not None:
        assert np.array_equal(mask, keep[3], equal_nan=True)


def test_preview_before_run_and_similarity_of_two_points_are_refused(tiny_sd, scene_image):
    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(22, 13)], max_iters=1, steps=2)
    with pytest.raises(ValueError, match="run"):
        s.preview()
    f = dragnb.dift_features(tiny_sd, scene_image, ensemble=1)
    with pytest.raises(ValueError, match="one point"):
        dragnb.similarity_map(f, [(1, 1), (5, 5)])
    for bad in (dict(chunk=0), dict(ensemble=2.5), dict(up_block=1.5), dict(seed=None)):
        with pytest.raises(ValueError, match=list(bad)[0]):
            dragnb.dift_features(tiny_sd, scene_image, **bad)
    for bad in (dict(grow=float("nan")), dict(smooth=float("nan")), dict(eps=float("nan"))):
        with pytest.raises(ValueError, match=list(bad)[0]):
            dragnb.find_region(tiny_sd, scene_image, (15, 13), **bad)


def test_cuda_on_a_machine_without_it_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA"):
        dragnb.load("tiny", device="cuda")


def test_the_picker_refuses_what_the_drag_refuses_and_takes_one_point_as_the_drag_does():
    image = np.zeros((16, 16, 3), np.uint8)
    assert PickerState(image, handles=(3, 4)).handles == [(3.0, 4.0)]
    for bad, words in ((dict(handles=[(np.nan, 1)]), "NaN"), (dict(handles=[(40, 1)]), "outside"),
                       (dict(scale=0), "scale"), (dict(scale=-2), "scale"), (dict(prompt=3), "prompt"),
                       (dict(handles=[(1, 1)], targets=[(2, 2), (3, 3)]), "targets")):
        with pytest.raises(ValueError, match=words):
            PickerState(image, **bad)
