"""constraint_violations against a fitted generator's constraints."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

from skcf.exceptions import CounterfactualWarning
from skcf.generators import WachterGenerator
from skcf.metrics import constraint_violations


@pytest.fixture(scope="module")
def constrained(data, clf):
    X, _ = data
    return WachterGenerator(
        clf,
        immutable=[0],
        increase_only=[1],
        bounds={2: (-1.0, 1.0)},
        max_iter=50,
        random_state=0,
    ).fit(X)


def test_hand_counts(constrained):
    X = np.zeros((5, 4))
    X_cf = np.array(
        [
            [0.0, 0.5, 0.5, 3.0],  # fine (feature 3 is unconstrained)
            [0.1, 0.0, 0.0, 0.0],  # immutable moved
            [0.0, -0.5, 0.0, 0.0],  # increase-only decreased
            [0.0, 0.0, 1.5, 0.0],  # above the bound
            [-1.0, -1.0, -2.0, 0.0],  # all three
        ]
    )
    assert_array_equal(
        constraint_violations(X, X_cf, generator=constrained), [0, 1, 1, 1, 3]
    )
    assert constraint_violations(
        X, X_cf, generator=constrained, reduce="mean"
    ) == pytest.approx(6 / 5)
    assert constraint_violations(X, X_cf, generator=constrained, reduce="sum") == 6


def test_no_tolerance_grows_with_the_value(constrained):
    # immutable is exact, however small the change (issue 11 item 2) ...
    X = np.zeros((1, 4))
    tiny = np.array([[1e-9, 0.0, 0.0, 0.0]])
    assert_array_equal(constraint_violations(X, tiny, generator=constrained), [1])
    # ... and far from zero a breach is not forgiven in proportion to |x|
    X = np.array([[1e5, 1e5, 0.0, 0.0]])
    X_cf = X + [[0.0, -0.9, 0.0, 0.0]]  # increase_only feature 1 goes down
    assert_array_equal(constraint_violations(X, X_cf, generator=constrained), [1])
    X_cf = X + [[0.5, 0.0, 0.0, 0.0]]  # immutable feature 0 moves
    assert_array_equal(constraint_violations(X, X_cf, generator=constrained), [1])


def test_explained_rows_break_nothing(constrained, data):
    X, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = constrained.explain(X[:10])
    counts = constraint_violations(cf.X, cf.X_cf, generator=constrained)
    assert_array_equal(counts[cf.valid], 0)
    # invalid rows are returned as the factual, which may itself lie out of bounds
    own = constraint_violations(cf.X, cf.X, generator=constrained)
    assert_array_equal(counts[~cf.valid], own[~cf.valid])


def test_empty(constrained):
    empty = np.zeros((0, 4))
    assert constraint_violations(empty, empty, generator=constrained).shape == (0,)
    assert np.isnan(
        constraint_violations(empty, empty, generator=constrained, reduce="mean")
    )


def test_not_a_generator(clf):
    with pytest.raises(
        (TypeError, ValueError), match="'generator' parameter of constraint_violations"
    ):
        constraint_violations(np.zeros((1, 4)), np.zeros((1, 4)), generator=clf)


def test_unfitted_generator(clf):
    with pytest.raises(NotFittedError):
        constraint_violations(
            np.zeros((1, 4)), np.zeros((1, 4)), generator=WachterGenerator(clf)
        )


def test_feature_mismatch(constrained):
    with pytest.raises(ValueError, match="'generator' parameter"):
        constraint_violations(np.zeros((1, 3)), np.zeros((1, 3)), generator=constrained)


def test_bad_reduce(constrained):
    with pytest.raises(ValueError, match="'reduce' parameter of constraint_violations"):
        constraint_violations(
            np.zeros((1, 4)), np.zeros((1, 4)), generator=constrained, reduce="median"
        )
