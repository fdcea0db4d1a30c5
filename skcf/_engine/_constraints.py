"""Actionability constraints as tensors: gradient masks, projection, snapping."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class Constraints:
    """Feature-wise actionability constraints in engine form.

    Parameters
    ----------
    lower, upper : Tensor of shape (d,)
        Global bounds (``-inf``/``inf`` for none).
    mutable : Tensor of shape (d,), bool
        ``False`` for immutable features.
    increase_only, decrease_only : Tensor of shape (d,), bool
        One-directional features.
    groups : list of Tensor
        One-hot groups, each a 1-D tensor of column indices.
    integer : Tensor of shape (d,), bool
        Integer-valued features (rounded at the end).
    """

    lower: Tensor
    upper: Tensor
    mutable: Tensor
    increase_only: Tensor
    decrease_only: Tensor
    groups: list = field(default_factory=list)
    integer: Tensor | None = None

    @classmethod
    def unconstrained(cls, d: int, device="cpu", dtype=torch.float32) -> Constraints:
        inf = torch.full((d,), float("inf"), device=device, dtype=dtype)
        false = torch.zeros(d, dtype=torch.bool, device=device)
        return cls(-inf, inf.clone(), ~false, false.clone(), false.clone(), [], None)

    def to(self, device, dtype=torch.float32) -> Constraints:
        return Constraints(
            self.lower.to(device=device, dtype=dtype),
            self.upper.to(device=device, dtype=dtype),
            self.mutable.to(device),
            self.increase_only.to(device),
            self.decrease_only.to(device),
            [g.to(device) for g in self.groups],
            None if self.integer is None else self.integer.to(device),
        )

    @property
    def needs_snapping(self) -> bool:
        return bool(self._mutable_groups()) or (
            self.integer is not None and bool((self.integer & self.mutable).any())
        )

    def _mutable_groups(self) -> list:
        return [g for g in self.groups if bool(self.mutable[g].any())]

    def grad_mask(self) -> Tensor:
        """1.0 on mutable features, 0.0 on immutable ones."""
        return self.mutable.to(self.lower.dtype)

    def row_bounds(self, x0: Tensor) -> tuple[Tensor, Tensor]:
        """Per-row box ``[lo, hi]`` combining bounds, directions and immutability.

        A mutable factual value outside the bounds is projected into them. If
        its direction forbids that (increase-only above the upper bound, say),
        the feature is frozen at its factual value and the counterfactual
        reports the bound violation, so it is never called valid.
        """
        lo = self.lower.expand_as(x0)
        hi = self.upper.expand_as(x0)
        lo = torch.where(self.increase_only, torch.maximum(lo, x0), lo)
        hi = torch.where(self.decrease_only, torch.minimum(hi, x0), hi)
        frozen = (~self.mutable) | (lo > hi)
        lo = torch.where(frozen, x0, lo)
        hi = torch.where(frozen, x0, hi)
        return lo, hi

    @staticmethod
    def clamp(x: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
        """Clamp to the per-row box (the exact Euclidean projection onto it)."""
        return torch.minimum(torch.maximum(x, lo), hi)

    def project(self, x: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
        """Project onto the box, then each mutable one-hot group onto the simplex.

        The simplex (the convex hull of the one-hot vectors) is the relaxation
        the optimiser moves in; :meth:`snap` turns its points into one-hots. The
        simplex lies inside ``[0, 1]``, so one-hot columns stay in their bounds.
        """
        x = self.clamp(x, lo, hi)
        groups = self._mutable_groups()
        if groups:
            x = x.clone()
            for g in groups:  # few groups; each projection is vectorised over rows
                x[:, g] = _project_simplex(x[:, g])
        return x

    def snap(self, x: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
        """Make mutable one-hot groups valid one-hots and round integer features."""
        groups = self._mutable_groups()
        if groups:
            x = x.clone()
            for g in groups:  # loop over groups (few), vectorised over rows
                block = x[:, g]
                allowed = hi[:, g] > 0.5  # a column whose upper bound is 0 stays off
                block = torch.where(allowed, block, torch.full_like(block, -torch.inf))
                winner = block.argmax(dim=1, keepdim=True)
                x[:, g] = torch.zeros_like(block).scatter_(1, winner, 1.0)
        if self.integer is not None and bool(self.integer.any()):
            rounded = torch.round(x)
            rounded = torch.minimum(
                torch.maximum(rounded, torch.ceil(lo)), torch.floor(hi)
            )
            x = torch.where(self.integer & self.mutable, rounded, x)
        return x

    def violations(self, x: Tensor, x0: Tensor, atol: float = 1e-5) -> Tensor:
        """Number of violated feature constraints per row, shape ``(n,)``."""
        tol = atol * (1.0 + x0.abs())
        delta = x - x0
        bad = (~self.mutable) & (delta.abs() > tol)
        # bounds bind what may move; an immutable feature is what it is
        bad |= self.mutable & ((x < self.lower - tol) | (x > self.upper + tol))
        bad |= self.increase_only & (delta < -tol)
        bad |= self.decrease_only & (delta > tol)
        if self.integer is not None:
            bad |= self.integer & ((x - torch.round(x)).abs() > tol)
        count = bad.sum(dim=1)
        for g in self._mutable_groups():
            block = x[:, g]
            not_binary = ((block - block.round()).abs() > atol).any(dim=1)
            not_single = (block.sum(dim=1) - 1.0).abs() > atol
            count = count + (not_binary | not_single).long()
        return count


def _project_simplex(v: Tensor) -> Tensor:
    """Euclidean projection of each row of ``v`` onto the probability simplex.

    Sort-based algorithm of Duchi et al. (2008), vectorised over rows.
    """
    k = v.shape[1]
    u, _ = torch.sort(v, dim=1, descending=True)
    css = torch.cumsum(u, dim=1) - 1.0
    ind = torch.arange(1, k + 1, device=v.device, dtype=v.dtype)
    cond = (u - css / ind) > 0
    rho = k - 1 - torch.argmax(cond.flip(1).to(torch.int8), dim=1)  # last True
    theta = css.gather(1, rho.view(-1, 1)) / (rho.view(-1, 1) + 1).to(v.dtype)
    return torch.clamp(v - theta, min=0.0)
