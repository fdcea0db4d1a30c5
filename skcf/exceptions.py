"""Exceptions and warnings raised by skcf."""

from sklearn.exceptions import NotFittedError

__all__ = [
    "SkcfException",
    "SkcfWarning",
    "NotDifferentiableError",
    "ConstraintError",
    "CounterfactualWarning",
    "DeviceWarning",
    "NotFittedError",
]


class SkcfException(Exception):
    """Base class for all skcf exceptions."""


class SkcfWarning(UserWarning):
    """Base class for all skcf warnings."""


class NotDifferentiableError(SkcfException, TypeError):
    """The model cannot be differentiated, but a gradient method was asked to use it.

    Raised by :func:`skcf.models.as_differentiable` for black-box models (anything
    exposing only ``predict_proba``). Subclasses :class:`TypeError` so existing
    ``except TypeError`` clauses keep working.
    """


class ConstraintError(SkcfException, ValueError):
    """Actionability constraints are contradictory or refer to unknown features."""


class CounterfactualWarning(SkcfWarning):
    """Some rows got no valid counterfactual (issued once per call with the count)."""


class DeviceWarning(SkcfWarning):
    """A fitted object was loaded on a device other than the one it was saved on."""
