"""The teaching model's training loop, at toy size: it runs, exports a model dragnb loads, and an
interrupted run resumed from its checkpoint ends exactly where an uninterrupted one does."""
import pytest
import torch

import dragnb
from dragnb.teaching import train


@pytest.fixture
def toy(monkeypatch):
    for name, value in dict(N_SCENES=6, VAE_STEPS=2, VAE_BATCH=2, UNET_STEPS=3, UNET_BATCH=2, WARMUP=1,
                            REFINE_STEPS=1, REFINE_WARMUP=1, CHECKPOINT_EVERY_S=-1).items():
        monkeypatch.setattr(train, name, value)


def _unet(folder):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(folder, subfolder="unet").state_dict()


def test_an_interrupted_run_resumes_to_the_same_weights(toy, tmp_path, monkeypatch):
    train.Trainer(tmp_path / "run-a").train(tmp_path / "out-a")
    step = train.Trainer.unet_step
    calls = []

    def flaky(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return step(self, *a, **kw)

    monkeypatch.setattr(train.Trainer, "unet_step", flaky)
    with pytest.raises(KeyboardInterrupt):
        train.Trainer(tmp_path / "run-b").train(tmp_path / "out-b")
    monkeypatch.setattr(train.Trainer, "unet_step", step)
    resumed = train.Trainer(tmp_path / "run-b")
    assert (resumed.state["phase"], resumed.state["step"]) == ("unet", 1)
    resumed.train(tmp_path / "out-b")
    a, b = _unet(tmp_path / "out-a"), _unet(tmp_path / "out-b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    m = dragnb.load(tmp_path / "out-b", device="cpu", verbose=False)
    assert m.native_size == 64 and len(dragnb.generate(m, "a sun", steps=2)) == 1


def test_the_exported_weights_are_the_moving_average(toy, tmp_path):
    t = train.Trainer(tmp_path / "run")
    t.train(tmp_path / "out")
    live = t.unet.state_dict()
    exported = _unet(tmp_path / "out")
    # the average lags the live weights: after a few steps they differ, yet stay close
    assert any(not torch.allclose(exported[k].float(), live[k].half().float()) for k in live)
    t.ema.copy_to(t.unet.parameters())   # the UNet's share of the average: exactly what was exported (fp16)
    assert all(torch.equal(exported[k], v.half()) for k, v in t.unet.state_dict().items())
