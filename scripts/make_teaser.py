"""The README's teaser figure, made by the project: ``python scripts/make_teaser.py``.

The seed's own edit on the teaching model, on a CPU: a mountain made taller with the model's
defaults (the shape-keeping warp start, tutorial 3), drawn as the request, the handle's DIFT
heatmap, the warp's displacement field and the result, into ``teaser_fig/teaser.png``.
"""
from pathlib import Path

import dragnb
from dragnb.teaching.scenes import random_scene

OUT = Path(__file__).resolve().parents[1] / "teaser_fig" / "teaser.png"


def main():
    model = dragnb.load("tiny", verbose=False)
    scene = random_scene(seed=2_000_188)
    mountain = next(i for i in scene.draggable() if scene.objects[i].kind == "mountain")
    peak = scene.keypoints(64)[(mountain, "peak")]
    image = scene.render(64)
    heat = dragnb.similarity_map(dragnb.dift_features(model, image), peak)
    session = dragnb.DragSession(model, image, [peak], [(peak[0], peak[1] - 9)])
    result = session.result()
    fig = dragnb.plots.teaser(result, heat, field=session.warp_field,
                              title="dragnb: make the mountain taller (teaching model, CPU)")
    fig.savefig(OUT, dpi=80)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
