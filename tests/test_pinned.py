"""Today's numbers on the tiny random SD, pinned so that a refactor cannot change them unnoticed.

A change that is meant updates ``PINNED`` from ``python tests/pinned.py`` and says why in its commit.
"""
import numpy as np
import pytest

from pinned import numbers

PINNED = {'features_abs_mean': 0.37339895963668823, 'features_first': 0.9362415075302124,
          'inverted_abs_mean': 0.023631731048226357, 'round_trip_mean': 117.3720703125,
          'motion': [2.353843, 2.792011, 2.639678, 2.554505], 'preserve': [0.0, 8.250813, 11.119057, 12.61137],
          'preview_mean': 117.27506510416667, 'result_mean': 116.68391927083333,
          'aldd_motion': [2.353843, 2.920337, 3.153939, 2.810219], 'aldd_levels': [0, 0, 1, 1],
          'aldd_result_mean': 103.97395833333333, 'generated_mean': 121.57291666666667,
          'handles': [[[15.0, 13.0]], [[20.5, 16.5]], [[22.5, 12.5]], [[22.5, 12.5]]]}


@pytest.fixture(scope="module")
def now(tiny_sd):
    return numbers(tiny_sd)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_pipelines_numbers_are_todays(now, name):
    # uint8 images round, so a mean may move by a fraction of a level; everything else to 1e-4
    tol = 0.05 if name.endswith("_mean") and PINNED[name] > 50 else 1e-4
    assert np.allclose(np.asarray(now[name], float), np.asarray(PINNED[name], float), rtol=1e-4, atol=tol), \
        f"{name}: {now[name]} != pinned {PINNED[name]}"
