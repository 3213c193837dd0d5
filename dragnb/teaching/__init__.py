"""The teaching model: a miniature Stable Diffusion that runs every stage on a CPU in seconds.

- ``scenes``:  its world, procedural 64-px landscapes (sky, sun, mountains, ground, trees,
               houses, creatures) that know their own masks and keypoints and can redraw
               any edit exactly (what the synthetic bench scores against);
- ``cases``:   edits of a scene with their true result (an object moved, a peak raised, a
               tree grown, a tail bent) and ``picture_distance``, where a picture's content
               is: what the synthetic bench scores and the drag widget charts;
- ``model``:   its architecture, a Stable-Diffusion-shaped set of diffusers parts;
- ``train``:   ``python -m dragnb.teaching.train``, trains it from scratch, resumably;
- ``checks``:  ``python -m dragnb.teaching.checks``, its sample, reconstruction and DIFT checks;
- ``weights/``: the shipped weights and their ``dragnb.json`` defaults.

``MODEL_CARD.md`` describes it; ``RESULTS.md`` is the dated log of what was measured on it.
"""
