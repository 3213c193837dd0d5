"""The region under a handle."""
import numpy as np
import pytest

import dragnb
from dragnb.features import Features
from dragnb.images import Geometry
from dragnb.region import guided_filter
from PIL import Image
import torch


def _two_part_features(scene_image):
    """Hand-made features: one direction on the red square, another elsewhere (8x8 grid)."""
    f = torch.zeros(2, 8, 8)
    f[1] = 1.0
    f[0, 2:5, 3:5] = 1.0
    f[1, 2:5, 3:5] = 0.0
    return Features(f, Geometry((32, 32), (32, 32)), Image.fromarray(scene_image), 0, 1, 1, "")


@pytest.mark.parametrize("method", ["merge", "threshold"])
def test_the_region_is_the_object_under_the_handle_with_its_edges(scene_image, method):
    mask = dragnb.find_region(None, scene_image, (15, 13), features=_two_part_features(scene_image), method=method)
    truth = np.zeros((32, 32), bool)
    truth[8:20, 10:22] = True
    iou = (mask & truth).sum() / (mask | truth).sum()
    assert iou > 0.9  # the coarse 4 px cells are snapped to the square's edges


def test_the_region_always_contains_the_handle(tiny_sd, scene_image):
    for handle in [(0, 0), (15, 13), (31, 31), (5, 25)]:
        for thr in ["auto", 0.99]:
            mask = dragnb.find_region(tiny_sd, scene_image, handle, threshold=thr, ensemble=1)
            assert mask.shape == (32, 32) and mask.dtype == bool
            assert mask[handle[1], handle[0]]


def test_grow_and_shrink(scene_image):
    f = _two_part_features(scene_image)
    base = dragnb.find_region(None, scene_image, (15, 13), features=f)
    big = dragnb.find_region(None, scene_image, (15, 13), features=f, grow=2)
    small = dragnb.find_region(None, scene_image, (15, 13), features=f, grow=-2)
    assert small.sum() < base.sum() < big.sum()
    assert (base & ~big).sum() == 0


def test_region_steps_keep_every_stage(scene_image):
    from scipy import ndimage

    r = dragnb.region_steps(None, scene_image, (15, 13), features=_two_part_features(scene_image),
                            method="threshold")
    assert r.similarity.shape == r.refined.shape == r.above.shape == r.mask.shape == (32, 32)
    assert -1 <= r.threshold <= 1 and (r.above == (r.refined >= r.threshold)).all()
    labels, _ = ndimage.label(r.above)   # the region: the part above the threshold that holds the handle
    assert (r.mask == ndimage.binary_fill_holes(labels == labels[13, 15])).all()


def test_bad_threshold_and_handle_are_named(scene_image):
    f = _two_part_features(scene_image)
    with pytest.raises(ValueError, match="threshold"):
        dragnb.find_region(None, scene_image, (15, 13), features=f, threshold=3)
    with pytest.raises(ValueError, match="handle"):
        dragnb.find_region(None, scene_image, (50, 13), features=f)
    with pytest.raises(ValueError, match="model or precomputed"):
        dragnb.find_region(None, scene_image, (5, 5))


def test_otsus_threshold_splits_the_handles_part_from_the_rest(scene_image):
    r = dragnb.region_steps(None, scene_image, (15, 13), features=_two_part_features(scene_image), threshold="otsu",
                            method="threshold")
    inside, outside = r.refined[8:20, 10:22], r.refined[25:, 25:]
    assert outside.max() < r.threshold < inside.min()


def test_guided_filter_keeps_a_step_that_the_guide_has():
    guide = np.zeros((20, 20, 3))
    guide[:, 10:] = 1.0
    src = np.zeros((20, 20))
    src[:, 8:] = 1.0  # a blurry, misplaced edge
    out = guided_filter(guide, src, 3, 1e-4)
    assert out[:, 12:].mean() > 0.9 and out[:, :7].mean() < 0.1
    assert out[:, 10].mean() - out[:, 9].mean() > 0.4  # the edge moved to the guide's edge


def test_a_second_point_adds_its_part_to_the_same_region(scene_image):
    f = torch.zeros(3, 8, 8)
    f[1] = 1.0
    f[:, 2:5, 3:5] = torch.tensor([1.0, 0, 0])[:, None, None]   # part A: the red square's cells
    f[:, 5:8, 0:2] = torch.tensor([0, 0, 1.0])[:, None, None]   # part B: bottom left, unlike A
    feats = Features(f, Geometry((32, 32), (32, 32)), Image.fromarray(scene_image), 0, 1, 1, "")
    one = dragnb.region_steps(None, scene_image, (15, 13), features=feats, method="threshold")
    both = dragnb.region_steps(None, scene_image, [(15, 13), (3, 27)], features=feats, method="threshold")
    part_b = np.zeros((32, 32), bool)
    part_b[22:32, 0:6] = True
    assert not (one.mask & part_b).any()
    assert (both.mask & part_b).sum() > 0.8 * part_b.sum()
    assert (both.mask | ~one.mask).all()   # a point added only adds
    assert both.points == ((15.0, 13.0), (3.0, 27.0)) and both.handle == (15.0, 13.0)
    with pytest.raises(ValueError, match="at least one point"):
        dragnb.region_steps(None, scene_image, [], features=feats)


def _pieces_image():
    """A 32x32 picture of four flat pieces: a red square, its darker red lid, a green square, blue ground."""
    a = np.zeros((32, 32, 3), np.uint8)
    a[:] = (40, 60, 200)
    a[12:24, 4:14] = (220, 30, 30)
    a[8:12, 4:14] = (150, 20, 20)
    a[12:24, 20:30] = (30, 200, 30)
    return a


def _pieces_features(image):
    """8x8 cells: the red square and its lid alike (one object), the green square and the ground unlike them."""
    f = torch.zeros(3, 8, 8)
    f[2] = 1.0                                             # ground
    f[:, 2:6, 1:4] = torch.tensor([1.0, 0.1, 0])[:, None, None]   # lid + red square
    f[:, 3:6, 5:8] = torch.tensor([0.0, 1.0, 0])[:, None, None]   # green square
    return Features(f, Geometry((32, 32), (32, 32)), Image.fromarray(image), 0, 1, 1, "")


def test_merging_joins_the_pieces_of_one_object_and_stops_at_unlike_ones():
    image = _pieces_image()
    feats = _pieces_features(image)
    r = dragnb.region_steps(None, image, (8, 18), features=feats)   # on the red square
    red_and_lid = np.zeros((32, 32), bool)
    red_and_lid[8:24, 4:14] = True
    assert r.method == "merge" and r.segments.shape == (32, 32) and r.threshold == dragnb.region.MERGE_AUTO
    assert (r.mask & red_and_lid).sum() / (r.mask | red_and_lid).sum() > 0.8   # the lid came with it
    assert not r.mask[12:24, 20:30].any()                    # the green square did not
    everything = dragnb.region_steps(None, image, (8, 18), features=feats, threshold=-1.0)
    assert everything.mask.all()                             # merging to the end: one group
    alone = dragnb.region_steps(None, image, (8, 18), features=feats, threshold=1.0)
    assert alone.mask.sum() < r.mask.sum() and alone.mask[18, 8]   # no merging: the handle's own piece


def test_merge_refuses_otsu_and_unknown_methods(scene_image):
    f = _two_part_features(scene_image)
    with pytest.raises(ValueError, match="otsu"):
        dragnb.find_region(None, scene_image, (15, 13), features=f, threshold="otsu")
    with pytest.raises(ValueError, match="method"):
        dragnb.find_region(None, scene_image, (15, 13), features=f, method="grabcut")


def test_merge_order_is_most_alike_first():
    from dragnb.region import merge_order, merged_groups

    segments = np.repeat(np.repeat(np.array([[0, 1, 2]]), 3, axis=0), 3, axis=1)   # three 3x3 pieces in a row
    sums = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])   # 0 and 1 alike, 2 unlike both
    merges = merge_order(segments, sums)
    assert [(a, b) for _, a, b in merges] == [(0, 1), (0, 2)] and merges[0][0] > merges[1][0]
    assert list(merged_groups(3, merges, 0.5)) == [0, 0, 2]
    assert len(set(merged_groups(3, merges, -1.0))) == 1


def test_slivers_and_small_pieces_join_their_most_alike_neighbour_first():
    from dragnb.region import merge_order, merged_groups

    segments = np.zeros((6, 9), int)
    segments[:, 3] = 1                # a one-pixel-wide line between two pieces
    segments[:, 4:] = 2
    sums = np.array([[1.0, 0.0], [0.3, 0.7], [0.0, 1.0]])   # the line is more like piece 2, and alike neither
    merges = merge_order(segments, sums)
    assert merges[0] == (1.0, 1, 2)   # first, whatever the cosine, into its most alike neighbour
    g = merged_groups(3, merges, 0.99)
    assert g[1] == g[2] != g[0]
    small = merge_order(np.array([[0] * 8 + [1] * 8 + [2] * 2] * 4), sums, small=10)   # piece 2: 8 px
    assert small[0][0] == 1.0 and 2 in small[0][1:]


def test_features_of_another_image_are_refused(tiny_sd, scene_image):
    feats = dragnb.dift_features(tiny_sd, scene_image)
    other = scene_image.copy()
    other[0, 0] = 0
    with pytest.raises(ValueError, match="features were computed for another image"):
        dragnb.find_region(tiny_sd, other, (15, 13), features=feats)
    assert dragnb.find_region(None, scene_image, (15, 13), features=feats).any()


def _mountain_segments():
    """Pieces of a drawn scene, 40x40: sky (0, rows 0-19), a horizon line (7, row 20), ground in
    one-row bands (1-3, rows 21-23) and below (4), a mountain body (5) under its snow cap (6)."""
    s = np.zeros((40, 40), int)
    s[20] = 7
    s[21], s[22], s[23], s[24:] = 1, 2, 3, 4
    for y in range(4, 20):   # a triangle standing on the horizon, apex at (20, 4)
        half = y - 4
        s[y, 20 - half:21 + half] = 5 if y >= 10 else 6
    return s


def test_background_pieces_are_border_threads_and_pieces_from_side_to_side():
    from dragnb.pulled import background_pieces

    bg = background_pieces(_mountain_segments())
    assert bg[[0, 1, 2, 3, 4]].all()        # sky and ground run from side to side; their rows too
    assert bg[7]                             # the horizon: a thread on the border
    assert not bg[5] and not bg[6]           # the mountain and its cap are things
    lone_line = np.zeros((10, 10), int)
    lone_line[5, 3:7] = 1                    # a one-pixel line inside the image: a tail, not backdrop
    assert not background_pieces(lone_line)[1]


def test_a_raised_peak_pulls_the_mountain_under_its_cap_and_a_sideways_drag_does_not():
    from dragnb.pulled import pulled_region

    s = _mountain_segments()
    cap = s == 6
    up = pulled_region(cap, s, (20, 4), (20, 0))
    assert up[s == 5].all() and up[cap].all()          # the body joined: a raise reshapes the mountain
    assert not up[(s <= 4) | (s == 7)].any()           # sky, ground and horizon did not
    side = pulled_region(cap, s, (20, 4), (28, 4))
    assert np.array_equal(side, cap)                   # a sideways drag moves the cap alone
    caught = cap | (s == 7) | (s == 1)                 # a region that caught the horizon and a ground row
    assert np.array_equal(pulled_region(caught, s, (20, 8), (28, 8)), cap)
    thread = np.zeros_like(cap)
    thread[4:20, 20] = True                            # a line one pixel wide down from the apex
    assert np.array_equal(pulled_region(thread, s, (20, 4), (20, 0)), thread)   # a thread pulls nothing more
    speck = np.zeros_like(cap)
    speck[4, 20] = speck[5, 19] = True                 # what was found under the tip: two pixels
    up = pulled_region(speck, s, (19, 5), (19, 0))
    assert up[cap].all() and up[s == 5].all() and not up[(s <= 4) | (s == 7)].any()   # the cap, and behind it the mountain
    assert not pulled_region(speck, s, (19, 5), (27, 5))[s == 5].any()                # sideways: the cap alone


def _house_segments():
    """40 x 40 pieces: sky 0 and ground 1 from side to side; a house on the ground: walls 2 (rows 24-31,
    columns 14-25) under a roof 3 (a triangle, rows 16-23, apex at (20, 16)); a cup 4 on a table 5."""
    s = np.zeros((40, 40), int)
    s[32:] = 1
    s[24:32, 14:26] = 2
    for y in range(16, 24):
        half = y - 16
        s[y, 20 - half:21 + half] = 3
    s[26:32, 30:34] = 4                      # a small cup ...
    s[32:36, 28:38] = 5                      # ... on a table far larger than it
    s[33:40, 28:38] = 5
    return s


def test_a_roof_moved_whole_takes_the_walls_it_stands_on_and_nothing_bigger():
    from dragnb.pulled import pulled_region

    s = _house_segments()
    roof = s == 3
    moved = pulled_region(roof, s, (20, 17), (28, 17))           # the roof, dragged sideways
    assert moved[s == 2].all() and moved[roof].all()              # the walls go with it
    assert not moved[(s == 0) | (s == 1)].any()                   # sky and ground stay
    cup = s == 4
    assert np.array_equal(pulled_region(cup, s, (31, 28), (24, 28)), cup)   # the table is far larger: it stays


def test_a_handle_on_a_peaks_tip_holds_the_mountain_not_the_sun_beside_it():
    from dragnb.pulled import behind_edge, edge_region

    s = _mountain_segments()
    s[4, 20] = 8                                         # the apex: one blended pixel, a sliver
    yy, xx = np.mgrid[0:40, 0:40]
    sun = (yy - 1) ** 2 + (xx - 20) ** 2 <= 6            # a sun right above it
    s[sun & (s == 0)] = 9
    colours = {0: (120, 160, 220), 5: (110, 100, 130), 6: (245, 245, 250), 8: (190, 205, 235), 9: (250, 220, 80)}
    img = np.zeros((40, 40, 3), np.uint8)
    for k in range(10):
        img[s == k] = colours.get(k, (90, 140, 60))
    mountain = (s == 5) | (s == 6)
    found = {(20, 5): mountain, (19, 4): s == 0}         # what DIFT finds at each point behind the tip
    at_sun = (s == 9) | (s == 8)                         # what it found at the tip: the sun
    assert behind_edge(s, (20, 4), (20, 0)) == (5, 20)   # right below the tip, against the drag
    up = edge_region(at_sun, s, img, (20, 4), (20, 0), lambda p: found[p])
    assert np.array_equal(up, mountain | (s == 8))       # raised: the mountain and the tip
    side = edge_region(at_sun, s, img, (20, 4), (28, 4), lambda p: found[p])
    assert np.array_equal(side, at_sun)                  # sideways: nothing is pulled outward, the sun stays held
    img[4, 20] = (250, 215, 90)                          # a tip coloured like the sun belongs to the sun
    assert np.array_equal(edge_region(at_sun, s, img, (20, 4), (20, 0), lambda p: found[p]), at_sun)
    assert behind_edge(s, (20, 7), (20, 0)) is None      # a handle inside the cap is on no edge
