"""Plausibility metrics (LOF, kNN/sphere manifold distance, yNN, connectedness),
time per counterfactual, and their scorers, on hand-built 2-D grids."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist, pdist
from sklearn.cluster import DBSCAN
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import LocalOutlierFactor

from skcf.base import CounterfactualSet
from skcf.exceptions import CounterfactualWarning
from skcf.generators import WachterGenerator
from skcf.metrics import (
    connectedness_score,
    knn_manifold_distance,
    lof_distance,
    make_cf_scorer,
    sphere_manifold_distance,
    time_per_counterfactual,
    ynn_score,
)
from skcf.models import as_model

# two 5 x 5 unit grids: class 0 at x in 0..4, class 1 at x in 10..14 (y in 0..4)
GRID = np.array([[i, j] for i in range(5) for j in range(5)], dtype=float)
X_REF = np.vstack([GRID, GRID + [10.0, 0.0]])
Y_REF = np.repeat([0, 1], 25)
SQRT2 = np.sqrt(2.0)


def _linear_lr(coef, intercept=0.0):
    """LogisticRegression with hand-set weights (no fitting)."""
    lr = LogisticRegression()
    lr.coef_ = np.asarray([coef], dtype=np.float64)
    lr.intercept_ = np.array([float(intercept)])
    lr.classes_ = np.array([0, 1])
    lr.n_features_in_ = len(coef)
    return lr


# class 1 iff x0 > 5: both grids are classified correctly
SPLIT = _linear_lr([1.0, 0.0], -5.0)


def _brute_knn(X_cf, X_ref, k):
    d = np.sort(cdist(X_cf, X_ref), axis=1)[:, :k]
    return d.mean(axis=1)


# --------------------------------------------------------------------- kNN
def test_knn_hand_values():
    X_cf = np.array([[0.5, 0.5], [0.0, 0.0], [-1.0, 0.0]])
    assert_allclose(
        knn_manifold_distance(X_cf, GRID, n_neighbors=4, reduce=None)[:2],
        [np.sqrt(0.5), (0 + 1 + 1 + SQRT2) / 4],
    )
    # from (-1, 0): (0,0) at 1, (0,1) at sqrt 2, (1,0) at 2
    assert knn_manifold_distance(X_cf[2:], GRID, n_neighbors=3) == pytest.approx(
        (1 + SQRT2 + 2) / 3
    )
    assert knn_manifold_distance(X_cf[:1], GRID, n_neighbors=1) == pytest.approx(
        np.sqrt(0.5)
    )


def test_knn_matches_brute_force():
    rng = np.random.RandomState(0)
    X_cf = rng.uniform(-2, 16, size=(30, 2))
    out = knn_manifold_distance(X_cf, X_REF, reduce=None)
    assert_allclose(out, _brute_knn(X_cf, X_REF, 5))
    assert knn_manifold_distance(X_cf, X_REF) == pytest.approx(out.mean())
    assert knn_manifold_distance(X_cf, X_REF, reduce="median") == pytest.approx(
        np.median(out)
    )


def test_knn_class_conditional():
    X_cf = np.array([[0.5, 0.5], [0.5, 0.5], [12.0, 2.0]])
    y_cf = np.array([0, 1, 1])
    out = knn_manifold_distance(
        X_cf, X_REF, y_cf=y_cf, y_ref=Y_REF, n_neighbors=4, reduce=None
    )
    assert out[0] == pytest.approx(np.sqrt(0.5))
    assert out[1] == pytest.approx(_brute_knn(X_cf[1:2], X_REF[Y_REF == 1], 4)[0])
    assert out[1] > 9.5  # the class-1 grid starts at x = 10
    assert out[2] == pytest.approx((0 + 1 + 1 + 1) / 4)
    # a scalar y_cf applies to every row; string labels work too
    names = np.array(["no", "yes"])[Y_REF]
    assert_allclose(
        knn_manifold_distance(X_cf, X_REF, y_cf="yes", y_ref=names, reduce=None),
        _brute_knn(X_cf, X_REF[Y_REF == 1], 5),
    )


def test_knn_more_neighbours_than_rows_uses_all():
    ref = np.array([[0.0, 0.0], [2.0, 0.0]])
    assert knn_manifold_distance([[1.0, 0.0]], ref, n_neighbors=10) == 1.0


def test_knn_valid_mask():
    X_cf = np.array([[0.5, 0.5], [30.0, 0.0], [12.0, 2.0]])
    y_cf = np.array([0, 1, 1])
    valid = np.array([True, False, True])
    full = knn_manifold_distance(X_cf, X_REF, y_cf=y_cf, y_ref=Y_REF, reduce=None)
    kept = knn_manifold_distance(
        X_cf, X_REF, y_cf=y_cf, y_ref=Y_REF, valid=valid, reduce=None
    )
    assert_allclose(kept, full[valid])
    assert np.isnan(knn_manifold_distance(X_cf, X_REF, valid=np.zeros(3, bool)))


# ------------------------------------------------------------------ sphere
def test_sphere_hand_values():
    X_cf = np.array([[0.5, 0.5], [0.0, 0.0], [-3.0, 0.0]])
    out = sphere_manifold_distance(X_cf, GRID, radius=1.0, reduce=None)
    # 4 corners at sqrt(.5); itself (0) + 2 neighbours at 1; empty ball -> nearest
    assert_allclose(out, [np.sqrt(0.5), 2 / 3, 3.0])
    assert sphere_manifold_distance(X_cf, GRID, radius=1.0) == pytest.approx(out.mean())


def test_sphere_empty_nan():
    X_cf = np.array([[0.5, 0.5], [0.0, 0.0], [-3.0, 0.0]])
    out = sphere_manifold_distance(X_cf, GRID, radius=1.0, empty="nan", reduce=None)
    assert_allclose(out[:2], [np.sqrt(0.5), 2 / 3])
    assert np.isnan(out[2])
    assert sphere_manifold_distance(
        X_cf, GRID, radius=1.0, empty="nan"
    ) == pytest.approx((np.sqrt(0.5) + 2 / 3) / 2)
    assert sphere_manifold_distance(
        X_cf, GRID, radius=1.0, empty="nan", reduce="median"
    ) == pytest.approx((np.sqrt(0.5) + 2 / 3) / 2)
    assert np.isnan(sphere_manifold_distance(X_cf[2:], GRID, radius=1, empty="nan"))


def test_sphere_default_radius_is_20_percent_of_mean_pairwise_distance():
    radius = 0.2 * pdist(X_REF).mean()
    rng = np.random.RandomState(1)
    X_cf = rng.uniform(-1, 15, size=(20, 2))
    assert_allclose(
        sphere_manifold_distance(X_cf, X_REF, reduce=None),
        sphere_manifold_distance(X_cf, X_REF, radius=radius, reduce=None),
    )
    d = cdist(X_cf, X_REF)
    inside = np.where(d <= radius, d, np.nan)
    count = (d <= radius).sum(axis=1)
    mean_inside = np.nansum(inside, axis=1) / np.maximum(count, 1)
    expected = np.where(count > 0, mean_inside, d.min(axis=1))
    assert_allclose(sphere_manifold_distance(X_cf, X_REF, reduce=None), expected)


def test_sphere_class_conditional_and_valid():
    X_cf = np.array([[0.0, 0.0], [0.0, 0.0], [11.0, 2.0]])
    y_cf = np.array([0, 1, 1])
    out = sphere_manifold_distance(
        X_cf, X_REF, y_cf=y_cf, y_ref=Y_REF, radius=1.0, reduce=None
    )
    assert_allclose(out, [2 / 3, 10.0, 4 / 5])
    valid = np.array([False, True, True])
    assert_allclose(
        sphere_manifold_distance(
            X_cf, X_REF, y_cf=y_cf, y_ref=Y_REF, radius=1.0, valid=valid, reduce=None
        ),
        out[1:],
    )


# --------------------------------------------------------------------- LOF
def test_lof_inlier_and_outlier():
    X_cf = np.array([[2.0, 2.0], [1.5, 2.5], [40.0, 40.0]])
    out = lof_distance(X_cf, GRID, n_neighbors=4, reduce=None)
    assert 0.8 < out[0] < 1.2
    assert 0.8 < out[1] < 1.2
    assert out[2] > 10
    ref = LocalOutlierFactor(n_neighbors=4, novelty=True).fit(GRID)
    assert_allclose(out, -ref.score_samples(X_cf))
    assert lof_distance(X_cf, GRID, n_neighbors=4) == pytest.approx(out.mean())


def test_lof_class_conditional():
    X_cf = np.array([[12.0, 2.0], [12.0, 2.0], [2.0, 2.0]])
    y_cf = [1, 0, 0]
    out = lof_distance(X_cf, X_REF, y_cf=y_cf, y_ref=Y_REF, reduce=None)
    for row, label in enumerate(y_cf):
        ref = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(
            X_REF[Y_REF == label]
        )
        assert out[row] == pytest.approx(-ref.score_samples(X_cf[row : row + 1])[0])
    assert out[0] < 1.2 and out[2] < 1.2
    assert out[1] > 2  # an inlier of class 1 is an outlier of class 0


def test_lof_caps_neighbours_without_warning():
    ref = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = lof_distance([[0.5, 0.5]], ref, n_neighbors=20)
    expected = LocalOutlierFactor(n_neighbors=2, novelty=True).fit(ref)
    assert out == pytest.approx(-expected.score_samples([[0.5, 0.5]])[0])


def test_lof_valid_mask():
    X_cf = np.array([[2.0, 2.0], [40.0, 40.0]])
    assert lof_distance(
        X_cf, GRID, valid=np.array([True, False]), n_neighbors=8
    ) == pytest.approx(lof_distance(X_cf[:1], GRID, n_neighbors=8))


def test_lof_needs_two_rows_per_class():
    with pytest.raises(ValueError, match="at least 2 reference rows for class 1,"):
        lof_distance([[0.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]], y_cf=[1], y_ref=[0, 1])


# --------------------------------------------------------------------- yNN
def test_ynn_hand_values():
    X_cf = np.array([[12.0, 2.0], [5.5, 2.0], [7.2, 2.0], [2.0, 2.0]])
    assert_array_equal(SPLIT.predict(X_cf), [1, 1, 1, 0])
    out = ynn_score(SPLIT, X_cf, X_REF, reduce=None)
    # (5.5, 2): the 5 nearest are the x = 4 column (class 0); (7.2, 2): three
    # class-1 rows at x = 10, then (4, 2) and (4, 1) or (4, 3)
    assert_allclose(out, [1.0, 0.0, 0.6, 1.0])
    assert ynn_score(SPLIT, X_cf, X_REF) == pytest.approx(0.65)
    assert ynn_score(SPLIT, X_cf, X_REF, reduce="median") == pytest.approx(0.8)


def test_ynn_uses_model_predictions_not_labels():
    # the reference labels are never read: only the model's view of the rows
    flipped = _linear_lr([-1.0, 0.0], 5.0)  # class 1 iff x0 < 5
    assert ynn_score(flipped, [[12.0, 2.0]], X_REF) == 1.0
    assert flipped.predict([[12.0, 2.0]])[0] == 0


def test_ynn_target():
    X_cf = np.array([[12.0, 2.0], [2.0, 2.0]])
    assert_allclose(ynn_score(SPLIT, X_cf, X_REF, target=0, reduce=None), [0, 1])
    target = np.array([1, "other"], dtype=object)
    assert_allclose(ynn_score(SPLIT, X_cf, X_REF, target=target, reduce=None), [1, 1])
    with pytest.raises(ValueError, match="'target' parameter of ynn_score"):
        ynn_score(SPLIT, X_cf, X_REF, target=7)
    with pytest.raises(ValueError, match="'target' parameter of ynn_score"):
        ynn_score(SPLIT, X_cf, X_REF, target=[0, 1, 1])


def test_ynn_matches_brute_force_and_model_kinds(data, clf, generator):
    X, _ = data
    rng = np.random.RandomState(0)
    X_cf = X[:12] + rng.normal(scale=0.5, size=(12, X.shape[1]))
    nearest = np.argsort(cdist(X_cf, X), axis=1)[:, :7]
    expected = (clf.predict(X)[nearest] == clf.predict(X_cf)[:, None]).mean(axis=1)
    out = ynn_score(clf, X_cf, X, n_neighbors=7, reduce=None)
    assert_allclose(out, expected)
    assert_allclose(ynn_score(generator, X_cf, X, n_neighbors=7, reduce=None), out)
    assert_allclose(ynn_score(as_model(clf), X_cf, X, n_neighbors=7, reduce=None), out)


def test_ynn_valid_mask_and_empty():
    X_cf = np.array([[12.0, 2.0], [5.5, 2.0]])
    assert ynn_score(SPLIT, X_cf, X_REF, valid=np.array([True, False])) == 1.0
    assert np.isnan(ynn_score(SPLIT, X_cf, X_REF, valid=np.zeros(2, bool)))
    assert ynn_score(
        SPLIT, X_cf, X_REF, valid=np.zeros(2, bool), reduce=None
    ).shape == (0,)


# ----------------------------------------------------------- connectedness
def test_connectedness_inside_vs_across_gap():
    X_cf = np.array([[12.5, 2.0], [30.0, 2.0], [7.0, 2.0], [-0.5, 2.0]])
    assert_array_equal(SPLIT.predict(X_cf), [1, 1, 1, 0])
    # default epsilon: the grid spacing (every nearest-neighbour distance is 1)
    out = connectedness_score(SPLIT, X_cf, X_REF, Y_REF, reduce=None)
    assert out.dtype == bool
    assert_array_equal(out, [True, False, False, True])
    assert connectedness_score(SPLIT, X_cf, X_REF, Y_REF) == 0.5
    # (7, 2) is 3 away from (10, 2); (30, 2) is 16 away
    assert_array_equal(
        connectedness_score(SPLIT, X_cf, X_REF, Y_REF, epsilon=3.0, reduce=None),
        [True, False, True, True],
    )


def test_connectedness_ignores_misclassified_rows():
    # a row labelled 1 at (4.5, 2) that the model puts in class 0
    X_ref = np.vstack([X_REF, [[4.5, 2.0]]])
    y_ref = np.append(Y_REF, 1)
    assert SPLIT.predict([[4.5, 2.0]])[0] == 0
    cf = [[5.5, 2.0]]  # class 1, 1 away from (4.5, 2) and 4.5 from (10, 2)
    assert connectedness_score(SPLIT, cf, X_ref, y_ref, epsilon=1.0) == 0.0
    y_ok = np.append(Y_REF, 0)  # correctly labelled: still the wrong class
    assert connectedness_score(SPLIT, cf, X_ref, y_ok, epsilon=1.0) == 0.0
    assert connectedness_score(SPLIT, cf, X_ref, y_ref, epsilon=4.5) == 1.0


def test_connectedness_class_without_backed_rows():
    y_ref = np.zeros(50, int)  # every class-1 row is mislabelled
    out = connectedness_score(
        SPLIT, [[12.0, 2.0], [2.0, 2.0]], X_REF, y_ref, epsilon=1.0, reduce=None
    )
    assert_array_equal(out, [False, True])


def test_connectedness_counterfactuals_do_not_chain_through_each_other():
    # A touches the class-1 grid; B touches only A
    X_cf = np.array([[14.8, 2.0], [15.6, 2.0]])
    both = connectedness_score(SPLIT, X_cf, X_REF, Y_REF, epsilon=1.0, reduce=None)
    assert_array_equal(both, [True, False])
    alone = connectedness_score(SPLIT, X_cf[1:], X_REF, Y_REF, epsilon=1.0)
    assert alone == 0.0


def test_connectedness_min_samples():
    X_ref = np.vstack([X_REF, [[20.0, 2.0]]])  # a lonely class-1 row
    y_ref = np.append(Y_REF, 1)
    X_cf = np.array([[20.5, 2.0], [12.5, 2.0]])
    two = connectedness_score(SPLIT, X_cf, X_ref, y_ref, epsilon=1.0, reduce=None)
    assert_array_equal(two, [True, True])
    three = connectedness_score(
        SPLIT, X_cf, X_ref, y_ref, epsilon=1.0, min_samples=3, reduce=None
    )
    # the lonely pair is not dense; (12.5, 2) has 2 grid rows at 0.5: core
    assert_array_equal(three, [False, True])


def _dbscan_reference(model, X_cf, X_ref, y_ref, eps, min_samples):
    """One literal DBSCAN per counterfactual (counterfactual first)."""
    gt = X_ref[model.predict(X_ref) == y_ref]
    gt_y = y_ref[model.predict(X_ref) == y_ref]
    out = []
    for x in X_cf:
        rows = gt[gt_y == model.predict(x[None])[0]]
        labels = DBSCAN(eps=eps, min_samples=min_samples).fit(np.vstack([x, rows]))
        lab = labels.labels_
        out.append(bool(lab[0] != -1 and np.any(lab[1:] == lab[0])))
    return np.array(out)


@pytest.mark.parametrize("min_samples", [1, 2, 3, 5])
def test_connectedness_matches_literal_dbscan(min_samples):
    rng = np.random.RandomState(min_samples)
    X_ref = rng.normal(size=(120, 2)) * [3.0, 1.0]
    y_ref = (X_ref[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    model = LogisticRegression().fit(X_ref, y_ref)
    X_cf = rng.uniform(-8, 8, size=(60, 2))
    eps = 0.6
    out = connectedness_score(
        model, X_cf, X_ref, y_ref, epsilon=eps, min_samples=min_samples, reduce=None
    )
    expected = _dbscan_reference(model, X_cf, X_ref, y_ref, eps, min_samples)
    assert_array_equal(out, expected)
    assert 0 < out.sum() < len(out)


def test_connectedness_default_epsilon_rule():
    rng = np.random.RandomState(0)
    X_ref = rng.normal(size=(80, 2))
    y_ref = (X_ref[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X_ref, y_ref)
    backed = model.predict(X_ref) == y_ref
    X_cf = rng.normal(size=(40, 2)) * 2
    for min_samples in (2, 4):
        k = min_samples - 1
        per_class = {}
        for c in (0, 1):
            rows = X_ref[backed & (y_ref == c)]
            d = np.sort(cdist(rows, rows), axis=1)[:, k]
            per_class[c] = np.quantile(d, 0.95)
        pred = model.predict(X_cf)
        expected = np.zeros(len(X_cf), bool)
        for c, eps in per_class.items():
            sel = pred == c
            expected[sel] = connectedness_score(
                model,
                X_cf[sel],
                X_ref,
                y_ref,
                epsilon=eps,
                min_samples=min_samples,
                reduce=None,
            )
        out = connectedness_score(
            model, X_cf, X_ref, y_ref, min_samples=min_samples, reduce=None
        )
        assert_array_equal(out, expected)


def test_connectedness_valid_mask_and_generator(data, clf, generator):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = generator.explain(X[:15])
    full = connectedness_score(clf, cf.X_cf, X, y, reduce=None)
    assert_array_equal(connectedness_score(generator, cf.X_cf, X, y, reduce=None), full)
    kept = connectedness_score(clf, cf.X_cf, X, y, valid=cf.valid, reduce=None)
    assert_array_equal(kept, full[cf.valid])
    assert np.isnan(connectedness_score(clf, cf.X_cf, X, y, valid=np.zeros(15, bool)))


def test_connectedness_errors():
    with pytest.raises(ValueError, match="no reference row that the model classifies"):
        connectedness_score(SPLIT, [[1.0, 1.0]], X_REF, np.array(["a", "b"])[Y_REF])
    with pytest.raises(ValueError, match="cannot set epsilon"):
        connectedness_score(SPLIT, [[1.0, 1.0]], X_REF[:1], Y_REF[:1])
    with pytest.raises(ValueError, match="'y_ref' parameter of connectedness_score"):
        connectedness_score(SPLIT, [[1.0, 1.0]], X_REF, Y_REF[:3])
    with pytest.raises((TypeError, ValueError), match="'min_samples' parameter"):
        connectedness_score(SPLIT, [[1.0, 1.0]], X_REF, Y_REF, min_samples=0)
    with pytest.raises((TypeError, ValueError), match="'reduce' parameter"):
        connectedness_score(SPLIT, [[1.0, 1.0]], X_REF, Y_REF, reduce="median")


# ------------------------------------------------------------ shared errors
FUNCS = [lof_distance, knn_manifold_distance, sphere_manifold_distance]


@pytest.mark.parametrize("func", FUNCS)
def test_labels_both_or_neither(func):
    with pytest.raises(ValueError, match="got 'y_cf' but not 'y_ref'"):
        func([[0.0, 0.0]], X_REF, y_cf=[0])
    with pytest.raises(ValueError, match="got 'y_ref' but not 'y_cf'"):
        func([[0.0, 0.0]], X_REF, y_ref=Y_REF)


@pytest.mark.parametrize("func", FUNCS)
def test_unknown_class(func):
    with pytest.raises(ValueError, match=r"label\(s\) \[7\] that y_ref lacks"):
        func([[0.0, 0.0]], X_REF, y_cf=[7], y_ref=Y_REF)
    target = np.array(["other"], dtype=object)
    with pytest.raises(ValueError, match="'other' is not a class"):
        func([[0.0, 0.0]], X_REF, y_cf=target, y_ref=Y_REF)


@pytest.mark.parametrize("func", FUNCS)
def test_label_shapes(func):
    with pytest.raises(ValueError, match=f"'y_ref' parameter of {func.__name__}"):
        func([[0.0, 0.0]], X_REF, y_cf=[0], y_ref=Y_REF[:3])
    with pytest.raises(ValueError, match=f"'y_cf' parameter of {func.__name__}"):
        func([[0.0, 0.0]], X_REF, y_cf=[0, 1], y_ref=Y_REF)


@pytest.mark.parametrize(
    "func", [*FUNCS, lambda X_cf, X_ref, **kw: ynn_score(SPLIT, X_cf, X_ref, **kw)]
)
def test_feature_mismatch_and_bad_valid(func):
    with pytest.raises(ValueError, match="'X_cf' parameter of .* must have as many"):
        func([[0.0, 0.0, 0.0]], X_REF)
    with pytest.raises(TypeError, match="'valid' parameter"):
        func([[0.0, 0.0]], X_REF, valid=np.array([1]))
    with pytest.raises(ValueError, match="'valid' parameter"):
        func([[0.0, 0.0]], X_REF, valid=np.array([True, False]))


def test_parameter_validation():
    with pytest.raises((TypeError, ValueError), match="'n_neighbors' parameter"):
        knn_manifold_distance([[0.0, 0.0]], X_REF, n_neighbors=0)
    with pytest.raises((TypeError, ValueError), match="'radius' parameter"):
        sphere_manifold_distance([[0.0, 0.0]], X_REF, radius=-1.0)
    with pytest.raises((TypeError, ValueError), match="'empty' parameter"):
        sphere_manifold_distance([[0.0, 0.0]], X_REF, empty="zero")
    with pytest.raises((TypeError, ValueError), match="'reduce' parameter"):
        lof_distance([[0.0, 0.0]], X_REF, reduce="sum")
    with pytest.raises((TypeError, ValueError), match="'estimator' parameter"):
        ynn_score(object(), [[0.0, 0.0]], X_REF)


def test_sphere_default_radius_needs_two_rows():
    with pytest.raises(ValueError, match="Pass radius="):
        sphere_manifold_distance([[0.0, 0.0]], [[1.0, 1.0]])
    assert sphere_manifold_distance([[0.0, 0.0]], [[3.0, 4.0]], radius=1.0) == 5.0


# -------------------------------------------------------------------- time
def _cf_set(n, elapsed):
    return CounterfactualSet(
        X=np.zeros((n, 1)),
        X_cf=np.ones((n, 1)),
        y_pred=np.zeros(n, int),
        y_cf_pred=np.ones(n, int),
        target=np.ones(n, dtype=object),
        valid=np.ones(n, bool),
        violations=np.zeros(n, int),
        n_iter=np.zeros(n, int),
        feature_names=np.array(["a"]),
        elapsed=elapsed,
    )


def test_time_per_counterfactual():
    assert time_per_counterfactual(_cf_set(4, 2.0)) == 0.5
    assert np.isnan(time_per_counterfactual(_cf_set(0, 0.1)))
    with pytest.raises((TypeError, ValueError), match="'cf_set' parameter"):
        time_per_counterfactual(2.0)


# ----------------------------------------------------------------- scorers
@pytest.fixture(scope="module")
def rows(data):
    return data[0][:15]


@pytest.fixture(scope="module")
def cf(generator, rows):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        return generator.explain(rows)


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        yield


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("lof", False),
        ("knn_distance", False),
        ("sphere_distance", False),
        ("ynn", True),
        ("connectedness", True),
        ("time", False),
    ],
)
def test_scorer_greater_is_better(metric, expected):
    kw = {} if metric == "time" else {"X_ref": X_REF}
    if metric == "connectedness":
        kw["y_ref"] = Y_REF
    assert make_cf_scorer(metric, **kw).greater_is_better is expected


def test_scorer_values_match_metrics(data, generator, rows, cf):
    X, y = data

    def score(metric, **kw):
        return make_cf_scorer(metric, **kw)(generator, rows)

    assert score("lof", X_ref=X, n_neighbors=10) == pytest.approx(
        -lof_distance(cf.X_cf, X, n_neighbors=10)
    )
    assert score("lof", X_ref=X, y_ref=y, valid_only=True) == pytest.approx(
        -lof_distance(cf.X_cf, X, y_cf=cf.y_cf_pred, y_ref=y, valid=cf.valid)
    )
    assert score("knn_distance", X_ref=X, y_ref=y) == pytest.approx(
        -knn_manifold_distance(cf.X_cf, X, y_cf=cf.y_cf_pred, y_ref=y)
    )
    assert score("knn_distance", X_ref=X, reduce="median") == pytest.approx(
        -knn_manifold_distance(cf.X_cf, X, reduce="median")
    )
    assert score("sphere_distance", X_ref=X, y_ref=y) == pytest.approx(
        -sphere_manifold_distance(cf.X_cf, X, y_cf=cf.y_cf_pred, y_ref=y)
    )
    assert score(
        "sphere_distance", X_ref=X, radius=0.5, empty="nan", valid_only=True
    ) == pytest.approx(
        -sphere_manifold_distance(cf.X_cf, X, radius=0.5, empty="nan", valid=cf.valid),
        nan_ok=True,
    )
    assert score("ynn", X_ref=X, n_neighbors=3) == pytest.approx(
        ynn_score(generator, cf.X_cf, X, n_neighbors=3)
    )
    assert score("connectedness", X_ref=X, y_ref=y, valid_only=True) == pytest.approx(
        connectedness_score(generator, cf.X_cf, X, y, valid=cf.valid)
    )
    assert score("connectedness", X_ref=X, y_ref=y, epsilon=0.5) == pytest.approx(
        connectedness_score(generator, cf.X_cf, X, y, epsilon=0.5)
    )
    t = score("time")
    assert t < 0 and -t < 5.0


def test_scorer_sphere_radius_computed_once(data, generator, rows):
    X, _ = data
    scorer = make_cf_scorer("sphere_distance", X_ref=X)
    first = scorer(generator, rows)
    assert scorer._cache["radius"] == pytest.approx(0.2 * pdist(X).mean())
    assert scorer(generator, rows) == first
    clone = pickle.loads(pickle.dumps(scorer))
    assert clone(generator, rows) == first


def test_scorer_repr_summarises_arrays():
    scorer = make_cf_scorer("connectedness", X_ref=X_REF, y_ref=Y_REF, epsilon=0.5)
    assert repr(scorer) == (
        "make_cf_scorer('connectedness', greater_is_better=True, "
        "X_ref=<ndarray of shape (50, 2)>, y_ref=<ndarray of shape (50,)>, "
        "epsilon=0.5)"
    )


def test_scorer_grid_search(data, clf):
    X, y = data
    X_train, y_train = X[:40], y[:40]
    gen = WachterGenerator(
        FrozenEstimator(clf), max_iter=30, n_search_steps=2, random_state=0
    )
    ref = {"X_ref": X_train, "y_ref": y_train}
    scoring = {
        "validity": make_cf_scorer("validity"),
        "lof": make_cf_scorer("lof", **ref, n_neighbors=10),
        "knn": make_cf_scorer("knn_distance", **ref),
        "sphere": make_cf_scorer("sphere_distance", **ref),
        "ynn": make_cf_scorer("ynn", X_ref=X_train),
        "connected": make_cf_scorer("connectedness", **ref),
        "time": make_cf_scorer("time"),
    }
    search = GridSearchCV(
        gen,
        {"lam": [0.1, 1.0]},
        scoring=scoring,
        refit="validity",
        cv=2,
        error_score="raise",
    ).fit(X_train)
    res = search.cv_results_
    assert np.all(res["mean_test_lof"] < 0)
    assert np.all(res["mean_test_sphere"] < 0)
    assert np.all(res["mean_test_time"] < 0)
    for name in ("ynn", "connected"):
        assert np.all((0 <= res[f"mean_test_{name}"]) & (res[f"mean_test_{name}"] <= 1))


def test_scorer_errors():
    with pytest.raises(
        TypeError, match=r"requires the keyword argument\(s\) \['X_ref'\]"
    ):
        make_cf_scorer("knn_distance")
    with pytest.raises(TypeError, match=r"\['y_ref'\]"):
        make_cf_scorer("connectedness", X_ref=X_REF)
    with pytest.raises(TypeError, match="unexpected keyword argument.*'y_ref'"):
        make_cf_scorer("ynn", X_ref=X_REF, y_ref=Y_REF)
    with pytest.raises(TypeError, match="unexpected keyword argument.*'reduce'"):
        make_cf_scorer("connectedness", X_ref=X_REF, y_ref=Y_REF, reduce="mean")
    with pytest.raises(TypeError, match="unexpected keyword argument.*'valid_only'"):
        make_cf_scorer("time", valid_only=True)
    with pytest.raises(ValueError, match="'y_ref' option of make_cf_scorer"):
        make_cf_scorer("lof", X_ref=X_REF, y_ref=Y_REF[:3])
    with pytest.raises(ValueError, match="'reduce' option"):
        make_cf_scorer("lof", X_ref=X_REF, reduce=None)
