"""The README's teaser figure, made by the project: ``python scripts/make_teaser.py``.

The README's first example (the teaching model on a CPU: the sun moved 6.4 px left by DragDiffusion's loop), drawn
as the request, the handle's DIFT heatmap, the handle's path and the result, into
``teaser_fig/teaser.png``.
"""
from pathlib import Path

import dragnb
from dragnb.teaching.scenes import random_scene

OUT = Path(__file__).resolve().parents[1] / "teaser_fig" / "teaser.png"


def main():
    model = dragnb.load("tiny", verbose=False)
    image = random_scene(seed=3_000_014).render(64)
    sun, target = (30.2, 9.0), (23.8, 9.0)
    heat = dragnb.similarity_map(dragnb.dift_features(model, image), sun)
    result = dragnb.drag(model, image, handles=[sun], targets=[target],
                         init="inverted", strength=0.7, lr=0.05, tolerance=0.5, r_m=1, r_p=3, size=64)
    fig = dragnb.plots.teaser(result, heat, title="dragnb: drag the sun left (teaching model, CPU)")
    fig.savefig(OUT, dpi=80)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
