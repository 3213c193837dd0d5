"""Plots draw what they are given."""
import numpy as np
import pytest

import dragnb
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


def _history(n=3):
    from dragnb.session import DragStep
    from PIL import Image

    return [DragStep(i, np.array([[10.0 + i, 5.0]]), 10.0 - i, {"motion": 1.0 / (i + 1), "preserve": 0.1 * i},
                     Image.new("RGB", (8, 8), (10 * i, 0, 0)) if i % 2 == 0 else None) for i in range(n)]


def test_trajectory_draws_each_handles_path(scene_image):
    fig = plots.trajectory(scene_image, _history(), [[20, 5]], start=[[9, 5]])
    path = [l for l in fig.axes[0].lines if l.get_linestyle() == "-"][0]
    assert list(path.get_xdata()) == [9, 10, 11, 12] and list(path.get_ydata()) == [5, 5, 5, 5]
    fig = plots.trajectory(scene_image, _history(), [[20, 5]], start=[[9, 5]], end=[[19, 6]])
    path = [l for l in fig.axes[0].lines if l.get_linestyle() == "-"][0]
    assert list(path.get_xdata()) == [9, 10, 11, 12, 19] and list(path.get_ydata()) == [5, 5, 5, 5, 6]


def test_drag_losses_plot_the_recorded_values():
    fig = plots.drag_losses(_history())
    motion = fig.axes[0].lines[0]
    assert np.allclose(motion.get_ydata(), [1.0, 0.5, 1 / 3])
    assert fig.axes[2].get_title() == "distance to target (px)"


def test_drag_losses_of_a_result_end_where_tracking_found_the_handle_last():
    from types import SimpleNamespace

    fig = plots.drag_losses(SimpleNamespace(history=_history(), distance=0.5))
    star = [l for l in fig.axes[2].lines if l.get_marker() == "*"]
    assert len(star) == 1 and list(star[0].get_xdata()) == [3] and list(star[0].get_ydata()) == [0.5]


def test_the_gallery_shows_at_most_eight_previews_first_and_last_included():
    from dragnb.session import DragStep
    from PIL import Image

    many = [DragStep(i, np.zeros((1, 2)), 1.0, {}, Image.new("RGB", (8, 8))) for i in range(67)]
    titles = [ax.get_title() for ax in plots.gallery(many).axes if ax.get_images()]
    assert len(titles) == 8 and titles[0] == "step 0" and titles[-1] == "step 66"


def test_two_distances_draw_tracking_and_the_picture_per_step():
    from dragnb.bench import Seen

    seen = [Seen(0, 6.0, 6.0, None), Seen(4, 2.0, 5.5, None), Seen(8, 0.3, 5.4, None)]
    fig = plots.two_distances(seen, length=6.0)
    tracking, picture = fig.axes[0].lines[:2]
    assert list(tracking.get_xdata()) == [0, 4, 8] and list(tracking.get_ydata()) == [6.0, 2.0, 0.3]
    assert list(picture.get_ydata()) == [6.0, 5.5, 5.4]


def test_heatmaps_share_one_colour_scale_and_show_its_bar(tiny_sd, scene_image):
    import dragnb

    fig = plots.heatmaps(dragnb.dift_features(tiny_sd, scene_image), [(5, 5), (20, 20)])
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "cosine similarity"]
    maps = [ax.get_images()[-1] for ax in fig.axes[1:] if ax.get_images() and ax not in bars]   # [0]: the picture
    assert len(bars) == 1 and len(maps) == 2 and len({m.get_clim() for m in maps}) == 1


def test_outside_a_jupyter_kernel_the_figure_is_pyplots_current_one(scene_image):
    import matplotlib.pyplot as plt

    import ipykernel  # noqa: F401  (imported is not running in one)

    fig = plots.image_grid([scene_image])
    assert plt.gcf() is fig
    plt.close(fig)


def test_in_a_jupyter_kernel_the_figure_is_left_to_the_cells_display(scene_image, monkeypatch):
    import IPython
    import matplotlib.pyplot as plt
    from types import SimpleNamespace

    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(kernel=object()))
    before = plt.get_fignums()
    plots.image_grid([scene_image])
    assert plt.get_fignums() == before


def test_the_animation_marks_each_frame_with_the_drag(tmp_path):
    import imageio.v3 as iio
    from types import SimpleNamespace

    from PIL import Image

    from dragnb.session import DragStep

    history = [DragStep(i, np.array([[10.0 + i, 20.0]]), 10.0 - i, {}, Image.new("RGB", (32, 32), (0, 90, 0)))
               for i in range(3)]
    result = SimpleNamespace(history=history, start=np.array([[10.0, 20.0]]), targets=np.array([[20.0, 20.0]]),
                             handles=np.array([[14.0, 20.0]]), image=Image.new("RGB", (32, 32)),
                             original=Image.new("RGB", (32, 32)))
    frames = iio.imread(plots.drag_animation(result, tmp_path / "a.gif", min_side=64), index=None)
    assert frames.shape[0] >= 4 and frames.shape[1:3] == (64, 64)   # 3 steps, then the result (held)
    red = (frames[..., 0] > 150) & (frames[..., 1] < 100) & (frames[..., 2] < 100)
    blue = (frames[..., 2] > 150) & (frames[..., 0] < 100)
    ys, xs = np.nonzero(red[2])      # step 2: the handle at (12, 20) pixels, (25, 41) in the frame
    assert abs(xs.mean() - 25) < 2 and abs(ys.mean() - 41) < 2
    assert blue[0, 39:44, 39:44].any()                               # the target at (20, 20)
    assert (frames[0, 50:, :, 1] > 80).mean() > 0.9                  # the preview itself is there
    with pytest.raises(ValueError, match="preview_every"):
        plots.drag_animation(SimpleNamespace(**{**vars(result), "history": []}), tmp_path / "b.gif")
    bare = SimpleNamespace(history=[], start=result.start, targets=result.targets, handles=result.start,
                           image=result.image, original=Image.new("RGB", (32, 32), (200, 0, 200)))
    frames = iio.imread(plots.drag_animation(bare, tmp_path / "c.gif", min_side=64, before=True, hold=1), index=None)
    assert frames[0, 50:, :, 0].mean() > 150 and frames[-1, 50:, :, 0].mean() < 50   # the input, then the result


def test_gallery_shows_only_the_previews():
    fig = plots.gallery(_history(5))
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles == ["step 0", "step 2", "step 4"]
    with pytest.raises(ValueError, match="preview_every"):
        plots.gallery(_history(1)[:0])


def test_drag_arrows_mark_handles_red_and_targets_blue(scene_image):
    fig = plots.drag_arrows(scene_image, [[3, 4], [5, 6]], [[9, 9], [1, 1]])
    dots = [l for l in fig.axes[0].lines if l.get_marker() == "o"]
    assert [l.get_markerfacecolor() for l in dots] == [plots.HANDLE, plots.TARGET] * 2


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_save_animation_writes_enlarged_frames(tmp_path, suffix):
    import imageio.v3 as iio

    if suffix == ".mp4":
        pytest.importorskip("imageio_ffmpeg")
    frames = [np.full((8, 8, 3), c, np.uint8) for c in (0, 128, 255)]
    path = plots.save_animation(frames, tmp_path / f"a{suffix}", min_side=32)
    back = iio.imread(path, index=None)
    assert back.shape[0] == 3 and back.shape[1:3] == (32, 32)
    assert abs(int(back[1, 16, 16, 0]) - 128) <= 3


def test_image_grid_keeps_small_images_crisp(scene_image):
    fig = plots.image_grid([scene_image] * 3, cols=2)
    im = fig.axes[0].get_images()[0]
    assert im.get_interpolation() == "nearest" and len(fig.axes) == 4


def test_the_teaser_shows_request_heatmap_path_and_result(tiny_sd, scene_image):
    import dragnb

    r = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], steps=10, max_iters=3, tolerance=0.0)
    sim = np.linspace(-1, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    fig = plots.teaser(r, sim)
    field = np.zeros((32, 32, 2))
    field[10:14, 14:18] = (7, 0)
    titles = [ax.get_title() for ax in plots.teaser(r, sim, field=field).axes]
    assert "the warp that starts the drag" in titles and "the handle's path" not in titles
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["the drag", "DIFT: like the handle", "the handle's path", "after"]
    assert np.array_equal(panels[1].get_images()[1].get_array(), sim)
    path = panels[2].lines[0]   # start, one point per step, the end
    assert len(path.get_xdata()) == len(r.history) + 2


def test_the_costs_plot_shows_each_stages_seconds_and_passes(tiny_sd, scene_image):
    import dragnb

    r = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], steps=10, max_iters=2, tolerance=0.0)
    fig = plots.costs(r)
    secs, passes = fig.axes[:2]
    assert [t.get_text() for t in secs.get_yticklabels()] == list(r.timings)
    assert [p.get_width() for p in secs.patches] == pytest.approx(list(r.timings.values()))
    fwd = [p.get_width() for p in passes.patches[:len(r.timings)]]
    assert fwd == [r.passes.get(s, {}).get("forward", 0) for s in r.timings]


def _panel_pixels(fig, ax) -> np.ndarray:
    """The RGB pixels of one panel of a drawn figure: (n, 3) in 0..255."""
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    x0, y0, x1, y1 = ax.get_window_extent().extents
    h = rgb.shape[0]
    return rgb[int(h - y1) + 2:int(h - y0) - 2, int(x0) + 2:int(x1) - 2].reshape(-1, 3).astype(float)


def test_a_heat_panels_colours_are_its_colour_bars_on_a_vivid_picture():
    from matplotlib import colormaps

    from dragnb.teaching.scenes import random_scene

    vivid = np.zeros((64, 64, 3), np.uint8)   # saturated stripes: green, orange, blue, magenta, yellow
    for i, c in enumerate([(0, 230, 0), (255, 140, 0), (0, 60, 255), (230, 0, 230), (250, 250, 0)]):
        vivid[:, i * 13:(i + 1) * 13] = c
    yy, xx = np.mgrid[:64, :64]
    sim = np.cos(xx / 9.0) * np.sin(yy / 11.0)
    palette = colormaps["inferno"](np.linspace(0, 1, 256))[:, :3] * 255
    for picture in (vivid, np.asarray(random_scene(1_000_110).render(64))):
        fig = dragnb.plots.heatmap(picture, sim, point=(30, 30))
        px = _panel_pixels(fig, fig.axes[0])
        near = np.sqrt(((px[:, None, :] - palette[None]) ** 2).sum(-1)).min(1) <= 20
        print(f"heat panel pixels within 20/255 of an inferno colour: {near.mean():.3f}")
        assert near.mean() >= 0.9


def test_heatmaps_show_the_picture_beside_the_maps_with_the_points_in_both(scene_image, tiny_sd):
    feats = dragnb.dift_features(tiny_sd, scene_image)
    fig = dragnb.plots.heatmaps(feats, [(5, 5), (15, 13)])
    picture, *maps = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(maps) == 2 and picture.images[-1].get_array().ndim == 3
    assert len(picture.lines) == 1 and len(picture.lines[0].get_xdata()) == 2
    assert all(m.images[-1].get_alpha() in (None, 1.0) and len(m.lines) == 1 for m in maps)


def test_the_sweep_figure_has_a_row_per_block_and_the_region_figure_shows_the_groups(tiny_sd, scene_image):
    maps = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 32))
    fig = plots.dift_sweep(scene_image, maps, (1, 50, 261), (0, 1), (5, 5))
    assert len([a for a in fig.axes if a.get_label() != "<colorbar>"]) == 2 * 4
    with pytest.raises(ValueError, match="blocks, timesteps"):
        plots.dift_sweep(scene_image, maps, (1, 50), (0, 1), (5, 5))
    steps = dragnb.region_steps(tiny_sd, scene_image, (15, 13))
    assert steps.groups.shape == (32, 32) and "groups" in plots.region(steps, scene_image).axes[2].get_title()


def test_a_run_of_no_optimisation_step_charts_one_whole_step():
    from dragnb.bench import Seen

    fig = plots.two_distances([Seen(0, 0.4, 0.6, None)], length=9.0)
    ax = fig.axes[0]
    assert ax.get_xlim() == (-0.5, 0.5) and [t for t in ax.get_xticks() if -0.5 <= t <= 0.5] == [0]
