"""Model adapters: turn what the user has into a differentiable ``logits(x)``."""

from ._adapters import (
    BlackBoxModel,
    DifferentiableModel,
    as_differentiable,
    as_model,
    is_differentiable,
)

__all__ = [
    "BlackBoxModel",
    "DifferentiableModel",
    "as_differentiable",
    "as_model",
    "is_differentiable",
]
