"""Cost metrics: how far a counterfactual moved from its factual row.

All functions take the factual rows ``X`` and the counterfactuals ``X_cf`` (same
shape) and return lower-is-better values.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.utils import check_array

from ..utils._scale import robust_scale as _robust_scale
from ..utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = [
    "l0_distance",
    "l1_distance",
    "l2_distance",
    "linf_distance",
    "median_absolute_deviation",
    "proximity",
    "sparsity",
]

_NORMS = {"l0", "l1", "l2", "linf"}


def _check_pair(X, X_cf, func):
    """Validate ``X`` and ``X_cf`` as 2-D float arrays of the same shape."""
    X = check_array(
        X, dtype=[np.float64, np.float32], ensure_min_samples=0, input_name="X"
    )
    X_cf = check_array(
        X_cf, dtype=[np.float64, np.float32], ensure_min_samples=0, input_name="X_cf"
    )
    if X.shape != X_cf.shape:
        raise ValueError(
            f"The 'X_cf' parameter of {func} must have the same shape as X "
            f"{X.shape}. Got shape {X_cf.shape} instead; pass one counterfactual "
            "per factual row."
        )
    return X, X_cf


def _check_valid(valid, n, func):
    """Boolean row mask of shape ``(n,)``, or None."""
    if valid is None:
        return None
    mask = np.asarray(valid)
    if mask.dtype != bool:
        raise TypeError(
            f"The 'valid' parameter of {func} must be a boolean mask of shape "
            f"({n},). Got an array of dtype {mask.dtype} instead; pass e.g. "
            "cf.valid or an array of True/False."
        )
    if mask.shape != (n,):
        raise ValueError(
            f"The 'valid' parameter of {func} must have shape ({n},). Got shape "
            f"{mask.shape} instead."
        )
    return mask


def _check_scale(scale, n_features, func):
    if scale is None:
        return None
    scale = np.asarray(scale, dtype=np.float64)
    if scale.ndim == 0:
        scale = np.full(n_features, float(scale))
    if scale.shape != (n_features,):
        raise ValueError(
            f"The 'scale' parameter of {func} must have shape ({n_features},). Got "
            f"shape {scale.shape} instead; pass one scale per feature, e.g. "
            "median_absolute_deviation(X_train)."
        )
    if not (np.isfinite(scale).all() and (scale > 0).all()):
        raise ValueError(
            f"The 'scale' parameter of {func} must hold finite positive values. Got "
            f"{scale!r} instead."
        )
    return scale


def _reduce(values, reduce):
    if reduce is None:
        return values
    if len(values) == 0:
        return float("nan")
    if reduce == "mean":
        return float(np.mean(values))
    return float(np.median(values))


def _row_norm(delta, norm, atol):
    absd = np.abs(delta)
    if norm == "l0":
        return (absd > atol).sum(axis=1)
    if norm == "l1":
        return absd.sum(axis=1)
    if norm == "l2":
        return np.sqrt((delta**2).sum(axis=1))
    return absd.max(axis=1, initial=0.0)


def _proximity(X, X_cf, *, norm, scale, valid, reduce, atol, func):
    X, X_cf = _check_pair(X, X_cf, func)
    scale = _check_scale(scale, X.shape[1], func)
    mask = _check_valid(valid, X.shape[0], func)
    if mask is not None:
        X, X_cf = X[mask], X_cf[mask]
    delta = X_cf.astype(np.float64) - X.astype(np.float64)
    if scale is not None:
        delta = delta / scale
    return _reduce(_row_norm(delta, norm, atol), reduce)


_COMMON = {
    "X": ["array-like"],
    "X_cf": ["array-like"],
    "scale": ["array-like", Interval(Real, 0, None, closed="neither"), None],
    "valid": ["array-like", None],
    "reduce": [StrOptions({"mean", "median"}), None],
}


@validate_params(
    {
        **_COMMON,
        "norm": [StrOptions(_NORMS)],
        "atol": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def proximity(X, X_cf, *, norm="l1", scale=None, valid=None, reduce="mean", atol=1e-8):
    """Distance between factual rows and their counterfactuals (lower is better).

    Computes the ``norm`` of ``(X_cf - X) / scale`` per row, then averages over
    rows. Following CARLA, pass ``valid`` to average over valid counterfactuals
    only (a row without a valid counterfactual is returned unchanged by the
    generators, so it would otherwise count as a free, zero-cost row).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual rows.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals, one per row of ``X``.
    norm : {"l0", "l1", "l2", "linf"}, default="l1"
        ``"l0"`` counts the features with ``|delta| > atol``; the others are the
        usual ℓ1, ℓ2 and ℓ∞ norms of ``delta``.
    scale : array-like of shape (n_features,) or float, default=None
        Per-feature scales dividing the change, e.g. the median absolute
        deviation of the training data (:func:`median_absolute_deviation`, or a
        fitted generator's ``scale_``), so that features in large units do not
        dominate. A float scales every feature alike; None means no scaling.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to keep (e.g. ``cf.valid``). None keeps all rows.
    reduce : {"mean", "median"} or None, default="mean"
        How to aggregate over rows; None returns one distance per kept row.
    atol : float, default=1e-8
        A feature counts as changed for ``"l0"`` when ``|delta| > atol``.

    Returns
    -------
    distance : float or ndarray of shape (n_kept,)
        The aggregated distance (``nan`` when no row is kept), or the per-row
        distances of the kept rows when ``reduce=None``.

    See Also
    --------
    l0_distance, l1_distance, l2_distance, linf_distance : Shortcuts.
    sparsity : Mean number of changed features (seed 003).

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import proximity
    >>> X = np.array([[0., 0., 0.], [1., 1., 1.]])
    >>> X_cf = np.array([[1., -2., 0.], [1., 1., 4.]])
    >>> proximity(X, X_cf)
    3.0
    >>> proximity(X, X_cf, norm="l2", reduce=None).round(3).tolist()
    [2.236, 3.0]
    >>> proximity(X, X_cf, norm="l0", valid=np.array([True, False]))
    2.0
    >>> proximity(X, X_cf, scale=np.array([1., 2., 3.]), reduce=None).tolist()
    [2.0, 1.0]
    """
    return _proximity(
        X,
        X_cf,
        norm=norm,
        scale=scale,
        valid=valid,
        reduce=reduce,
        atol=atol,
        func="proximity",
    )


@validate_params(
    {**_COMMON, "atol": [Interval(Real, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def l0_distance(X, X_cf, *, scale=None, valid=None, reduce="mean", atol=1e-8):
    """Number of changed features per row, aggregated (lower is sparser).

    Same as ``proximity(X, X_cf, norm="l0", ...)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual rows.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    scale : array-like of shape (n_features,) or float, default=None
        Per-feature scales; a feature counts as changed when
        ``|delta / scale| > atol``.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to keep; None keeps all.
    reduce : {"mean", "median"} or None, default="mean"
        Aggregation over rows; None returns the per-row counts.
    atol : float, default=1e-8
        Change threshold.

    Returns
    -------
    distance : float or ndarray of shape (n_kept,)

    See Also
    --------
    proximity : The general function.

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import l0_distance
    >>> l0_distance(np.zeros((2, 3)), np.array([[1., 0., 2.], [0., 0., 5.]]))
    1.5
    """
    return _proximity(
        X,
        X_cf,
        norm="l0",
        scale=scale,
        valid=valid,
        reduce=reduce,
        atol=atol,
        func="l0_distance",
    )


@validate_params(_COMMON, prefer_skip_nested_validation=True)
def l1_distance(X, X_cf, *, scale=None, valid=None, reduce="mean"):
    """ℓ1 distance (sum of absolute changes) per row, aggregated.

    Same as ``proximity(X, X_cf, norm="l1", ...)``. With ``scale`` set to the
    median absolute deviation this is the cost of Wachter et al.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual rows.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    scale : array-like of shape (n_features,) or float, default=None
        Per-feature scales dividing the change.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to keep; None keeps all.
    reduce : {"mean", "median"} or None, default="mean"
        Aggregation over rows; None returns the per-row distances.

    Returns
    -------
    distance : float or ndarray of shape (n_kept,)

    See Also
    --------
    proximity : The general function.

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import l1_distance
    >>> l1_distance(np.zeros((2, 2)), np.array([[1., -1.], [0., 4.]]))
    3.0
    """
    return _proximity(
        X,
        X_cf,
        norm="l1",
        scale=scale,
        valid=valid,
        reduce=reduce,
        atol=0.0,
        func="l1_distance",
    )


@validate_params(_COMMON, prefer_skip_nested_validation=True)
def l2_distance(X, X_cf, *, scale=None, valid=None, reduce="mean"):
    """Euclidean (ℓ2) distance per row, aggregated.

    Same as ``proximity(X, X_cf, norm="l2", ...)``; seed 003's "distance
    traveled".

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual rows.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    scale : array-like of shape (n_features,) or float, default=None
        Per-feature scales dividing the change.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to keep; None keeps all.
    reduce : {"mean", "median"} or None, default="mean"
        Aggregation over rows; None returns the per-row distances.

    Returns
    -------
    distance : float or ndarray of shape (n_kept,)

    See Also
    --------
    proximity : The general function.

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import l2_distance
    >>> l2_distance(np.zeros((2, 2)), np.array([[3., 4.], [0., 1.]]))
    3.0
    """
    return _proximity(
        X,
        X_cf,
        norm="l2",
        scale=scale,
        valid=valid,
        reduce=reduce,
        atol=0.0,
        func="l2_distance",
    )


@validate_params(_COMMON, prefer_skip_nested_validation=True)
def linf_distance(X, X_cf, *, scale=None, valid=None, reduce="mean"):
    """ℓ∞ distance (largest absolute change) per row, aggregated.

    Same as ``proximity(X, X_cf, norm="linf", ...)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual rows.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    scale : array-like of shape (n_features,) or float, default=None
        Per-feature scales dividing the change.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to keep; None keeps all.
    reduce : {"mean", "median"} or None, default="mean"
        Aggregation over rows; None returns the per-row distances.

    Returns
    -------
    distance : float or ndarray of shape (n_kept,)

    See Also
    --------
    proximity : The general function.

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import linf_distance
    >>> linf_distance(np.zeros((2, 2)), np.array([[3., -4.], [0., 1.]]), reduce=None)
    array([4., 1.])
    """
    return _proximity(
        X,
        X_cf,
        norm="linf",
        scale=scale,
        valid=valid,
        reduce=reduce,
        atol=0.0,
        func="linf_distance",
    )


@validate_params(
    {
        "X": ["array-like"],
        "X_cf": ["array-like"],
        "valid": ["array-like", None],
        "atol": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def sparsity(X, X_cf, *, valid=None, atol=1e-8):
    """Mean number of changed features per counterfactual (lower is sparser).

    Seed 003, §3.3 (drawn from CARLA):
    ``(1/N) sum_i sum_d 1(x_i^d != x'_i^d)``, where a feature counts as changed
    when ``|x'_i^d - x_i^d| > atol``. Despite the name, a *lower* value means a
    sparser (fewer features changed) counterfactual; 0 means nothing changed.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual rows.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to average over (e.g. ``cf.valid``); None uses all rows.
    atol : float, default=1e-8
        Change threshold.

    Returns
    -------
    sparsity : float
        ``nan`` when no row is kept.

    See Also
    --------
    l0_distance : The same count, with scaling and other reductions.
    redundancy : How many of the changed features were needed.

    References
    ----------
    Seed 003, §3.3 "Sparsity"; Pawelczyk et al. (2021), CARLA.

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import sparsity
    >>> X = np.zeros((2, 3))
    >>> X_cf = np.array([[1., 0., 2.], [0., 0., 5.]])
    >>> sparsity(X, X_cf)
    1.5
    """
    return _proximity(
        X,
        X_cf,
        norm="l0",
        scale=None,
        valid=valid,
        reduce="mean",
        atol=atol,
        func="sparsity",
    )


@validate_params({"X": ["array-like"]}, prefer_skip_nested_validation=True)
def median_absolute_deviation(X):
    """Per-feature median absolute deviation, for scaling distances.

    ``median(|X[:, j] - median(X[:, j])|)``; where it is zero (e.g. a feature
    that is mostly constant) the standard deviation is used, and where that is
    zero too, 1. This is the ``scale_`` the generators learn in ``fit``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Reference data (usually the training data).

    Returns
    -------
    mad : ndarray of shape (n_features,)
        Strictly positive scales.

    See Also
    --------
    proximity : Use it as ``scale=``.

    References
    ----------
    Wachter, Mittelstadt, Russell (2018), §5 (the MAD-weighted ℓ1 cost).

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import median_absolute_deviation
    >>> X = np.array([[1., 0., 5.], [2., 0., 5.], [4., 0., 5.], [9., 2., 5.]])
    >>> median_absolute_deviation(X).round(3).tolist()
    [1.5, 0.866, 1.0]
    """
    X = check_array(X, dtype=np.float64, input_name="X")
    return _robust_scale(X)
