"""Searches over a per-row scalar, vectorised across rows.

* :class:`CSearch`: EAD/Wachter binary search on the prediction-loss weight ``c``.
* :class:`RadiusSearch`: increasing radius (min-ε PGD, seed 001 App. B.3).

Both are plain configuration objects; :func:`~skcf._engine.solve` runs them.
"""

from __future__ import annotations

import torch
from torch import Tensor


class CSearch:
    """Binary search on ``c`` per row (Carlini–Wagner / EAD style).

    After each round, rows that found a valid counterfactual halve the gap
    towards a smaller ``c`` (cheaper counterfactuals); rows that failed multiply
    ``c`` by ``factor`` until an upper bound is known, then bisect.

    Parameters
    ----------
    initial : float
        Starting weight of the prediction terms.
    n_steps : int
        Number of rounds (each restarts from the factual).
    factor : float
        Growth of ``c`` while no upper bound is known.
    """

    def __init__(self, initial: float = 1.0, n_steps: int = 5, factor: float = 10.0):
        self.initial = float(initial)
        self.n_steps = int(n_steps)
        self.factor = float(factor)

    def init(self, n: int, like: Tensor) -> dict[str, Tensor]:
        return {
            "c": torch.full((n,), self.initial, dtype=like.dtype, device=like.device),
            "lo": torch.zeros(n, dtype=like.dtype, device=like.device),
            "hi": torch.full((n,), float("inf"), dtype=like.dtype, device=like.device),
        }

    def update(self, state: dict[str, Tensor], success: Tensor) -> None:
        c, lo, hi = state["c"], state["lo"], state["hi"]
        hi = torch.where(success, torch.minimum(hi, c), hi)
        lo = torch.where(success, lo, torch.maximum(lo, c))
        c = torch.where(torch.isfinite(hi), (lo + hi) / 2, c * self.factor)
        state.update(c=c, lo=lo, hi=hi)


class RadiusSearch:
    """Increasing radius search: radii ``max_radius · k / n_radii``, k = 1..n_radii.

    Each row stops at the first radius for which a valid counterfactual exists.
    With ``n_radii=1`` it is a single fixed-radius attack.

    Parameters
    ----------
    max_radius : float or Tensor of shape (n,)
    n_radii : int
    random_start : bool
        Start each radius from a random point of the ball instead of ``x0``.
    """

    def __init__(self, max_radius, n_radii: int = 10, random_start: bool = False):
        self.max_radius = max_radius
        self.n_radii = int(n_radii)
        self.random_start = bool(random_start)

    def radius(self, k: int, n: int, like: Tensor) -> Tensor:
        r = torch.as_tensor(self.max_radius, dtype=like.dtype, device=like.device)
        return (r * (k + 1) / self.n_radii).expand(n).clone()
