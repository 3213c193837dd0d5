"""The drag widget, driven from Python (the browser test covers the canvas itself)."""
import numpy as np

import dragnb
from dragnb.widgets import annotate

FAST = dict(up_block=1, steps=10, max_iters=3, tolerance=0.0)


def test_the_drag_button_runs_a_drag_and_shows_before_and_after(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, preview_every=1, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    result = w.run()
    assert result is not None and w.results == [result]
    assert w.progress.max == 3 and not w.compare.disabled and w.view.value[:4] == b"\x89PNG"
    after = w.view.value
    w.compare.value = "before"
    assert w.view.value != after
    assert "done in" in w.message.value


def test_a_failed_drag_says_why_and_keeps_the_users_points(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], []
    assert w.run() is None
    assert "cannot drag" in w.message.value and "at least one" in w.message.value
    assert w.picker.handles == [(15.0, 13.0)] and not w.button.disabled


def test_a_second_drag_starts_from_the_result(tiny_sd, scene_image):
    w = dragnb.DragWidget(tiny_sd, scene_image, **FAST)
    w.picker.handles, w.picker.targets = [(15, 13)], [(22, 13)]
    first = w.run()
    w.continue_from_result()
    assert np.array_equal(np.asarray(w.picker.image), np.asarray(first.image))
    assert w.picker.handles == [] and w.widget.children[0] is w.picker.widget


def test_annotate_draws_paths_and_targets_on_an_enlarged_image():
    im = annotate(__import__("PIL.Image", fromlist=["Image"]).new("RGB", (10, 10)), [[(1, 1), (8, 1)]],
                  [(8, 8)], scale=4)
    a = np.asarray(im)
    assert im.size == (40, 40)
    assert tuple(a[6, 18]) == (255, 230, 0)          # on the path between the two points
    assert tuple(a[33, 33]) == (30, 136, 229)        # the target's dot
