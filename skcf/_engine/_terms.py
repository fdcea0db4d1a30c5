"""Per-row loss terms.

A term maps a :class:`TermContext` to a tensor of shape ``(n,)``: one loss value
per row. Losses are summed over rows by the engine, never averaged, so rows stay
decoupled (the gradient of row ``i`` depends on row ``i`` only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class TermContext:
    """What a term may look at for the rows being optimised.

    Attributes
    ----------
    x : Tensor of shape (n, d)
        Current point.
    x0 : Tensor of shape (n, d)
        Factual rows.
    logits : Tensor of shape (n, k)
        Model logits at ``x``.
    target : Tensor of shape (n,)
        Target class index per row (ignored where ``untargeted``).
    untargeted : Tensor of shape (n,), bool
        Rows that only need to leave their original class ``y0``.
    y0 : Tensor of shape (n,)
        Original predicted class per row.
    extra : dict
        Free slot for method-specific tensors (densities, prototypes, ...).
    targeted_only : bool
        Known to hold no untargeted row (the engine checks once per chunk):
        terms may skip their untargeted branch, which no row would select.
    """

    x: Tensor
    x0: Tensor
    logits: Tensor
    target: Tensor
    untargeted: Tensor
    y0: Tensor
    extra: dict = field(default_factory=dict)
    targeted_only: bool = False
    #: values shared by terms of one evaluation without autograd (weighted deltas)
    cache: dict = field(default_factory=dict, repr=False, compare=False)


class Term:
    """Base class of a weighted per-row loss term.

    Parameters
    ----------
    weight : float
        Scalar multiplier of the term.

    Attributes
    ----------
    is_prediction : bool
        Prediction terms are also multiplied by the per-row weight ``c`` that the
        binary search (:class:`~skcf._engine.CSearch`) tunes.
    smooth : bool
        Non-smooth terms (``L1Distance``) are handled by a proximal operator in
        solvers that support one, and by sub-gradients elsewhere.
    """

    is_prediction: bool = False
    smooth: bool = True

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = float(weight)

    def value(self, ctx: TermContext) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, ctx: TermContext) -> Tensor:
        value = self.value(ctx)
        # x * 1.0 == x bit for bit: skip the product (and its backward node)
        return value if self.weight == 1.0 else self.weight * value

    def value_and_grad(self, ctx: TermContext):
        """Weighted value and its gradients, written by hand, or None.

        Returns ``(value, grad_x, grad_logits)`` (either gradient may be None
        for a term that does not depend on it), evaluated without autograd;
        None means "use autograd" (the default). Terms that implement it let
        the engine skip autograd for networks whose backward it writes itself.
        """
        return None

    def gives_gradient(self, targeted_only: bool) -> bool:
        """Whether :meth:`value_and_grad` returns gradients (never None) for
        every context of a problem with this ``targeted_only``.

        The engine then runs the whole search without autograd's bookkeeping
        (``torch.inference_mode``). False by default: a term that may return
        None keeps the engine on its autograd-ready path.
        """
        return False

    def _weighted(self, value, gx, gz):
        if self.weight == 1.0:
            return value, gx, gz
        w = self.weight
        return (
            w * value,
            None if gx is None else w * gx,
            None if gz is None else w * gz,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight})"


def _gather(logits: Tensor, index: Tensor) -> Tensor:
    return logits.gather(1, index.view(-1, 1)).squeeze(1)


def _runner_up(logits: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
    """The largest logit of a class other than ``index``'s, per row, and that
    class (shape ``(n, 1)``). With two classes it is the other one: a gather
    (the max over it and the masked ``-inf``, without the max)."""
    i = index.view(-1, 1)
    if logits.shape[1] == 2:
        other = 1 - i
        return logits.gather(1, other).squeeze(1), other
    best = logits.scatter(1, i, float("-inf")).max(dim=1)
    return best.values, best.indices.view(-1, 1)


def _max_other(logits: Tensor, index: Tensor) -> Tensor:
    return _runner_up(logits, index)[0]


class HingeLoss(Term):
    """Carlini–Wagner / EAD margin loss with confidence ``kappa``.

    Targeted rows: ``max(max_{j != t} z_j - z_t, -kappa)``.
    Untargeted rows: ``max(z_{y0} - max_{j != y0} z_j, -kappa)``.
    """

    is_prediction = True

    def __init__(self, weight: float = 1.0, confidence: float = 0.0) -> None:
        super().__init__(weight)
        self.confidence = float(confidence)

    def value(self, ctx: TermContext) -> Tensor:
        z = ctx.logits
        targeted = _max_other(z, ctx.target) - _gather(z, ctx.target)
        if ctx.targeted_only:
            return torch.clamp(targeted, min=-self.confidence)
        untargeted = _gather(z, ctx.y0) - _max_other(z, ctx.y0)
        margin = torch.where(ctx.untargeted, untargeted, targeted)
        return torch.clamp(margin, min=-self.confidence)

    def gives_gradient(self, targeted_only: bool) -> bool:
        return True

    def value_and_grad(self, ctx: TermContext):
        z = ctx.logits
        other, up = _runner_up(z, ctx.target)
        margin = other - _gather(z, ctx.target)
        down = ctx.target.view(-1, 1)  # +1 on the runner-up, -1 on t
        if not ctx.targeted_only:
            y0 = ctx.y0.view(-1, 1)
            best, best_class = _runner_up(z, ctx.y0)
            untargeted = _gather(z, ctx.y0) - best
            u = ctx.untargeted.view(-1, 1)
            margin = torch.where(ctx.untargeted, untargeted, margin)
            up = torch.where(u, y0, up)
            down = torch.where(u, best_class, down)
        value = torch.clamp(margin, min=-self.confidence)
        active = (margin >= -self.confidence).to(z.dtype).view(-1, 1)
        gz = torch.zeros_like(z).scatter_(1, up, active)
        gz = gz.scatter_add_(1, down, -active)
        return self._weighted(value, None, gz)


class CrossEntropyLoss(Term):
    """Cross-entropy towards the target class.

    Targeted rows: ``-log p_t``. Untargeted rows: ``-log(1 - p_{y0})``.
    """

    is_prediction = True

    def value(self, ctx: TermContext) -> Tensor:
        z = ctx.logits
        log_p = torch.log_softmax(z, dim=1)
        targeted = -_gather(log_p, ctx.target)
        if ctx.targeted_only:
            return targeted
        others = z.scatter(1, ctx.y0.view(-1, 1), float("-inf"))
        untargeted = -(torch.logsumexp(others, dim=1) - torch.logsumexp(z, dim=1))
        return torch.where(ctx.untargeted, untargeted, targeted)

    def gives_gradient(self, targeted_only: bool) -> bool:
        return targeted_only  # the untargeted rows' gradient comes from autograd

    def value_and_grad(self, ctx: TermContext):
        if not ctx.targeted_only:
            return None
        z = ctx.logits
        log_p = torch.log_softmax(z, dim=1)
        value = -_gather(log_p, ctx.target)
        gz = log_p.exp().scatter_add_(
            1, ctx.target.view(-1, 1), -torch.ones_like(value).view(-1, 1)
        )
        return self._weighted(value, None, gz)


class ProbabilityHingeLoss(Term):
    """CFProto's prediction loss on probabilities of the original class.

    ``max(p_{y0}(x) - max_{i≠y0} p_i(x), -kappa)`` (seed 000, Eq. 3): it only
    pushes away from the original class ``y0``; the prototype term says where
    to go.
    """

    is_prediction = True

    def __init__(self, weight: float = 1.0, confidence: float = 0.0) -> None:
        super().__init__(weight)
        self.confidence = float(confidence)

    def value(self, ctx: TermContext) -> Tensor:
        p = torch.softmax(ctx.logits, dim=1)
        margin = _gather(p, ctx.y0) - _max_other(p, ctx.y0)
        return torch.clamp(margin, min=-self.confidence)


class _Distance(Term):
    def __init__(self, weight: float = 1.0, feature_weights: Tensor | None = None):
        super().__init__(weight)
        self.feature_weights = feature_weights

    def _origin(self, ctx: TermContext) -> Tensor:
        """Where the distance is measured from: the factual (``x0``)."""
        return ctx.x0

    def _delta(self, ctx: TermContext) -> Tensor:
        """``(x - origin) * w``, shared by the terms of one evaluation."""
        grad = torch.is_grad_enabled()
        origin = self._origin(ctx)
        key = ("delta", id(origin), id(self.feature_weights))
        if not grad and key in ctx.cache:  # e.g. ℓ1 and ℓ2 of one cost, same weights
            return ctx.cache[key]
        delta = ctx.x - origin
        if self.feature_weights is not None:
            delta = delta * self.feature_weights
        if not grad:
            ctx.cache[key] = delta
        return delta


class L1Distance(_Distance):
    """Weighted ℓ1 distance ``sum_j w_j |x_j - x0_j|`` (non-smooth: has a prox)."""

    smooth = False

    def value(self, ctx: TermContext) -> Tensor:
        return self._delta(ctx).abs().sum(dim=1)

    def gives_gradient(self, targeted_only: bool) -> bool:
        return True

    def value_and_grad(self, ctx: TermContext):
        wd, w = self._delta(ctx), self.feature_weights
        gx = torch.sign(wd) if w is None else torch.sign(wd) * w
        return self._weighted(wd.abs().sum(dim=1), gx, None)

    def prox_threshold(self, d: int, like: Tensor) -> Tensor:
        """Per-feature soft-threshold for a unit step: ``weight * w_j``."""
        w = self.feature_weights
        if w is None:
            w = torch.ones(d, dtype=like.dtype, device=like.device)
        return self.weight * w


class L2Distance(_Distance):
    """Weighted squared ℓ2 distance ``sum_j (w_j (x_j - x0_j))^2``.

    With ``squared=False`` the (non-squared) norm is used; its gradient at
    ``x == x0`` is taken as zero.
    """

    def __init__(self, weight=1.0, feature_weights=None, squared: bool = True):
        super().__init__(weight, feature_weights)
        self.squared = squared

    def value(self, ctx: TermContext) -> Tensor:
        sq = self._delta(ctx).pow(2).sum(dim=1)
        if self.squared:
            return sq
        return torch.sqrt(sq + 1e-12) - 1e-6

    def gives_gradient(self, targeted_only: bool) -> bool:
        return self.squared

    def value_and_grad(self, ctx: TermContext):
        if not self.squared:
            return None
        wd, w = self._delta(ctx), self.feature_weights
        gx = 2 * wd if w is None else 2 * wd * w
        return self._weighted(wd.pow(2).sum(dim=1), gx, None)


def _class_for_density(ctx: TermContext) -> Tensor:
    """Target class per row; for untargeted rows, the best class other than y0."""
    if ctx.targeted_only:
        return ctx.target
    other = _runner_up(ctx.logits.detach(), ctx.y0)[1].view(-1)
    return torch.where(ctx.untargeted, other, ctx.target)


class DensityTerm(Term):
    """``-log q̂(x | t)``: pulls counterfactuals into dense regions of the target class.

    Parameters
    ----------
    log_density : callable
        ``f(x, cls) -> (n,)`` differentiable log density of class ``cls`` (a
        ``ClassConditionalDensity`` closure), or ``f(x)`` when ``conditional`` is
        False.
    weight : float
    conditional : bool
    """

    def __init__(self, log_density, weight: float = 1.0, conditional: bool = True):
        super().__init__(weight)
        self.log_density = log_density
        self.conditional = conditional

    def value(self, ctx: TermContext) -> Tensor:
        if self.conditional:
            return -self.log_density(ctx.x, _class_for_density(ctx))
        return -self.log_density(ctx.x)

    def gives_gradient(self, targeted_only: bool) -> bool:
        return hasattr(self.log_density, "value_and_grad")

    def value_and_grad(self, ctx: TermContext):
        # densities that know their gradient (KDE) attach ``value_and_grad``
        by_hand = getattr(self.log_density, "value_and_grad", None)
        if by_hand is None:
            return None
        if self.conditional:
            v, g = by_hand(ctx.x, _class_for_density(ctx))
        else:
            v, g = by_hand(ctx.x)
        return self._weighted(-v, -g, None)


class ReconstructionTerm(Term):
    """``‖x - AE(x)‖²`` (CFProto's ``L_AE``): stay where the autoencoder is accurate.

    Parameters
    ----------
    autoencode : callable
        Differentiable ``x -> decode(encode(x))``.
    """

    def __init__(self, autoencode, weight: float = 1.0):
        super().__init__(weight)
        self.autoencode = autoencode

    def value(self, ctx: TermContext) -> Tensor:
        return (ctx.x - self.autoencode(ctx.x)).pow(2).sum(dim=1)


class PrototypeTerm(Term):
    """``‖ENC(x) - proto‖²`` (CFProto's ``L_proto``); per-row ``proto`` in ``extra``.

    Parameters
    ----------
    encode : callable or None
        Differentiable encoder; None means input space.
    key : str
        Name of the ``(n, dim)`` prototype tensor in ``ctx.extra``.
    """

    def __init__(self, encode=None, weight: float = 1.0, key: str = "prototype"):
        super().__init__(weight)
        self.encode = encode
        self.key = key

    def value(self, ctx: TermContext) -> Tensor:
        code = ctx.x if self.encode is None else self.encode(ctx.x)
        return (code - ctx.extra[self.key]).pow(2).sum(dim=1)


class EnergyTerm(Term):
    """Energy ``E(x, t) = -z_t(x)``, the negative target logit (ECCo; seed 002).

    Unbounded below on an unbounded domain (seed 002's runs diverged to 1e30);
    generators using it must keep iterates in a bounded box.
    """

    def value(self, ctx: TermContext) -> Tensor:
        return -_gather(ctx.logits, _class_for_density(ctx))


class StabilityTerm(Term):
    """Negative stability integral of Stable Neighbor Search (seed 001, Def. 5).

    ``-∫₀¹ p_t(b + s·(x - b)) ds`` approximated by the mean over the grid
    ``s = 1/G, 2/G, ..., 1`` (right Riemann sum, so the point itself is on the
    grid), where ``p_t`` is the target-class probability (the sigmoid output for
    a binary model) and ``b`` the baseline (the zero vector in the paper, whose
    path is ``s·x``). The ``G`` points of every row go through the model in one
    forward pass of ``n·G`` rows.

    Parameters
    ----------
    model : callable
        Differentiable ``x -> logits``.
    weight : float
    n_grid : int
        Number of grid points ``G``.
    baseline : Tensor of shape (d,), optional
        Start of the path (zeros when None).
    """

    is_prediction = True

    def __init__(
        self,
        model,
        weight: float = 1.0,
        n_grid: int = 10,
        baseline: Tensor | None = None,
    ) -> None:
        super().__init__(weight)
        if int(n_grid) < 1:
            raise ValueError(f"n_grid must be >= 1, got {n_grid!r}")
        self.model = model
        self.n_grid = int(n_grid)
        self.baseline = baseline

    def integral(self, x: Tensor, cls: Tensor) -> Tensor:
        """Mean target probability over the path to ``x``, shape ``(n,)``."""
        n, d = x.shape
        g = self.n_grid
        s = torch.arange(1, g + 1, dtype=x.dtype, device=x.device) / g
        b = (
            torch.zeros(d, dtype=x.dtype, device=x.device)
            if self.baseline is None
            else self.baseline.to(device=x.device, dtype=x.dtype)
        )
        path = b + s.view(1, g, 1) * (x - b).unsqueeze(1)  # (n, g, d)
        logits = self.model(path.reshape(n * g, d))
        log_p = torch.log_softmax(logits, dim=1).view(n, g, -1)
        idx = cls.view(n, 1, 1).expand(n, g, 1)
        return log_p.gather(2, idx).squeeze(2).exp().mean(dim=1)

    def value(self, ctx: TermContext) -> Tensor:
        return -self.integral(ctx.x, _class_for_density(ctx))
