"""The benchmarks: scripts that print figures, one module per benchmark (``python -m dragnb.bench ...``).

- ``cases``:      the synthetic bench's cases under their former name (they live in
                  ``dragnb.teaching.cases``);
- ``synthetic``:  ``bench synthetic``, 40 drags scored against the scene world, beside two baselines;
- ``regions``:    ``bench regions``, ``find_region`` against the scene world's object masks;
- ``cost``:       ``bench cost``, one edit's seconds and UNet passes per stage;
- ``samples``:    DragBench's sample format under its former name (it lives in ``dragnb.samples``);
- ``dragbench``:  ``bench dragbench``, the DragBench runner (MD and IF per category);
- ``cli``:        the command line.

The names most used from a notebook are here too: ``dragnb.bench.edit_case``,
``dragnb.bench.watch``, ``dragnb.bench.picture_distance``, ``dragnb.bench.make_cases``.
"""
from ..teaching.cases import Case, Seen, edit_case, make_cases, picture_distance, watch
from . import cases, samples   # noqa: F401  the former homes, still reachable as dragnb.bench.cases / .samples

__all__ = ["Case", "Seen", "edit_case", "make_cases", "picture_distance", "watch"]
