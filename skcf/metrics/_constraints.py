"""Actionability metric: constraints a counterfactual breaks."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ..base import BaseGenerator
from ..utils._sklearn_compat import StrOptions, validate_params
from ._distance import _check_pair

__all__ = ["constraint_violations"]


@validate_params(
    {
        "X": ["array-like"],
        "X_cf": ["array-like"],
        "generator": [BaseGenerator],
        "reduce": [StrOptions({"mean", "sum"}), None],
    },
    prefer_skip_nested_validation=True,
)
def constraint_violations(X, X_cf, *, generator, reduce=None):
    """Number of actionability constraints each counterfactual breaks.

    Uses the constraints a fitted generator resolved in ``fit``
    (``immutable``, ``increase_only``, ``decrease_only``, ``bounds``,
    ``categorical`` one-hot groups and ``integer`` features), with the same
    tolerance the generators use to flag rows as invalid. Useful to audit
    counterfactuals from any source (another library, a hand edit) against a
    generator's constraints. Note that the rows ``explain`` flags valid break no
    constraint by construction, and the rows it flags invalid are returned
    unchanged.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual rows.
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals.
    generator : BaseGenerator
        A fitted skcf generator whose constraints are checked.
    reduce : {"mean", "sum"} or None, default=None
        Aggregation over rows; None returns the per-row counts.

    Returns
    -------
    violations : ndarray of shape (n_samples,) or float or int
        Per-row counts, their mean (``nan`` for no rows) or their sum.

    See Also
    --------
    skcf.base.CounterfactualSet.violations : The counts ``explain`` reports.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.generators import WachterGenerator
    >>> from skcf.metrics import constraint_violations
    >>> X = np.array([[0., 0.], [1., 1.], [2., 0.], [3., 1.]])
    >>> clf = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> gen = WachterGenerator(clf, immutable=[1], bounds={0: (0, 3)}).fit(X)
    >>> X_cf = np.array([[1., 0.], [1., 2.], [5., 0.], [5., 3.]])
    >>> constraint_violations(X, X_cf, generator=gen).tolist()
    [0, 1, 1, 2]
    >>> constraint_violations(X, X_cf, generator=gen, reduce="mean")
    1.0
    """
    check_is_fitted(generator)
    X, X_cf = _check_pair(X, X_cf, "constraint_violations")
    d = generator.n_features_in_
    if X.shape[1] != d:
        raise ValueError(
            f"X has {X.shape[1]} features, but the 'generator' parameter of "
            f"constraint_violations ({type(generator).__name__}) was fitted on {d} "
            "features."
        )
    if X.shape[0]:
        cons = generator._engine_constraints("cpu", torch.float64)
        counts = cons.violations(
            torch.as_tensor(X_cf, dtype=torch.float64),
            torch.as_tensor(X, dtype=torch.float64),
        )
        counts = counts.numpy().astype(np.int64)
    else:
        counts = np.zeros(0, dtype=np.int64)
    if reduce is None:
        return counts
    if reduce == "sum":
        return int(counts.sum())
    return float(counts.mean()) if len(counts) else float("nan")
