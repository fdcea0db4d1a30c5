"""Distance metrics on hand-computed examples."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from skcf.base import CounterfactualSet
from skcf.metrics import (
    l0_distance,
    l1_distance,
    l2_distance,
    linf_distance,
    median_absolute_deviation,
    proximity,
    sparsity,
)
from skcf.utils._scale import robust_scale as _robust_scale

X = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 0.0, -1.0]])
X_CF = np.array([[1.0, -2.0, 0.0], [1.0, 1.0, 4.0], [2.0, 0.0, -1.0]])
# deltas: [1, -2, 0], [0, 0, 3], [0, 0, 0]


@pytest.mark.parametrize(
    "norm, expected",
    [
        ("l0", [2, 1, 0]),
        ("l1", [3.0, 3.0, 0.0]),
        ("l2", [np.sqrt(5.0), 3.0, 0.0]),
        ("linf", [2.0, 3.0, 0.0]),
    ],
)
def test_proximity_per_row(norm, expected):
    out = proximity(X, X_CF, norm=norm, reduce=None)
    assert_allclose(out, expected, rtol=1e-12)
    assert proximity(X, X_CF, norm=norm) == pytest.approx(np.mean(expected))
    assert proximity(X, X_CF, norm=norm, reduce="median") == pytest.approx(
        np.median(expected)
    )


@pytest.mark.parametrize(
    "func, norm",
    [
        (l0_distance, "l0"),
        (l1_distance, "l1"),
        (l2_distance, "l2"),
        (linf_distance, "linf"),
    ],
)
def test_wrappers_match_proximity(func, norm):
    scale = np.array([0.5, 2.0, 3.0])
    valid = np.array([True, True, False])
    assert_allclose(
        func(X, X_CF, scale=scale, valid=valid, reduce=None),
        proximity(X, X_CF, norm=norm, scale=scale, valid=valid, reduce=None),
    )
    assert func(X, X_CF) == pytest.approx(proximity(X, X_CF, norm=norm))


def test_scale_divides_changes():
    scale = np.array([0.5, 2.0, 3.0])
    # scaled deltas: [2, -1, 0], [0, 0, 1], [0, 0, 0]
    assert_allclose(l1_distance(X, X_CF, scale=scale, reduce=None), [3.0, 1.0, 0.0])
    assert_allclose(linf_distance(X, X_CF, scale=scale, reduce=None), [2.0, 1.0, 0.0])
    assert_allclose(l1_distance(X, X_CF, scale=2.0, reduce=None), [1.5, 1.5, 0.0])


def test_valid_restricts_rows():
    valid = np.array([False, True, True])
    assert_allclose(l1_distance(X, X_CF, valid=valid, reduce=None), [3.0, 0.0])
    assert l1_distance(X, X_CF, valid=valid) == 1.5
    assert np.isnan(l1_distance(X, X_CF, valid=np.zeros(3, dtype=bool)))


def test_l0_atol():
    X_cf = X + np.array([[1e-10, 1e-3, 0.0]])
    assert_array_equal(l0_distance(X, X_cf, reduce=None), [1, 1, 1])
    assert_array_equal(l0_distance(X, X_cf, atol=1e-2, reduce=None), [0, 0, 0])
    assert_array_equal(l0_distance(X, X_cf, atol=0.0, reduce=None), [2, 2, 2])


def test_sparsity_seed_definition():
    # seed 003: (1/N) sum_i sum_d 1(x_i^d != x'_i^d) = (2 + 1 + 0) / 3
    assert sparsity(X, X_CF) == pytest.approx(1.0)
    assert sparsity(X, X_CF, valid=np.array([True, True, False])) == 1.5
    assert sparsity(X, X) == 0.0


def test_matches_counterfactual_set():
    cf = CounterfactualSet(
        X=X,
        X_cf=X_CF,
        y_pred=np.zeros(3),
        y_cf_pred=np.ones(3),
        target=np.ones(3, dtype=object),
        valid=np.ones(3, dtype=bool),
        violations=np.zeros(3, int),
        n_iter=np.zeros(3, int),
        feature_names=np.array(["a", "b", "c"]),
        elapsed=0.0,
    )
    for norm in ("l0", "l1", "l2", "linf"):
        assert_allclose(
            proximity(cf.X, cf.X_cf, norm=norm, reduce=None), getattr(cf, norm)
        )


def test_dataframe_and_float32_inputs():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    assert l1_distance(frame, X_CF.astype(np.float32)) == pytest.approx(2.0)


def test_median_absolute_deviation():
    data = np.array(
        [[1.0, 0.0, 5.0], [2.0, 0.0, 5.0], [4.0, 0.0, 5.0], [9.0, 2.0, 5.0]]
    )
    # MAD, then std (MAD is 0), then 1 (constant)
    assert_allclose(median_absolute_deviation(data), [1.5, np.sqrt(0.75), 1.0])
    rng = np.random.RandomState(0)
    Z = rng.normal(size=(30, 5))
    assert_allclose(median_absolute_deviation(Z), _robust_scale(Z))


def test_empty_input():
    empty = np.zeros((0, 3))
    assert np.isnan(l2_distance(empty, empty))
    assert l2_distance(empty, empty, reduce=None).shape == (0,)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=4, max_size=4),
    st.lists(st.floats(-1e3, 1e3), min_size=4, max_size=4),
)
def test_norm_ordering(a, b):
    x, x_cf = np.array([a]), np.array([b])
    l1, l2, linf = (proximity(x, x_cf, norm=n) for n in ("l1", "l2", "linf"))
    assert linf <= l2 * (1 + 1e-12) + 1e-12
    assert l2 <= l1 * (1 + 1e-12) + 1e-12
    assert l1 <= proximity(x, x_cf, norm="l0", atol=0.0) * linf * (1 + 1e-12) + 1e-12


# ------------------------------------------------------------------ errors
def test_bad_norm():
    with pytest.raises(ValueError, match="'norm' parameter of proximity"):
        proximity(X, X_CF, norm="l3")


def test_bad_reduce():
    with pytest.raises(ValueError, match="'reduce' parameter of l1_distance"):
        l1_distance(X, X_CF, reduce="sum")


def test_shape_mismatch():
    with pytest.raises(ValueError, match="'X_cf' parameter of proximity"):
        proximity(X, X_CF[:2])


def test_valid_not_boolean():
    with pytest.raises(TypeError, match="'valid' parameter of l2_distance"):
        l2_distance(X, X_CF, valid=[0, 1, 1])


def test_valid_wrong_shape():
    with pytest.raises(ValueError, match="'valid' parameter of sparsity"):
        sparsity(X, X_CF, valid=np.array([True, False]))


def test_scale_wrong_shape():
    with pytest.raises(ValueError, match="'scale' parameter of proximity"):
        proximity(X, X_CF, scale=[1.0, 2.0])


def test_scale_not_positive():
    with pytest.raises(ValueError, match="'scale' parameter of l1_distance"):
        l1_distance(X, X_CF, scale=[1.0, 0.0, 1.0])


def test_negative_atol():
    with pytest.raises(ValueError, match="'atol' parameter of sparsity"):
        sparsity(X, X_CF, atol=-1.0)


def test_non_finite():
    bad = X_CF.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X_cf"):
        l1_distance(X, bad)
