"""Loading a Stable-Diffusion-shaped model: hub id, local folder, single file, or "tiny".

``load`` returns a :class:`DiffusionModel`: the four parts the method needs (VAE,
UNet, text encoder + tokenizer, DDIM scheduler) and the helpers every stage shares:
``embed`` (a prompt's embedding) and ``encode``/``decode`` (the VAE), each with a small
cache on the model. Only those parts are read from a checkpoint: no safety checker, no
pipeline. ``SD15_NOTICE`` says what loading SD 1.5 downloads. Beside it: ``check_model``, ``warn_if_photo_on_teaching_model`` (the teaching
model knows only its landscapes) and ``optimizer_step`` (one Adam step, through fp16's
GradScaler when there is one), which the LoRA fit and the optimisation share.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import torch

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SD21 = "stabilityai/stable-diffusion-2-1"
TINY = Path(__file__).parent / "teaching" / "weights"
PARTS = ("vae", "unet", "text_encoder", "tokenizer", "scheduler")
# DIFT's published defaults (Tang et al., NeurIPS 2023, github.com/Tsingularity/dift: SD 2.1, t = 261,
# up_blocks[1]); a model folder may override them in its dragnb.json
DIFT_DEFAULTS = {"dift_t": 261, "dift_up_block": 1,
                 # dragnb additions (dragnb.features), off as published
                 "dift_center": False, "dift_context_block": None, "dift_context_weight": 0.0}
LATENT_CACHE = 4  # images whose VAE latents a model keeps
# what a notebook says before its first SD 1.5 load: the download, and what a drag costs on Colab's T4
SD15_NOTICE = ("Stable Diffusion 1.5: the first load downloads its UNet, VAE and text encoder from the Hugging Face "
               "hub into its cache (about 2 GB as fp16 on a GPU, about 4 GB in float32); later loads read the cache.\n"
               "A drag with DragDiffusion's settings (LoRA, 80 steps) takes minutes on a T4: DragDiffusion reports "
               "about 50 s on an A100, and a T4 has several times less fp16 throughput (not measured by dragnb).")


class WeightsNotFoundError(FileNotFoundError):
    """A model's weights are neither on disk nor downloadable right now."""


@dataclass
class DiffusionModel:
    """The parts of a Stable Diffusion model that dragnb uses, on one device."""

    vae: torch.nn.Module
    unet: torch.nn.Module
    text_encoder: torch.nn.Module
    tokenizer: object
    scheduler: object
    name: str
    device: torch.device
    dtype: torch.dtype
    defaults: dict = field(default_factory=lambda: dict(DIFT_DEFAULTS))
    # what the model remembers between calls (``clear_caches`` forgets it): text embeddings
    # per prompt, and the VAE latents of the last LATENT_CACHE images
    prompt_cache: dict = field(default_factory=dict, repr=False)
    latent_cache: OrderedDict = field(default_factory=OrderedDict, repr=False)

    def clear_caches(self) -> None:
        """Forget cached prompt embeddings and image latents (say, to time a first encode)."""
        self.prompt_cache.clear()
        self.latent_cache.clear()

    @property
    def vae_factor(self) -> int:
        """Pixels per latent cell (8 for SD, 4 for the teaching model)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (VAE factor x UNet downsampling)."""
        return self.vae_factor * 2 ** (len(self.unet.config.down_block_types) - 1)

    @property
    def native_size(self) -> int:
        """The resolution the model was trained at (512 for SD 1.5, 64 for "tiny")."""
        s = self.unet.config.sample_size
        return (s if isinstance(s, int) else max(s)) * self.vae_factor

    @torch.no_grad()
    def embed(self, prompt: str) -> torch.Tensor:
        """Prompt -> text embedding (1, tokens, dim), cached per prompt."""
        if not isinstance(prompt, str):
            raise ValueError(f"prompt must be a string, got {type(prompt).__name__}")
        if prompt not in self.prompt_cache:
            ids = self.tokenizer(prompt, padding="max_length", truncation=True,
                                 max_length=self.tokenizer.model_max_length, return_tensors="pt").input_ids
            self.prompt_cache[prompt] = self.text_encoder(ids.to(self.device))[0].to(self.dtype)
        return self.prompt_cache[prompt]

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Image (B, 3, H, W) in [-1, 1] -> scaled latent (B, 4, H/f, W/f), the posterior mean.

        The last few images' latents are kept: features, regions and inversions of one
        image share one VAE pass (on SD at 512 px the encoder costs about a UNet pass).
        """
        key = (tuple(x.shape), hashlib.sha1(x.detach().float().cpu().numpy().tobytes()).hexdigest())
        if key in self.latent_cache:
            self.latent_cache.move_to_end(key)
            return self.latent_cache[key].clone()
        z = self.vae.encode(x.to(self.device, self.vae.dtype)).latent_dist.mean
        z = (z * self.vae.config.scaling_factor).to(self.dtype)
        self.latent_cache[key] = z
        while len(self.latent_cache) > LATENT_CACHE:
            self.latent_cache.popitem(last=False)
        return z.clone()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Scaled latent (B, 4, h, w) -> image (B, 3, h*f, w*f) in [-1, 1]."""
        return self.vae.decode(z.to(self.vae.dtype) / self.vae.config.scaling_factor).sample

    def __repr__(self):
        n = sum(p.numel() for p in self.unet.parameters()) / 1e6
        return (f"DiffusionModel({self.name!r}, {self.native_size}px, UNet {n:.1f}M params, "
                f"{self.device}, {str(self.dtype).replace('torch.', '')})")


def pick_device(device="auto") -> torch.device:
    if device != "auto":
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}") from e
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r}, but this machine has no CUDA GPU (or this PyTorch is the CPU "
                             "build): use device='cpu' or 'auto'")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"device={device!r}, but MPS is not available here: use device='cpu' or 'auto'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_model(model, name: str = "model") -> "DiffusionModel":
    """``model`` if it is a ``DiffusionModel`` (TypeError naming ``name`` otherwise)."""
    if not isinstance(model, DiffusionModel):
        raise TypeError(f"{name} must be a DiffusionModel (dragnb.load), got {type(model).__name__}")
    return model


def warn_if_photo_on_teaching_model(model: DiffusionModel, image, size: int) -> None:
    """The teaching model knows only 64-px landscapes (``size``: the drag's working side). Shown
    once per place it is called from (``warnings``' default filter)."""
    if model.name == "tiny" and max(image.size) > 2 * model.native_size:
        warnings.warn(f"this {image.width}x{image.height} image goes to the teaching model, which knows only "
                      f"{model.native_size}-px landscapes: it is worked on at {size} px and comes "
                      "back smudged inside the editable region (outside it stays your own pixels). For photos, "
                      f"load Stable Diffusion on a GPU: dragnb.load('{SD15}').",
                      stacklevel=3)


def attention_up_blocks(model: DiffusionModel) -> list:
    """Indices of the up-blocks that have attention layers."""
    return [i for i, b in enumerate(model.unet.up_blocks) if getattr(b, "attentions", None)]


def default_reference_blocks(model: DiffusionModel) -> list:
    """The last two up-blocks with attention (SD 1.5: up_blocks 2 and 3, i.e. its
    transformer blocks 10-15 of 16, as DragDiffusion)."""
    return attention_up_blocks(model)[-2:]


def pick_dtype(dtype, device: torch.device) -> torch.dtype:
    if dtype != "auto":
        return getattr(torch, dtype) if isinstance(dtype, str) else dtype
    return torch.float16 if device.type in ("cuda", "mps") else torch.float32


def load(model: str | os.PathLike = "auto", device="auto", dtype="auto", config=None,
         cache_dir=None, verbose: bool = True) -> DiffusionModel:
    """Load a Stable-Diffusion-shaped model for dragnb.

    Args:
        model: ``"auto"`` (SD 1.5 on CUDA, the teaching model elsewhere), ``"tiny"``
            (the bundled teaching model), a hub id such as
            ``"stable-diffusion-v1-5/stable-diffusion-v1-5"`` or
            ``"stabilityai/stable-diffusion-2-1"``, a local diffusers folder, or a
            single ``.safetensors``/``.ckpt`` file.
        device: ``"auto"`` (CUDA, then MPS, then CPU) or any torch device.
        dtype: ``"auto"`` (fp16 on CUDA/MPS, fp32 on CPU) or a torch dtype.
        config: for a single file, a local diffusers folder (or hub id) whose configs
            describe it; needed offline, since diffusers otherwise fetches them.
        cache_dir: the Hugging Face cache to read and download hub models into
            (default: the usual one, ``HF_HUB_CACHE``).
        verbose: say what was loaded (and, for ``"auto"``, what it picked) and how long it took.

    Raises:
        WeightsNotFoundError: the weights are not on disk and cannot be downloaded;
            the message names the model and the fixes.
    """
    start = time.perf_counter()
    m = _open(model, device, dtype, config, cache_dir, verbose)
    if verbose:
        print(f"dragnb.load: {m} in {time.perf_counter() - start:.1f} s")
    return m


def _open(model, device, dtype, config, cache_dir, verbose: bool) -> DiffusionModel:
    """``load``'s work: find the weights ``model`` names and assemble them."""
    dev = pick_device(device)
    dt = pick_dtype(dtype, dev)
    if model == "auto":
        model = SD15 if dev.type == "cuda" else "tiny"
        if verbose:
            print(f"dragnb.load: model='auto' picked {model!r} for device {dev.type}")
    if model == "tiny":
        if not (TINY / "model_index.json").exists():
            raise WeightsNotFoundError(f"the teaching model's weights are missing from {TINY}; "
                                       "reinstall dragnb, or train them: python -m dragnb.teaching.train")
        return _from_folder(TINY, "tiny", dev, dt)
    path = Path(os.path.expanduser(str(model)))
    if path.is_dir():
        return _from_folder(path, str(model), dev, dt)
    if path.suffix in (".safetensors", ".ckpt", ".bin") or path.exists():
        if not path.is_file():
            raise WeightsNotFoundError(f"checkpoint file not found: {path}")
        return _from_single_file(path, dev, dt, config)
    if str(model).count("/") != 1 or str(model).startswith((".", "/", "~")):
        raise WeightsNotFoundError(f"{model!r} is neither a local folder, a checkpoint file, "
                                   "nor a hub id of the form 'owner/name'")
    return _from_hub(str(model), dev, dt, cache_dir)


def _parts(source, dev, dt, **kw):
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    with warnings.catch_warnings(), _quiet():
        warnings.simplefilter("ignore")
        vae = AutoencoderKL.from_pretrained(source, subfolder="vae", torch_dtype=dt, **kw)
        unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", torch_dtype=dt, **kw)
        kw.pop("variant", None)
        text = CLIPTextModel.from_pretrained(source, subfolder="text_encoder", dtype=dt, **kw)
        tok = CLIPTokenizer.from_pretrained(source, subfolder="tokenizer", **kw)
        sched = DDIMScheduler.from_pretrained(source, subfolder="scheduler", **kw)
    return vae, unet, text, tok, sched


class _quiet:
    """Hide the libraries' per-file progress bars while loading (they clutter notebooks)."""

    def __enter__(self):
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        self.was = (tlog.is_progress_bar_enabled(), dlog.is_progress_bar_enabled())
        tlog.disable_progress_bar()
        dlog.disable_progress_bar()

    def __exit__(self, *exc):
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        if self.was[0]:
            tlog.enable_progress_bar()
        if self.was[1]:
            dlog.enable_progress_bar()


def assemble(parts, name, dev, dt, defaults=None) -> DiffusionModel:
    """A DiffusionModel from (vae, unet, text_encoder, tokenizer, scheduler), on ``dev`` in ``dt``,
    frozen and in eval mode; any scheduler becomes a DDIMScheduler of its config."""
    from diffusers import DDIMScheduler

    vae, unet, text, tok, sched = parts
    if not isinstance(sched, DDIMScheduler):
        sched = DDIMScheduler.from_config(sched.config)
    for m in (vae, unet, text):
        m.to(dev).eval().requires_grad_(False)
    return DiffusionModel(vae, unet, text, tok, sched, name, dev, dt,
                          defaults={**DIFT_DEFAULTS, **(defaults or {})})


def _from_folder(path: Path, name, dev, dt) -> DiffusionModel:
    missing = [p for p in PARTS if not (path / p).is_dir()]
    if missing:
        raise WeightsNotFoundError(f"{path} is not a Stable Diffusion folder in diffusers format: "
                                   f"missing {', '.join(missing)}")
    extra = path / "dragnb.json"
    defaults = json.loads(extra.read_text()) if extra.exists() else None
    return assemble(_parts(str(path), dev, dt), name, dev, dt, defaults)


def _offline_message(repo: str, why: str) -> str:
    return (f"could not load {repo!r}: {why}.\nFixes:\n"
            f"  - connect to the internet (and unset HF_HUB_OFFLINE) so that it downloads once "
            f"into the Hugging Face cache;\n"
            f"  - or download it elsewhere and pass the local folder or file: dragnb.load('/path/to/model');\n"
            f"  - or use the bundled teaching model, which needs no download: dragnb.load('tiny').")


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP probe of the hub; behind a proxy, assume reachable and let the download say."""
    from huggingface_hub import constants

    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _from_hub(repo: str, dev, dt, cache_dir=None) -> DiffusionModel:
    from huggingface_hub import constants, try_to_load_from_cache

    variant = "fp16" if dt == torch.float16 else None
    kw = {"cache_dir": str(cache_dir)} if cache_dir else {}
    why = "it is not in the local Hugging Face cache"
    if isinstance(try_to_load_from_cache(repo, "unet/config.json", **kw), str):
        for v in ([variant, None] if variant else [None]):
            try:  # already in the cache: no network needed
                return assemble(_parts(repo, dev, dt, local_files_only=True, variant=v, **kw), repo, dev, dt)
            except (OSError, ValueError) as e:
                why = f"its copy in the local Hugging Face cache is incomplete ({e})"
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        raise WeightsNotFoundError(_offline_message(repo, why + " and HF_HUB_OFFLINE is set"))
    start = time.time()
    if not _hub_reachable():
        raise WeightsNotFoundError(_offline_message(
            repo, f"it is not in the local cache and the hub cannot be reached "
                  f"(no network? tried for {time.time() - start:.1f} s)"))
    last = None
    for v in ([variant, None] if variant else [None]):
        try:
            return assemble(_parts(repo, dev, dt, variant=v, **kw), repo, dev, dt)
        except (OSError, ValueError) as e:
            last = e
    raise WeightsNotFoundError(_offline_message(repo, f"the download failed ({last})")) from None


def _from_single_file(path: Path, dev, dt, config) -> DiffusionModel:
    from diffusers import StableDiffusionPipeline

    kw = {"config": str(config)} if config else {}
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        kw["local_files_only"] = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe = StableDiffusionPipeline.from_single_file(
                str(path), torch_dtype=dt, safety_checker=None, feature_extractor=None,
                requires_safety_checker=False, **kw)
    except Exception as e:  # diffusers raises many kinds here; the user needs one message
        raise WeightsNotFoundError(
            f"could not load the single-file checkpoint {path}: {type(e).__name__}: {e}\n"
            "diffusers reads the model's configs from the hub for single files; offline, pass "
            "config='/path/to/a/diffusers/folder/of/the/same/architecture' to dragnb.load.") from None
    return assemble((pipe.vae, pipe.unet, pipe.text_encoder, pipe.tokenizer, pipe.scheduler),
                     str(path), dev, dt)


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler=None) -> None:
    """zero_grad, backward and step, through the fp16 GradScaler when one is given."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
