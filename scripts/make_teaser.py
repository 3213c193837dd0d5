"""The README's teaser figure, made by the project: ``python scripts/make_teaser.py``.

The README's first example (the teaching model on a CPU: a mountain's peak raised 9 px), drawn
as the request, the handle's DIFT heatmap, the handle's path and the result, into
``teaser_fig/teaser.png``.
"""
from pathlib import Path

import dragnb
from dragnb.teaching.scenes import random_scene

OUT = Path(__file__).resolve().parents[1] / "teaser_fig" / "teaser.png"


def main():
    model = dragnb.load("tiny", verbose=False)
    image = random_scene(seed=2_000_188).render(64)
    peak, target = (29.5, 25.1), (29.5, 16.0)
    heat = dragnb.similarity_map(dragnb.dift_features(model, image), peak)
    result = dragnb.drag(model, image, handles=[peak], targets=[target])
    fig = dragnb.plots.teaser(result, heat, title="dragnb: drag the peak up (teaching model, CPU)")
    fig.savefig(OUT, dpi=80)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
