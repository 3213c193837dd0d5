"""Train the teaching model from scratch on the scene world: ``python -m dragnb.teaching.train``.

Three phases, each resumable from a checkpoint in ``--run`` (default
``~/.cache/dragnb/teaching-run``); running the same command again resumes:

1. ``vae``:  AutoencoderKL on 64x64 scenes (MSE + L1 + a tiny KL), then the latent
   scaling factor is measured (1 / std of the latents, as SD does).
2. ``unet``: the UNet and the text encoder, epsilon prediction on cached latents with
   SD 1.5's noise schedule, captions dropped 10% of the time (so "" works), EMA weights
   (diffusers' ``EMAModel``).
   Then ``refine``: a second, shorter cosine cycle at a lower peak (a warm restart);
   measured, it did *not* sharpen the DIFT correspondence (RESULTS.md); it stays in the
   shipped 16x16 recipe because the shipped weights are its output, and is skipped with ``--latent 32``.
3. ``export``: the EMA weights in fp16, as a diffusers Stable Diffusion folder, into
   ``dragnb/teaching/weights`` (``--export-only`` writes it from the latest checkpoint).

The knobs below are the ones the shipped weights were trained with. ``--latent 32`` trains
the finer-grid variant (x2 autoencoder, 32x32 latents; ``model.py``) into its own run folder
and exports it beside, not over, the shipped weights.
"""
from __future__ import annotations

import argparse
import copy
import csv
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from .model import SCHEDULER, build_models
from .scenes import random_scene

# --- knobs -------------------------------------------------------------------------
N_SCENES = 30_000          # training scenes: seeds 0 .. N_SCENES-1 (held-apart: >= 1_000_000)
VAE_STEPS, VAE_BATCH, VAE_LR = 1600, 32, 1e-3
VAE_STEPS_32 = 800         # --latent 32: a x2 autoencoder compresses 3x, not 12x; its step costs ~2x
KL_WEIGHT = 1e-6
UNET_STEPS, UNET_BATCH, UNET_LR = 2400, 64, 1e-3
WARMUP = 200
REFINE_STEPS, REFINE_LR, REFINE_WARMUP = 1200, 3e-4, 50
CAPTION_DROP = 0.1
EMA_DECAY = 0.999
CHECKPOINT_EVERY_S = 300
THREADS = 2
SEED = 0
# -----------------------------------------------------------------------------------

WEIGHTS = Path(__file__).parent / "weights"


def lr_at(step: int, total: int, peak: float, warmup: int = WARMUP) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    a = (step - warmup) / max(1, total - warmup)
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * a)))


def make_data(run: Path) -> dict:
    """Render (or load) the training scenes: uint8 images (N, 64, 64, 3) and captions."""
    path = run / "scenes.npz"
    if path.exists():
        d = np.load(path)
        return {"images": d["images"], "captions": list(d["captions"])}
    images, captions = [], []
    for s in tqdm(range(N_SCENES), desc="rendering scenes"):
        scene = random_scene(s)
        images.append(np.asarray(scene.render(64)))
        captions.append(scene.caption())
    d = {"images": np.stack(images), "captions": np.array(captions)}
    np.savez(path, **d)
    return {"images": d["images"], "captions": captions}


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


class Trainer:
    def __init__(self, run: Path, latent: int = 16):
        self.run, self.latent = run, latent
        self.vae_steps = VAE_STEPS if latent == 16 else VAE_STEPS_32
        run.mkdir(parents=True, exist_ok=True)
        self.vae, self.unet, self.text, self.tok, _ = build_models(run / "tokenizer", seed=SEED, latent=latent)
        self.ema = EMAModel(self._denoiser_params(), decay=EMA_DECAY)   # diffusers' EMA, SD's warm-up formula
        self.vae_opt = torch.optim.AdamW(self.vae.parameters(), lr=VAE_LR, weight_decay=0.0)
        self.unet_opt = torch.optim.AdamW(list(self.unet.parameters()) + list(self.text.parameters()),
                                          lr=UNET_LR, weight_decay=0.01)
        self.state = {"phase": "vae", "step": 0, "log": [], "scaling": None, "seconds": 0.0, "latent": latent}
        self.ckpt = run / "checkpoint.pt"
        if self.ckpt.exists():
            self.load()

    def _denoiser_params(self) -> list:
        """The UNet's and the text encoder's parameters, in the order the EMA keeps them."""
        return list(self.unet.parameters()) + list(self.text.parameters())

    # -- checkpoints ------------------------------------------------------------------
    def save(self):
        blob = {"state": self.state, "vae": self.vae.state_dict(), "unet": self.unet.state_dict(),
                "text": self.text.state_dict(), "ema": self.ema.state_dict(),
                "vae_opt": self.vae_opt.state_dict(), "unet_opt": self.unet_opt.state_dict()}
        tmp = self.ckpt.with_suffix(".tmp")
        torch.save(blob, tmp)
        os.replace(tmp, self.ckpt)
        with open(self.run / "loss.csv", "w", newline="") as f:
            csv.writer(f).writerows([("phase", "step", "loss")] + self.state["log"])

    def load(self):
        blob = torch.load(self.ckpt, weights_only=False)
        latent = blob["state"]["latent"]
        if latent != self.latent:
            raise SystemExit(f"{self.ckpt} is a run with {latent}x{latent} latents; "
                             "use another --run or the same --latent")
        self.state = blob["state"]
        self.vae.load_state_dict(blob["vae"])
        self.unet.load_state_dict(blob["unet"])
        self.text.load_state_dict(blob["text"])
        self.ema.load_state_dict(blob["ema"])
        self.vae_opt.load_state_dict(blob["vae_opt"])
        self.unet_opt.load_state_dict(blob["unet_opt"])
        if self.state["scaling"] is not None:
            self.vae.register_to_config(scaling_factor=self.state["scaling"])
        print(f"resumed: phase {self.state['phase']}, step {self.state['step']}")

    # -- phase 1: the autoencoder -----------------------------------------------------
    def vae_step(self, images: np.ndarray, step: int) -> float:
        rng = np.random.default_rng(SEED * 7919 + step)
        idx = rng.integers(0, len(images), VAE_BATCH)
        x = to_tensor(images[idx])
        flip = torch.from_numpy(rng.random(VAE_BATCH) < 0.5)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        for g in self.vae_opt.param_groups:
            g["lr"] = lr_at(step, self.vae_steps, VAE_LR)
        post = self.vae.encode(x).latent_dist
        y = self.vae.decode(post.sample()).sample
        loss = F.mse_loss(y, x) + 0.5 * F.l1_loss(y, x) + KL_WEIGHT * post.kl().mean()
        self.vae_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.vae_opt.step()
        return loss.item()

    @torch.no_grad()
    def encode_all(self, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and std of every training scene: 2 x (N, 4, latent, latent)."""
        path = self.run / "latents.pt"
        if path.exists():
            return torch.load(path)
        self.vae.eval()
        means, stds = [], []
        for i in tqdm(range(0, len(images), 256), desc="encoding latents"):
            post = self.vae.encode(to_tensor(images[i:i + 256])).latent_dist
            means.append(post.mean)
            stds.append(post.std)
        lat = (torch.cat(means), torch.cat(stds))
        torch.save(lat, path)
        return lat

    # -- phase 2: the UNet and the text encoder ---------------------------------------
    def unet_step(self, latents, ids: torch.Tensor, empty: torch.Tensor, step: int, sched,
                  lr: float) -> float:
        """One step; ``step`` counts across both UNet cycles (it seeds the batch and the EMA)."""
        mean, std = latents
        g = torch.Generator().manual_seed(SEED * 104729 + step)
        idx = torch.randint(0, len(mean), (UNET_BATCH,), generator=g)
        z0 = (mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=g)) * self.state["scaling"]
        tok = ids[idx].clone()
        drop = torch.rand(UNET_BATCH, generator=g) < CAPTION_DROP
        tok[drop] = empty
        t = torch.randint(0, SCHEDULER["num_train_timesteps"], (UNET_BATCH,), generator=g)
        noise = torch.randn(z0.shape, generator=g)
        zt = sched.add_noise(z0, noise, t)
        for grp in self.unet_opt.param_groups:
            grp["lr"] = lr
        pred = self.unet(zt, t, self.text(tok)[0]).sample
        loss = F.mse_loss(pred, noise)
        self.unet_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.unet.parameters(), 1.0)
        self.unet_opt.step()
        self.ema.step(self._denoiser_params())
        return loss.item()

    # -- the loop ---------------------------------------------------------------------
    def train(self, export: Path = WEIGHTS):
        from diffusers import DDPMScheduler

        data = make_data(self.run)
        st = self.state
        if st["phase"] == "vae":
            self.vae.train()
            self._phase(self.vae_steps, lambda step: self.vae_step(data["images"], step), "encode")
        latents = self.encode_all(data["images"])
        if st["scaling"] is None:
            g = torch.Generator().manual_seed(SEED)
            sample = latents[0][:4096] + latents[1][:4096] * torch.randn(latents[0][:4096].shape, generator=g)
            st["scaling"] = float(1.0 / sample.std())
            self.vae.register_to_config(scaling_factor=st["scaling"])
            st["phase"] = "unet"
            self.save()
        sched = DDPMScheduler(**{k: v for k, v in SCHEDULER.items() if k not in ("set_alpha_to_one",)})
        ids = torch.tensor(self.tok(data["captions"], padding="max_length", truncation=True,
                                    max_length=self.tok.model_max_length).input_ids)
        empty = torch.tensor(self.tok("", padding="max_length", max_length=self.tok.model_max_length).input_ids)
        cycles = {"unet": (UNET_STEPS, UNET_LR, WARMUP, 0, "refine"),
                  "refine": (REFINE_STEPS if self.latent == 16 else 0, REFINE_LR, REFINE_WARMUP, UNET_STEPS, "done")}
        while st["phase"] in cycles:
            total, peak, warmup, offset, after = cycles[st["phase"]]
            self.unet.train()
            self.text.train()
            self._phase(total, lambda step: self.unet_step(latents, ids, empty, offset + step, sched,
                                                           lr_at(step, total, peak, warmup)), after)
        self.export(export)

    def _phase(self, total: int, one_step, after: str) -> None:
        """Run the current phase's steps from where the state says, logging, timing and
        checkpointing every CHECKPOINT_EVERY_S; then move the state to phase ``after``."""
        st, last = self.state, time.time()
        bar = tqdm(range(st["step"], total), desc=st["phase"], initial=st["step"], total=total)
        for step in bar:
            t0 = time.time()
            loss = one_step(step)
            st["seconds"] += time.time() - t0
            st["log"].append((st["phase"], step, round(loss, 5)))
            st["step"] = step + 1
            bar.set_postfix(loss=f"{loss:.4f}")
            if time.time() - last > CHECKPOINT_EVERY_S:
                self.save()
                last = time.time()
        st["phase"], st["step"] = after, 0
        self.save()

    def export(self, folder: Path = WEIGHTS):
        """Write the EMA weights (fp16) as a diffusers Stable Diffusion folder."""
        from diffusers import DDIMScheduler, StableDiffusionPipeline

        unet, text = copy.deepcopy(self.unet), copy.deepcopy(self.text)
        self.ema.copy_to(list(unet.parameters()) + list(text.parameters()))
        pipe = StableDiffusionPipeline(
            vae=copy.deepcopy(self.vae).half(), text_encoder=text.half(),
            tokenizer=self.tok, unet=unet.half(), scheduler=DDIMScheduler(**SCHEDULER),
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        folder = Path(folder)
        pipe.save_pretrained(folder, safe_serialization=True)
        with open(folder / "training.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(("phase", "step", "loss"))
            w.writerows(self.state["log"])
        (folder / "TRAINING_STATE.txt").write_text(
            f"phase {self.state['phase']} step {self.state['step']} "
            f"compute_seconds {self.state['seconds']:.0f}\n")
        print(f"exported to {folder} ({self.state['phase']}, step {self.state['step']})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", default=None, help="checkpoint folder (default ~/.cache/dragnb/teaching-run, "
                   "with --latent 32 ~/.cache/dragnb/teaching-run-32)")
    p.add_argument("--latent", type=int, choices=[16, 32], default=16,
                   help="latent grid: 16 (x4 autoencoder, the shipped model) or 32 (x2, no refine cycle)")
    p.add_argument("--export", default=None, help="where the weights go (default: the package's weights "
                   "for --latent 16, ~/.cache/dragnb/teaching-32 for 32)")
    p.add_argument("--export-only", action="store_true", help="write weights from the latest checkpoint")
    p.add_argument("--threads", type=int, default=THREADS, help="CPU threads (default: 2, as timed)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cache = Path(os.path.expanduser("~/.cache/dragnb"))
    run = Path(args.run) if args.run else cache / ("teaching-run" if args.latent == 16 else "teaching-run-32")
    export = Path(args.export) if args.export else (WEIGHTS if args.latent == 16 else cache / "teaching-32")
    trainer = Trainer(run, args.latent)
    if args.export_only:
        trainer.export(export)
    else:
        trainer.train(export)


if __name__ == "__main__":
    main()
