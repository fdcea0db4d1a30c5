"""Plots (matplotlib is imported lazily, only when a plot is drawn)."""

from ._counterfactual import CounterfactualDisplay

__all__ = ["CounterfactualDisplay"]
