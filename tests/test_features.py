"""DIFT features on a tiny random SD: shapes, the early stop, and known answers."""
import numpy as np
import pytest
import torch

import dragnb
from dragnb.features import combine, run_until


def test_features_have_the_up_blocks_shape(tiny_sd, scene_image):
    f = dragnb.dift_features(tiny_sd, scene_image, ensemble=2)
    # up_blocks[1] of the tiny UNet: 16 channels at the latent's 16x16
    assert tuple(f.fmap.shape) == (16, 16, 16)
    assert f.t == 261 and f.up_block == 1 and f.geometry.user == (32, 32)


def test_the_unet_stops_after_the_requested_block(tiny_sd):
    unet = tiny_sd.unet
    ran = []
    h = unet.conv_out.register_forward_hook(lambda *a: ran.append("conv_out"))
    try:
        z = torch.randn(1, 4, 16, 16)
        run_until(unet, unet.up_blocks[0], z, 10, encoder_hidden_states=tiny_sd.embed(""))
    finally:
        h.remove()
    assert ran == []


def test_the_ensemble_is_one_batched_call(tiny_sd, scene_image):
    calls = []
    h = tiny_sd.unet.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    try:
        dragnb.dift_features(tiny_sd, scene_image, ensemble=4)
    finally:
        h.remove()
    assert calls == [4]


def test_ensemble_members_differ_and_average(tiny_sd, scene_image):
    one = dragnb.dift_features(tiny_sd, scene_image, ensemble=1, seed=0).fmap
    other = dragnb.dift_features(tiny_sd, scene_image, ensemble=1, seed=1).fmap
    both = dragnb.dift_features(tiny_sd, scene_image, ensemble=2, seed=0).fmap
    assert not torch.allclose(one, other)
    assert torch.allclose(both, (one + other) / 2, atol=1e-5)


def test_a_points_similarity_with_itself_is_the_maximum(tiny_sd, scene_image):
    f = dragnb.dift_features(tiny_sd, scene_image, ensemble=2)
    for x, y in [(3, 4), (15, 12), (31, 31)]:
        s = dragnb.similarity_map(f, (x, y))
        assert s.shape == (32, 32)
        assert s[y, x] == pytest.approx(1.0, abs=1e-4)
        assert s.max() <= s[y, x] + 1e-5


def test_similarity_map_on_another_image_has_that_images_size(tiny_sd, scene_image):
    a = dragnb.dift_features(tiny_sd, scene_image, ensemble=1)
    b = dragnb.dift_features(tiny_sd, np.zeros((20, 40, 3), np.uint8), ensemble=1)
    assert dragnb.similarity_map(a, (5, 5), target=b).shape == (20, 40)


def test_matching_an_image_against_itself_is_within_one_feature_cell(tiny_sd, scene_image):
    f = dragnb.dift_features(tiny_sd, scene_image, ensemble=2)
    pts = np.array([[2, 3], [16, 14], [30, 9], [7, 28]])
    cell = 32 / f.grid[0]
    assert np.abs(dragnb.match_points(f, f, pts) - pts).max() <= cell


@pytest.mark.parametrize("kw, words", [({"up_block": 5}, "up_block"), ({"t": 1000}, "t must"),
                                       ({"ensemble": 0}, "ensemble")])
def test_bad_feature_arguments_are_named(tiny_sd, scene_image, kw, words):
    with pytest.raises(ValueError, match=words):
        dragnb.dift_features(tiny_sd, scene_image, **kw)


def test_a_point_outside_the_image_is_named(tiny_sd, scene_image):
    f = dragnb.dift_features(tiny_sd, scene_image, ensemble=1)
    with pytest.raises(ValueError, match="outside the 32x32 image"):
        dragnb.similarity_map(f, (32, 3))


def test_run_until_can_keep_an_earlier_block_from_the_same_pass(tiny_sd):
    unet, z, emb = tiny_sd.unet, torch.randn(1, 4, 16, 16), tiny_sd.embed("")
    early, late = run_until(unet, unet.up_blocks[1], z, 10, also=(unet.up_blocks[0],), encoder_hidden_states=emb)
    assert torch.equal(early, run_until(unet, unet.up_blocks[0], z, 10, encoder_hidden_states=emb))
    assert torch.equal(late, run_until(unet, unet.up_blocks[1], z, 10, encoder_hidden_states=emb))


def test_combine_joins_cosines_with_the_context_weight():
    g = torch.Generator().manual_seed(0)
    fine, coarse = torch.randn(6, 4, 4, generator=g), torch.randn(5, 4, 4, generator=g)
    joined = combine(fine, coarse, weight=0.5)
    cos = lambda f, a, b: torch.nn.functional.cosine_similarity(f[:, a[0], a[1]], f[:, b[0], b[1]], dim=0)  # noqa
    for a, b in [((0, 0), (3, 2)), ((1, 3), (2, 0))]:
        want = (cos(fine, a, b) + 0.5 * cos(coarse, a, b)) / 1.5
        assert cos(joined, a, b) == pytest.approx(float(want), abs=1e-5)
    centred = combine(fine, center=True)
    assert torch.allclose(centred.mean((1, 2)), torch.zeros(6), atol=1e-5)
    assert torch.equal(combine(fine, coarse, weight=0.0), fine)


def test_a_context_block_joins_the_coarser_features(tiny_sd, scene_image):
    plain = dragnb.dift_features(tiny_sd, scene_image, ensemble=1)
    ctx = dragnb.dift_features(tiny_sd, scene_image, ensemble=1, context_block=0, context_weight=1.0, center=True)
    coarse = tiny_sd.unet.up_blocks[0].resnets[-1].out_channels
    assert tuple(ctx.fmap.shape) == (plain.fmap.shape[0] + coarse, *plain.fmap.shape[1:])
    assert (ctx.context_block, ctx.context_weight, ctx.center) == (0, 1.0, True)
    s = dragnb.similarity_map(ctx, (10, 12))
    assert s[12, 10] == pytest.approx(1.0, abs=1e-4) and not np.allclose(s, dragnb.similarity_map(plain, (10, 12)))
    # weight 0 is plain DIFT whatever the model's defaults say
    off = dragnb.dift_features(tiny_sd, scene_image, ensemble=1, context_block=0, context_weight=0.0)
    assert torch.equal(off.fmap, plain.fmap) and off.context_block is None


@pytest.mark.parametrize("kw, words", [({"context_block": 7, "context_weight": 1.0}, "context_block"),
                                       ({"context_block": 0, "context_weight": -1.0}, "context_weight")])
def test_bad_context_arguments_are_named(tiny_sd, scene_image, kw, words):
    with pytest.raises(ValueError, match=words):
        dragnb.dift_features(tiny_sd, scene_image, **kw)


@pytest.mark.parametrize("size", [(32, 32), (40, 24), (7, 5), (8, 8)])
def test_upsampled_cosine_is_upsample_then_cosine_at_every_pixel(size):
    from dragnb.features import upsampled_cosine

    g = torch.Generator().manual_seed(0)
    fmap = torch.randn(6, 8, 8, generator=g)
    query = torch.randn(6, generator=g)
    ours = upsampled_cosine(fmap, query, size)
    up = torch.nn.functional.interpolate(fmap[None], size=(size[1], size[0]), mode="bilinear",
                                         align_corners=False)[0]
    theirs = torch.nn.functional.cosine_similarity(up, query[:, None, None], dim=0)
    assert ours.shape == (size[1], size[0])
    assert torch.allclose(ours, theirs, atol=1e-5), float((ours - theirs).abs().max())


def test_a_sweep_gives_one_map_per_block_and_timestep_each_peaking_at_the_point(tiny_sd, scene_image):
    maps = dragnb.features.similarity_sweep(tiny_sd, scene_image, (15, 13), ts=(1, 400), blocks=(0, 1))
    assert maps.shape == (2, 2, 32, 32)
    assert np.allclose(maps[:, :, 13, 15], 1.0, atol=1e-4)
    assert not np.allclose(maps[0, 0], maps[0, 1])   # the timestep changes the map


def test_pca_colours_paint_alike_features_alike(tiny_sd, scene_image):
    feats = dragnb.dift_features(tiny_sd, scene_image)
    pic = dragnb.features.pca_colours(feats)
    assert pic.shape == (32, 32, 3) and pic.dtype == np.uint8 and pic.min() == 0 and pic.max() == 255
