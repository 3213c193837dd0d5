"""The warp that init="warp" starts the drag from: known answers on drawn images."""
import numpy as np
import pytest
from PIL import Image

import dragnb
from dragnb.warp import drag_weight, warp_array, warped_image

FAST = dict(up_block=1, steps=10, max_iters=2)


def _square_image():
    img = np.zeros((40, 40, 3), np.uint8)
    img[:] = (30, 60, 200)
    img[15:21, 10:16] = (250, 240, 20)      # a 6x6 yellow square, centre (12.5, 17.5)
    region = np.zeros((40, 40), bool)
    region[15:21, 10:16] = True
    return img, region


def test_weight_is_one_on_the_rigid_part_and_falls_off():
    _, region = _square_image()
    w = drag_weight(region, (12, 17), (22, 17))           # drag 10 px: the whole square is rigid
    assert w[15:21, 10:16].min() == pytest.approx(1.0)
    assert w[17, 35] < 0.01 and 0.0 < w[17, 20] < 1.0  # 4 px from the square: partly moved
    small = drag_weight(region, (12, 17), (14, 17))       # drag 2 px: only cells near the handle
    assert small[17, 12] == 1.0 and small[15, 15] < 1.0


def test_a_rigid_square_moves_by_the_drag():
    img, region = _square_image()
    out = warp_array(img, drag_weight(region, (12, 17), (22, 17)), (12, 17), (22, 17))
    assert np.allclose(out[16:20, 21:25], (250, 240, 20), atol=1)   # the square's middle, 10 px right
    assert np.allclose(out[17, 11], (30, 60, 200), atol=40)        # where it was: background again


def test_only_pixels_inside_the_mask_change():
    img, region = _square_image()
    mask = np.zeros((40, 40), bool)
    mask[:, :20] = True
    out = np.asarray(warped_image(Image.fromarray(img), [region], [(12, 17)], [(22, 17)], mask))
    assert (out[:, 20:] == img[:, 20:]).all()
    # the square went 10 px right, out of the mask (where the input's pixels stay): inside, it left background
    assert np.allclose(out[15:21, 10:16], (30, 60, 200), atol=40)


def test_a_warp_drag_starts_tracking_at_the_targets(tiny_sd, scene_image):
    s = dragnb.DragSession(tiny_sd, scene_image, [(12, 13)], [(26, 13)], init="warp", tolerance=0.0, **FAST)
    states = list(s.run())
    r = s.result()
    assert s.warped.size == (32, 32) and np.asarray(s.warped).tobytes() != scene_image.tobytes()
    assert "warp" in r.timings and r.image.size == (32, 32)
    # tracking looks within r_p = 3 cells (6 px here) of where it starts: the target, 14 px from the handle
    assert np.linalg.norm(states[0].handles[0] - [26, 13]) <= 6 * np.sqrt(2) + 1


def test_an_unknown_init_is_named(tiny_sd, scene_image):
    with pytest.raises(ValueError, match="init must be one of 'inverted', 'warp'"):
        dragnb.DragSession(tiny_sd, scene_image, [(12, 13)], [(26, 13)], init="jump")


def test_a_warp_start_with_two_handles_stays_inside_the_users_mask(tiny_sd, scene_image):
    mask = np.zeros((32, 32), np.uint8)
    mask[4:24, 4:30] = 1
    s = dragnb.DragSession(tiny_sd, scene_image, [(12, 13), (20, 10)], [(18, 13), (20, 16)], mask=mask,
                           init="warp", **FAST)
    states = list(s.run())
    warped = np.asarray(s.warped)
    assert (warped[mask == 0] == scene_image[mask == 0]).all()
    assert (warped[mask == 1] != scene_image[mask == 1]).any()
    assert states[0].handles.shape == (2, 2) and s.result().image.size == (32, 32)
