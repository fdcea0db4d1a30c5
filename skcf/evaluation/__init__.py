"""Retraining studies: how consistent are counterfactuals across related models.

Leave-one-out and random-seed families of models (seed 001 §5), trained through
joblib (so a Dask or Ray backend spreads them over a cluster) and cached on
disk, the invalidation rate of counterfactuals against a family, and the R² of
invalidation on cost.
"""

from ._invalidation import cost_invalidation_r2, invalidation_rate
from ._retraining import ModelFamily, fit_seeded, make_model_family

__all__ = [
    "ModelFamily",
    "cost_invalidation_r2",
    "fit_seeded",
    "invalidation_rate",
    "make_model_family",
]
