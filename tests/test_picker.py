"""The point picker's state and the DragBench format, without a browser."""
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

import dragnb
from dragnb.bench.samples import SAMPLES, read_meta, read_sample, write_sample
from dragnb.features import Features
from dragnb.images import Geometry
from dragnb.ui.picker_state import PickerState, display_scale



def test_small_images_are_zoomed_by_whole_numbers_and_large_ones_shrunk():
    assert display_scale((64, 64)) == 6.0
    assert display_scale((512, 341)) == 1.0
    assert display_scale((1280, 640)) == 0.5


@pytest.mark.parametrize("size", [(64, 64), (1280, 853), (37, 23)])
def test_display_clicks_map_to_image_pixels_and_back(size):
    s = PickerState(np.zeros((size[1], size[0], 3), np.uint8))
    rng = np.random.default_rng(0)
    w, h = s.display_size
    for x, y in rng.uniform([0, 0], [w - 1, h - 1], (10, 2)):
        ix, iy = s.to_image(x, y)
        assert 0 <= ix <= size[0] - 1 and 0 <= iy <= size[1] - 1
        assert np.allclose(s.to_display(ix, iy), (x, y), atol=s.scale / 2)  # clamping at the edge only
    assert s.to_image(*s.to_display(10.0, 7.0)) == (10.0, 7.0)


def test_clicks_alternate_handle_and_target_and_points_can_be_dragged(scene_image):
    s = PickerState(scene_image, scale=4)
    assert s.click(10, 10)[0] == "handle" and s.click(60, 10)[0] == "target"
    assert s.click(30, 30)[0] == "handle"
    grab = s.point_at(61, 11)
    assert grab == ("target", 0)
    s.move(grab, 81.5, 41.5)
    assert s.targets[0] == (19.875, 9.875)  # 81.5 / 4 - 0.5


def test_undo_and_redo(scene_image):
    s = PickerState(scene_image, scale=1)
    s.click(1.5, 1.5)
    s.click(5.5, 5.5)  # canvas coordinates: the centre of pixel 5
    s.checkpoint()
    s.paint(10, 10, 3)
    assert s.mask.sum() > 0
    assert s.undo() and s.mask.sum() == 0
    assert s.undo() and s.targets == []
    assert s.redo() and s.targets == [(5.0, 5.0)]
    assert s.redo() and s.mask.sum() > 0
    assert not s.redo()


def test_remove_pair_and_clear(scene_image):
    s = PickerState(scene_image, handles=[(1, 1), (2, 2)], targets=[(3, 3), (4, 4)])
    s.remove_pair(0)
    assert s.handles == [(2.0, 2.0)] and s.targets == [(4.0, 4.0)]
    s.clear()
    assert s.handles == [] and not s.mask.any()


def test_save_then_load_keeps_everything_exactly(tmp_path, scene_image):
    mask = np.zeros((32, 32), bool)
    mask[3:9, 4:20] = True
    s = PickerState(scene_image, [(1, 2), (3.5, 4.25)], [(5, 6), (7, 8)], mask, "two mountains")
    s.save(tmp_path / "edit")
    back = read_sample(tmp_path / "edit")
    assert np.array_equal(np.asarray(back.image), scene_image)
    assert back.handles.tolist() == [[1, 2], [3.5, 4.25]] and back.targets.tolist() == [[5, 6], [7, 8]]
    assert np.array_equal(back.mask, mask) and back.prompt == "two mountains"
    meta = read_meta(tmp_path / "edit" / "meta_data.pkl")
    assert meta["points"][0] == [1, 2] and type(meta["points"][0][0]) is int  # as DragBench stores them
    assert meta["mask"].dtype == np.uint8


def test_a_pending_handle_cannot_be_saved(tmp_path, scene_image):
    s = PickerState(scene_image, [(1, 2)], [])
    with pytest.raises(ValueError, match="no target yet"):
        s.save(tmp_path / "x")


def test_the_restricted_unpickler_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("ran code",))

    (tmp_path / "meta_data.pkl").write_bytes(pickle.dumps({"prompt": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        read_meta(tmp_path / "meta_data.pkl")


def test_real_dragbench_samples_read_and_write_back_identically(tmp_path):
    for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        s = read_sample(folder)
        assert s.image.width == 512 and len(s.handles) == len(s.targets) >= 1
        write_sample(tmp_path / folder.name, s.image, s.handles, s.targets, s.mask, s.prompt)
        a, b = read_meta(folder / "meta_data.pkl"), read_meta(tmp_path / folder.name / "meta_data.pkl")
        assert a["points"] == b["points"] and a["prompt"] == b["prompt"]
        assert np.array_equal(a["mask"], b["mask"]) and a["mask"].dtype == b["mask"].dtype


def test_the_widget_reports_and_accepts_state_from_python(scene_image, tmp_path):
    p = dragnb.PointPicker(scene_image)
    p.handles = [(3, 4)]
    p.targets = [(9, 4)]
    p.prompt = "a sun"
    m = np.zeros((32, 32), bool)
    m[0:5, 0:5] = True
    p.mask = m
    assert p.handles == [(3.0, 4.0)] and p.targets == [(9.0, 4.0)] and p.mask.sum() == 25
    p._down(*p.state.to_display(20, 20))   # a click from the canvas adds the next handle
    assert p.handles[-1] == (20.0, 20.0)
    p.undo()
    assert p.handles == [(3.0, 4.0)]
    p.save(tmp_path / "s")
    q = dragnb.PointPicker.load(tmp_path / "s")
    assert q.handles == p.handles and q.targets == p.targets and q.prompt == "a sun"
    assert np.array_equal(q.mask, p.mask)


def test_shortcuts_use_only_keys_notebooks_leave_to_outputs(scene_image):
    # JupyterLab / Notebook 7 / VS Code bind these letters in command mode (insert, cut, retype,
    # undo cells) and take them before the canvas: the picker must not rely on them
    taken = set("abcdijklmorsvxyz")
    p = dragnb.PointPicker(scene_image)
    keys = {part.split()[0] for part in dragnb.ui.picker.SHORTCUTS.split(" · ")}
    assert not {k.lower() for k in keys if len(k) == 1} & taken, keys
    p._key("w", False, False, False)
    assert p._mode.value == "brush"
    p._key("p", False, False, False)
    p._down(*p.state.to_display(5, 5))
    p._up(*p.state.to_display(5, 5))
    p._key("u", False, False, False)
    assert p.handles == []
    p._key("U", True, False, False)
    assert p.handles == [(5.0, 5.0)]
    p._key("q", False, False, False)
    assert p.handles == []
    p._key("u", False, True, False)   # Ctrl+U is the browser's, not an undo
    assert p.handles == []


def test_region_points_and_the_similarity_slider_steer_the_suggestion():
    from test_region import _pieces_features, _pieces_image

    image = _pieces_image()        # a red square with its lid, a green square, blue ground
    p = dragnb.PointPicker(image, handles=[(8, 18)], targets=[(8, 10)], model=object())
    p._features = _pieces_features(image)
    p.auto_region()
    red = p._suggestion.copy()
    assert red[18, 8] and red[9, 8] and not red[18, 25]
    assert p._similar.value == dragnb.region.MERGE_AUTO   # the slider shows the automatic threshold
    p._mode.value = "region"
    p._down(*p.state.to_display(25, 18))           # a second click, on the green square
    assert p._suggestion[18, 25] and (p._suggestion | ~red).all()
    both = p._suggestion.copy()
    p._similar.value = 1.0                         # the slider shrinks it live
    assert p._suggestion.sum() < both.sum()
    p._similar.value = -0.2                        # ... and grows it to everything
    assert p._suggestion.all()
    assert not p.mask.any()                        # nothing is in the mask until it is accepted
    p.accept_region()
    assert p.mask.all() and p._suggestion is None and p._region_points == []


def test_the_status_line_says_whether_a_mask_is_painted_in_image_pixels():
    p = dragnb.PointPicker(np.zeros((20, 30, 3), np.uint8))
    assert "none painted (a drag finds the region under its handles)" in p.status()
    m = np.zeros((20, 30), bool)
    m[2:5, 3:7] = True
    p.mask = m
    assert "mask: 12 image pixels painted" in p.status() and "30x20 pixels" in p.status()


def test_the_pickers_prompt_takes_none_and_its_targets_never_outnumber_handles(scene_image):
    p = dragnb.PointPicker(scene_image)
    p.prompt = None
    assert p.prompt == ""
    with pytest.raises(ValueError, match="a string"):
        p.prompt = 3
    p.handles = [(1, 1)]
    with pytest.raises(ValueError, match="2 target"):
        p.targets = [(2, 2), (3, 3)]
    assert p.targets == [] and p.handles == [(1.0, 1.0)]
    p.targets = [(2, 2)]
    with pytest.raises(ValueError, match="set the targets first"):
        p.handles = []
