"""The drag: its inputs, its steps, its stages, on the tiny random SD."""
import numpy as np
import pytest
import torch

import dragnb
from dragnb.optimisation import motion_loss, track
from dragnb.session import drag_region

FAST = dict(up_block=1, steps=10, max_iters=4)


def test_drag_returns_an_image_and_its_history(tiny_sd, scene_image):
    r = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], **FAST)
    assert r.image.size == (32, 32) and r.image.mode == "RGB"
    assert r.start.tolist() == [[15, 13]] and r.targets.tolist() == [[22, 13]]
    assert 1 <= len(r.history) <= 4 and r.history[0].step == 0
    assert set(r.timings) >= {"inversion", "region", "optimisation", "denoising"}
    assert r.mask.shape == (32, 32) and r.mask[13, 15]


def test_session_yields_one_state_per_step_with_previews(tiny_sd, scene_image):
    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13), (5, 5)], [(22, 13), (5, 12)],
                           mask="all", preview_every=2, tolerance=0.0, **FAST)
    states = list(s.run())
    assert [st.step for st in states] == [0, 1, 2, 3]
    assert all(st.handles.shape == (2, 2) for st in states)
    assert [st.preview is not None for st in states] == [True, False, True, False]
    assert all(st.losses["motion"] > 0 for st in states)
    assert s.result().history == states


def test_an_interrupted_run_keeps_its_last_completed_step(tiny_sd, scene_image):
    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(25, 13)], tolerance=0.0, **FAST)
    with pytest.raises(KeyboardInterrupt):
        for st in s.run():
            if st.step == 1:
                raise KeyboardInterrupt
    assert len(s.history) == 2
    r = s.result()  # finishes from the last completed latent, no new steps
    assert len(r.history) == 2 and r.image.size == (32, 32)


def test_the_users_inputs_are_not_modified(tiny_sd, scene_image):
    image, mask = scene_image.copy(), np.zeros((32, 32), np.uint8)
    mask[5:25, 5:25] = 1
    handles, targets = [[15, 13]], [[22, 13]]
    dragnb.drag(tiny_sd, image, handles, targets, mask=mask, **FAST)
    assert np.array_equal(image, scene_image) and mask.sum() == 400
    assert handles == [[15, 13]] and targets == [[22, 13]]


@pytest.mark.parametrize("handles, targets, mask, words", [
    ([(5, 5)], [(5, 5)], None, "equals its target"),
    ([(5, 5)], [(40, 5)], None, "outside"),
    ([(5, 5), (6, 6)], [(9, 9)], None, "2 handles but 1 targets"),
    ([], [], None, "at least one handle"),
    ([(5, 5)], [(9, 9)], np.ones((10, 10)), "mask has shape"),
    ([(5, 5)], [(9, 9)], np.zeros((32, 32)), "mask is empty"),
    ([(5, float("nan"))], [(9, 9)], None, "NaN"),
])
def test_bad_drags_raise_value_errors(tiny_sd, scene_image, handles, targets, mask, words):
    with pytest.raises(ValueError, match=words):
        dragnb.DragSession(tiny_sd, scene_image, handles, targets, mask=mask)


def test_unknown_and_bad_options_are_named(tiny_sd, scene_image):
    with pytest.raises(ValueError, match="unknown drag option"):
        dragnb.DragSession(tiny_sd, scene_image, [(5, 5)], [(9, 9)], step_size=3)
    with pytest.raises(ValueError, match="preserve"):
        dragnb.DragSession(tiny_sd, scene_image, [(5, 5)], [(9, 9)], preserve="nothing")


def test_motion_loss_pulls_features_towards_the_target():
    feats = torch.zeros(1, 9, 9)
    feats[0, :, 6:] = 1.0  # the target side looks different
    h, t = torch.tensor([[4.0, 4.0]]), torch.tensor([[8.0, 4.0]])
    assert motion_loss(feats, h, t, 1, torch.tensor([True])) > 0
    assert motion_loss(feats, h, t, 1, torch.tensor([False])) == 0


def test_tracking_finds_the_handles_feature_within_its_window():
    feats = torch.zeros(3, 10, 10)
    feats[:, 6, 7] = torch.tensor([1.0, 2.0, 3.0])
    found = track(feats, torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[5.0, 5.0]]), r_p=3)
    assert found.tolist() == [[7.0, 6.0]]
    far = track(feats, torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1.0, 1.0]]), r_p=3)
    assert (far - 1.0).abs().max() <= 3   # the feature lies outside its window: it stays within the window


def test_the_automatic_region_covers_the_path_to_the_target(tiny_sd, scene_image):
    from PIL import Image

    m = drag_region(tiny_sd, Image.fromarray(scene_image), np.array([[15.0, 13.0]]), np.array([[27.0, 13.0]]))
    assert m[13, 15] and m[13, 27] and m[13, 21]


def test_lora_is_fitted_used_and_removed(tiny_sd, scene_image):
    r = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], lora=True, lora_steps=3,
                    **{**FAST, "max_iters": 1})
    assert len(r.lora_losses) == 3 and "lora" in r.timings
    assert not getattr(tiny_sd.unet, "peft_config", {})


def test_run_again_after_an_interruption_continues_where_it_stopped(tiny_sd, scene_image):
    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(25, 13)], tolerance=0.0, **FAST)
    with pytest.raises(KeyboardInterrupt):
        for st in s.run():
            if st.step == 1:
                raise KeyboardInterrupt
    more = list(s.run())
    assert [st.step for st in more] == [2, 3]
    assert [st.step for st in s.history] == [0, 1, 2, 3]
    s.result()
    with pytest.raises(ValueError, match="finished"):
        next(s.run())


def test_motion_loss_sums_the_patch_as_dragdiffusion():
    feats = torch.zeros(2, 9, 9)
    feats[:, :, 5:] = 1.0  # a step edge one column right of the handle's patch
    h, t = torch.tensor([[3.0, 4.0]]), torch.tensor([[8.0, 4.0]])
    # moving the 3x3 patch one cell right shifts its right column (3 cells) across the edge
    assert float(motion_loss(feats, h, t, 1, torch.tensor([True]))) == pytest.approx(3.0)


def test_an_interrupted_lora_fit_leaves_the_model_as_it_was(tiny_sd, scene_image):
    from dragnb.lora import fit_identity_lora

    def stop(step, loss):
        raise KeyboardInterrupt

    z0 = dragnb.invert(tiny_sd, scene_image, steps=4).z0
    with pytest.raises(KeyboardInterrupt):
        fit_identity_lora(tiny_sd, z0, tiny_sd.embed(""), steps=5, callback=stop)
    assert not getattr(tiny_sd.unet, "peft_config", {})
    assert not any(p.requires_grad for p in tiny_sd.unet.parameters())


def test_alternating_drag_and_denoising_steps_down_every_k_steps(tiny_sd, scene_image):
    # GoodDrag's AlDD: 2 steps at each timestep, then one DDIM step down, over at most 2 timesteps
    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(25, 13)], tolerance=0.0, drag_per_denoise=2,
                           drag_levels=2, preview_every=1, **{**FAST, "max_iters": 6})
    states = list(s.run())
    assert [st.level for st in states] == [0, 0, 1, 1, 1, 1]
    ts = s.inversion.timesteps
    assert s._level == 1 and ts[1] < ts[0]
    assert s.result().image.size == (32, 32)


def test_dragdiffusion_drags_at_one_timestep(tiny_sd, scene_image):
    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(25, 13)], tolerance=0.0, **FAST)
    assert {st.level for st in s.run()} == {0}


def test_original_supervision_pulls_towards_the_originals_patch_not_the_current_one():
    feats = torch.zeros(2, 9, 9)
    feats[:, :, 5:] = 1.0
    h, t = torch.tensor([[3.0, 4.0]]), torch.tensor([[8.0, 4.0]])
    on = torch.tensor([True])
    # anchored to a patch equal to the features one step ahead: nothing left to pull
    ahead = torch.zeros(9, 2)
    ahead[[2, 5, 8]] = 1.0   # the 3x3 patch one cell right: its right column is across the edge
    assert float(motion_loss(feats, h, t, 1, on, [ahead])) == pytest.approx(0.0)
    assert float(motion_loss(feats, h, t, 1, on)) == pytest.approx(3.0)


@pytest.mark.parametrize("option, words", [(dict(supervise="pixels"), "supervise"),
                                           (dict(drag_per_denoise=-1), "drag_per_denoise"),
                                           (dict(seam=-2), "seam"),
                                           (dict(size=3), "size"), (dict(size="big"), "size")])
def test_bad_optimisation_choices_are_named(tiny_sd, scene_image, option, words):
    with pytest.raises(ValueError, match=words):
        dragnb.DragSession(tiny_sd, scene_image, [(5, 5)], [(9, 9)], **option)


def test_outside_the_region_and_its_seam_the_result_is_the_input_bit_for_bit(tiny_sd, scene_image):
    from dragnb.region import grow_mask

    mask = np.zeros((32, 32), bool)
    mask[8:20, 10:26] = True
    r = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], mask=mask, seam=2, **FAST)
    out = np.asarray(r.image)
    far = ~grow_mask(mask, 3)
    assert np.array_equal(out[far], scene_image[far])
    raw = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], mask=mask, paste_back=False, **FAST)
    assert not np.array_equal(np.asarray(raw.image)[far], scene_image[far])   # the decode alone repaints it
    assert np.array_equal(np.asarray(raw.image)[mask], out[mask])            # inside: the same edit


def test_a_photo_of_another_size_and_shape_comes_back_at_its_size_untouched_outside(tiny_sd):
    from dragnb.region import grow_mask

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)   # not the model's 32x32, not square
    mask = np.zeros((48, 80), bool)
    mask[10:30, 20:50] = True
    r = dragnb.drag(tiny_sd, photo, [(30, 20)], [(40, 20)], mask=mask, **FAST)
    out = np.asarray(r.image)
    assert out.shape == photo.shape
    far = ~grow_mask(mask, 3)   # the default seam: 1/32 of the long side = 2 px (+1 for the ramp's end)
    assert np.array_equal(out[far], photo[far])


def test_a_pair_whose_handle_equals_its_target_stays_and_the_others_are_dragged(tiny_sd, scene_image):
    # two of DragBench's samples have such a pair; DragDiffusion skips it
    with pytest.warns(UserWarning, match="equal their targets") as seen:
        r = dragnb.drag(tiny_sd, scene_image, [(15, 13), (5, 25)], [(22, 13), (5, 25)], init="warp", **FAST)
    assert len([w for w in seen if "equal" in str(w.message)]) == 1
    assert r.image.size == (32, 32) and r.targets.tolist() == [[22, 13], [5, 25]]
    with pytest.raises(ValueError, match="every handle equals its target"):
        dragnb.drag(tiny_sd, scene_image, [(15, 13), (5, 25)], [(15, 13), (5, 25)])


def test_the_result_counts_each_stages_unet_passes(tiny_sd, scene_image):
    r = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], mask="all", tolerance=0.0, **FAST)
    p = r.passes
    assert p["inversion"] == {"forward": 7, "backward": 0}            # 10 steps x strength 0.7
    assert p["denoising"] == {"forward": 7, "backward": 0}            # the edit alone: the original's K/V
                                                                      # were recorded during the inversion
    n = len(r.history)                                                # 4 updates (tolerance 0: none arrive)
    # a pass per step (the first is also the original's features: DragDiffusion's start is the original)
    # and one to track on the last latent
    assert p["optimisation"] == {"forward": n + 1, "backward": n}
    assert "whole edit" in r.costs() and "inversion" in r.costs()


def test_size_sets_the_resolution_the_drag_works_at_and_the_result_keeps_the_images(tiny_sd, scene_image):
    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(22, 13)], size=64, **FAST)
    s.prepare()
    assert tuple(s.inversion.latent.shape[-2:]) == (32, 32)   # 64 px / the VAE's x2 (native 32 px: 16x16)
    for _ in s.run():
        pass
    r = s.result()
    assert r.image.size == (32, 32) and r.mask.shape == (32, 32) and r.mask[13, 15]
    native = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(22, 13)], **FAST)
    native.prepare()
    assert tuple(native.inversion.latent.shape[-2:]) == (16, 16)


def test_outcome_is_what_the_result_would_be_if_the_drag_stopped_there(tiny_sd, scene_image):
    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(25, 13)], tolerance=0.0, **FAST)
    with pytest.raises(ValueError, match="run"):
        s.outcome()
    s.prepare()
    first = np.asarray(s.outcome())
    for st in s.run():
        if st.step == 1:
            break
    now = np.asarray(s.outcome())
    r = s.result()
    assert np.array_equal(now, np.asarray(r.image)) and not np.array_equal(first, now)
    assert "outcomes" in r.timings and r.passes["outcomes"]["forward"] > 0


def test_a_float16_drag_with_lora_on_a_cpu_returns_a_finite_image_of_the_inputs_size(tiny_sd_path):
    """CUDA's default dtype, on a CPU: the LoRA fit, the optimisation and the denoising in float16."""
    model = dragnb.load(tiny_sd_path, device="cpu", dtype=torch.float16, verbose=False)
    photo = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    r = dragnb.drag(model, photo, [(10, 10)], [(18, 10)], lora=True, lora_steps=3, max_iters=3, mask="all")
    assert model.unet.dtype == torch.float16 and r.options.lora
    assert r.image.size == (40, 24) and len(r.history) >= 1
    assert np.isfinite(r.lora_losses).all() and all(np.isfinite(list(s.losses.values())).all() for s in r.history)
    assert np.asarray(r.image).std() > 0


def test_an_outcome_between_steps_leaves_the_lora_on_for_the_steps_after_it(tiny_sd, scene_image):
    from dragnb.lora import ADAPTER, _active

    s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(25, 13)], lora=True, lora_steps=2,
                           tolerance=0.0, **FAST)
    on = []
    for st in s.run():
        s.outcome()                     # use_lora inside run()'s use_lora
        on.append(_active(tiny_sd, ADAPTER))
    assert on == [True] * len(s.history) and len(on) == 4
    s.result()
    assert not getattr(tiny_sd.unet, "peft_config", {})


def test_tolerance_and_radii_are_image_pixels_whatever_the_working_size(tiny_sd, scene_image):
    """The same drag at two working sizes: the same pixels, twice the feature cells at twice the size."""
    cells = {}
    for size in (32, 64):
        s = dragnb.DragSession(tiny_sd, scene_image, [(15, 13)], [(22, 13)], size=size, tolerance=3.0, r_m=2.0,
                               r_p=6.0, **{k: v for k, v in FAST.items() if k != "max_iters"})
        s.prepare()
        p = s.problem()
        cells[size] = (p.tolerance, p.r_m, p.r_p)
        assert np.allclose(s.inversion.geometry.from_grid(p.targets.cpu().numpy(), p.grid), [(22, 13)])
    assert cells[32] == (1.5, 1, 3) and cells[64] == (3.0, 2, 6)
    assert dragnb.DragOptions(r_m=0.4).on_grid(2.0)["r_m"] == 1   # a positive radius is at least one cell
    assert dragnb.DragOptions(r_m=0.0).on_grid(2.0)["r_m"] == 0


def test_a_radius_larger_than_the_image_is_refused_before_any_work(tiny_sd, scene_image):
    with pytest.raises(ValueError, match="r_m = 1000 image pixels is larger than the image"):
        dragnb.drag(tiny_sd, scene_image, [(10, 10)], [(14, 10)], r_m=1000)
