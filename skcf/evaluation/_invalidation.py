"""Invalidation rate (seed 001 Def. 2) and its relation to cost (Table 1, R²)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..models._adapters import _is_fitted
from ..utils._sklearn_compat import validate_params
from ._retraining import ModelFamily, _predict_labels

__all__ = ["cost_invalidation_r2", "invalidation_rate"]


def _as_family(family):
    if not isinstance(family, ModelFamily):
        try:
            family = ModelFamily(list(family))
        except TypeError as exc:
            raise TypeError(
                "family must be a ModelFamily or a list of fitted classifiers, got "
                f"{type(family).__name__}."
            ) from exc
    for i, est in enumerate(family):
        if not _is_fitted(est):
            raise ValueError(
                f"Model {i} of the family ({type(est).__name__}) is not fitted; "
                "build the family with make_model_family."
            )
    return family


@validate_params(
    {
        "X_cf": ["array-like"],
        "base": "no_validation",
        "family": "no_validation",
        "target": ["array-like", None],
        "average": ["boolean"],
        "return_std": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def invalidation_rate(
    X_cf, base, family, *, target=None, average=True, return_std=False
):
    """Fraction of retrained models that change the counterfactual's outcome.

    Seed 001, Def. 2: ``IV(x_cf) = mean over models θ' of
    1[F(x_cf; θ') ≠ F(x_cf; θ)]``, where ``θ`` is the base model the
    counterfactuals were computed for (lower is better). Pass only the rows
    whose counterfactual is valid (``cf.X_cf[cf.valid]``): an invalid row is
    the factual itself and has no meaning here.

    Parameters
    ----------
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    base : object or None
        The fitted base model; its predictions on ``X_cf`` are the reference.
        None requires ``target``.
    family : ModelFamily or list of fitted classifiers
        The retrained models (:func:`make_model_family`).
    target : array-like of shape (n_samples,), default=None
        Reference labels instead of the base model's predictions (e.g. the
        targets the counterfactuals were asked for).
    average : bool, default=True
        Return the mean over rows and models; False returns one rate per row.
    return_std : bool, default=False
        With ``average=True``, also return the standard deviation across models
        of the per-model invalidation rates (the "±" of seed 001, Table 3).

    Returns
    -------
    rate : float or ndarray of shape (n_samples,)
        Mean invalidation rate, or the rate of each row.
    std : float
        Only with ``return_std=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.evaluation import invalidation_rate
    >>> X = np.array([[-1.0], [1.0]]); y = np.array([0, 1])
    >>> base = LogisticRegression().fit(X, y)
    >>> shifted = LogisticRegression().fit(X + 0.5, y)  # boundary moved to 0.5
    >>> X_cf = np.array([[0.2], [2.0]])  # the first one is invalidated
    >>> invalidation_rate(X_cf, base, [base, shifted], average=False).tolist()
    [0.5, 0.0]
    >>> invalidation_rate(X_cf, base, [base, shifted], return_std=True)
    (0.25, 0.25)
    """
    family = _as_family(family)
    X_cf = np.asarray(X_cf)
    if X_cf.ndim != 2:
        raise ValueError(
            f"X_cf must be 2-D (n_samples, n_features), got shape {X_cf.shape}."
        )
    if target is not None:
        ref = np.asarray(target)
        if ref.shape != (len(X_cf),):
            raise ValueError(f"target must have shape ({len(X_cf)},), got {ref.shape}.")
    elif base is None:
        raise ValueError("Pass the base model or target= to invalidation_rate.")
    else:
        ref = _predict_labels(base, X_cf)
    if len(X_cf) == 0:
        rates = np.zeros(0)
        if not average:
            return rates
        return (0.0, 0.0) if return_std else 0.0
    changed = family.predict(X_cf) != ref[None, :]  # (n_models, n_samples)
    if not average:
        return changed.mean(axis=0)
    mean = float(changed.mean())
    if return_std:
        return mean, float(changed.mean(axis=1).std())
    return mean


@validate_params(
    {"cost": ["array-like"], "invalidation": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def cost_invalidation_r2(cost, invalidation):
    """R² of a linear regression of invalidation rate on cost (seed 001, Table 1).

    Seed 001 regresses, with ``scipy.stats.linregress``, the invalidation rate
    of every valid counterfactual (over all methods, LOO and RS) on its cost;
    values near 0 say that cost does not explain invalidation.

    Parameters
    ----------
    cost : array-like of shape (n_samples,)
        Cost of each counterfactual (e.g. its ℓ2 distance).
    invalidation : array-like of shape (n_samples,)
        Its invalidation rate (``invalidation_rate(..., average=False)``).

    Returns
    -------
    r2 : float
        Coefficient of determination in [0, 1]; 0 when either input is constant.

    Examples
    --------
    >>> from skcf.evaluation import cost_invalidation_r2
    >>> cost_invalidation_r2([1.0, 2.0, 3.0], [0.3, 0.2, 0.1])
    1.0
    """
    cost = np.asarray(cost, dtype=np.float64).ravel()
    iv = np.asarray(invalidation, dtype=np.float64).ravel()
    if cost.shape != iv.shape:
        raise ValueError(
            f"cost and invalidation must have the same length, got {cost.size} "
            f"and {iv.size}."
        )
    if not (np.all(np.isfinite(cost)) and np.all(np.isfinite(iv))):
        raise ValueError("cost and invalidation must be finite (no NaN or inf).")
    if cost.size < 2 or np.ptp(cost) == 0 or np.ptp(iv) == 0:
        return 0.0
    r = stats.linregress(cost, iv).rvalue
    return float(min(max(r * r, 0.0), 1.0))
