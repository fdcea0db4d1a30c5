"""Prediction-based metrics: validity (success rate) and redundancy."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..base import BaseGenerator, CounterfactualSet, is_generator
from ..utils._sklearn_compat import HasMethods, Interval, validate_params
from ._distance import _check_pair, _check_valid

__all__ = ["redundancy", "validity_score"]


def _as_labels(a, name, n, func):
    """1-D object array of length ``n``; scalars are broadcast."""
    arr = np.asarray(a, dtype=object)
    if arr.ndim == 0:
        return np.full(n, arr.item(), dtype=object)
    if arr.shape != (n,):
        raise ValueError(
            f"The {name!r} parameter of {func} must be a scalar or have shape "
            f"({n},). Got shape {arr.shape} instead."
        )
    return arr


def _is_other(labels):
    """Boolean mask of the entries equal to the string ``"other"``."""
    return np.fromiter(
        (isinstance(t, str) and t == "other" for t in labels),
        dtype=bool,
        count=len(labels),
    )


@validate_params(
    {
        "y_cf_pred": ["array-like", CounterfactualSet],
        "target": "no_validation",
        "y_pred": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def validity_score(y_cf_pred, target=None, *, y_pred=None):
    """Fraction of rows whose counterfactual reaches its target (higher is better).

    Seed 003's "success rate". Two forms:

    - ``validity_score(cf)`` with the :class:`~skcf.base.CounterfactualSet`
      returned by ``explain``: the fraction of rows flagged ``cf.valid``, which
      also requires the counterfactual to break no actionability constraint and
      to reach the generator's probability threshold ``tau``.
    - ``validity_score(y_cf_pred, target, y_pred=y_pred)`` with predictions: a
      targeted row is valid when ``y_cf_pred == target``; an untargeted row
      (``target`` entry ``"other"``, or ``target=None`` for all rows) is valid
      when the prediction changed, ``y_cf_pred != y_pred``. This form checks
      the prediction only.

    Parameters
    ----------
    y_cf_pred : array-like of shape (n_samples,) or CounterfactualSet
        Model predictions (class labels) for the counterfactuals, or the result
        of ``explain``; then ``target`` and ``y_pred`` must be left to None.
    target : array-like of shape (n_samples,), scalar or None, default=None
        Requested class per row; ``"other"`` marks an untargeted row. A scalar
        applies to every row. None means every row is untargeted.
    y_pred : array-like of shape (n_samples,), default=None
        Model predictions for the factual rows; needed for untargeted rows.

    Returns
    -------
    score : float
        In ``[0, 1]``; 0.0 for no rows.

    See Also
    --------
    skcf.base.CounterfactualSet.validity : The same for a CounterfactualSet.

    References
    ----------
    Seed 003, §3.3 "Success Rate".

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import validity_score
    >>> validity_score([1, 1, 0, 2], [1, 0, 0, 1])
    0.5
    >>> validity_score([1, 1, 0, 2], ["other", "other", 0, 1], y_pred=[0, 1, 1, 0])
    0.5
    >>> validity_score([1, 0, 2], y_pred=[0, 0, 0])
    0.6666666666666666

    With the result of ``explain``:

    >>> from skcf.base import CounterfactualSet
    >>> cf = CounterfactualSet(X=np.zeros((2, 1)), X_cf=np.array([[1.], [0.]]),
    ...     y_pred=np.array([0, 0]), y_cf_pred=np.array([1, 0]),
    ...     target=np.array([1, 1], dtype=object), valid=np.array([True, False]),
    ...     violations=np.zeros(2, int), n_iter=np.array([3, 10]),
    ...     feature_names=np.array(["a"]), elapsed=0.1)
    >>> validity_score(cf)
    0.5
    """
    if isinstance(y_cf_pred, CounterfactualSet):
        if target is not None or y_pred is not None:
            raise ValueError(
                "validity_score(cf) with a CounterfactualSet takes no 'target' or "
                f"'y_pred' (got target={target!r}, y_pred={y_pred!r}); they are "
                "read from the set. Pass predictions instead to use your own."
            )
        return (
            float(np.mean(np.asarray(y_cf_pred.valid, dtype=bool)))
            if len(y_cf_pred)
            else 0.0
        )
    y_cf = np.asarray(y_cf_pred, dtype=object)
    if y_cf.ndim != 1:
        raise ValueError(
            "The 'y_cf_pred' parameter of validity_score must be 1-D (one label per "
            f"row) or a CounterfactualSet. Got shape {y_cf.shape} instead."
        )
    n = len(y_cf)
    tgt = (
        np.full(n, "other", dtype=object)
        if target is None
        else _as_labels(target, "target", n, "validity_score")
    )
    other = _is_other(tgt)
    valid = np.zeros(n, dtype=bool)
    valid[~other] = y_cf[~other] == tgt[~other]
    if other.any():
        if y_pred is None:
            raise ValueError(
                "The 'y_pred' parameter of validity_score is needed for untargeted "
                "rows (target=None or 'other'): an untargeted counterfactual is "
                "valid when its prediction differs from the factual's. Pass "
                "y_pred=model.predict(X)."
            )
        y0 = _as_labels(y_pred, "y_pred", n, "validity_score")
        valid[other] = y_cf[other] != y0[other]
    return float(valid.mean()) if n else 0.0


# ---------------------------------------------------------------- redundancy
def _resolve_model(estimator):
    """``(predict_proba, classes)`` of a generator, model adapter or classifier."""
    if is_generator(estimator):
        check_is_fitted(estimator)
        return estimator.model_.predict_proba, np.asarray(estimator.classes_)
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        classes = getattr(estimator, "classes", None)
    return estimator.predict_proba, None if classes is None else np.asarray(classes)


def _label_indices(labels, classes, func):
    """Map class labels to output indices (labels are indices if no classes)."""
    n_known = None if classes is None else len(classes)
    lookup = (
        {c: j for j, c in enumerate(classes.tolist())} if classes is not None else None
    )
    idx = np.empty(len(labels), dtype=np.int64)
    for i, lab in enumerate(labels):  # per distinct label would do; labels are few
        key = lab.item() if isinstance(lab, np.generic) else lab
        if lookup is not None and key in lookup:
            idx[i] = lookup[key]
        elif lookup is None and isinstance(key, Integral) and not isinstance(key, bool):
            idx[i] = int(key)
        else:
            known = "class indices" if n_known is None else classes.tolist()
            raise ValueError(
                f"The 'target' parameter of {func} holds the unknown class {lab!r}; "
                f"the model's classes are {known}. Use one of them or 'other'."
            )
    return idx


@validate_params(
    {
        "estimator": [HasMethods(["predict_proba"]), BaseGenerator],
        "X": ["array-like"],
        "X_cf": ["array-like"],
        "target": "no_validation",
        "valid": ["array-like", None],
        "return_per_row": ["boolean"],
        "atol": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def redundancy(
    estimator,
    X,
    X_cf,
    *,
    target=None,
    valid=None,
    return_per_row=False,
    atol=1e-8,
    batch_size=4096,
):
    """Mean number of unnecessary feature changes per counterfactual (lower is better).

    Seed 003 §3.3 (drawn from CARLA): for each counterfactual and each feature it
    changed, put that single feature back to its factual value; the change was
    redundant if the model still predicts the counterfactual's class. The
    counts are averaged over rows.

    All single-feature reverts are evaluated in batches of ``batch_size`` rows,
    one ``predict_proba`` call per batch.

    Parameters
    ----------
    estimator : object
        The model: a fitted skcf generator (its ``model_`` is used), a
        :class:`~skcf.models.DifferentiableModel` or
        :class:`~skcf.models.BlackBoxModel`, or any fitted classifier with
        ``predict_proba``. Predictions are the argmax of ``predict_proba``.
    X : array-like of shape (n_samples, n_features)
        Factual rows.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    target : array-like of shape (n_samples,), scalar or None, default=None
        None (CARLA): a revert is redundant if it keeps the counterfactual's
        predicted class. Otherwise the class each counterfactual must reach
        (labels of the model's classes; ``"other"`` for untargeted rows): a
        revert is redundant if its prediction still equals the target, or, for
        ``"other"``, still differs from the factual's prediction.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to score (e.g. ``cf.valid``); None scores all rows.
    return_per_row : bool, default=False
        Return the per-row counts of the scored rows instead of their mean.
    atol : float, default=1e-8
        A feature counts as changed when ``|X_cf - X| > atol``.
    batch_size : int, default=4096
        Rows per ``predict_proba`` call.

    Returns
    -------
    redundancy : float or ndarray of shape (n_kept,)
        Mean count (``nan`` when no row is scored), or the per-row counts.

    See Also
    --------
    sparsity : Mean number of changed features.

    References
    ----------
    Seed 003, §3.3 "Redundancy"; Pawelczyk et al. (2021), CARLA.

    Examples
    --------
    A linear model that only looks at the first two features:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.metrics import redundancy
    >>> X_train = np.array([[-1., -1., 1.], [-1., -1., -1.],
    ...                     [1., 1., 1.], [1., 1., -1.]])
    >>> clf = LogisticRegression().fit(X_train, [0, 0, 1, 1])
    >>> X = np.array([[-1., -1., 0.], [-1., -1., -1.], [-2., -2., 0.]])
    >>> X_cf = np.array([[3., 3., 0.], [2., -1., 5.], [-2., -2., 0.]])
    >>> clf.predict(X_cf).tolist()
    [1, 1, 0]
    >>> redundancy(clf, X, X_cf, return_per_row=True).tolist()
    [2, 1, 0]
    >>> redundancy(clf, X, X_cf, valid=np.array([True, True, False]))
    1.5
    """
    X, X_cf = _check_pair(X, X_cf, "redundancy")
    n = X.shape[0]
    mask = _check_valid(valid, n, "redundancy")
    predict_proba, classes = _resolve_model(estimator)
    tgt_labels = (
        None if target is None else _as_labels(target, "target", n, "redundancy")
    )
    if mask is not None:
        X, X_cf = X[mask], X_cf[mask]
        tgt_labels = None if tgt_labels is None else tgt_labels[mask]
        n = X.shape[0]
    dtype = np.result_type(X.dtype, X_cf.dtype)
    X, X_cf = X.astype(dtype, copy=False), X_cf.astype(dtype, copy=False)

    def predict(A):
        out = [
            np.asarray(predict_proba(A[s : s + batch_size])).argmax(axis=1)
            for s in range(0, len(A), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    # the class each revert must keep, and whether "keep" means "differ from"
    if tgt_labels is None:
        keep = predict(X_cf)
        differ = np.zeros(n, dtype=bool)
    else:
        differ = _is_other(tgt_labels)
        keep = np.zeros(n, dtype=np.int64)
        if (~differ).any():
            keep[~differ] = _label_indices(tgt_labels[~differ], classes, "redundancy")
        if differ.any():
            keep[differ] = predict(X[differ])

    counts = _count_redundant(
        predict_proba, X, X_cf, keep, differ, atol=atol, batch_size=batch_size
    )
    if return_per_row:
        return counts
    return float(counts.mean()) if n else float("nan")


def _count_redundant(
    predict_proba, X, X_cf, keep, differ, *, units=None, atol=1e-8, batch_size=4096
):
    """Per-row number of changed units whose revert keeps the outcome.

    ``units`` lists the column indices reverted together (an original column's
    one-hot slots on the raw-data road); None reverts single features.
    """
    n, d = X.shape
    if units is None:
        units = [np.array([j]) for j in range(d)]
    member = np.zeros((len(units), d), dtype=bool)
    for u, cols in enumerate(units):
        member[u, cols] = True
    changed = np.abs(X_cf.astype(np.float64) - X.astype(np.float64)) > atol
    rows, unit = np.nonzero(changed.astype(np.int64) @ member.T.astype(np.int64))
    counts = np.zeros(n, dtype=np.int64)
    for s in range(0, len(rows), batch_size):  # chunks of reverts, not rows
        r, u = rows[s : s + batch_size], unit[s : s + batch_size]
        reverted = np.where(member[u], X[r], X_cf[r])
        pred = np.asarray(predict_proba(reverted)).argmax(axis=1)
        redundant = np.where(differ[r], pred != keep[r], pred == keep[r])
        counts += np.bincount(r[redundant], minlength=n)
    return counts
