"""Metrics for counterfactual explanations.

Following ``sklearn.metrics``: functions taking data arguments first and
keyword-only options; a ``*_score`` is higher-is-better, a ``*_distance`` is
lower-is-better. :func:`make_cf_scorer` turns any of them into a scorer for
``GridSearchCV``.
"""

from ._constraints import constraint_violations
from ._distance import (
    l0_distance,
    l1_distance,
    l2_distance,
    linf_distance,
    median_absolute_deviation,
    proximity,
    sparsity,
)
from ._scorer import make_cf_scorer
from ._validity import redundancy, validity_score

__all__ = [
    "constraint_violations",
    "l0_distance",
    "l1_distance",
    "l2_distance",
    "linf_distance",
    "make_cf_scorer",
    "median_absolute_deviation",
    "proximity",
    "redundancy",
    "sparsity",
    "validity_score",
]
