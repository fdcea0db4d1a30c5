"""Tests for the synthetic data sets in skcf.datasets."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skcf.datasets import (
    make_circles,
    make_credit_toy,
    make_linearly_separable,
    make_moons,
)

MAKERS = [make_linearly_separable, make_moons, make_circles, make_credit_toy]


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("n_samples", [1, 2, 7, 100])
def test_shapes_and_dtypes(make, n_samples):
    X, y = make(n_samples=n_samples, random_state=0)
    assert X.shape == (n_samples, 2)
    assert y.shape == (n_samples,)
    assert X.dtype == np.float64
    assert y.dtype == np.int64
    assert np.isfinite(X).all()
    # Balanced: class 0 gets n_samples // 2 points, class 1 the rest.
    assert int((y == 0).sum()) == n_samples // 2
    assert int((y == 1).sum()) == n_samples - n_samples // 2


@pytest.mark.parametrize("make", MAKERS)
def test_deterministic_under_random_state(make):
    X1, y1 = make(n_samples=50, random_state=42)
    X2, y2 = make(n_samples=50, random_state=42)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    X3, _ = make(n_samples=50, random_state=43)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("make", MAKERS)
def test_random_state_instance(make):
    X1, y1 = make(n_samples=20, random_state=np.random.RandomState(3))
    X2, y2 = make(n_samples=20, random_state=3)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)


@pytest.mark.parametrize("make", MAKERS)
def test_no_shuffle_puts_class_0_first(make):
    _, y = make(n_samples=9, shuffle=False, random_state=0)
    assert_array_equal(y, [0] * 4 + [1] * 5)


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("bad", [{"n_samples": 0}, {"noise": -1.0}])
def test_invalid_parameters(make, bad):
    with pytest.raises(ValueError, match=f"'{next(iter(bad))}' parameter"):
        make(**bad)


@pytest.mark.parametrize("noise", [0.5, 1.0, 3.0, 10.0])
def test_linearly_separable_is_separable(noise):
    X, y = make_linearly_separable(n_samples=300, noise=noise, random_state=0)
    # The true boundary x0 + x1 = 0 separates the classes exactly.
    assert_array_equal(X.sum(axis=1) > 0, y == 1)


def test_moons_and_circles_match_sklearn():
    from sklearn import datasets

    X, y = make_moons(n_samples=30, noise=0.2, random_state=1)
    X_sk, y_sk = datasets.make_moons(n_samples=30, noise=0.2, random_state=1)
    assert_array_equal(X, X_sk)
    assert_array_equal(y, y_sk)
    X, y = make_circles(n_samples=30, noise=0.05, factor=0.3, random_state=1)
    X_sk, y_sk = datasets.make_circles(
        n_samples=30, noise=0.05, factor=0.3, random_state=1
    )
    assert_array_equal(X, X_sk)
    assert_array_equal(y, y_sk)


def test_moons_and_circles_default_noise_is_not_zero():
    X, _ = make_circles(n_samples=200, random_state=0)
    radii = np.linalg.norm(X, axis=1)
    # Without noise the radii would be exactly 1.0 or 0.5.
    assert not np.all(np.isclose(radii, 1.0) | np.isclose(radii, 0.5))
    X, _ = make_moons(n_samples=200, random_state=0)
    X_clean, _ = make_moons(n_samples=200, noise=0.0, random_state=0)
    assert not np.allclose(X, X_clean)


def test_credit_toy_follows_example_3_1():
    X, y = make_credit_toy(n_samples=4000, random_state=0)
    age, debt = X[:, 0], X[:, 1]
    # Favourable class (1, no default): older and less indebted on average.
    assert age[y == 1].mean() > age[y == 0].mean() + 10
    assert debt[y == 1].mean() < debt[y == 0].mean() - 10
    # Independent features with a common diagonal covariance.
    for k in (0, 1):
        cov = np.cov(X[y == k].T)
        assert abs(cov[0, 1]) < 0.1 * np.sqrt(cov[0, 0] * cov[1, 1])
        np.testing.assert_allclose(np.sqrt(np.diag(cov)), [8.0, 8.0], rtol=0.1)
    # Means in realistic units.
    np.testing.assert_allclose(age[y == 0].mean(), 35.0, atol=1.0)
    np.testing.assert_allclose(age[y == 1].mean(), 50.0, atol=1.0)
    np.testing.assert_allclose(debt[y == 0].mean(), 40.0, atol=1.0)
    np.testing.assert_allclose(debt[y == 1].mean(), 20.0, atol=1.0)


def test_credit_toy_noise_scales_spread():
    X1, y1 = make_credit_toy(n_samples=2000, noise=0.5, random_state=0)
    X2, y2 = make_credit_toy(n_samples=2000, noise=2.0, random_state=0)
    s1 = X1[y1 == 0].std(axis=0)
    s2 = X2[y2 == 0].std(axis=0)
    np.testing.assert_allclose(s2 / s1, 4.0, rtol=0.15)


def test_credit_toy_as_frame():
    pd = pytest.importorskip("pandas")
    X, y = make_credit_toy(n_samples=10, as_frame=True, random_state=0)
    X_np, y_np = make_credit_toy(n_samples=10, random_state=0)
    assert isinstance(X, pd.DataFrame)
    assert isinstance(y, pd.Series)
    assert list(X.columns) == ["age", "debt"]
    assert y.name == "target"
    assert_array_equal(X.to_numpy(), X_np)
    assert_array_equal(y.to_numpy(), y_np)


@pytest.mark.parametrize("make", MAKERS)
def test_zero_noise(make):
    X, y = make(n_samples=10, noise=0.0, random_state=0)
    assert X.shape == (10, 2)
    assert np.isfinite(X).all()
