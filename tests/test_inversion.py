"""DDIM inversion and its matching denoise."""
import pytest
import torch

import dragnb
from dragnb.inversion import denoise_latent, schedule


def test_strength_picks_the_last_steps(tiny_sd):
    ts = schedule(tiny_sd, 50, 0.7)
    assert len(ts) == 35 and ts[0] == 681 and ts[-1] == 1


def test_round_trip_returns_the_encoded_latent(tiny_sd, scene_image):
    inv = dragnb.invert(tiny_sd, scene_image, strength=0.7, steps=50)
    assert inv.timestep == 681 and len(inv.trajectory) == 36
    assert inv.latent.shape == inv.z0.shape == (1, 4, 16, 16)
    z0 = denoise_latent(tiny_sd, inv.latent, inv.timesteps, inv.embedding, inv.scheduler)
    err = (z0 - inv.z0).abs().max() / inv.z0.abs().max()
    assert err < 0.15  # tolerance: 15% of the latent's range, fp32, calm random UNet
    assert (inv.latent - inv.z0).abs().max() / inv.z0.abs().max() > 0.5  # it did move: the latent at t=681 is not z0


def test_denoise_returns_an_image_at_the_users_size(tiny_sd):
    import numpy as np

    im = dragnb.denoise(tiny_sd, dragnb.invert(tiny_sd, np.zeros((30, 21, 3), np.uint8), strength=0.2, steps=10))
    assert im.size == (21, 30) and im.mode == "RGB"


@pytest.mark.parametrize("kw, words", [({"strength": 0}, "strength"), ({"strength": 1.5}, "strength"),
                                       ({"steps": 0}, "steps")])
def test_bad_inversion_arguments_are_named(tiny_sd, scene_image, kw, words):
    with pytest.raises(ValueError, match=words):
        dragnb.invert(tiny_sd, scene_image, **kw)


def test_v_prediction_round_trips_through_diffusers_scheduler(tiny_sd_path, scene_image):
    from diffusers import DDIMScheduler

    m = dragnb.load(tiny_sd_path, device="cpu")
    m.scheduler = DDIMScheduler.from_config(m.scheduler.config, prediction_type="v_prediction")   # SD 2.1's
    inv = dragnb.invert(m, scene_image, strength=0.5, steps=20)
    z0 = denoise_latent(m, inv.latent, inv.timesteps, inv.embedding, inv.scheduler)
    assert inv.scheduler.config.prediction_type == "v_prediction"
    assert float((z0 - inv.z0).abs().max() / inv.z0.abs().max()) < 0.15


def test_inverting_leaves_the_models_scheduler_alone(tiny_sd, scene_image):
    before = list(tiny_sd.scheduler.timesteps)
    dragnb.invert(tiny_sd, scene_image, strength=0.5, steps=7)
    assert list(tiny_sd.scheduler.timesteps) == before
