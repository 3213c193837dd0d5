"""The warp that init="warp" starts the drag from: known answers on drawn images."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

import dragnb
from dragnb import reveal, warp
from dragnb.warp import displacement_field, drag_weight, warp_array, warped_image

FAST = dict(up_block=1, steps=10, max_iters=2)
SKY, GROUND, ROCK = (120, 170, 230), (60, 140, 50), (90, 80, 110)
ALL = np.ones((64, 64), bool)


def _mountain(apex, base=50, left=12, right=52):
    """A 64x64 triangle on the ground: (H, W, 3) uint8."""
    im = Image.new("RGB", (64, 64), SKY)
    d = ImageDraw.Draw(im)
    d.rectangle([0, base, 64, 64], fill=GROUND)
    d.polygon([(left, base), apex, (right, base)], fill=ROCK)
    return np.asarray(im)


def _creature(tip, root=(20, 40)):
    """A 64x64 body (an ellipse) with a tail, a bar 2 px wide from ``root`` to ``tip``."""
    im = Image.new("RGB", (64, 64), GROUND)
    d = ImageDraw.Draw(im)
    d.line([root, tip], fill=ROCK, width=2)
    d.ellipse([20, 34, 40, 48], fill=ROCK)
    return np.asarray(im)


def _rock(a):
    return np.abs(a.astype(int) - ROCK).sum(-1) < 40


def _flank_error(rock, apex, corner, base=50, rows=range(18, 49)):
    """Mean distance (px, per row) of the mountain's left or right edge from the straight line apex-corner."""
    pick = np.min if corner[0] < apex[0] else np.max
    ys = np.array(list(rows))
    edge = np.array([pick(np.nonzero(rock[y])[0]) for y in ys])
    line = apex[0] + (corner[0] - apex[0]) * (ys - apex[1]) / (base - apex[1])
    return float(np.abs(edge - line).mean())


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
    assert (np.asarray(s.warped)[~s.mask] == scene_image[~s.mask]).all()   # the warp stays in the region
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


def _raised(warp="shape"):
    img = _mountain((30, 28))
    out = np.asarray(warped_image(Image.fromarray(img), [_rock(img)], [(30, 28)], [(33, 16)], ALL, warp=warp))
    return img, out, _rock(out)


def _flanks(rock):
    """Both flanks' mean distance from the straight lines (33, 16)-(12, 50) and (33, 16)-(52, 50)."""
    return _flank_error(rock, (33, 16), (12, 50)), _flank_error(rock, (33, 16), (52, 50))


def test_a_raised_peak_becomes_the_taller_triangle_on_the_same_base():
    assert warp.CORE == 0.0                   # by default no rigid band at the tip: the exact affine map
    img, out, rock = _raised()
    want = _rock(_mountain((33, 16)))
    assert np.nonzero(rock.any(1))[0].min() == 16                       # the apex went to the target
    assert (rock & want).sum() / (rock | want).sum() > 0.9               # the taller triangle
    assert max(_flanks(rock)) < 0.8                                      # flanks: straight, base to new apex
    assert (out[51:] == img[51:]).all()                                  # the ground stays
    assert abs(np.nonzero(rock[49])[0].min() - 12) <= 1 and abs(np.nonzero(rock[49])[0].max() - 51) <= 1


def test_with_a_core_band_a_peaks_tip_moves_whole_and_the_rest_stretches_to_the_base(monkeypatch):
    monkeypatch.setattr(warp, "CORE", 0.5)
    img, out, rock = _raised()
    want = _rock(_mountain((33, 16)))
    assert np.nonzero(rock.any(1))[0].min() == 16
    assert (rock & want).sum() / (rock | want).sum() > 0.85
    assert sum(_flanks(rock)) < 2.2                                      # one bend, where the tip's band ends
    assert (out[51:] == img[51:]).all()
    field = displacement_field([_rock(img)], [(30, 28)], [(33, 16)])
    assert np.allclose(field[28:31, 29:32], (3, -12), atol=0.01)         # the tip's band: translated


def test_a_tree_in_front_of_a_raised_peak_does_not_hold_the_mountain_above_it():
    img = _mountain((32, 20))
    yy, xx = np.mgrid[0:64, 0:64]
    crown = (yy - 40) ** 2 + (xx - 32) ** 2 <= 16          # a tree's crown in front, inside the mountain
    part, phi = warp.drag_share(_rock(img) & ~crown, (32, 20), (32, 12))
    assert phi[35, 32] == pytest.approx((50 - 35) / (50 - 20), abs=0.08)   # above the crown: its height's share
    assert phi[49, 14:50].max() < 0.15                                    # the base holds


def test_a_sun_held_near_its_centre_moves_whole_whichever_way_it_is_dragged():
    yy, xx = np.mgrid[0:64, 0:64]
    sun = (yy - 20) ** 2 + (xx - 30) ** 2 <= 49                 # radius 7, farther than the drags are long
    for handle, target in [((30.7, 20.3), (36.7, 20.3)), ((30.7, 20.3), (30.7, 14.3)), ((29.4, 20), (24, 20))]:
        part, phi = warp.drag_share(sun, handle, target)
        assert (phi[sun] == 1).all(), (handle, target)
    part, phi = warp.drag_share(sun, (30, 13), (30, 7))      # held at its top and pulled up: it stretches
    assert phi[sun].min() < 0.5


def test_the_falloff_warp_bends_a_raised_peaks_flanks():
    assert sum(_flanks(_raised("falloff")[2])) > 2.4                    # what the "shape" warp fixes


def test_a_tail_pulled_at_its_tip_turns_about_its_root():
    root, tip = np.array([21.0, 40.0]), (6.0, 32.0)
    length = np.hypot(*(np.array(tip) - root))
    turned = np.arctan2(tip[1] - root[1], tip[0] - root[0]) + 0.6        # 34 degrees up, the same length
    target = tuple(root + length * np.array([np.cos(turned), np.sin(turned)]))
    img = _creature(tip)
    body = np.zeros((64, 64), bool)
    body[34:49, 20:41] = True
    out = np.asarray(warped_image(Image.fromarray(img), [_rock(img)], [tip], [target], ALL))
    ys, xs = np.nonzero(_rock(out) & ~body)
    p, s = np.stack([xs, ys], 1) - root, np.asarray(target) - root
    along = np.clip(p @ s / (s @ s), 0, 1)
    assert (np.linalg.norm(p - along[:, None] * s, axis=1) <= 1.5).mean() > 0.9   # on the line root -> target
    assert np.hypot(xs - root[0], ys - root[1]).max() <= length + 1.5           # not stretched
    assert np.hypot(xs - target[0], ys - target[1]).min() <= 1.0                # its tip at the target
    assert (out[body] == img[body]).all(-1).mean() > 0.95                      # the body stays


def test_two_pairs_at_once_each_reach_their_target():
    img = np.asarray(Image.new("RGB", (64, 64), SKY)).copy()
    for x0 in (6, 38):
        img[20:26, x0:x0 + 6] = ROCK           # two 6x6 squares
    regions = [np.zeros((64, 64), bool) for _ in range(2)]
    regions[0][20:26, 6:12] = regions[1][20:26, 38:44] = True
    out = np.asarray(warped_image(Image.fromarray(img), regions, [(8.5, 22.5), (40.5, 22.5)],
                                  [(8.5, 32.5), (48.5, 22.5)], ALL))
    assert np.allclose(out[31:35, 7:11], ROCK, atol=2) and np.allclose(out[21:25, 47:51], ROCK, atol=2)
    assert np.allclose(out[20:26, 6:12], SKY, atol=2)                         # where they were: sky again
    assert _rock(out).sum() == _rock(img).sum()                               # both whole, nothing else


def test_what_a_moved_region_uncovers_comes_from_behind_it():
    rows = np.linspace(40, 220, 64).astype(np.uint8)
    img = np.stack([np.repeat(rows[:, None], 64, 1)] * 3, -1).copy()        # a vertical gradient
    img[30:36, 10:16] = (250, 240, 20)
    region = np.zeros((64, 64), bool)
    region[30:36, 10:16] = True
    out = np.asarray(warped_image(Image.fromarray(img), [region], [(12.5, 32.5)], [(24.5, 32.5)], ALL))
    assert np.allclose(out[29:37, 9:17].astype(int), img[29:37, 2:3].astype(int), atol=2)   # each row's colour


def test_the_displacement_field_is_the_drag_at_the_handle_and_zero_far_away(monkeypatch):
    monkeypatch.setattr(warp, "CORE", 0.0)
    img = _mountain((30, 28))
    field = displacement_field([_rock(img)], [(30, 28)], [(33, 16)])
    assert field.shape == (64, 64, 2)
    assert np.allclose(field[28, 30], (3, -12), atol=0.5)
    assert np.allclose(field[39, 30], (1.5, -6), atol=0.8)                     # half way up: half the drag
    assert np.abs(field[49, 14:50]).max() < 1.5                                # the base barely moves
    assert (field[:10] == 0).all() and (field[:, 56:] == 0).all()             # off the mountain: nothing


def test_an_unknown_warp_is_named():
    img, region = _square_image()
    with pytest.raises(ValueError, match="warp must be one of 'shape', 'falloff'"):
        warped_image(Image.fromarray(img), [region], [(12, 17)], [(22, 17)], np.ones((40, 40), bool), warp="bend")


def test_the_displacement_field_is_drawn_as_arrows_over_the_image():
    import matplotlib
    matplotlib.use("Agg")
    from dragnb.ui import plots

    img = _mountain((30, 28))
    field = displacement_field([_rock(img)], [(30, 28)], [(33, 16)])
    fig = plots.displacement_field(img, field)
    quiver = [c for c in fig.axes[0].collections if type(c).__name__ == "Quiver"]
    assert len(quiver) == 1 and 0 < len(quiver[0].U) <= 24 * 24 and max(np.hypot(quiver[0].U, quiver[0].V)) > 10
    with pytest.raises(ValueError, match="field must be"):
        plots.displacement_field(img, field[:10])


def test_the_synthetic_summary_sets_the_old_warp_beside_the_new_per_kind():
    from dragnb.bench import synthetic

    def row(name, rel, old):
        s = {"rel": rel, "bg_psnr": 50.0, "truth_psnr": 30.0, "wall": 1.0}
        return {"name": name, **s, "old": {**s, "rel": old}, "nothing": {**s, "rel": 1.0, "truth_psnr": 28.0},
                "paste": {**s, "rel": 0.5}}

    text = synthetic.summary([row("raise peak", 0.1, 0.9), row("raise peak", 0.2, 0.3), row("move sun", 0.0, 0.0),
                              row("move tree", 0.4, 0.1)])
    assert "raise peak   dragnb 2/2, old warp 0/2, cut-and-paste 0/2" in text
    assert "raise peak     dragnb 0.150 |  50.0 dB | 30.00 dB; old warp 0.600 |  50.0 dB | 30.00 dB; nothing 1.000" in text
    assert "move, all      dragnb 0.200" in text
    assert "old warp, all: median relative distance 0.200, within 0.25 2/4" in text


def test_a_drag_chooses_the_warps_geometry_and_keeps_its_field(tiny_sd, scene_image):
    fields = {}
    for geometry in ("shape", "falloff"):
        s = dragnb.DragSession(tiny_sd, scene_image, [(12, 13)], [(20, 13)], init="warp", warp=geometry, **FAST)
        s.prepare()
        assert s.warp_field.shape == (32, 32, 2)
        assert np.allclose(s.warp_field[13, 12], (8, 0), atol=0.5)           # the handle goes to its target
        assert not s.warp_field[s.mask == 0].any()                          # nothing moves outside the region
        fields[geometry] = s.warp_field
    assert not np.allclose(fields["shape"], fields["falloff"])
    with pytest.raises(ValueError, match="warp must be one of 'shape', 'falloff'"):
        dragnb.DragSession(tiny_sd, scene_image, [(12, 13)], [(20, 13)], init="warp", warp="rigid")


def _thread_region(body=True, row=False):
    """A 64x64 region: a 1-px tail from (20, 40) up to its tip (8, 28), a 15x11 body beside its root
    (``body``), a 1-px horizon row leaving the root (``row``)."""
    region = np.zeros((64, 64), bool)
    for k in range(13):
        region[40 - k, 20 - k] = True
    if body:
        region[36:47, 21:36] = True
    if row:
        region[41, 0:20] = True
    return region


def test_a_thread_at_the_handle_turns_about_its_root_and_nothing_else_moves():
    region = _thread_region(row=True)
    limb, root = warp.thread(region, (8, 28))
    assert limb[28, 8] and limb[34, 14] and not limb[41, :19].any() and not limb[36:47, 21:36].any()
    assert 16 <= root <= 19                                                      # the tail's length, to the body
    field = displacement_field([region], [(8, 28)], [(9, 20)])
    assert np.allclose(field[28, 8], (1, -8), atol=0.01)                         # the tip: the whole drag
    assert 0.3 < -field[34, 14, 1] / 8 < 0.7                                     # half way: about half
    assert (field[36:47, 22:36] == 0).all() and (field[41, :18] == 0).all()      # the body and the row stay


def test_a_thread_on_its_own_turns_about_its_far_end():
    region = _thread_region(body=False)
    limb, root = warp.thread(region, (8, 28))
    assert limb[28, 8] and not limb[40, 20] and root == pytest.approx(12 * np.sqrt(2), abs=0.5)
    field = displacement_field([region], [(8, 28)], [(9, 20)])
    assert np.abs(field[40, 20]).max() < 1.0 and np.allclose(field[28, 8], (1, -8), atol=0.01)


def test_a_handle_on_a_body_or_a_short_spur_holds_no_thread():
    region = _thread_region()
    assert warp.thread(region, (28, 41)) is None                                 # on the body
    spur = np.zeros((64, 64), bool)
    spur[30:45, 20:35] = True
    spur[28:30, 27] = True                                                       # a 2-px spur
    assert warp.thread(spur, (27, 28)) is None


def test_a_sharp_peak_is_a_tip_that_widens_into_its_body_not_a_thread():
    peak = np.zeros((64, 64), bool)
    for y in range(10, 50):
        half = (y - 10) // 3                                                     # widths 1, 1, 1, 3, 3, 3, 5, ...
        peak[y, 32 - half:33 + half] = True
    assert warp.thread(peak, (32, 10)) is None                                  # the apex: a tip, not a tail
    field = displacement_field([peak], [(32, 10)], [(32, 2)])
    assert np.allclose(field[10, 32], (0, -8), atol=0.01)                       # the apex takes the whole drag
    assert np.abs(field[49]).max() < 0.5 and -field[30, 32, 1] > 2              # the base holds, the middle rises
    assert warp.thread(_thread_region(), (8, 28)) is not None                   # a tail on a body still is one


def test_only_colours_like_the_background_beside_a_region_count_as_caught_background():
    img = np.full((30, 30, 3), (120, 160, 220), np.uint8)                       # sky
    img[10:25, 5:15] = (100, 100, 130)                                          # the region's mountain
    img[10:25, 15:25] = (110, 105, 140)                                         # a neighbour 15 apart in colour
    region = np.zeros((30, 30), bool)
    region[8:25, 5:15] = True                                                   # caught two rows of sky above it
    kept = warp.foreground(region, img)
    assert kept[10:25, 5:15].all()                                              # the mountain, beside its neighbour
    assert not kept[8:10].any()                                                 # the sky it caught


def test_what_a_moved_square_leaves_bare_and_what_it_covers():
    field = np.zeros((40, 40, 2))
    field[15:21, 10:16] = (4, 0)                                                # a 6x6 square, 4 px right
    bare, covered = reveal.uncovered(field)
    assert bare[15:21, 10:14].all() and bare.sum() == 24                        # where it was and is no more
    assert covered[15:21, 14:19].all() and not covered[:, :14].any() and not covered[:, 20:].any()   # where it lands


def test_a_warp_start_that_tracking_confirms_keeps_the_warped_pixels(teaching):
    from dragnb.images import default_seam
    from dragnb.region import grow_mask
    from dragnb.teaching.cases import make_cases

    case = make_cases(1, 64, 3_000_000)[0]                                      # a moved tree
    s = dragnb.DragSession(teaching, case.image, [case.handle], [case.target])
    r = s.result()
    assert r.kept_warp and not r.history and r.arrived
    bare, _ = reveal.uncovered(s.warp_field)
    away = ~grow_mask(bare, default_seam((64, 64)) + 1)
    warped, out = np.asarray(s.warped), np.asarray(r.image)
    assert bare.any() and (out[away] == warped[away]).all()                     # all but the bare part: warped
    assert (out[bare] != warped[bare]).any()                                    # the bare part: the model's
    off = dragnb.drag(teaching, case.image, [case.handle], [case.target], keep_warped=False)
    assert not off.kept_warp and (np.asarray(off.image)[away] != warped[away]).any()
    stepped = dragnb.drag(teaching, case.image, [case.handle], [case.target], tolerance=0.0, max_iters=2)
    assert stepped.history and not stepped.kept_warp


def _tailed(tip, root=(22, 40), row=None, colour=ROCK, size=64, k=4):
    """A 64x64 creature drawn as the scene world draws one (at ``k`` x the size, then averaged): a
    body, and a tail about 1.4 px wide from ``root`` to ``tip`` in the body's colour, blended with the
    ground; a sky above row 20 (or ``row``)."""
    im = Image.new("RGB", (size * k, size * k), GROUND)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, size * k, (row or 20) * k], fill=SKY)
    d.line([(root[0] * k, root[1] * k), (tip[0] * k, tip[1] * k)], fill=colour, width=int(1.4 * k))
    d.ellipse([22 * k, 34 * k, 42 * k, 48 * k], fill=colour)
    return np.asarray(im.resize((size, size), Image.BOX))


def test_a_thread_drawn_at_the_handle_runs_from_its_tip_to_the_body():
    from dragnb.pulled import drawn_thread

    img = _tailed((10, 26))
    line = drawn_thread(img, (10, 26))
    ys, xs = np.nonzero(line)
    assert line[26, 10] and 10 <= line.sum() <= 20                  # the tail, about 14 px long to the body
    assert np.abs((ys - 26) * 12 - (xs - 10) * 14).max() <= 14      # along the drawn line (within a px)
    assert not line[34:49, 24:41].any()                             # not into the body
    assert drawn_thread(img, (32, 41)) is None                      # a handle on the body
    assert drawn_thread(img, (50, 10)) is None                      # on the plain ground: nothing stands out
    peak = _mountain((32, 14))
    assert drawn_thread(peak, (32, 14)) is None                     # a peak's apex is no thread
    assert drawn_thread(peak, (22, 32)) is None                     # nor its flank, rock on one side, sky on the other
    along = _tailed((8, 40), root=(22, 40), row=40)
    assert drawn_thread(along, (8, 40)) is None                     # a line between sky and ground: an edge
    assert drawn_thread(_tailed((10, 26), colour=(66, 146, 56)), (10, 26)) is None   # a tail barely seen


def test_a_drag_on_a_drawn_tail_pulls_the_tail_when_its_region_missed_it():
    from dragnb.pulled import pulled_region

    img = _tailed((10, 26))
    segments = np.zeros((64, 64), int)
    row = np.zeros((64, 64), bool)
    row[27, 6:20] = True                                            # the region under the tip: a row of ground
    pulled = pulled_region(row, segments, (10, 26), (11, 18), img)
    assert pulled[26, 10] and not pulled[27, 15:20].any() and pulled.sum() <= 20
    assert np.array_equal(pulled_region(row, segments, (10, 26), (11, 18)), row | _at(10, 26))   # no image: as before
    field = displacement_field([pulled], [(10, 26)], [(11, 18)])
    assert np.allclose(field[26, 10], (1, -8), atol=0.01)           # the tip: the whole drag
    assert (field[34:49, 24:41] == 0).all()                         # the body stays


def _at(x, y):
    m = np.zeros((64, 64), bool)
    m[y, x] = True
    return m


def test_a_crown_on_its_trunk_is_lifted_whole_and_a_peak_has_no_stalk():
    tree = np.zeros((64, 64), bool)
    yy, xx = np.mgrid[0:64, 0:64]
    tree |= (xx - 32) ** 2 + (yy - 24) ** 2 <= 36                  # a round crown, radius 6, top at (32, 18)
    tree[30:46, 32] = True                                          # a trunk one pixel wide, down to row 45
    along = warp.geodesic(tree, [(18, 32)])
    assert 12 <= warp.stalk(tree, along, (32, 18), (0, -6)) <= 14  # the trunk begins under the crown
    field = displacement_field([tree], [(32, 18)], [(32, 12)])
    assert np.allclose(field[18:30, 26:39][tree[18:30, 26:39]], (0, -6), atol=0.05)   # the crown moves whole
    assert -field[45, 32, 1] < 1.0 and 2.0 < -field[38, 32, 1] < 4.0  # the trunk stretches from its foot
    assert warp.stalk(tree, along, (32, 18), (6, 0)) is None        # sideways: the trunk is not behind
    peak = _rock(_mountain((32, 14)))
    assert warp.stalk(peak, warp.geodesic(peak, [(14, 32)]), (32, 14), (0, -8)) is None   # corners lie to the sides
