"""The mechanism record (``mechanism=True``): what tracking compared, what supervision pulled, where
the latent changed; its pictures; and that asking for it changes nothing else."""
import numpy as np
import pytest

import dragnb
from dragnb.session import DragStep, StepMechanism, change_near
from dragnb.teaching.cases import edit_case
from dragnb.teaching.scenes import random_scene
from dragnb.ui import mechanism_plots

FAST = dict(up_block=1, steps=10, max_iters=4)
LOOP = dict(init="inverted", strength=0.7, lr=0.05, tolerance=0.5, r_m=1, r_p=3, size=64, max_iters=6)


@pytest.fixture(scope="module")
def peak():
    scene = random_scene(seed=2_000_188)
    mountain = next(i for i in scene.draggable() if scene.objects[i].kind == "mountain")
    return edit_case(scene, mountain, "peak", dx=0, dy=-0.14)


@pytest.fixture(scope="module")
def recorded(teaching, peak):
    return dragnb.drag(teaching, peak.image, [peak.handle], [peak.target], mechanism=True, **LOOP)


def test_nothing_is_recorded_unless_asked(tiny_sd, scene_image):
    r = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], tolerance=0.0, **FAST)
    assert r.history and all(s.mechanism is None for s in r.history)
    with pytest.raises(ValueError, match="mechanism=True"):
        r.change_near()
    with pytest.raises(ValueError, match="mechanism=True"):
        dragnb.plots.mechanism(r)


def test_asking_for_the_record_changes_no_result_and_no_unet_pass(tiny_sd, scene_image):
    runs = [dragnb.drag(tiny_sd, scene_image, [(15, 13), (5, 5)], [(22, 13), (5, 12)], tolerance=0.0,
                        mechanism=on, **FAST) for on in (False, True)]
    assert runs[0].passes == runs[1].passes
    assert [s.handles.tolist() for s in runs[0].history] == [s.handles.tolist() for s in runs[1].history]
    assert [s.losses for s in runs[0].history] == [s.losses for s in runs[1].history]
    assert np.array_equal(np.asarray(runs[0].image), np.asarray(runs[1].image))


def test_sd_record_has_the_latent_and_window_shapes(tiny_sd, scene_image):
    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13), (5, 5)], [(22, 13), (5, 12)], tolerance=0.0,
                           mechanism=True, **FAST)
    steps = list(s.run())
    latent = tuple(s.inversion.latent.shape[-2:])
    r_p = s.options.on_grid(s.inversion.geometry.cell_size(s.inversion.geometry.grid(s.options.feature_scale)))["r_p"]
    for st in steps:
        m = st.mechanism
        assert isinstance(m, StepMechanism) and m.change.shape == latent and m.so_far.shape == latent
        assert len(m.windows) == 2 and all(w.shape[0] <= 2 * r_p + 1 and w.shape[1] <= 2 * r_p + 1
                                           for w in m.windows)
        assert m.boxes.shape == (2, 4) and m.pulls.shape == (2, 2)
        assert np.allclose(m.found, st.handles)
    assert steps[0].mechanism.tracked is False and all(st.mechanism.tracked for st in steps[1:])
    assert np.allclose(steps[0].mechanism.change, steps[0].mechanism.so_far)


def test_tracking_puts_the_handle_at_the_windows_nearest_cell(recorded):
    for st in recorded.history[1:]:
        m = st.mechanism
        dist = m.windows[0]
        left, top, right, bottom = m.boxes[0]
        rows, cols = dist.shape
        k = int(np.argmin(dist))
        cx = left + (k % cols + 0.5) * (right - left) / cols
        cy = top + (k // cols + 0.5) * (bottom - top) / rows
        assert np.allclose(m.found[0], (cx, cy), atol=1e-6)
        assert left <= m.before[0][0] <= right and top <= m.before[0][1] <= bottom
        d = recorded.targets[0] - m.found[0]
        assert np.allclose(m.pulls[0], d / np.linalg.norm(d) * m.cell)   # one feature cell towards the target


def test_the_net_change_adds_up_the_steps(recorded):
    m = [s.mechanism for s in recorded.history]
    assert m[0].change.shape == (16, 16) and m[0].latent_cell == pytest.approx(4.0)
    assert (m[-1].so_far <= np.sum([x.change for x in m], 0) + 1e-5).all()   # the triangle inequality
    assert m[-1].so_far.sum() > m[0].so_far.sum() > 0


def test_change_near_is_the_share_within_a_drag_length():
    change = np.zeros((4, 4), np.float32)
    change[0, 0], change[3, 3] = 3.0, 1.0           # cells of 8 px over a 32-px image
    m = StepMechanism([np.zeros((3, 3))], np.zeros((1, 4)), np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)),
                      1.0, change, change, (-0.5, -0.5, 31.5, 31.5), 1.0, 8.0, True)
    history = [DragStep(0, np.zeros((1, 2)), 1.0, {}, mechanism=m)]
    assert change_near(history, np.array([[3.5, 3.5]]), np.array([[3.5, 9.5]])) == pytest.approx(0.75)
    assert change_near(history, np.array([[3.5, 3.5]]), np.array([[3.5, 9.5]]), radius=100) == pytest.approx(1.0)
    assert change_near(history, np.array([[20.0, 20.0]]), np.array([[20.0, 26.0]]), radius=1) == pytest.approx(0.0)
    assert change_near(history, np.array([[20.0, 20.0]]), np.array([[20.0, 32.0]])) == pytest.approx(0.25)


def test_the_pictures_show_a_step_and_the_steps(recorded, peak):
    fig = dragnb.plots.mechanism(recorded, 2, picture=peak.truth)
    titles = [ax.get_title() for ax in fig.axes]
    assert "step 2: tracking found the star" in titles and "step 2: the net change so far" in titles
    strip = dragnb.plots.mechanism_strip(recorded, every=2)
    assert [ax.get_title() for ax in strip.axes[:3]] == ["tracking, step 0", "step 2", "step 4"]
    png = mechanism_plots.mechanism_png(recorded, -1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="recorded steps 0..5"):
        dragnb.plots.mechanism(recorded, 40)
    with pytest.raises(TypeError, match="DragResult or a DragSession"):
        dragnb.plots.mechanism(peak.image)
