"""The teaching model's architecture: a miniature Stable Diffusion in diffusers format.

Same parts, same classes as SD 1.5, only smaller, so that ``dragnb.load`` reads it
through the code path it uses for real checkpoints:

    image 64x64x3 --AutoencoderKL (x4 down)--> latent 4x16x16
    latent --UNet2DConditionModel (16 -> 8 -> 4 and back)--> noise prediction
    prompt --CLIPTokenizer (scene words) + CLIPTextModel (2 layers, 64 wide)--> 16x64

The UNet's blocks mirror SD's (cross-attention down, plain bottom, cross-attention up),
so ``up_blocks[i]`` means the same kind of thing: ``up_blocks[1]`` and ``up_blocks[2]``
both output 16x16 (latent) resolution with self-attention, like SD's last up-blocks.
"""
from __future__ import annotations

import os
from pathlib import Path

from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

IMAGE_SIZE = 64
MAX_TOKENS = 16
WORDS = ["no", "a", "an", "two", "three", "four", "five", "and", "with", "the", "of", "photo",
         "sun", "suns", "mountain", "mountains", "tree", "trees", "house", "houses",
         "creature", "creatures", "landscape", "sky", "ground", "peak", "tail", "animal"]

# Stable Diffusion 1.5's scheduler, unchanged: the teaching model uses SD's noise levels.
SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                 beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False,
                 steps_offset=1, prediction_type="epsilon")


def vae_config(latent: int = 16) -> dict:
    """The autoencoder: x4 down to 16x16 latents (shipped), or x2 down to 32x32 (``latent=32``)."""
    blocks = [32, 64, 128] if latent == 16 else [32, 64]
    return dict(in_channels=3, out_channels=3, latent_channels=4, sample_size=IMAGE_SIZE,
                down_block_types=["DownEncoderBlock2D"] * len(blocks),
                up_block_types=["UpDecoderBlock2D"] * len(blocks),
                block_out_channels=blocks, layers_per_block=1, norm_num_groups=16)


def unet_config(latent: int = 16) -> dict:
    """The denoiser. ``latent=32``: one more level at the top (32x32, 32 channels, no attention),
    so a step costs about what the shipped 16x16 UNet's does (2.4 vs 2.1 s at batch 64 here),
    and ``up_blocks[2]`` (second-to-last, as SD's supervised block) outputs at latent resolution."""
    if latent == 32:
        return dict(sample_size=32, in_channels=4, out_channels=4, layers_per_block=1,
                    block_out_channels=[32, 64, 128, 128], norm_num_groups=16, cross_attention_dim=64,
                    attention_head_dim=8,
                    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                      "DownBlock2D"],
                    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"])
    return dict(sample_size=IMAGE_SIZE // 4, in_channels=4, out_channels=4, layers_per_block=1,
                block_out_channels=[64, 128, 128], norm_num_groups=16, cross_attention_dim=64,
                attention_head_dim=8,
                down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])


def text_config() -> dict:
    return dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, projection_dim=64)


def build_tokenizer(folder: str | os.PathLike, words=WORDS, max_length: int = MAX_TOKENS) -> CLIPTokenizer:
    """Write a CLIP BPE tokenizer whose merges make each scene word one token.

    Every byte is also in the vocabulary, so any prompt tokenizes (letter by letter
    outside the scene words). Returns the tokenizer loaded back from ``folder``.
    """
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    base = list(bytes_to_unicode().values())
    vocab = base + [b + "</w>" for b in base]
    merges = []
    for w in words:
        sym = list(w[:-1]) + [w[-1] + "</w>"] if len(w) > 1 else []
        while len(sym) > 1:
            pair = (sym[0], sym[1])
            if " ".join(pair) not in merges:
                merges.append(" ".join(pair))
            if pair[0] + pair[1] not in vocab:
                vocab.append(pair[0] + pair[1])
            sym = [pair[0] + pair[1]] + sym[2:]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok = CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)},
                        merges=[tuple(m.split(" ")) for m in merges], model_max_length=max_length)
    tok.save_pretrained(folder)
    return CLIPTokenizer.from_pretrained(folder)


def build_models(tokenizer_folder: str | os.PathLike, seed: int = 0, latent: int = 16):
    """Fresh (untrained) parts: (vae, unet, text_encoder, tokenizer, scheduler); ``latent``: 16 or 32."""
    return fresh_parts(vae_config(latent), unet_config(latent), text_config(), tokenizer_folder, seed)


def fresh_parts(vae: dict, unet: dict, text: dict, tokenizer_folder: str | os.PathLike, seed: int = 0,
                calm: bool = False):
    """Untrained (vae, unet, text_encoder, tokenizer, scheduler) from diffusers/transformers configs,
    seeded; the teaching tokenizer's vocabulary and ids complete ``text``. ``calm``: the UNet's output
    layer scaled down (small, smooth noise predictions, as a trained model's). Also builds the
    random models of ``dragnb.random_models``."""
    import torch

    torch.manual_seed(seed)
    tok = build_tokenizer(tokenizer_folder)
    vae = AutoencoderKL(**vae)
    unet = UNet2DConditionModel(**unet)
    if calm:
        with torch.no_grad():
            unet.conv_out.weight.mul_(0.05)
            unet.conv_out.bias.zero_()
    n = len(tok)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=n, max_position_embeddings=tok.model_max_length,
                                        bos_token_id=n - 2, eos_token_id=n - 1, pad_token_id=n - 1, **text))
    return vae, unet, text, tok, DDIMScheduler(**SCHEDULER)
