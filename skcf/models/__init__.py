"""Model adapters: turn what the user has into a differentiable ``logits(x)``."""

from ._adapters import (
    BlackBoxModel,
    DifferentiableModel,
    as_differentiable,
    as_model,
    is_differentiable,
)
from ._mlp import MLP
from ._space import TabularSpace

__all__ = [
    "BlackBoxModel",
    "DifferentiableModel",
    "MLP",
    "TabularSpace",
    "as_differentiable",
    "as_model",
    "is_differentiable",
]
