"""Today's numbers, computed the same way by the pinning test and by ``python tests/pinned.py``
(which prints them, to update ``PINNED`` in tests/test_pinned.py after a change that is meant)."""
import numpy as np
import torch

import dragnb


def scene() -> np.ndarray:
    a = np.zeros((32, 32, 3), np.uint8)
    a[:] = (40, 60, 200)
    a[8:20, 10:22] = (220, 30, 30)
    return a


def numbers(model) -> dict:
    """Summaries of the features, an inversion round trip and a drag, on ``model`` (fixed seeds)."""
    img = scene()
    f = dragnb.dift_features(model, img, t=261, up_block=1, ensemble=2, seed=0)
    inv = dragnb.invert(model, img, strength=0.7, steps=10)
    back = np.asarray(dragnb.denoise(model, inv), np.float64)
    mask = np.zeros((32, 32), bool)
    mask[4:24, 8:28] = True
    s = dragnb.DragSession(model, img, [(15, 13)], [(22, 13)], mask=mask, up_block=1, steps=10, max_iters=4,
                           tolerance=0.0, init="inverted", strength=0.7, blend=False, paste_back=False,
                           preview_every=2)
    states = list(s.run())
    r = s.result()
    aldd = dragnb.DragSession(model, img, [(15, 13)], [(22, 13)], mask=mask, up_block=1, steps=10, max_iters=4,
                              tolerance=0.0, init="inverted", strength=0.7, drag_per_denoise=2, supervise="original")
    aldd_states = list(aldd.run())
    made = dragnb.generate(model, "a cat", n=1, steps=5, guidance=2.0, seed=0)[0]
    return {
        "features_abs_mean": float(f.fmap.abs().mean()),
        "features_first": float(f.fmap.flatten()[0]),
        "inverted_abs_mean": float(inv.latent.abs().mean()),
        "round_trip_mean": float(back.mean()),
        "motion": [round(st.losses["motion"], 6) for st in states],
        "preserve": [round(st.losses["preserve"], 6) for st in states],
        "preview_mean": float(np.asarray(states[0].preview, np.float64).mean()),
        "result_mean": float(np.asarray(r.image, np.float64).mean()),
        "aldd_motion": [round(st.losses["motion"], 6) for st in aldd_states],
        "aldd_levels": [st.level for st in aldd_states],
        "aldd_result_mean": float(np.asarray(aldd.result().image, np.float64).mean()),
        "generated_mean": float(np.asarray(made, np.float64).mean()),
        "handles": [st.handles.round(3).tolist() for st in states],
    }


if __name__ == "__main__":
    import tempfile

    from dragnb.random_models import save_random_model
    with tempfile.TemporaryDirectory() as d:
        print(numbers(dragnb.load(save_random_model(f"{d}/tiny-sd", "test"), device="cpu")))
