"""The drag widget, driven from Python (the browser test covers the canvas and the buttons)."""
import time

import numpy as np
import pytest
from PIL import Image

import dragnb
from dragnb.bench.samples import read_sample
from dragnb.teaching.scenes import random_scene
from dragnb.ui.charts import Trace, chart_png, nearest_keypoint, scene_case
from dragnb.ui.widget import annotate

FAST = dict(up_block=1, steps=10, max_iters=3, tolerance=0.0)


def _peak(seed=2_000_188):
    scene = random_scene(seed)
    i = next(i for i in scene.draggable() if scene.objects[i].kind == "mountain")
    return scene, scene.keypoints(64)[(i, "peak")]


def test_the_drag_button_runs_a_drag_and_shows_before_and_after(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, preview_every=1, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    result = w.run()
    assert result is not None and w.results == [result]
    assert w.progress.max == 3 and not w.panel.show.disabled and w.view.value[:4] == b"\x89PNG"
    after = w.view.value
    w.panel.show.value = "A"                       # A: the drag's input
    assert w.view.value != after
    assert "done in" in w.message.value and "image pixels" in w.message.value
    assert w.chart.value[:4] == b"\x89PNG" and w.history[0].trace.steps == [0, 1, 2]


def test_a_failed_drag_says_why_and_keeps_the_users_points(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], []
    assert w.run() is None and not w.start()
    assert "cannot drag" in w.message.value and "at least one" in w.message.value
    assert w.picker.handles == [(15.0, 13.0)] and not w.button.disabled and w.history == []


def test_a_bad_setting_is_refused_naming_it_and_nothing_is_lost(tiny_sd, scene_image):
    with pytest.raises(ValueError, match="lr"):
        dragnb.DragWidget(tiny_sd, scene_image, lr=-1.0)
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    mask = np.zeros((32, 32), bool)
    mask[5:25, 5:30] = True
    w.picker.mask = mask
    w.settings.controls["lr"].value = -1.0
    assert w.run() is None and "lr" in w.message.value
    assert w.picker.handles == [(15.0, 13.0)] and (w.picker.mask == mask).all()


def test_the_painted_mask_reaches_the_drag_and_the_message_says_so(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    mask = np.zeros((32, 32), bool)
    mask[5:25, 5:30] = True
    w.picker.mask = mask
    r = w.run()
    assert (r.mask == mask).all() and f"{mask.sum()} image pixels (painted)" in w.message.value
    w.picker.mask = np.zeros((32, 32), bool)       # nothing painted: the region is found
    w.run()
    assert "(found under the handles)" in w.message.value


def test_stop_ends_a_background_drag_after_the_step_under_way(teaching):
    """The bar of issue 25: max_iters 200, Stop after the 3rd step, the thread leaves the caller free."""
    scene, peak = _peak()
    w = dragnb.DragWidget(teaching, scene, init="inverted", tolerance=0.0, max_iters=200)
    w.picker.handles, w.picker.targets = [peak], [(peak[0], peak[1] - 9)]
    assert w.start() and w.running and w.button.disabled and not w.stop_button.disabled
    answered = sum(range(1000))                   # the caller (the kernel) computes meanwhile
    while w.running and (not w.session.history or w.session.history[-1].step < 2):
        time.sleep(0.005)
    pressed = len(w.session.history)
    w.stop()
    result = w.wait(120)
    assert answered == 499500 and not w.running and w.error is None
    assert pressed == 3 and 3 <= len(result.history) <= 4, (pressed, len(result.history))
    assert not result.arrived and w.history[-1].stopped and "stopped by you" in w.message.value
    assert not w.button.disabled and w.stop_button.disabled
    assert result.image.size == (64, 64)


def test_a_setting_changes_the_next_drag_and_reset_restores_the_models_value(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    model_lam = dragnb.DragOptions.for_model(tiny_sd).lam
    assert w.settings.values()["lam"] == model_lam == w.settings.defaults["lam"]
    w.settings.controls["lam"].value = 0.7
    assert w.run().options.lam == 0.7
    w.settings.reset()
    assert w.settings.values()["lam"] == model_lam and w.run().options.lam == model_lam
    assert w.history[0].settings["lam"] == 0.7          # each drag kept with its settings


def test_the_settings_show_the_teaching_models_values_and_their_sources(teaching):
    from dragnb.ui.settings import SettingsPanel

    p = SettingsPanel(teaching)
    assert p.values()["init"] == "warp" and p.values()["size"] == 128 and p.values()["lam"] == 0.1
    notes = {name: row.children[1].value for name, row in zip(p.controls, p.widget.children)}
    assert "dragnb.json" in notes["init"] and "DragDiffusion" in notes["lam"]
    with pytest.raises(ValueError, match="no field"):
        p.set(bogus=1)


def test_a_background_failure_is_shown_and_the_widget_recovers(tiny_sd, scene_image, monkeypatch):
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]

    def broken(self):
        raise RuntimeError("out of memory")
    monkeypatch.setattr(dragnb.DragSession, "prepare", broken)
    assert w.start()
    w.wait(30)
    assert isinstance(w.error, RuntimeError) and "out of memory" in w.message.value
    assert not w.button.disabled and w.picker.handles == [(15.0, 13.0)]


def test_history_steps_back_compares_and_exports(tiny_sd, scene_image, tmp_path):
    w = dragnb.DragWidget(tiny_sd, scene_image, preview_every=1, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    mask = np.zeros((32, 32), bool)
    mask[5:25, 5:30] = True
    w.picker.mask = mask
    first = w.run()
    w.continue_from_result()
    assert np.array_equal(np.asarray(w.picker.image), np.asarray(first.image)) and w.picker.handles == []
    w.picker.handles, w.picker.targets = [(22, 13)], [(22, 20)]
    second = w.run()
    assert [o[0] for o in w.panel.a.options] == ["drag 1: before", "drag 1: after", "drag 2: before",
                                                  "drag 2: after"]
    w.panel.a.value, w.panel.b.value = (0, "before"), (1, "after")    # compare any two
    w.panel.show.value = "A"
    a = w.view.value
    assert w.chart.value == chart_png(w.history[0].trace, height=w._chart_height())   # A's charts too
    w.panel.show.value = "B"
    assert a != w.view.value and w.chart.value == chart_png(w.history[1].trace, height=w._chart_height())
    w.back()                                       # to where drag 2 started
    assert np.array_equal(np.asarray(w.picker.image), np.asarray(second.original))
    assert w.picker.handles == [(22.0, 13.0)] and w.picker.targets == [(22.0, 20.0)] and not w.picker.mask.any()
    w.panel.path.value = str(tmp_path / "edit")
    w.panel.gif.click()
    assert (tmp_path / "edit.gif").stat().st_size > 0 and "saved" in w.panel.message.value
    w.panel.show.value = "A"                        # A shows drag 1: its sample
    w.panel.sample.click()
    s = read_sample(tmp_path / "edit")
    assert np.allclose(s.handles, [[15, 13]]) and (s.mask == first.mask).all()
    assert np.array_equal(np.asarray(Image.open(tmp_path / "edit" / "edited.png")), np.asarray(first.image))


def test_a_scene_widget_charts_the_pictures_distance_beside_trackings(teaching):
    scene, peak = _peak()
    w = dragnb.DragWidget(teaching, scene, preview_every=1, init="inverted", tolerance=0.0, max_iters=2)
    w.picker.handles, w.picker.targets = [peak], [(peak[0], peak[1] - 9)]
    w.run()
    tr = w.history[0].trace
    assert [s for s, _ in tr.picture] == [0, 1] and tr.picture[0][1] == pytest.approx(9.0, abs=1.0)
    assert tr.result_picture is not None


def test_scene_case_follows_the_requested_drag_from_a_keypoint():
    scene, peak = _peak()
    case = scene_case(scene, (peak[0] + 1, peak[1]), (peak[0], peak[1] - 9), 64)
    assert case.name == "raise peak" and np.allclose(case.target, (peak[0], peak[1] - 9), atol=0.01)
    assert nearest_keypoint(scene, peak, 64)[2] == peak
    assert scene_case(scene, (0.0, 0.0), (5.0, 5.0), 64) is None


def test_the_chart_draws_both_distances_and_the_losses():
    t = Trace(length=9.0)
    blank = chart_png(t)
    for i in range(4):
        t.add(dragnb.DragStep(i, np.zeros((1, 2)), 9.0 - i, {"motion": 1.0 / (i + 1), "preserve": 0.1}))
    t.picture = [(0, 9.0), (2, 8.0)]
    t.result_picture = 7.5
    png = chart_png(t)
    assert png[:4] == b"\x89PNG" and png != blank


def test_annotate_draws_paths_and_targets_on_an_enlarged_image():
    im = annotate(Image.new("RGB", (10, 10)), [[(1, 1), (8, 1)]], [(8, 8)], scale=4)
    a = np.asarray(im)
    assert im.size == (40, 40)
    assert tuple(a[6, 18]) == (255, 230, 0)          # on the path between the two points
    assert tuple(a[33, 33]) == (30, 136, 229)        # the target's dot



def test_a_finished_drag_draws_its_picture_and_charts_once(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    w.run()
    shown = []
    draw = w.show_picture
    w.show_picture = lambda *a: shown.append(a) or draw(*a)
    w.run()
    assert shown == [(1, "after")] and w.panel.shown() == (1, "after") and w.panel.a.value == (1, "before")


def test_the_widget_shows_warnings_meant_for_the_user_once_and_no_deprecation_notices():
    import warnings

    from dragnb.ui.widget import _for_user

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("utcnow() is deprecated", DeprecationWarning)
        warnings.warn("a photo on the teaching model", UserWarning)
        warnings.warn("a photo on the teaching model", UserWarning)
        warnings.warn("will change", FutureWarning)
    assert _for_user(caught) == ["a photo on the teaching model"]


def test_the_settings_fold_under_a_title_on_ipywidgets_7_and_8(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    assert w.accordion.get_title(0) == "settings" and w.accordion.selected_index is None


def test_the_step_view_follows_the_drag_shows_a_chosen_step_and_any_drag_of_the_history(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    first = w.run()
    assert w.viewed == (first, 2) and w.step_box.max == 2 and w.mechanism.value[:4] == b"\x89PNG"
    assert "drag 1, step 2:" in w.step_caption.value
    w.step_slider.value = 1                            # the slider and the box are one choice
    assert w.viewed == (first, 1) and w.step_box.value == 1
    second = w.run()
    assert w.viewed == (second, 2)                     # a new drag: the view follows it again
    w.show_picture(0, "after")
    assert w.viewed == (first, 2) and "drag 1" in w.step_caption.value
    w.show_step(0)
    assert w.viewed == (first, 0)


def test_a_drag_without_a_record_says_so_in_the_step_view(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, mechanism=False, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    w.run()
    assert w.viewed is None and "did not record its mechanism" in w.step_caption.value
