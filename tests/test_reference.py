"""Denoising with the original's self-attention keys/values, and latent blending outside the region."""
import pytest
import torch

from dragnb.inversion import invert
from dragnb.reference import denoise_with_reference, reference_attention


@pytest.fixture(scope="module")
def inverted(tiny_sd):
    import numpy as np

    a = np.zeros((32, 32, 3), np.uint8)
    a[:] = (40, 60, 200)
    a[8:20, 10:22] = (220, 30, 30)
    return invert(tiny_sd, a, strength=0.5, steps=10)


def _args(inv, z_edit):
    return inv.latent, z_edit, inv.timesteps, inv.embedding, inv.scheduler


def test_reference_attention_changes_the_edit_and_then_goes_away(tiny_sd, inverted):
    before = dict(tiny_sd.unet.attn_processors)
    z_edit = inverted.latent + 0.5 * torch.randn(inverted.latent.shape, generator=torch.Generator().manual_seed(0))
    with_ref = denoise_with_reference(tiny_sd, *_args(inverted, z_edit))
    without = denoise_with_reference(tiny_sd, *_args(inverted, z_edit), blocks=())
    assert (with_ref - without).abs().max() > 1e-3
    assert dict(tiny_sd.unet.attn_processors) == before
    # the original attending to itself is plain self-attention: an unedited latent comes back unchanged
    same = denoise_with_reference(tiny_sd, *_args(inverted, inverted.latent))
    plain = denoise_with_reference(tiny_sd, *_args(inverted, inverted.latent), blocks=())
    assert torch.allclose(same, plain, atol=1e-4)


def test_blending_keeps_the_original_outside_the_region(tiny_sd, inverted):
    z_edit = inverted.latent + 0.5 * torch.randn(inverted.latent.shape, generator=torch.Generator().manual_seed(1))
    keep = torch.zeros(1, 1, *inverted.latent.shape[-2:])
    keep[..., :, :8] = 1  # the left half is kept
    original = denoise_with_reference(tiny_sd, *_args(inverted, inverted.latent), blocks=())
    blended = denoise_with_reference(tiny_sd, *_args(inverted, z_edit), keep=keep)
    free = denoise_with_reference(tiny_sd, *_args(inverted, z_edit))
    assert torch.allclose(blended[..., :8], original[..., :8], atol=1e-4)
    assert (blended[..., 8:] - original[..., 8:]).abs().max() > 1e-2
    assert (free[..., :8] - original[..., :8]).abs().max() > 1e-2


def test_blocks_without_self_attention_are_refused(tiny_sd):
    with pytest.raises(ValueError, match="no self-attention"):
        with reference_attention(tiny_sd, [0]):
            pass


def test_the_reference_recorded_during_inversion_halves_denoising_and_keeps_the_result(tiny_sd, scene_image):
    import numpy as np

    import dragnb

    kw = dict(mask="all", up_block=1, steps=10, max_iters=3, tolerance=0.0)
    again = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], reference_source="recompute", **kw)
    kept = dragnb.drag(tiny_sd, scene_image, [(15, 13)], [(22, 13)], reference_source="inversion", **kw)
    assert again.passes["denoising"]["forward"] == 14 and kept.passes["denoising"]["forward"] == 7
    assert kept.passes["inversion"] == again.passes["inversion"]        # recording costs no pass
    diff = np.abs(np.asarray(kept.image, float) - np.asarray(again.image, float))
    assert diff.mean() < 2.0, diff.mean()    # 8-bit levels: the inversion's latents stand in for the rebuilt ones


def test_a_missing_recorded_timestep_is_named(tiny_sd, scene_image):
    from dragnb.reference import ReferenceTokens

    tokens = ReferenceTokens()
    tokens.t = 5
    with pytest.raises(ValueError, match="no reference recorded at timestep 5"):
        tokens.get("up_blocks.1.attentions.0.transformer_blocks.0.attn1.processor", torch.zeros(1, 4, 8))
