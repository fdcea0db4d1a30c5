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


def straight_through_snap(generator, scale):
    """The snapping map that makes a solver straight-through, or None.

    ``snap(x, lo, hi)`` of ``generator``'s constraints when they have one-hot
    groups or integer features to snap; gradients are then taken at the
    snapped point (see :class:`~skcf._engine.Solver`).
    """
    cons = generator._engine_constraints(scale.device, scale.dtype)
    return cons.snap if cons.needs_snapping else None


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


class RetryMissingMixin:
    """Search the rows left without a counterfactual once more.

    Mixed in before :class:`~skcf.base.BaseGenerator`: when :meth:`_retries`,
    the rows its search leaves without a counterfactual run the same search
    again with the engine configuration :meth:`_retry_config` (a random
    start, a straight-through solver...). The rows found the first time keep
    their counterfactuals and costs. The training attacks' searches
    (``keep_last``, ``within_linf``) are not retried.
    """

    def _retries(self):
        """Whether the rows without a counterfactual are searched again."""
        return False

    def _retry_config(self, scale):
        """The engine configuration of the second search."""
        raise NotImplementedError

    def _search(self, model, x0, target, **kw):
        res = super()._search(model, x0, target, **kw)
        if not self._retries() or kw.get("keep_last"):
            return res
        if kw.get("within_linf") is not None:
            return res
        miss = (~res.found).nonzero().squeeze(1)
        if miss.numel() == 0:
            return res
        n = x0.shape[0]

        def rows(v):
            if torch.is_tensor(v) and v.dim() and v.shape[0] == n:
                return v[miss]
            return v

        kw = {k: rows(v) for k, v in kw.items() if k != "progress"}
        if kw.get("extra"):
            kw["extra"] = {k: rows(v) for k, v in kw["extra"].items()}
        again = super()._search(
            model, x0[miss], target[miss], engine_config=self._retry_config, **kw
        )
        ok = again.found
        res.x_cf[miss] = torch.where(ok[:, None], again.x_cf, res.x_cf[miss])
        res.found[miss] = ok
        res.n_iter[miss] += again.n_iter
        res.cost[miss] = torch.where(ok, again.cost, res.cost[miss])
        res.weight[miss] = torch.where(ok, again.weight, res.weight[miss])
        for key, value in res.losses.items():
            value[miss] = torch.where(ok, again.losses[key], value[miss])
        return res
