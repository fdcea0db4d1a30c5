"""Metrics for counterfactual explanations.

Following ``sklearn.metrics``: functions taking data arguments first and
keyword-only options; a ``*_score`` is higher-is-better, a ``*_distance`` is
lower-is-better. :func:`make_cf_scorer` turns any of them into a scorer for
``GridSearchCV``. The retraining metrics :func:`invalidation_rate` and
:func:`cost_invalidation_r2` live in :mod:`skcf.evaluation` and are re-exported
here.
"""

from ..evaluation._invalidation import cost_invalidation_r2, invalidation_rate
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
from ._group import (
    adversarial_saliency_map,
    changed_pixels,
    cluster_count,
    grad_cam,
    group_l0_distance,
    interpretability_score,
)
from ._plausibility import (
    connectedness_score,
    knn_manifold_distance,
    lof_distance,
    sphere_manifold_distance,
    ynn_score,
)
from ._robustness import susceptibility
from ._scorer import make_cf_scorer
from ._timing import time_per_counterfactual
from ._validity import redundancy, validity_score

__all__ = [
    "adversarial_saliency_map",
    "changed_pixels",
    "cluster_count",
    "connectedness_score",
    "constraint_violations",
    "cost_invalidation_r2",
    "grad_cam",
    "group_l0_distance",
    "interpretability_score",
    "invalidation_rate",
    "knn_manifold_distance",
    "l0_distance",
    "l1_distance",
    "l2_distance",
    "linf_distance",
    "lof_distance",
    "make_cf_scorer",
    "median_absolute_deviation",
    "proximity",
    "redundancy",
    "sparsity",
    "sphere_manifold_distance",
    "susceptibility",
    "time_per_counterfactual",
    "validity_score",
    "ynn_score",
]
