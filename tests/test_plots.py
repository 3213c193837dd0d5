"""Plots draw what they are given."""
import numpy as np
import pytest

from dragnb import plots


def _rgba(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())


def test_heatmap_overlays_the_map_on_the_image(scene_image):
    sim = np.zeros((32, 32), np.float32)
    fig = plots.heatmap(scene_image, sim, point=(15, 13))
    ax = fig.axes[0]
    layers = [im.get_array() for im in ax.get_images()]
    assert np.array_equal(layers[0], scene_image) and np.array_equal(layers[1], sim)
    assert len(ax.lines) == 1 and list(ax.lines[0].get_xdata()) == [15]


def test_heatmap_rejects_a_map_of_another_size(scene_image):
    with pytest.raises(ValueError, match="does not match"):
        plots.heatmap(scene_image, np.zeros((5, 5)))


def test_correspondence_draws_one_line_per_pair(scene_image):
    fig = plots.correspondence(scene_image, scene_image, [(1, 2), (3, 4)], [(5, 6), (7, 8)])
    lines = [l for l in fig.axes[0].lines if l.get_linestyle() == "-"]
    assert len(lines) == 2
    off = 32 + 2
    assert list(lines[0].get_xdata()) == [1, 5 + off]


def test_mask_overlay_tints_only_the_mask(scene_image):
    mask = np.zeros((32, 32), bool)
    mask[:, 16:] = True
    fig = plots.mask_overlay(scene_image, mask)
    tint = fig.axes[0].get_images()[1].get_array()
    assert tint[:, 16:, 3].min() > 0 and tint[:, :16, 3].max() == 0
