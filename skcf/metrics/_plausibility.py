"""Plausibility metrics: how well counterfactuals sit among the reference data.

Every function compares the counterfactuals ``X_cf`` with reference rows
``X_ref`` (usually the training data), optionally class by class: a
counterfactual is then compared with the reference rows of its own class only.
Neighbour searches use :class:`sklearn.neighbors.NearestNeighbors`, one index
per class and all counterfactuals of that class in one query; nothing loops over
rows in Python.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.metrics import pairwise_distances_chunked
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.utils import check_array, check_random_state

from ..base import BaseGenerator
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, validate_params
from ._distance import _check_valid, _reduce
from ._validity import _as_labels, _is_other, _label_indices, _resolve_model

__all__ = [
    "connectedness_score",
    "knn_manifold_distance",
    "lof_distance",
    "sphere_manifold_distance",
    "ynn_score",
]

#: quantile of the ground-truth k-distances that sets connectedness_score's epsilon
_EPS_QUANTILE = 0.95
#: sphere_manifold_distance's default radius, as a fraction of the mean distance
_SPHERE_FRACTION = 0.2


# ------------------------------------------------------------------ helpers
def _check_ref(X_cf, X_ref, func):
    """``X_cf`` (possibly empty) and ``X_ref`` as 2-D float arrays, same width."""
    X_cf = check_array(
        X_cf, dtype=[np.float64, np.float32], ensure_min_samples=0, input_name="X_cf"
    )
    X_ref = check_array(X_ref, dtype=[np.float64, np.float32], input_name="X_ref")
    if X_cf.shape[1] != X_ref.shape[1]:
        raise ValueError(
            f"The 'X_cf' parameter of {func} must have as many features as X_ref "
            f"({X_ref.shape[1]}). Got {X_cf.shape[1]} instead."
        )
    return X_cf, X_ref


def _check_y_ref(y_ref, n_ref, func):
    y_ref = np.asarray(y_ref)
    if y_ref.shape != (n_ref,):
        raise ValueError(
            f"The 'y_ref' parameter of {func} must have shape ({n_ref},), one label "
            f"per row of X_ref. Got shape {y_ref.shape} instead."
        )
    return y_ref


def _check_class_labels(y_cf, y_ref, n_cf, n_ref, func):
    """``(y_cf, y_ref)`` as 1-D arrays, or ``(None, None)``; both or neither."""
    if (y_cf is None) != (y_ref is None):
        given, missing = ("y_cf", "y_ref") if y_ref is None else ("y_ref", "y_cf")
        raise ValueError(
            f"{func} got {given!r} but not {missing!r}: pass both to compare each "
            "counterfactual with the reference rows of its class (e.g. "
            "y_cf=cf.y_cf_pred, y_ref=y_train), or neither to use all rows."
        )
    if y_cf is None:
        return None, None
    y_cf = _as_labels(y_cf, "y_cf", n_cf, func)
    return y_cf, _check_y_ref(y_ref, n_ref, func)


def _class_groups(y_cf, y_ref, n_cf, func):
    """``[(cf_rows, ref_mask, label)]``: each counterfactual's class, once per class.

    Without labels, one group holding every row. Raises if a counterfactual's
    label is not a label of ``y_ref``.
    """
    if n_cf == 0:
        return []
    if y_cf is None:
        return [(np.arange(n_cf), None, None)]
    groups = []
    matched = np.zeros(n_cf, dtype=bool)
    for label in np.unique(y_ref):  # a loop over classes, not rows
        in_class = np.asarray(y_cf == label, dtype=bool)
        if in_class.any():
            groups.append((np.flatnonzero(in_class), y_ref == label, label))
            matched |= in_class
    if not matched.all():
        unknown = list(dict.fromkeys(y_cf[~matched].tolist()))
        hint = (
            " ('other' is not a class: pass cf.y_cf_pred)"
            if any(_is_other(np.asarray(unknown, dtype=object)))
            else ""
        )
        raise ValueError(
            f"The 'y_cf' parameter of {func} holds the label(s) {unknown[:10]} that "
            f"y_ref lacks{hint}; the reference classes are "
            f"{np.unique(y_ref).tolist()[:10]}. Each counterfactual is compared with "
            "the reference rows of its own class."
        )
    return groups


def _select(valid, X_cf, y_cf, func):
    mask = _check_valid(valid, X_cf.shape[0], func)
    if mask is None:
        return X_cf, y_cf
    return X_cf[mask], None if y_cf is None else y_cf[mask]


def _class_name(label):
    if label is None:
        return "all reference rows"
    return f"class {label.item() if isinstance(label, np.generic) else label!r}"


def _predictor(estimator):
    """``(predict, classes)``: ``predict(X)`` returns class indices (argmax)."""
    predict_proba, classes = _resolve_model(estimator)

    def predict(X):
        if len(X) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(predict_proba(X)).argmax(axis=1)

    return predict, classes


def _mean_pairwise_distance(X):
    """Mean Euclidean distance over the pairs of distinct rows (chunked)."""
    n = X.shape[0]
    total = sum(float(chunk.sum()) for chunk in pairwise_distances_chunked(X))
    return total / (n * (n - 1))


# ---------------------------------------------------------------------- LOF
_LABELLED = {
    "X_cf": ["array-like"],
    "X_ref": ["array-like"],
    "y_cf": "no_validation",  # array-like, scalar or None: checked below
    "y_ref": ["array-like", None],
    "valid": ["array-like", None],
    "reduce": [StrOptions({"mean", "median"}), None],
}


@validate_params(
    {**_LABELLED, "n_neighbors": [Interval(Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def lof_distance(
    X_cf, X_ref, *, y_cf=None, y_ref=None, n_neighbors=20, valid=None, reduce="mean"
):
    """Local outlier factor of the counterfactuals (lower is better; ≈ 1 inlier).

    Seed 004's plausibility metric: the local outlier factor (LOF, Breunig et
    al. 2000) of each counterfactual with respect to the reference rows, from
    :class:`~sklearn.neighbors.LocalOutlierFactor` fitted with ``novelty=True``
    on ``X_ref``; the value returned is ``-score_samples``, the LOF itself. It
    is about 1 for a counterfactual as dense as its neighbourhood and grows
    above 1 as the counterfactual becomes an outlier. The LOF is a ratio of
    reachability distances (the point's mean reachability distance to its
    neighbours over theirs), and lower is better, hence the ``*_distance``
    suffix.

    With ``y_cf`` and ``y_ref``, one LOF is fitted per class and each
    counterfactual is scored against the reference rows of its own class (its
    predicted or target class).

    Parameters
    ----------
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    X_ref : array-like of shape (n_ref, n_features)
        Reference rows, usually the training data.
    y_cf : array-like of shape (n_samples,) or scalar, default=None
        Class label of each counterfactual (e.g. ``cf.y_cf_pred``); labels are
        matched against ``y_ref``. None compares with all reference rows.
    y_ref : array-like of shape (n_ref,), default=None
        Class label of each reference row; given together with ``y_cf``.
    n_neighbors : int, default=20
        Neighbours of the LOF (``LocalOutlierFactor``'s default). Capped at the
        number of reference rows of the class minus one, as
        ``LocalOutlierFactor`` does.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Counterfactuals to score (e.g. ``cf.valid``); None scores all.
    reduce : {"mean", "median"} or None, default="mean"
        Aggregation over the scored rows; None returns one LOF per row.

    Returns
    -------
    lof : float or ndarray of shape (n_kept,)
        Aggregated LOF (``nan`` when no row is scored) or the per-row values.

    See Also
    --------
    knn_manifold_distance : Mean distance to the nearest reference rows.
    sklearn.neighbors.LocalOutlierFactor : The estimator used.

    References
    ----------
    Seed 004, "Evaluation Metrics" and Table 3 (LOF for plausibility); Breunig,
    Kriegel, Ng, Sander (2000), "LOF: identifying density-based local outliers".

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import lof_distance
    >>> X_ref = np.array([[i, j] for i in range(5) for j in range(5)], dtype=float)
    >>> X_cf = np.array([[2., 2.], [2.5, 1.5], [20., 20.]])
    >>> lof_distance(X_cf, X_ref, n_neighbors=4, reduce=None).round(2).tolist()
    [0.93, 0.91, 16.58]

    Class by class: the same point is an inlier of one class only.

    >>> y_ref = (X_ref[:, 0] >= 3).astype(int)
    >>> lof = lof_distance([[4., 2.], [4., 2.]], X_ref, y_cf=[1, 0], y_ref=y_ref,
    ...                    n_neighbors=4, reduce=None)
    >>> bool(lof[0] < 1.2 < lof[1])
    True
    """
    func = "lof_distance"
    X_cf, X_ref = _check_ref(X_cf, X_ref, func)
    y_cf, y_ref = _check_class_labels(y_cf, y_ref, X_cf.shape[0], X_ref.shape[0], func)
    X_cf, y_cf = _select(valid, X_cf, y_cf, func)
    out = np.empty(X_cf.shape[0], dtype=np.float64)
    for rows, ref_mask, label in _class_groups(y_cf, y_ref, X_cf.shape[0], func):
        ref = X_ref if ref_mask is None else X_ref[ref_mask]
        if ref.shape[0] < 2:
            raise ValueError(
                f"lof_distance needs at least 2 reference rows for "
                f"{_class_name(label)}, got {ref.shape[0]}. Pass more reference "
                "rows or leave y_cf/y_ref to None."
            )
        k = min(n_neighbors, ref.shape[0] - 1)
        lof = LocalOutlierFactor(n_neighbors=k, novelty=True).fit(ref)
        out[rows] = -lof.score_samples(X_cf[rows])
    return _reduce(out, reduce)


# ------------------------------------------------------- manifold distances
@validate_params(
    {**_LABELLED, "n_neighbors": [Interval(Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def knn_manifold_distance(
    X_cf, X_ref, *, y_cf=None, y_ref=None, n_neighbors=5, valid=None, reduce="mean"
):
    """Mean ℓ2 distance to the K nearest reference rows of the class (lower is better).

    Seed 003's "kNN manifold distance": for each counterfactual, the average
    Euclidean distance to its ``n_neighbors`` nearest reference rows of its own
    class (the class of the counterfactual, ``y_cf``), then aggregated over
    counterfactuals. A class with fewer than ``n_neighbors`` reference rows
    contributes all of them.

    Parameters
    ----------
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    X_ref : array-like of shape (n_ref, n_features)
        Reference rows, usually the training data.
    y_cf : array-like of shape (n_samples,) or scalar, default=None
        Class label of each counterfactual (e.g. ``cf.y_cf_pred``); labels are
        matched against ``y_ref``. None uses all reference rows.
    y_ref : array-like of shape (n_ref,), default=None
        Class label of each reference row; given together with ``y_cf``.
    n_neighbors : int, default=5
        K; seed 003 uses 5.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Counterfactuals to score (e.g. ``cf.valid``); None scores all.
    reduce : {"mean", "median"} or None, default="mean"
        Aggregation over the scored rows; None returns one distance per row.

    Returns
    -------
    distance : float or ndarray of shape (n_kept,)
        Aggregated distance (``nan`` when no row is scored) or per-row values.

    See Also
    --------
    sphere_manifold_distance : Mean distance to the class rows inside a ball.
    lof_distance : Local outlier factor.

    References
    ----------
    Seed 003, §3.3 "KNN Manifold Distance".

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import knn_manifold_distance
    >>> X_ref = np.array([[0., 0.], [2., 0.], [0., 2.], [2., 2.], [9., 9.]])
    >>> y_ref = np.array([1, 1, 1, 1, 0])
    >>> knn_manifold_distance([[1., 1.]], X_ref, n_neighbors=4)
    1.414...
    >>> knn_manifold_distance([[1., 1.], [1., 1.]], X_ref, y_cf=[1, 0], y_ref=y_ref,
    ...                       n_neighbors=4, reduce=None).round(3).tolist()
    [1.414, 11.314]
    """
    func = "knn_manifold_distance"
    X_cf, X_ref = _check_ref(X_cf, X_ref, func)
    y_cf, y_ref = _check_class_labels(y_cf, y_ref, X_cf.shape[0], X_ref.shape[0], func)
    X_cf, y_cf = _select(valid, X_cf, y_cf, func)
    out = np.empty(X_cf.shape[0], dtype=np.float64)
    for rows, ref_mask, _ in _class_groups(y_cf, y_ref, X_cf.shape[0], func):
        ref = X_ref if ref_mask is None else X_ref[ref_mask]
        k = min(n_neighbors, ref.shape[0])
        dist, _ = NearestNeighbors(n_neighbors=k).fit(ref).kneighbors(X_cf[rows])
        out[rows] = dist.mean(axis=1)
    return _reduce(out, reduce)


@validate_params(
    {
        **_LABELLED,
        "radius": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"point"}),
            None,
        ],
        "empty": [StrOptions({"nearest", "nan"})],
    },
    prefer_skip_nested_validation=True,
)
def sphere_manifold_distance(
    X_cf,
    X_ref,
    *,
    y_cf=None,
    y_ref=None,
    radius=None,
    empty="nearest",
    valid=None,
    reduce="mean",
):
    """Mean ℓ2 distance to the class's reference rows in a ball (lower is better).

    Seed 003's "sphere manifold distance": for each counterfactual, the average
    Euclidean distance to the reference rows of its own class that lie within
    ``radius`` of it (distance ``<= radius``), then aggregated over
    counterfactuals. By default the radius is 20 % of the mean distance between
    two distinct reference rows (all classes), as in seed 003.

    The paper does not say what an empty ball scores. By default
    (``empty="nearest"``) it scores the distance to the nearest reference row of
    the class. That value exceeds ``radius`` whereas a non-empty ball scores at
    most ``radius``, so a counterfactual away from the data always scores worse
    than one inside it, and every row keeps a finite value. ``empty="nan"``
    scores ``nan`` instead and leaves those rows out of the mean or median (the
    result is ``nan`` if every ball is empty); note that this rewards a method
    whose counterfactuals land far from all data.

    Parameters
    ----------
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    X_ref : array-like of shape (n_ref, n_features)
        Reference rows, usually the training data.
    y_cf : array-like of shape (n_samples,) or scalar, default=None
        Class label of each counterfactual (e.g. ``cf.y_cf_pred``); labels are
        matched against ``y_ref``. None uses all reference rows.
    y_ref : array-like of shape (n_ref,), default=None
        Class label of each reference row; given together with ``y_cf``.
    radius : float, "point" or None, default=None
        Radius ε of the ball. None uses 20 % of the mean pairwise distance of
        ``X_ref``; that costs O(n_ref²) distance evaluations (chunked), so pass
        a radius for large reference sets. ``"point"`` reads seed 003's "20 %
        of the average distance from a given point to all other points" per
        counterfactual: each row's ball has radius 20 % of its own mean
        distance to the reference rows (O(n · n_ref), chunked).
    empty : {"nearest", "nan"}, default="nearest"
        What a counterfactual with no reference row of its class in the ball
        scores: the distance to the nearest one, or ``nan`` (skipped by the
        aggregation).
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Counterfactuals to score (e.g. ``cf.valid``); None scores all.
    reduce : {"mean", "median"} or None, default="mean"
        Aggregation over the scored rows; None returns one distance per row.

    Returns
    -------
    distance : float or ndarray of shape (n_kept,)
        Aggregated distance (``nan`` when no row is scored) or per-row values.

    See Also
    --------
    knn_manifold_distance : Mean distance to the K nearest class rows.

    References
    ----------
    Seed 003, §3.3 "Sphere Manifold Distance".

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import sphere_manifold_distance
    >>> X_ref = np.array([[0., 0.], [1., 0.], [0., 1.], [5., 5.]])
    >>> X_cf = np.array([[0., 0.], [3., 3.]])
    >>> sphere_manifold_distance(X_cf, X_ref, radius=1.0, reduce=None).round(3).tolist()
    [0.667, 2.828]
    >>> sphere_manifold_distance(X_cf, X_ref, radius=1.0, empty="nan")
    0.666...
    """
    func = "sphere_manifold_distance"
    X_cf, X_ref = _check_ref(X_cf, X_ref, func)
    y_cf, y_ref = _check_class_labels(y_cf, y_ref, X_cf.shape[0], X_ref.shape[0], func)
    X_cf, y_cf = _select(valid, X_cf, y_cf, func)
    if isinstance(radius, str):  # "point": one radius per counterfactual
        return _sphere_per_point(X_cf, X_ref, y_cf, y_ref, empty, reduce, func)
    if radius is None:
        if X_ref.shape[0] < 2:
            raise ValueError(
                "sphere_manifold_distance sets radius from the mean pairwise "
                "distance of X_ref, which needs at least 2 rows; got 1. Pass "
                "radius=."
            )
        radius = _SPHERE_FRACTION * _mean_pairwise_distance(X_ref)
    out = np.empty(X_cf.shape[0], dtype=np.float64)
    for rows, ref_mask, _ in _class_groups(y_cf, y_ref, X_cf.shape[0], func):
        ref = X_ref if ref_mask is None else X_ref[ref_mask]
        nn = NearestNeighbors(radius=radius).fit(ref)
        # CSR of the distances inside the ball; explicit zeros are kept
        graph = nn.radius_neighbors_graph(X_cf[rows], mode="distance")
        count = np.diff(graph.indptr)
        total = np.asarray(graph.sum(axis=1)).ravel()
        inside = count > 0
        values = np.full(len(rows), np.nan)
        values[inside] = total[inside] / count[inside]
        if empty == "nearest" and not inside.all():
            dist, _ = nn.kneighbors(X_cf[rows[~inside]], n_neighbors=1)
            values[~inside] = dist[:, 0]
        out[rows] = values
    return _nan_reduce(out, reduce)


def _nan_reduce(out, reduce):
    """Per-row values (``reduce=None``), or their NaN-skipping mean / median."""
    if reduce is None:
        return out
    if not np.any(~np.isnan(out)):
        return float("nan")
    agg = np.nanmean if reduce == "mean" else np.nanmedian
    return float(agg(out))


def _sphere_per_point(X_cf, X_ref, y_cf, y_ref, empty, reduce, func):
    """:func:`sphere_manifold_distance` with radius 20 % of each row's mean
    distance to all reference rows."""
    r = (
        np.concatenate(
            [
                d.mean(axis=1)
                for d in pairwise_distances_chunked(X_cf, X_ref)  # all classes
            ]
        )
        * _SPHERE_FRACTION
        if len(X_cf)
        else np.empty(0)
    )
    out = np.empty(X_cf.shape[0], dtype=np.float64)
    for rows, ref_mask, _ in _class_groups(y_cf, y_ref, X_cf.shape[0], func):
        ref = X_ref if ref_mask is None else X_ref[ref_mask]
        values = []
        start = 0
        for d in pairwise_distances_chunked(X_cf[rows], ref):
            rad = r[rows[start : start + len(d)]][:, None]
            start += len(d)
            inside = d <= rad
            count = inside.sum(axis=1)
            total = np.where(inside, d, 0.0).sum(axis=1)
            v = np.full(len(d), np.nan)
            v[count > 0] = total[count > 0] / count[count > 0]
            if empty == "nearest":
                v = np.where(count > 0, v, d.min(axis=1))
            values.append(v)
        out[rows] = np.concatenate(values) if values else np.empty(0)
    return _nan_reduce(out, reduce)


# ----------------------------------------------------------------------- yNN
_MODEL = [HasMethods(["predict_proba"]), BaseGenerator]


@validate_params(
    {
        "estimator": _MODEL,
        "X_cf": ["array-like"],
        "X_ref": ["array-like"],
        "target": "no_validation",
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "valid": ["array-like", None],
        "reduce": [StrOptions({"mean", "median"}), None],
    },
    prefer_skip_nested_validation=True,
)
def ynn_score(
    estimator, X_cf, X_ref, *, target=None, n_neighbors=5, valid=None, reduce="mean"
):
    """Share of nearest reference rows the model puts in the counterfactual's class.

    yNN of CARLA (Pawelczyk et al. 2021), higher is better: for each
    counterfactual, the fraction of its ``n_neighbors`` nearest reference rows
    (Euclidean) that the model classifies as the counterfactual's class, then
    aggregated over counterfactuals. The class is ``target`` where given, else
    the model's prediction for the counterfactual (CARLA's definition). A
    counterfactual surrounded by data the model already assigns to its class
    scores 1; one that sits in a small pocket of its class scores near 0.

    Parameters
    ----------
    estimator : object
        The model: a fitted skcf generator (its ``model_`` is used), a
        :class:`~skcf.models.DifferentiableModel` or
        :class:`~skcf.models.BlackBoxModel`, or any fitted classifier with
        ``predict_proba``. Predictions are the argmax of ``predict_proba``.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    X_ref : array-like of shape (n_ref, n_features)
        Reference rows, usually the training data (their labels are not used,
        only the model's predictions for them).
    target : array-like of shape (n_samples,), scalar or None, default=None
        Class of each counterfactual, as labels of the model's classes;
        ``"other"`` entries, or None for all rows, use the model's prediction
        for the counterfactual.
    n_neighbors : int, default=5
        K, capped at the number of reference rows.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Counterfactuals to score (e.g. ``cf.valid``); None scores all.
    reduce : {"mean", "median"} or None, default="mean"
        Aggregation over the scored rows; None returns one fraction per row.

    Returns
    -------
    score : float or ndarray of shape (n_kept,)
        In ``[0, 1]``; ``nan`` when no row is scored.

    See Also
    --------
    connectedness_score : Whether a counterfactual is ε-connected to the data.
    knn_manifold_distance : Distance to the nearest rows of the class.

    References
    ----------
    Pawelczyk, Bielawski, van den Heuvel, Richter, Kasneci (2021), "CARLA: A
    Python Library to Benchmark Algorithmic Recourse and Counterfactual
    Explanation Algorithms", §4 (yNN).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.metrics import ynn_score
    >>> X_ref = np.array([[-3.], [-2.], [-1.], [1.], [2.], [3.]])
    >>> clf = LogisticRegression().fit(X_ref, [0, 0, 0, 1, 1, 1])
    >>> X_cf = np.array([[2.], [0.2]])
    >>> clf.predict(X_cf).tolist()
    [1, 1]
    >>> ynn_score(clf, X_cf, X_ref, n_neighbors=3, reduce=None).round(3).tolist()
    [1.0, 0.667]
    >>> ynn_score(clf, X_cf, X_ref, target=0, n_neighbors=3)
    0.1666...
    """
    func = "ynn_score"
    X_cf, X_ref = _check_ref(X_cf, X_ref, func)
    mask = _check_valid(valid, X_cf.shape[0], func)
    tgt = None if target is None else _as_labels(target, "target", len(X_cf), func)
    if mask is not None:
        X_cf = X_cf[mask]
        tgt = None if tgt is None else tgt[mask]
    n = X_cf.shape[0]
    if n == 0:
        return np.zeros(0) if reduce is None else float("nan")
    predict, classes = _predictor(estimator)
    if tgt is None:
        cls = predict(X_cf)
    else:
        other = _is_other(tgt)
        cls = np.empty(n, dtype=np.int64)
        if (~other).any():
            cls[~other] = _label_indices(tgt[~other], classes, func)
        if other.any():
            cls[other] = predict(X_cf[other])
    k = min(n_neighbors, X_ref.shape[0])
    idx = NearestNeighbors(n_neighbors=k).fit(X_ref).kneighbors(X_cf)[1]
    # predict each needed reference row once
    used, inverse = np.unique(idx, return_inverse=True)
    neighbour_cls = predict(X_ref[used])[inverse.reshape(idx.shape)]
    return _reduce((neighbour_cls == cls[:, None]).mean(axis=1), reduce)


# ------------------------------------------------------------- connectedness
def _default_epsilon(gt, min_samples):
    """95th percentile of each row's distance to its k-th nearest other row.

    ``k = max(min_samples - 1, 1)``; None if ``gt`` has too few rows.
    """
    k = max(min_samples - 1, 1)
    if gt.shape[0] <= k:
        return None
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(gt).kneighbors(gt)
    return dist[:, k]


@validate_params(
    {
        "estimator": _MODEL,
        "X_cf": ["array-like"],
        "X_ref": ["array-like"],
        "y_ref": ["array-like"],
        "epsilon": [Interval(Real, 0, None, closed="neither"), None],
        "min_samples": [Interval(Integral, 1, None, closed="left")],
        "valid": ["array-like", None],
        "reduce": [StrOptions({"mean"}), None],
        "n_ball_samples": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def connectedness_score(
    estimator,
    X_cf,
    X_ref,
    y_ref,
    *,
    epsilon=None,
    min_samples=2,
    valid=None,
    reduce="mean",
    n_ball_samples=0,
    random_state=None,
):
    """Fraction of counterfactuals ε-connected to the training data (higher is better).

    Laugel et al. (2019) call a counterfactual ``e`` *justified* when it is
    ε-connected to a ground-truth-backed instance ``a``: a reference row that
    the model classifies correctly, with ``f(a) = y_a = f(e)``. ε-connected
    means there is an ε-chain ``e = e_0, ..., e_N = a`` with
    ``d(e_i, e_{i+1}) < ε`` whose points are all classified ``f(e)`` (seed 003
    §3.3 "Connectedness").

    Implementation. For each counterfactual ``e`` with predicted class ``c``,
    DBSCAN (``eps=epsilon``, ``min_samples``; Euclidean) is run on ``{e}`` plus
    the ground-truth-backed reference rows of class ``c``, and ``e`` counts as
    connected when it is density-connected (shares a DBSCAN cluster) with at
    least one of those rows. The chain points are therefore ``e`` and correctly
    classified training rows of class ``c``, never another counterfactual: the
    verdict for a row does not depend on which other rows are scored. The
    per-counterfactual DBSCANs are computed exactly but without a loop over
    rows: one radius search per class gives each counterfactual's ground-truth
    neighbours and each ground-truth row's neighbour count, and

    - ``e`` is a core point (``1 + #neighbours >= min_samples``) with at least
      one neighbour, or
    - some neighbour ``a`` of ``e`` is a core point once ``e`` is added
      (``#neighbours(a) + 1 >= min_samples``, counting ``a`` itself).

    With the default ``min_samples=2`` (an ε-chain is exactly a cluster of
    DBSCAN with ``min_samples=2``, as Laugel et al. use it), ``e`` is connected
    if and only if a ground-truth-backed row of its class lies within
    ``epsilon`` of it. DBSCAN compares distances with ``<=``, the definition with
    ``<``; they differ only on ties.

    Ball sampling (Laugel et al.'s procedure). Laugel et al. also draw points
    uniformly in the ball ``B(e, ||e - a_0||)`` around ``e`` (``a_0`` the
    nearest ground-truth-backed row of class ``c``), label them with the model
    and let chains run through the ones classified ``c``, so that a chain may
    cross a region of class ``c`` that holds no training row. With
    ``n_ball_samples > 0`` this function does the same: per counterfactual,
    ``n_ball_samples`` points in that ball (seeded by ``random_state``), one
    ``predict`` call for all of them, and ``e`` is connected when an ε-chain
    through ``e``, its samples of class ``c`` and the ground-truth rows of
    ``c`` inside the ball reaches a ground-truth row (connected components of
    each row's ε-graph, computed for all rows at once; ``min_samples`` must be
    2 there). With ``n_ball_samples=0`` (the default; deterministic, one
    neighbour search per class) chains run through training rows only: every
    chain found is a valid ε-chain, so the score is a lower bound of the
    sampled one for the same ε.

    Parameters
    ----------
    estimator : object
        The model: a fitted skcf generator (its ``model_`` is used), a
        :class:`~skcf.models.DifferentiableModel` or
        :class:`~skcf.models.BlackBoxModel`, or any fitted classifier with
        ``predict_proba``. Predictions are the argmax of ``predict_proba``,
        mapped to the model's class labels.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    X_ref : array-like of shape (n_ref, n_features)
        Reference rows, usually the training data.
    y_ref : array-like of shape (n_ref,)
        True labels of the reference rows, in the model's class labels (class
        indices if the model has no ``classes_``).
    epsilon : float, default=None
        Chain step ε (DBSCAN's ``eps``). None sets it per class ``c`` to the
        95th percentile, over the ground-truth-backed rows of ``c``, of the
        distance to their ``k``-th nearest other such row, with
        ``k = max(min_samples - 1, 1)`` (the k-distance rule of Ester et al.
        1996): 95 % of those rows are then DBSCAN core points, and a
        counterfactual is connected when it is about as close to the data of
        its class as the data are to each other. A class with no more than
        ``k`` such rows uses the percentile pooled over all classes.
    min_samples : int, default=2
        DBSCAN's ``min_samples`` (the point itself included). 2 is the ε-chain
        of Laugel et al.; larger values ask for chains through dense data.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Counterfactuals to score (e.g. ``cf.valid``); None scores all.
    reduce : {"mean"} or None, default="mean"
        ``"mean"`` returns the connected fraction; None one bool per row.
    n_ball_samples : int, default=0
        Points sampled in each counterfactual's ball ``B(e, ||e - a_0||)``
        (Laugel et al.; they used a few hundred); 0 uses training rows only.
    random_state : int, RandomState instance or None, default=None
        Seeds the ball samples.

    Returns
    -------
    score : float or ndarray of shape (n_kept,), dtype=bool
        Fraction in ``[0, 1]`` (``nan`` when no row is scored), or per-row
        verdicts. A counterfactual whose class has no ground-truth-backed
        reference row is not connected.

    See Also
    --------
    ynn_score : Share of neighbours in the counterfactual's class.
    sklearn.cluster.DBSCAN : The clustering this reproduces.

    References
    ----------
    Seed 003, §3.3 "Connectedness"; Laugel, Lesot, Marsala, Renard, Detyniecki
    (2019), "The Dangers of Post-hoc Interpretability: Unjustified
    Counterfactual Explanations", IJCAI (definitions and DBSCAN procedure);
    Ester, Kriegel, Sander, Xu (1996), "A density-based algorithm for
    discovering clusters", §4.2 (choosing Eps).

    Examples
    --------
    The model says class 1 right of 0; the class-1 data sit between 1 and 3.
    A counterfactual at 2.5 is connected, one at 10 (class 1 too) is not:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.metrics import connectedness_score
    >>> X_ref = np.linspace(-3, 3, 13).reshape(-1, 1)
    >>> y_ref = (X_ref[:, 0] > 0).astype(int)
    >>> clf = LogisticRegression().fit(X_ref, y_ref)
    >>> X_cf = np.array([[2.5], [10.]])
    >>> clf.predict(X_cf).tolist()
    [1, 1]
    >>> connectedness_score(clf, X_cf, X_ref, y_ref, reduce=None).tolist()
    [True, False]
    >>> connectedness_score(clf, X_cf, X_ref, y_ref, epsilon=8.0)
    1.0
    """
    func = "connectedness_score"
    X_cf, X_ref = _check_ref(X_cf, X_ref, func)
    y_ref = _check_y_ref(y_ref, X_ref.shape[0], func)
    X_cf, _ = _select(valid, X_cf, None, func)
    n = X_cf.shape[0]
    predict, classes = _predictor(estimator)

    def to_labels(idx):
        return idx if classes is None else classes[idx]

    y_cf = to_labels(predict(X_cf)).astype(object)
    backed = np.asarray(to_labels(predict(X_ref)) == y_ref, dtype=bool)
    if not backed.any():
        raise ValueError(
            "connectedness_score found no reference row that the model classifies "
            f"as its y_ref label (model classes: "
            f"{None if classes is None else classes.tolist()}, y_ref labels: "
            f"{np.unique(y_ref).tolist()[:10]}). Check that y_ref holds the "
            "model's class labels."
        )
    gt_labels = y_ref[backed]
    gt_rows = X_ref[backed]
    classes_present = [lab for lab in np.unique(gt_labels) if np.any(y_cf == lab)]

    pooled = None
    if epsilon is None:
        kdist = {
            lab: _default_epsilon(gt_rows[gt_labels == lab], min_samples)
            for lab in np.unique(gt_labels)
        }
        known = [d for d in kdist.values() if d is not None]
        if not known:
            raise ValueError(
                "connectedness_score cannot set epsilon: no class has more than "
                f"{max(min_samples - 1, 1)} correctly classified reference rows. "
                "Pass epsilon= or more reference rows."
            )
        pooled = float(np.quantile(np.concatenate(known), _EPS_QUANTILE))

    if n_ball_samples and min_samples != 2:
        raise ValueError(
            "connectedness_score with n_ball_samples > 0 follows ε-chains "
            f"(min_samples=2); got min_samples={min_samples}."
        )
    rng = np.random.RandomState(None) if random_state is None else random_state
    rng = check_random_state(rng)
    connected = np.zeros(n, dtype=bool)
    for label in classes_present:  # a loop over classes, not rows
        rows = np.flatnonzero(y_cf == label)
        gt = gt_rows[gt_labels == label]
        eps = epsilon
        if eps is None:
            d = kdist[label]
            eps = pooled if d is None else float(np.quantile(d, _EPS_QUANTILE))
        if n_ball_samples:
            connected[rows] = _ball_chains(
                X_cf[rows], gt, eps, n_ball_samples, label, predict, to_labels, rng
            )
            continue
        nn = NearestNeighbors(radius=eps).fit(gt)
        # ground-truth neighbours of each counterfactual (CSR, distance <= eps)
        graph = nn.radius_neighbors_graph(X_cf[rows], mode="connectivity")
        n_nb = np.diff(graph.indptr)
        if min_samples <= 2:
            connected[rows] = n_nb >= 1
            continue
        # neighbour counts of the ground-truth rows among themselves (self included)
        count = np.diff(nn.radius_neighbors_graph(gt, mode="connectivity").indptr)
        core_with_e = (count + 1 >= min_samples).astype(np.int64)
        e_core = (n_nb + 1 >= min_samples) & (n_nb >= 1)
        connected[rows] = e_core | (graph @ core_with_e > 0)
    if reduce is None:
        return connected
    return float(connected.mean()) if n else float("nan")


def _ball_chains(E, gt, eps, m, label, predict, to_labels, rng):
    """Laugel et al.'s test for rows ``E`` of one class, all rows at once.

    Row ``i``'s graph holds ``e_i``, its ``m`` ball samples classified
    ``label`` and the ground-truth rows inside the ball (at least its nearest
    one, ``a_0``, on the sphere); edges join points closer than ``eps``. The
    row is connected when ``e_i``'s component holds a ground-truth row.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, d = E.shape
    nn = NearestNeighbors(n_neighbors=1).fit(gt)
    r = nn.kneighbors(E)[0][:, 0]  # ‖e - a_0‖
    direction = rng.standard_normal((n, m, d))
    direction /= np.maximum(np.linalg.norm(direction, axis=2, keepdims=True), 1e-300)
    radius = r[:, None, None] * rng.uniform(size=(n, m, 1)) ** (1.0 / d)
    S = E[:, None, :] + direction * radius  # (n, m, d)
    keep = to_labels(predict(S.reshape(n * m, d))).astype(object).reshape(n, m)
    keep = keep == label
    # ground-truth rows in each ball (a_0 on its sphere: a relative slack)
    slack = r * (1 + 1e-9) + 1e-12
    dists, idxs = nn.radius_neighbors(E, radius=float(slack.max()))
    blocks, offsets, is_gt, total = [], [], [], 0
    for i in range(n):  # each row's point set; the arithmetic is batched below
        own = idxs[i][dists[i] <= slack[i]]
        pts = np.vstack([E[i : i + 1], S[i][keep[i]], gt[own]])
        blocks.append(pts)
        offsets.append(total)
        is_gt.append(
            np.r_[np.zeros(len(pts) - len(own), bool), np.ones(len(own), bool)]
        )
        total += len(pts)
    P = np.vstack(blocks)
    owner = np.repeat(np.arange(n), [len(b) for b in blocks])
    graph = NearestNeighbors(radius=eps).fit(P).radius_neighbors_graph(P).tocoo()
    same = owner[graph.row] == owner[graph.col]  # edges inside one row's graph
    adj = coo_matrix(
        (np.ones(int(same.sum())), (graph.row[same], graph.col[same])),
        shape=(total, total),
    )
    _, comp = connected_components(adj, directed=False)
    gt_flag = np.concatenate(is_gt)
    hit = np.zeros(comp.max() + 1, dtype=bool)
    hit[comp[gt_flag]] = True
    return hit[comp[np.asarray(offsets)]]
