"""Samplers for imbalanced learning (imbalanced-learn API).

:class:`CounterfactualSampler` over-samples a class with counterfactuals of
rows of the other classes (counterfactual data augmentation); it works in an
``imblearn.pipeline.Pipeline`` and in ``GridSearchCV``.
"""

from ._counterfactual_sampler import CounterfactualSampler

__all__ = ["CounterfactualSampler"]
