"""Run-time metric: seconds spent per counterfactual."""

from __future__ import annotations

from ..base import CounterfactualSet
from ..utils._sklearn_compat import validate_params

__all__ = ["time_per_counterfactual"]


@validate_params({"cf_set": [CounterfactualSet]}, prefer_skip_nested_validation=True)
def time_per_counterfactual(cf_set):
    """Wall time of ``explain`` divided by the number of rows (lower is better).

    Seed 004 reports the average run time of each method (Table 3, "Time").
    ``explain`` records its wall time in ``cf_set.elapsed``; the time is
    spread evenly over the rows, whether or not a valid counterfactual was
    found for them.

    Parameters
    ----------
    cf_set : CounterfactualSet
        The result of a generator's ``explain``.

    Returns
    -------
    seconds : float
        ``cf_set.elapsed / len(cf_set)``; ``nan`` for an empty set.

    See Also
    --------
    skcf.base.CounterfactualSet.elapsed : The total wall time.

    References
    ----------
    Seed 004, "Evaluation Metrics" ("average runtime per method") and Table 3.

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.base import CounterfactualSet
    >>> from skcf.metrics import time_per_counterfactual
    >>> cf = CounterfactualSet(X=np.zeros((4, 1)), X_cf=np.ones((4, 1)),
    ...     y_pred=np.zeros(4, int), y_cf_pred=np.ones(4, int),
    ...     target=np.ones(4, dtype=object), valid=np.ones(4, bool),
    ...     violations=np.zeros(4, int), n_iter=np.full(4, 10),
    ...     feature_names=np.array(["a"]), elapsed=2.0)
    >>> time_per_counterfactual(cf)
    0.5
    """
    n = len(cf_set)
    return float(cf_set.elapsed) / n if n else float("nan")
