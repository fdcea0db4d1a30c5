"""Utilities: estimator discovery and generator checks."""

from .discovery import all_estimators

__all__ = ["all_estimators"]
