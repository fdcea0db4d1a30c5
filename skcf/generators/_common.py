"""Pieces shared by several generators (term factories, parameter checks)."""

from numbers import Integral, Real

import numpy as np
import torch

from .._engine import CrossEntropyLoss, HingeLoss, solve
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

    Mixed in before :class:`~skcf.base.BaseGenerator`: after its search, the
    rows without a counterfactual run again with the engine configuration
    :meth:`_retry_config` gives (a random start, a straight-through
    solver...); no retry when it gives None. The rows found the first time
    keep their counterfactuals and costs.
    """

    def _retry_config(self, scale):
        """The engine configuration of the second search, or None."""
        return None

    def _search(self, model, x0, target, **kw):
        res = super()._search(model, x0, target, **kw)
        return search_missing_again(self, res, model, x0, target, **kw)


def search_missing_again(generator, res, model, x0, target, **kw):
    """Search the rows ``res`` left without a counterfactual again; merge.

    ``res`` is ``generator``'s own search (:meth:`BaseGenerator._search` with
    the keywords ``kw``) of ``x0``; the rows it did not find run once more
    with the engine configuration ``generator._retry_config(scale)``; nothing
    runs when that is None. The rows it found are returned as they are, so
    their counterfactuals and costs do not change. The training attacks'
    searches (``keep_last``, ``within_linf``) are returned as they are.
    """
    if kw.get("keep_last") or kw.get("within_linf") is not None:
        return res
    miss = (~res.found).nonzero().squeeze(1)
    if miss.numel() == 0:
        return res
    n = x0.shape[0]

    def rows(v):
        if torch.is_tensor(v) and v.dim() and v.shape[0] == n:
            return v[miss]
        return v

    config = generator._retry_config(
        torch.as_tensor(generator.scale_, device=x0.device, dtype=x0.dtype)
    )
    if config is None:
        return res
    if kw.get("extra"):
        config["extra"] = {k: rows(v) for k, v in kw["extra"].items()}
    if kw.get("max_iter") is not None:
        config["max_iter"] = int(kw["max_iter"])
    again = solve(
        model,
        x0[miss],
        target[miss],
        constraints=generator._engine_constraints(x0.device, x0.dtype),
        untargeted=rows(kw.get("untargeted")),
        y0=rows(kw.get("y0")),
        tau=generator.tau,
        batch_size=generator.batch_size,
        seed=kw.get("seed"),
        **config,
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
