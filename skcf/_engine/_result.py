"""Result container of the engine."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class SearchResult:
    """What :func:`~skcf._engine.solve` returns (tensors on the engine device).

    Attributes
    ----------
    x_cf : Tensor of shape (n, d)
        Best counterfactual per row; the factual row where none was found.
    found : Tensor of shape (n,), bool
        Whether a candidate satisfying the validity rule was found.
    n_iter : Tensor of shape (n,)
        Solver iterations of each row's search (over all its rounds; the
        branches a speculative search ran and discarded are not counted).
    cost : Tensor of shape (n,)
        Cost (sum of the non-prediction terms) of ``x_cf``; ``inf`` if not found.
    weight : Tensor of shape (n,)
        Final prediction-loss weight ``c`` (binary search) or radius (radius search).
    losses : dict of str to Tensor
        Value of each term at ``x_cf``, per row.
    x_within : Tensor of shape (n, d) or None
        Last iterate inside the ``within_linf`` ball (only when requested).
    """

    x_cf: Tensor
    found: Tensor
    n_iter: Tensor
    cost: Tensor
    weight: Tensor
    losses: dict = field(default_factory=dict)
    x_within: Tensor | None = None

    @classmethod
    def concat(cls, parts: list[SearchResult]) -> SearchResult:
        keys = parts[0].losses.keys()
        return cls(
            torch.cat([p.x_cf for p in parts]),
            torch.cat([p.found for p in parts]),
            torch.cat([p.n_iter for p in parts]),
            torch.cat([p.cost for p in parts]),
            torch.cat([p.weight for p in parts]),
            {k: torch.cat([p.losses[k] for p in parts]) for k in keys},
            None
            if parts[0].x_within is None
            else torch.cat([p.x_within for p in parts if p.x_within is not None]),
        )
