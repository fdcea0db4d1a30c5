"""Shared pieces of the density estimators: ``score`` and torch query helpers."""

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin


class BaseDensity(DensityMixin, BaseEstimator):
    """Base class of skcf densities (not for direct use).

    Subclasses implement ``fit``, ``score_samples``, ``sample`` and
    ``torch_log_density``; ``score`` is their sum, as in ``KernelDensity``.
    """

    def score(self, X, y=None):
        """Total log density (sum of :meth:`score_samples`) of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.

        y : None
            Ignored; present for API consistency.

        Returns
        -------
        log_likelihood : float
            Sum of ``score_samples(X)`` (``GaussianMixture.score`` would be the
            mean).
        """
        return float(np.sum(self.score_samples(X)))


# Largest number of (query, training point) pairs evaluated at once by the torch
# closures of this package; larger batches are cut into row chunks.
_MAX_PAIRS = 50_000_000


def _check_query(x, n_features, device, dtype, owner):
    """Validate a query tensor for a torch log-density closure and cast it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"The log density of {owner} expects a torch.Tensor of shape "
            f"(n, {n_features}). Got {type(x).__name__} instead."
        )
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(
            f"The log density of {owner} expects a tensor of shape "
            f"(n, {n_features}). Got shape {tuple(x.shape)} instead."
        )
    return x.to(device=device, dtype=dtype)


def _rowwise(fn, x, cost_per_row):
    """Apply ``fn`` to row chunks of ``x`` so that no chunk exceeds ``_MAX_PAIRS``.

    When gradients are tracked, each chunk is checkpointed (recomputed in the
    backward pass) so that the memory bound also holds for ``backward``.
    """
    n = x.shape[0]
    chunk = max(1, _MAX_PAIRS // max(1, int(cost_per_row)))
    if n <= chunk:
        return fn(x)
    track = torch.is_grad_enabled() and x.requires_grad
    parts = []
    for start in range(0, n, chunk):
        xb = x[start : start + chunk]
        if track:
            from torch.utils.checkpoint import checkpoint

            parts.append(checkpoint(fn, xb, use_reentrant=False))
        else:
            parts.append(fn(xb))
    return torch.cat(parts)


def _rowwise_pair(fn, x, cost_per_row):
    """:func:`_rowwise` for an ``fn`` returning ``(value, grad)``, no autograd."""
    n = x.shape[0]
    chunk = max(1, _MAX_PAIRS // max(1, int(cost_per_row)))
    if n <= chunk:
        return fn(x)
    parts = [fn(x[start : start + chunk]) for start in range(0, n, chunk)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
