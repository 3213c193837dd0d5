"""Loading goes through the real code path, on models saved to disk; never the network."""
import time

import pytest
import torch

import dragnb
from dragnb.loading import TINY


def test_a_saved_diffusers_folder_loads_with_every_part(tiny_sd):
    m = tiny_sd
    assert m.dtype == torch.float32 and m.device.type == "cpu"
    assert m.native_size == 32 and m.vae_factor == 2 and m.multiple == 4
    assert m.defaults == {"dift_t": 261, "dift_up_block": 1, "dift_center": False, "dift_context_block": None,
                          "dift_context_weight": 0.0}  # DIFT as published, for a plain SD folder
    assert type(m.scheduler).__name__ == "DDIMScheduler"
    assert m.embed("a tree").shape[0] == 1
    assert not any(p.requires_grad for p in m.unet.parameters())


def test_prompt_embeddings_are_cached(tiny_sd):
    assert tiny_sd.embed("two trees") is tiny_sd.embed("two trees")


def test_offline_hub_id_fails_fast_with_a_message_that_says_what_to_do():
    start = time.time()
    with pytest.raises(dragnb.WeightsNotFoundError) as e:
        dragnb.load("stable-diffusion-v1-5/stable-diffusion-v1-5", device="cpu")
    assert time.time() - start < 5
    msg = str(e.value)
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in msg
    assert "HF_HUB_OFFLINE" in msg and "dragnb.load('tiny')" in msg and "local folder" in msg


def test_a_missing_folder_or_file_is_named(tmp_path):
    with pytest.raises(dragnb.WeightsNotFoundError, match="not found"):
        dragnb.load(tmp_path / "nope.safetensors")
    with pytest.raises(dragnb.WeightsNotFoundError, match="missing vae, unet"):
        dragnb.load(tmp_path)
    with pytest.raises(dragnb.WeightsNotFoundError, match="owner/name"):
        dragnb.load("no-such-model")


def test_single_file_offline_without_config_explains_the_fix(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"not really a checkpoint")
    with pytest.raises(dragnb.WeightsNotFoundError, match="config="):
        dragnb.load(f)


def test_auto_on_cpu_picks_the_teaching_model(capsys):
    if not (TINY / "model_index.json").exists():
        pytest.skip("teaching model weights not built yet")
    m = dragnb.load("auto", device="cpu")
    assert m.name == "tiny" and m.native_size == 64
    assert "picked 'tiny'" in capsys.readouterr().out


def test_a_hub_id_in_the_local_cache_loads_offline(tiny_sd_path, tmp_path):
    import shutil

    repo = tmp_path / "hub" / "models--someone--tiny-sd"
    shutil.copytree(tiny_sd_path, repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123456789abcdef0123456789abcdef01234567")
    m = dragnb.load("someone/tiny-sd", device="cpu", cache_dir=tmp_path / "hub")
    assert m.name == "someone/tiny-sd" and m.native_size == 32


def test_the_vae_runs_once_per_image(tiny_sd, scene_image):
    tiny_sd.clear_caches()
    calls = []
    h = tiny_sd.vae.encoder.register_forward_hook(lambda *a: calls.append(1))
    try:
        dragnb.dift_features(tiny_sd, scene_image, ensemble=1)
        z = dragnb.invert(tiny_sd, scene_image, steps=4).z0
        z.add_(100.0)  # a caller changing its copy does not poison the cache
        dragnb.dift_features(tiny_sd, scene_image[::-1].copy(), ensemble=1)
    finally:
        h.remove()
    assert len(calls) == 2
    assert dragnb.invert(tiny_sd, scene_image, steps=4).z0.abs().max() < 50
