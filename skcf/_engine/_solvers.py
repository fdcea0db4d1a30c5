"""Solvers: one update rule each, applied to whole batches of rows.

A solver keeps its per-row state in a dict of tensors whose first dimension is
the row. The engine hands it only the active rows, so frozen rows cost nothing.
Every solver projects its iterate onto the per-row box after each step, which
keeps iterates finite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class StepContext:
    """Per-step inputs shared by all solvers (already restricted to active rows)."""

    x0: Tensor
    lo: Tensor
    hi: Tensor
    project: Callable[[Tensor], Tensor]  # onto the rows' feasible set
    grad_mask: Tensor | float  # 1.0: every feature mutable
    it: int
    max_iter: int
    l1_weight: Tensor | None = None  # (d,) ℓ1 weights of the L1Distance terms
    radius: Tensor | None = None  # (n,) ball radius for projected gradient
    groups: tuple | None = None  # Constraints.packed_groups(): (index, mask, cols)
    # the engine's snap of these rows (box plan computed once per view), given
    # when it is the solver's own ``snap`` map: same values, fewer operations
    snap: Callable[[Tensor], Tensor] | None = None


Snap = Callable[[Tensor, Tensor, Tensor], Tensor]


def _masked(grad: Tensor, mask) -> Tensor:
    """``grad * mask``; a mask of plain ``1.0`` (nothing frozen) costs nothing."""
    if isinstance(mask, float) and mask == 1.0:
        return grad  # g * 1.0 == g bit for bit
    return grad * mask


class Solver:
    """Base class: plain projected (sub)gradient step hooks.

    A solver given a ``snap(x, lo, hi)`` map (e.g.
    :meth:`Constraints.snap <skcf._engine.Constraints.snap>`) is a
    straight-through estimator: the engine evaluates loss and gradient at the
    snapped point (one-hot groups set to their largest option, integers
    rounded), and the step updates the relaxed iterate. Without it the gradient
    is taken at the relaxed point, where a model may already be confident
    although the snapped point, the one judged, is not a counterfactual.
    """

    #: how the solver handles ℓ1 terms: None (autograd sub-gradient), "prox"
    #: (shrinkage-thresholding) or "orthant" (orthant-wise steps, exact zeros)
    l1_mode: str | None = None
    #: whether the solver needs a radius per row (projected gradient)
    needs_radius: bool = False
    #: every state tensor is a point projected onto the row box after each
    #: step (so finite when the box is): the engine skips its finiteness guard
    projects_state: bool = False
    #: straight-through map of the query point (see the class docstring)
    snap: Snap | None = None
    #: state entries that are running averages of the (finite) gradients, not
    #: points: the engine's finiteness guard leaves them alone (a point
    #: computed from an overflowed one is caught by the guard on the point)
    moments: tuple[str, ...] = ()

    def init(self, x0: Tensor) -> dict[str, Tensor]:
        return self._with_query({"x": x0.clone()})

    def query(self, state: dict[str, Tensor]) -> Tensor:
        """Point at which the engine evaluates loss and gradient."""
        return state["q"] if "q" in state else state["x"]

    def _with_query(self, state: dict[str, Tensor]) -> dict[str, Tensor]:
        """Add the straight-through query (the start: already a snapped point)."""
        if self.snap is not None:
            state["q"] = state["x"].clone()
        return state

    def _snap_query(self, state: dict[str, Tensor], ctx: StepContext) -> None:
        """After a step: the next query is the snapped iterate."""
        if self.snap is not None:
            x = state["x"]
            state["q"] = (
                ctx.snap(x) if ctx.snap is not None else self.snap(x, ctx.lo, ctx.hi)
            )

    def candidate(self, state: dict[str, Tensor]) -> Tensor:
        """Current iterate, the point considered as a counterfactual."""
        return state["x"]

    def step(self, state: dict[str, Tensor], grad: Tensor, ctx: StepContext) -> None:
        raise NotImplementedError  # pragma: no cover

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


def _orthant_gradient(g: Tensor, delta: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """Pseudo-gradient of ``smooth + Σ w_j |δ_j|`` and the orthant to stay in.

    OWL-QN's rule (Andrew & Gao, 2007): away from zero the ℓ1 gradient is
    ``w·sign(δ)``; at zero a coordinate only leaves if the smooth gradient
    beats ``w``, and then in the direction of descent.
    """
    sign = torch.sign(delta)
    at_zero = sign == 0
    # g - w above w, g + w below -w, 0 between (w >= 0): the part of g that
    # the clamp to [-w, w] cuts off, the same values (g - (-w) is g + w
    # exactly; a zero may keep g's sign, which no later step reads)
    leave = g - torch.clamp(g, -w, w)
    pseudo = torch.where(at_zero, leave, g + w * sign)
    orthant = torch.where(at_zero, -torch.sign(pseudo), sign)
    return pseudo, orthant


def _stay_in_orthant(x: Tensor, x0: Tensor, orthant: Tensor) -> Tensor:
    """Zero the coordinates of ``x - x0`` that left their orthant (exact zeros)."""
    delta = x - x0
    return torch.where(torch.sign(delta) == orthant, x, x0)


class SGD(Solver):
    """Projected gradient descent with a fixed learning rate.

    ℓ1 terms are handled orthant-wise, so unchanged features stay exactly unchanged.

    Parameters
    ----------
    lr : float
    snap : callable, optional
        ``snap(x, lo, hi)``: take gradients at the snapped point (straight-through
        estimator; see :class:`Solver`).
    """

    l1_mode = "orthant"

    def __init__(self, lr: float = 0.1, snap: Snap | None = None) -> None:
        self.lr = float(lr)
        self.snap = snap

    def step(self, state, grad, ctx):
        g = _masked(grad, ctx.grad_mask)
        x = state["x"]
        if ctx.l1_weight is not None:
            g, orthant = _orthant_gradient(g, x - ctx.x0, ctx.l1_weight)
            x = _stay_in_orthant(x - self.lr * g, ctx.x0, orthant)
        else:
            x = x - self.lr * g
        state["x"] = ctx.project(x)
        self._snap_query(state, ctx)


class Adam(Solver):
    """Projected Adam; moments are element-wise (per row), or per one-hot group.

    ℓ1 terms are handled orthant-wise (OWL-QN's pseudo-gradient and orthant
    projection), so the ℓ1 cost produces exact zeros as a proximal step would,
    which plain sub-gradients never do.

    Parameters
    ----------
    lr : float
    betas : tuple of float
    eps : float
    snap : callable, optional
        ``snap(x, lo, hi)``: take gradients at the snapped point (straight-through
        estimator; see :class:`Solver`).
    """

    l1_mode = "orthant"
    moments = ("m", "v")

    def __init__(
        self,
        lr: float = 0.1,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        snap: Snap | None = None,
    ) -> None:
        self.lr = float(lr)
        self.betas = tuple(betas)
        self.eps = float(eps)
        self.snap = snap

    def init(self, x0):
        state = {"x": x0.clone(), "m": torch.zeros_like(x0), "v": torch.zeros_like(x0)}
        return self._with_query(state)

    def step(self, state, grad, ctx):
        b1, b2 = self.betas
        g = _masked(grad, ctx.grad_mask)
        orthant = None
        if ctx.l1_weight is not None:
            g, orthant = _orthant_gradient(g, state["x"] - ctx.x0, ctx.l1_weight)
        state["m"] = b1 * state["m"] + (1 - b1) * g
        state["v"] = b2 * state["v"] + (1 - b2) * g * g
        t = ctx.it + 1
        m_hat = state["m"] / (1 - b1**t)
        v_hat = state["v"] / (1 - b2**t)
        if ctx.groups is not None:
            # One preconditioner per one-hot group: element-wise scaling would move
            # every option of a group at the same speed, and the simplex
            # projection would then never change which option wins.
            index, mask, cols, pos = ctx.groups
            n, (G, L) = v_hat.shape[0], index.shape
            block = v_hat.index_select(1, index.reshape(-1)).view(n, G, L)
            shared = block.masked_fill(~mask, 0.0).amax(dim=2, keepdim=True)
            vals = shared.expand(n, G, L).reshape(n, -1).index_select(1, pos)
            v_hat = v_hat.index_copy(1, cols, vals)
        x = state["x"] - self.lr * m_hat / (torch.sqrt(v_hat) + self.eps)
        if orthant is not None:
            x = _stay_in_orthant(x, ctx.x0, orthant)
        state["x"] = ctx.project(x)
        self._snap_query(state, ctx)


class FISTA(Solver):
    """Accelerated proximal gradient (FISTA) with the ℓ1 shrinkage prox, as in EAD.

    ``x_{k+1} = P(x0 + S_θ(y_k - lr_k ∇g(y_k) - x0))`` and
    ``y_{k+1} = P(x_{k+1} + k/(k+3) (x_{k+1} - x_k))``, where ``S_θ`` is the
    soft-threshold and ``P`` the projection onto the feasible set. For separable
    boxes the prox of ``ℓ1 + box indicator`` is exactly the clamped soft-threshold.

    Parameters
    ----------
    lr : float
        Initial step size.
    decay : {"sqrt", None}
        EAD's polynomial decay ``lr_k = lr (1 - k/K)^{1/2}``.
    shrinkage : {"prox", "ead"}
        ``"prox"``: threshold ``θ = lr_k·β`` — the exact proximal step of
        ``β‖δ‖₁``. ``"ead"``: threshold ``θ = β`` at every step, as in Chen et al.'s
        EAD code and ART's ``ElasticNet``; an ℓ1 weight of ``β/lr_k``, hence much
        sparser counterfactuals for the same β.
    """

    l1_mode = "prox"
    projects_state = True

    def __init__(
        self, lr: float = 0.01, decay: str | None = "sqrt", shrinkage: str = "prox"
    ) -> None:
        if shrinkage not in ("prox", "ead"):
            raise ValueError(f"shrinkage must be 'prox' or 'ead', got {shrinkage!r}")
        self.lr = float(lr)
        self.decay = decay
        self.shrinkage = shrinkage

    def init(self, x0):
        return {"x": x0.clone(), "y": x0.clone()}

    def query(self, state):
        return state["y"]

    def _lr(self, ctx: StepContext) -> float:
        if self.decay == "sqrt":
            return self.lr * max(1.0 - ctx.it / ctx.max_iter, 0.0) ** 0.5
        return self.lr

    def _prox(self, z: Tensor, ctx: StepContext, lr: float) -> Tensor:
        """Proximal step on the perturbation ``z = x - x0`` (ℓ1 soft-threshold)."""
        if ctx.l1_weight is not None:
            thr = ctx.l1_weight if self.shrinkage == "ead" else lr * ctx.l1_weight
            z = torch.sign(z) * torch.clamp(z.abs() - thr, min=0.0)
        return z

    def step(self, state, grad, ctx):
        lr = self._lr(ctx)
        z = self._prox(state["y"] - _masked(lr * grad, ctx.grad_mask) - ctx.x0, ctx, lr)
        x_new = ctx.project(ctx.x0 + z)
        k = ctx.it
        y_new = x_new + (k / (k + 3.0)) * (x_new - state["x"])
        state["x"] = x_new
        state["y"] = ctx.project(y_new)


class APG(FISTA):
    """Accelerated proximal gradient with an ℓ0 penalty or an ℓ0 constraint (S-CFE).

    The prox of ``λ‖δ‖₀ + I_box`` is coordinate-wise: keep the clamped value
    ``c_j`` when ``z_j² - (z_j - c_j)² > 2·lr·λ``, else 0. The prox of
    ``I_box + I_{‖δ‖₀ ≤ m}`` is the box projection followed by keeping the ``m``
    coordinates with the largest ``v = z⊙z - (z - c)⊙(z - c)`` (seed 004, S-CFE,
    after Zhu et al.'s clipped iterative hard thresholding).

    Parameters
    ----------
    lr : float
    decay : {"sqrt", None}
    l0_weight : float
        ℓ0 penalty λ (ignored when ``max_changes`` is set).
    max_changes : int, optional
        Hard limit ``m`` on the number of changed features. Features where
        the factual lies outside its row box must move and count against
        ``m``; a row with more than ``m`` of them moves them all (ℓ0 > m).
    """

    def __init__(
        self,
        lr: float = 0.05,
        decay: str | None = None,
        l0_weight: float = 0.0,
        max_changes: int | None = None,
    ) -> None:
        super().__init__(lr, decay, shrinkage="prox")
        self.l0_weight = float(l0_weight)
        self.max_changes = max_changes

    def _prox(self, z, ctx, lr):
        z = super()._prox(z, ctx, lr)
        clamped = torch.clamp(z, ctx.lo - ctx.x0, ctx.hi - ctx.x0)
        gain = z * z - (z - clamped) ** 2
        # a factual outside its row box must move there (δ = 0 is infeasible):
        # such a coordinate is always kept and counts against the budget m, so
        # no later box projection changes a coordinate the prox set to zero
        forced = (ctx.lo > ctx.x0) | (ctx.hi < ctx.x0)
        if self.max_changes is not None:
            m = min(int(self.max_changes), z.shape[1])
            ranked = torch.where(forced, torch.full_like(gain, float("inf")), gain)
            top = ranked.topk(m, dim=1).indices
            keep = torch.zeros_like(z, dtype=torch.bool).scatter_(1, top, True)
            keep &= (gain > 0) | forced
            keep |= forced  # more forced moves than m: the bounds win (ℓ0 > m)
        elif self.l0_weight > 0:
            keep = (gain > 2.0 * lr * self.l0_weight) | forced
        else:
            return clamped
        return torch.where(keep, clamped, torch.zeros_like(z))


class ProjectedGradient(Solver):
    """Normalised steepest descent projected onto an ℓ2 or ℓ∞ ball (PGD).

    The step is ``-step·g/‖g‖₂`` (ℓ2) or ``-step·sign(g)`` (ℓ∞), with
    ``step = step_scale · radius`` per row; the perturbation is then projected
    onto the ball of that radius around ``x0`` and onto the per-row box. Since
    ``x0`` lies in the box, clamping only shrinks each coordinate of the
    perturbation, so the result stays inside the ball.

    Parameters
    ----------
    norm : {"l2", "linf"}
    step_scale : float
        Step size as a fraction of the radius (``2/steps`` in seed 001 App. B.3;
        ``1.0`` with one step gives FGSM).
    snap : callable, optional
        ``snap(x, lo, hi)``: take gradients at the snapped point (straight-through
        estimator; see :class:`Solver`).
    feasible : bool, default=False
        ℓ2 only: normalise the gradient over the directions the box lets the
        iterate move. A coordinate on its bound whose descent direction points
        out of the box (a one-hot option bounded at 0, a number at its limit)
        is clamped back by the projection; left in ``g/‖g‖₂`` it shortens the
        step of every other coordinate. Nothing changes where no coordinate
        sits on a bound; ℓ∞ steps are per coordinate and unaffected.
    """

    needs_radius = True

    def __init__(
        self,
        norm: str = "l2",
        step_scale: float = 0.1,
        snap: Snap | None = None,
        feasible: bool = False,
    ) -> None:
        if norm not in ("l2", "linf"):
            raise ValueError(f"norm must be 'l2' or 'linf', got {norm!r}")
        self.norm = norm
        self.step_scale = float(step_scale)
        self.snap = snap
        self.feasible = bool(feasible)

    def step(self, state, grad, ctx):
        g = _masked(grad, ctx.grad_mask)
        if self.feasible and self.norm == "l2":
            x = state["x"]
            blocked = ((x <= ctx.lo) & (g > 0)) | ((x >= ctx.hi) & (g < 0))
            g = g.masked_fill(blocked, 0.0)
        radius = ctx.radius.view(-1, 1)
        step = self.step_scale * radius
        if self.norm == "linf":
            x = state["x"] - step * torch.sign(g)
            delta = torch.clamp(x - ctx.x0, -radius, radius)
        else:
            g_norm = g.norm(dim=1, keepdim=True).clamp_min(1e-12)
            x = state["x"] - step * g / g_norm
            delta = x - ctx.x0
            d_norm = delta.norm(dim=1, keepdim=True).clamp_min(1e-12)
            delta = delta * torch.clamp(radius / d_norm, max=1.0)
        state["x"] = ctx.project(ctx.x0 + delta)
        self._snap_query(state, ctx)
