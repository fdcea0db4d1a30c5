"""Engine pieces for CEM (Dhurandhar et al. 2018) and DCFE (Wachter et al. 2017).

Purely additive to the engine: each class extends an existing one.

* :class:`BaseRelativeConstraints`: CEM's positivity constraint relative to a
  base value (pertinent negatives only move features away from the base;
  pertinent positives lie between the base and the factual), as per-row boxes.
* :class:`AnchoredL1Distance`, :class:`AnchoredL2Distance`: the elastic-net
  terms measured from a fixed anchor (the base) instead of the factual, for
  pertinent positives, whose size is what is kept of the input.
* :class:`AnchoredFISTA`: FISTA whose ℓ1 shrinkage pulls towards that anchor
  and whose start may be given (a pertinent positive starts from the base).
* :class:`SquaredProbabilityLoss`: Wachter et al.'s ``(f_t(x) - y')²``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ._constraints import Constraints
from ._solvers import FISTA, StepContext, _masked
from ._terms import L1Distance, L2Distance, Term, TermContext, _class_for_density

__all__ = [
    "AnchoredFISTA",
    "AnchoredL1Distance",
    "AnchoredL2Distance",
    "BaseRelativeConstraints",
    "SquaredProbabilityLoss",
]


@dataclass
class BaseRelativeConstraints(Constraints):
    """Constraints plus CEM's positivity rule relative to a base value ``b``.

    ``mode="pn"`` (pertinent negative, ``x = x0 + δ``): a feature may only
    move away from the base, i.e. increase where ``x0 ≥ b`` and decrease
    where ``x0 < b`` (with ``b`` the feature minimum: increase only, the
    "only add what is absent" of the paper). ``mode="pp"`` (pertinent
    positive): the point lies between the base and the factual, coordinate
    by coordinate (a part of ``x0``). The rule applies to the features in
    ``based`` (all when None) on top of every other constraint.
    """

    base: Tensor | None = None
    mode: str = "pn"
    based: Tensor | None = None

    @classmethod
    def wrap(
        cls,
        cons: Constraints,
        base: Tensor,
        mode: str,
        based: Tensor | None = None,
    ) -> BaseRelativeConstraints:
        """``cons`` with the base rule of ``mode`` ({"pn", "pp"}) added."""
        if mode not in ("pn", "pp"):
            raise ValueError(f"mode must be 'pn' or 'pp', got {mode!r}")
        return cls(
            cons.lower,
            cons.upper,
            cons.mutable,
            cons.increase_only,
            cons.decrease_only,
            cons.groups,
            cons.integer,
            cons.step,
            cons.origin,
            cons.rank,
            cons.rank_dir,
            cons.stay,
            base=base.to(device=cons.lower.device, dtype=cons.lower.dtype),
            mode=mode,
            based=None if based is None else based.to(cons.lower.device),
        )

    def to(self, device, dtype=torch.float32) -> BaseRelativeConstraints:
        if self.base is None:
            raise ValueError("BaseRelativeConstraints needs a base tensor.")
        return BaseRelativeConstraints.wrap(
            super().to(device, dtype), self.base, self.mode, self.based
        )

    def _ruled(self) -> Tensor:
        """Features the base rule applies to: mutable and ``based``."""
        m = self.mutable
        return m if self.based is None else m & self.based

    def row_bounds(self, x0: Tensor) -> tuple[Tensor, Tensor]:
        lo, hi = super().row_bounds(x0)
        if self.base is None:
            return lo, hi
        b = self.base.expand_as(x0)
        ruled = self._ruled()
        if self.mode == "pn":
            up = x0 >= b
            lo = torch.where(ruled & up, torch.maximum(lo, x0), lo)
            hi = torch.where(ruled & ~up, torch.minimum(hi, x0), hi)
        else:
            lo = torch.where(ruled, torch.maximum(lo, torch.minimum(b, x0)), lo)
            hi = torch.where(ruled, torch.minimum(hi, torch.maximum(b, x0)), hi)
        frozen = lo > hi  # e.g. a factual outside the bounds: stays, is judged
        return torch.where(frozen, x0, lo), torch.where(frozen, x0, hi)

    def violation_flags(
        self, x: Tensor, x0: Tensor, tol: Tensor | float = 0.0
    ) -> tuple[Tensor, Tensor | None]:
        bad, group_bad = super().violation_flags(x, x0, tol)
        if self.base is None:
            return bad, group_bad
        b = self.base.expand_as(x0)
        ruled = self._ruled()
        if self.mode == "pn":
            up = x0 >= b
            delta = x - x0
            wrong = (up & (delta < -tol)) | (~up & (delta > tol))
        else:
            wrong = (x < torch.minimum(b, x0) - tol) | (x > torch.maximum(b, x0) + tol)
        return bad | (ruled & wrong), group_bad


class AnchoredL1Distance(L1Distance):
    """``sum_j w_j |x_j - a_j|`` for a fixed anchor ``a`` of shape ``(d,)``.

    An :class:`L1Distance`, so solvers with a prox handle it; the prox must
    then shrink towards the same anchor (:class:`AnchoredFISTA`).
    """

    def __init__(
        self,
        anchor: Tensor,
        weight: float = 1.0,
        feature_weights: Tensor | None = None,
    ) -> None:
        super().__init__(weight, feature_weights)
        self.anchor = anchor

    def _origin(self, ctx: TermContext) -> Tensor:
        return self.anchor


class AnchoredL2Distance(L2Distance):
    """``sum_j (w_j (x_j - a_j))²`` for a fixed anchor ``a`` of shape ``(d,)``."""

    def __init__(
        self,
        anchor: Tensor,
        weight: float = 1.0,
        feature_weights: Tensor | None = None,
        squared: bool = True,
    ) -> None:
        super().__init__(weight, feature_weights, squared)
        self.anchor = anchor

    def _origin(self, ctx: TermContext) -> Tensor:
        return self.anchor


class AnchoredFISTA(FISTA):
    """FISTA whose ℓ1 shrinkage pulls towards ``anchor`` rather than ``x0``.

    ``x_{k+1} = P(a + S_θ(y_k - lr_k ∇g(y_k) - a))``: the proximal step of
    ``β‖x - a‖₁`` plus the feasible set. ``start(x0)`` gives the first
    iterate of each row (default ``x0``); it should be feasible.

    Parameters
    ----------
    lr, decay, shrinkage
        As :class:`FISTA`.
    anchor : Tensor of shape (d,), optional
        Centre of the shrinkage (None: ``x0``, plain FISTA).
    start : callable, optional
        ``start(x0) -> x`` of the same shape.
    """

    def __init__(
        self,
        lr: float = 0.01,
        decay: str | None = "sqrt",
        shrinkage: str = "prox",
        anchor: Tensor | None = None,
        start: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__(lr, decay, shrinkage)
        self.anchor = anchor
        self.start = start

    def init(self, x0: Tensor) -> dict[str, Tensor]:
        x = x0.clone() if self.start is None else self.start(x0).detach().clone()
        return {"x": x, "y": x.clone()}

    def step(self, state: dict[str, Tensor], grad: Tensor, ctx: StepContext) -> None:
        a = ctx.x0 if self.anchor is None else self.anchor.expand_as(ctx.x0)
        lr = self._lr(ctx)
        z = self._prox(state["y"] - _masked(lr * grad, ctx.grad_mask) - a, ctx, lr)
        x_new = ctx.project(a + z)
        k = ctx.it
        y_new = x_new + (k / (k + 3.0)) * (x_new - state["x"])
        state["x"] = x_new
        state["y"] = ctx.project(y_new)


class SquaredProbabilityLoss(Term):
    """Wachter et al.'s prediction loss ``(p_t(x) - y')²``.

    ``p_t`` is the softmax probability of the target class (for untargeted
    rows, of the best class other than ``y0``) and ``y'`` the desired output
    ``target_proba``.
    """

    is_prediction = True

    def __init__(self, weight: float = 1.0, target_proba: float = 1.0) -> None:
        super().__init__(weight)
        self.target_proba = float(target_proba)

    def value(self, ctx: TermContext) -> Tensor:
        cls = _class_for_density(ctx)
        p = torch.softmax(ctx.logits, dim=1).gather(1, cls.view(-1, 1)).squeeze(1)
        return (p - self.target_proba).pow(2)
