"""What a drag costs, per stage: seconds, UNet passes and peak GPU memory.

``Costs.timed`` runs one piece of a stage and adds to its account; ``DragResult.costs()``
prints the accounts. UNet passes are counted in images (a batch of 2 is 2; a pass
stopped after the supervised block counts as one); backward passes are added by the
stage that runs them.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch


@contextmanager
def unet_passes(unet, counts: dict):
    """Within the block, add to ``counts["forward"]`` the images of every UNet call (whole or
    stopped early)."""
    def seen(_module, args, kwargs):
        x = args[0] if args else kwargs["sample"]
        counts["forward"] += int(x.shape[0])

    handle = unet.register_forward_pre_hook(seen, with_kwargs=True)
    try:
        yield counts
    finally:
        handle.remove()


@dataclass
class Costs:
    """Per stage: ``timings`` (seconds), ``passes`` ({"forward": images, "backward": images}) and,
    on a GPU, ``peak_gb`` (peak CUDA memory, GiB)."""

    timings: dict = field(default_factory=dict)
    passes: dict = field(default_factory=dict)
    peak_gb: dict = field(default_factory=dict)

    def timed(self, model, stage: str, fn, *args, **kw):
        """Run ``fn(*args, **kw)`` on ``model``, adding its seconds, UNet passes and peak CUDA memory
        to ``stage``'s account; returns what ``fn`` returns."""
        start = time.perf_counter()
        cuda = model.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(model.device)
        with unet_passes(model.unet, self.account(stage)):
            out = fn(*args, **kw)
        if cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated(model.device) / 2 ** 30
            self.peak_gb[stage] = max(self.peak_gb.get(stage, 0.0), peak)
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start
        return out

    def account(self, stage: str) -> dict:
        """``stage``'s UNet pass counts, {"forward": n, "backward": n} (made on first use)."""
        return self.passes.setdefault(stage, {"forward": 0, "backward": 0})

    def copy(self) -> "Costs":
        return Costs(dict(self.timings), {k: dict(v) for k, v in self.passes.items()}, dict(self.peak_gb))

    def report(self) -> str:
        """A line per stage: seconds, UNet passes forward/backward, peak GPU memory; then the whole edit."""
        rows = []
        for stage, sec in self.timings.items():
            p = self.passes.get(stage, {})
            mem = f", peak {self.peak_gb[stage]:.1f} GiB" if stage in self.peak_gb else ""
            rows.append(f"{stage:13s} {sec:7.2f} s  UNet passes {p.get('forward', 0):4d} forward, "
                        f"{p.get('backward', 0):4d} backward{mem}")
        total = sum(self.timings.values())
        fwd = sum(p["forward"] for p in self.passes.values())
        bwd = sum(p["backward"] for p in self.passes.values())
        return "\n".join(rows + [f"{'whole edit':13s} {total:7.2f} s  UNet passes {fwd:4d} forward, {bwd:4d} backward"])
