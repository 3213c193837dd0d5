"""Images in every form, and points that map consistently between frames."""
import numpy as np
import torch
import pytest
from PIL import Image

from dragnb import validate
from dragnb.images import Geometry, load_image, model_size, prepare


def test_rgba_is_composited_on_white():
    a = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    assert np.asarray(load_image(a))[0, 0].tolist() == [255, 255, 255]


def test_grayscale_becomes_rgb():
    im = load_image(np.full((5, 6), 77, np.uint8))
    assert im.mode == "RGB" and im.size == (6, 5) and np.asarray(im)[0, 0].tolist() == [77, 77, 77]


def test_path_and_pil_give_the_same_image(tmp_path, scene_image):
    Image.fromarray(scene_image).save(tmp_path / "a.png")
    assert np.array_equal(np.asarray(load_image(tmp_path / "a.png")), scene_image)
    assert np.array_equal(np.asarray(load_image(str(tmp_path / "a.png"))), scene_image)


@pytest.mark.parametrize("bad, words", [
    (np.zeros((4, 4, 3), np.int32), "uint8"),
    (np.zeros((4, 4, 2), np.uint8), "shape"),
    ("/no/such/file.png", "not found"),
    (12, "expected a PIL image"),
    (Image.new("I;16", (4, 4)), "bit depth"),
])
def test_bad_images_raise_value_errors_naming_the_problem(bad, words):
    with pytest.raises(ValueError, match=words):
        load_image(bad)


def test_the_working_frame_keeps_the_aspect_ratio_and_pads_to_the_model_factor():
    assert model_size((512, 341), 512, 64) == ((512, 341), (512, 384))   # a DragBench photo: no stretch
    assert model_size((37, 23), 64, 16) == ((64, 40), (64, 48))         # 39.8 -> 40, padded to 48
    content, (w, h) = model_size((1000, 7), 64, 16)
    assert w % 16 == 0 and h >= 16 and content == (64, 1)


def test_padding_repeats_the_edge_and_is_cut_off_again():
    a = np.zeros((23, 37, 3), np.uint8)
    a[:, -1] = 200                       # the right edge column
    _, x, g = prepare(a, 64, 16)
    assert g.content == (64, 40) and x.shape == (1, 3, 48, 64)
    assert torch.allclose(x[0, :, 40:, :], x[0, :, 39:40, :].expand(-1, 8, -1))   # bottom padding = last row
    back = np.asarray(g.image(x))
    assert back.shape == (23, 37, 3) and abs(int(back[11, -1, 0]) - 200) < 30 and back[11, 0, 0] < 30


def test_points_round_trip_through_a_padded_frame():
    g = Geometry((37, 23), (64, 48), (64, 40))
    p = np.array([[0, 0], [36, 22], [12.25, 7.5]])
    assert np.allclose(g.to_user(g.to_model(p)), p)
    assert np.allclose(g.from_grid(g.to_grid(p, (16, 12)), (16, 12)), p)
    # one scale for both axes: the image's bottom edge sits at 40 of the frame's 48 rows
    assert np.allclose(g.to_model([[36.5, 22.5]]) + 0.5, [[64, 40]])   # the far corner (pixel edges)
    assert g.framed == (37, 28)


def test_prepare_resizes_odd_images_and_keeps_the_user_size():
    pil, x, g = prepare(np.zeros((23, 37, 3), np.uint8), 64, 16)
    assert pil.size == (37, 23) and g.user == (37, 23)
    assert x.shape == (1, 3, g.model[1], g.model[0]) and g.model[0] % 16 == 0


def test_points_round_trip_between_frames_exactly():
    g = Geometry((37, 23), (64, 32))
    p = np.array([[0, 0], [36, 22], [12.25, 7.5]])
    assert np.allclose(g.to_user(g.to_model(p)), p)
    assert np.allclose(g.from_grid(g.to_grid(p, (5, 3)), (5, 3)), p)
    # the centre of the image maps to the centre of every other frame
    assert np.allclose(g.to_model([[18, 11]]), [[31.5, 15.5]])
    assert np.allclose(g.to_grid([[18, 11]], (5, 3)), [[2, 1]])


@pytest.mark.parametrize("points, words", [
    ([(40, 3)], "outside"),
    ([(-1, 3)], "outside"),
    ([(3, float("nan"))], "NaN"),
    ([(1, 2, 3)], "shape"),
    ("ab", "pairs"),
])
def test_bad_points_raise_value_errors(points, words):
    with pytest.raises(ValueError, match=words):
        validate.image_points(points, (37, 23))


def test_one_point_or_many():
    assert validate.image_points((3, 4), (10, 10)).shape == (1, 2)
    assert validate.image_points([(3, 4), (5, 6)], (10, 10)).shape == (2, 2)


def test_an_open_binary_file_is_read_like_a_path_and_a_text_one_refused():
    import io

    from PIL import Image

    import dragnb

    buf = io.BytesIO()
    Image.fromarray(np.full((9, 7, 3), 120, np.uint8)).save(buf, "PNG")
    buf.seek(0)
    assert dragnb.load_image(buf).size == (7, 9)
    with pytest.raises(ValueError, match="binary mode"):
        dragnb.load_image(io.StringIO("not an image"))
    with pytest.raises(ValueError, match="the file object is not a readable image"):
        dragnb.load_image(io.BytesIO(b"junk"))
