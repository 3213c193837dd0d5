"""The teaching model's figures for its model card: ``python -m dragnb.ui.teaching_figures DIR``.

Its training loss (from ``training.csv`` beside the weights), generated samples, and scenes beside
their autoencoder reconstructions, drawn from ``dragnb.teaching.checks``' sample and autoencoder checks.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ..loading import TINY, load
from ..teaching.checks import autoencoder_check, sample_check
from .plots import image_grid, loss_curve


def teaching_figures(folder: Path, samples, pairs, loss_csv: Path = TINY / "training.csv") -> list:
    """Write the loss curve (if ``loss_csv`` exists), 24 ``samples`` and 8 of the (scene,
    reconstruction) ``pairs`` into ``folder`` as PNGs; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if Path(loss_csv).exists():
        with open(loss_csv) as f:
            rows = list(csv.DictReader(f))
        loss_curve({ph: [float(r["loss"]) for r in rows if r["phase"] == ph] for ph in ("vae", "unet")},
                   title="teaching model training loss").savefig(folder / "teaching_loss.png", dpi=100)
        written.append(folder / "teaching_loss.png")
    image_grid(samples[:24], cols=8, titles=None, scale=2).savefig(folder / "teaching_samples.png", dpi=100)
    flat = [im for pair in pairs[:8] for im in pair]
    image_grid(flat, cols=8, titles=["scene", "reconstruction"] * 8, scale=2).savefig(
        folder / "teaching_reconstructions.png", dpi=100)
    return written + [folder / "teaching_samples.png", folder / "teaching_reconstructions.png"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument("--model", default="tiny")
    args = p.parse_args(argv)
    model = load(args.model, device="cpu", verbose=False)
    written = teaching_figures(args.folder, sample_check(model)["samples"], autoencoder_check(model)["pairs"])
    print("wrote", ", ".join(str(w) for w in written))


if __name__ == "__main__":
    main()
