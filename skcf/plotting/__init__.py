"""Plots (matplotlib is imported lazily, only when a plot is drawn)."""

from ._counterfactual import CounterfactualDisplay
from ._recourse import RecourseDisplay
from ._stability import StabilityDisplay

__all__ = ["CounterfactualDisplay", "RecourseDisplay", "StabilityDisplay"]
