"""A large batch is split into chunks analysed on several cores: the results must be the same
as one pass over the whole batch, series by series."""

from __future__ import annotations

import numpy as np
import pytest

from civicloop.spc import analyse_many, analysis


@pytest.fixture
def big_batch() -> dict[str, object]:
    rng = np.random.default_rng(5)
    series, points = 3_000, 104  # 312,000 points: above the threshold for splitting
    values = np.round(rng.normal(50, 8, (series, points)), 1)
    values[:, 60:] += rng.choice([0, 12], size=(series, 1))  # a shift in some series
    values[rng.random(values.shape) < 0.01] = np.nan
    return {
        "values": values,
        "target": rng.normal(50, 10, series),
        "rebase": [[int(r)] for r in rng.integers(20, 90, series)],
        "direction": ["increase" if i % 3 else "decrease" for i in range(series)],
    }


def test_a_split_batch_matches_one_pass(big_batch, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if (analysis._workers()) < 2:
        monkeypatch.setattr(analysis, "_workers", lambda: 2)
    split = analyse_many(**big_batch)  # type: ignore[arg-type]
    assert len(split.chunks) > 1
    monkeypatch.setattr(analysis, "PARALLEL_POINTS", 10**12)
    whole = analyse_many(**big_batch)  # type: ignore[arg-type]
    assert len(whole.chunks) == 1
    assert len(split) == len(whole) == 3_000
    np.testing.assert_array_equal(split.type_codes, whole.type_codes)
    np.testing.assert_array_equal(split.variation_codes, whole.variation_codes)
    np.testing.assert_array_equal(split.assurance_codes, whole.assurance_codes)
    np.testing.assert_allclose(split.upl, whole.upl, equal_nan=True)
    for i in (0, 1, 1_499, 1_500, 2_999):
        a, b = split[i], whole[i]
        assert a.types == b.types
        assert a.groups == b.groups
        assert a.warnings == b.warnings
        np.testing.assert_allclose(a.mean, b.mean, equal_nan=True)
    # The shifts are found: a good share of points are special cause (the shifted half of the
    # series, where a group spans the step).
    assert (whole.type_codes > 0).mean() > 0.05
