"""Pieces shared by several generators (term factories, parameter checks)."""

from numbers import Integral, Real

import numpy as np
import torch

from .._engine import CrossEntropyLoss, HingeLoss
from ..utils._sklearn_compat import Interval, StrOptions

PREDICTION_LOSSES = {"ce": CrossEntropyLoss, "hinge": HingeLoss}

loss_constraint = [StrOptions({"ce", "hinge"})]
confidence_constraint = [Interval(Real, 0, None, closed="left")]
max_iter_constraint = [Interval(Integral, 1, None, closed="left")]
feature_weights_constraint = [StrOptions({"mad"}), "array-like", None]


def prediction_term(loss, confidence=0.0):
    """The prediction-loss term named by ``loss`` ({"ce", "hinge"})."""
    if loss == "hinge":
        return HingeLoss(confidence=confidence)
    return CrossEntropyLoss()


def feature_weights(spec, scale, n_features, name="feature_weights"):
    """``"mad"`` -> 1/MAD, array -> as given, None -> None (tensor like ``scale``)."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return 1.0 / scale
    w = np.asarray(spec, dtype=np.float64)
    if w.shape != (n_features,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(
            f"{name} must be 'mad', None or {n_features} finite non-negative "
            f"weights, got shape {w.shape}."
        )
    return torch.as_tensor(w, dtype=scale.dtype, device=scale.device)
