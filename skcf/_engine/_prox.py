"""ℓp^p proximal operators and the group-wise sparse solver of GSE (seed 004).

* :func:`prox_lp`: closed-form ``argmin_w ½(w - z)² + θ|w|^p`` for
  ``p ∈ {0, 1/2, 2/3, 1}`` (hard, half, two-thirds and soft thresholding).
* :class:`ImageNeighbourhood` / :class:`GroupNeighbourhood`: the "blur" of
  AdjustLambda, on pixels (a Gaussian kernel) or on a partition of the columns
  (the group mean).
* :class:`GroupSparseNAG`: forward-backward splitting with Nesterov momentum
  and per-coordinate penalties re-weighted by AdjustLambda for ``k_hat``
  steps, then projected NAG restricted to the coordinates it selected.
* :class:`LambdaSearch`: the per-row search on the penalty ``λ`` that drives it.
* :class:`GroupCount`: number of perturbed groups (``d_{2,0}``), a cost ranking
  valid candidates.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._search import CSearch
from ._solvers import Solver, StepContext, _masked
from ._terms import TermContext

#: the exponents with a closed-form proximal operator
PROX_POWERS = (0.0, 0.5, 2.0 / 3.0, 1.0)


def check_power(p: float) -> float:
    """``p`` snapped onto :data:`PROX_POWERS` (``ValueError`` when it is none)."""
    for q in PROX_POWERS:
        if abs(float(p) - q) < 1e-6:
            return q
    raise ValueError(
        f"p must be one of 0, 1/2, 2/3 or 1 (the exponents whose ℓp^p proximal "
        f"operator has a closed form), got {p!r}."
    )


def lp_threshold(theta: Tensor, p: float) -> Tensor:
    """Smallest ``|z|`` whose prox ``argmin ½(w - z)² + θ|w|^p`` is non-zero.

    ``θ`` for ``p = 1``, ``√(2θ)`` for ``p = 0``, ``(3/2)·θ^{2/3}`` for
    ``p = 1/2`` and ``(2/3)·(24·θ³)^{1/4}`` for ``p = 2/3``.
    """
    p = check_power(p)
    if p == 1.0:
        return theta
    if p == 0.0:
        return torch.sqrt(2.0 * theta)
    if p == 0.5:
        return 1.5 * theta.pow(2.0 / 3.0)
    return (2.0 / 3.0) * (24.0 * theta.pow(3)).pow(0.25)


def lp_weight_at_threshold(t: Tensor, p: float) -> Tensor:
    """The ``θ`` whose :func:`lp_threshold` is ``t`` (its inverse)."""
    p = check_power(p)
    if p == 1.0:
        return t
    if p == 0.0:
        return 0.5 * t * t
    if p == 0.5:
        return (t / 1.5).pow(1.5)
    return ((1.5 * t).pow(4) / 24.0).pow(1.0 / 3.0)


def prox_lp(z: Tensor, theta: Tensor | float, p: float) -> Tensor:
    """Element-wise ``argmin_w ½(w - z)² + θ|w|^p`` in closed form.

    Parameters
    ----------
    z : Tensor
        Points to shrink.
    theta : Tensor or float
        Non-negative weights ``θ`` (broadcast against ``z``); ``θ = 0`` returns
        ``z``.
    p : {0, 1/2, 2/3, 1}
        ``p = 0``: hard thresholding (keep ``z`` where ``|z| > √(2θ)``);
        ``p = 1``: soft thresholding; ``p = 1/2``: the half-thresholding
        formula of Xu et al. (2012); ``p = 2/3``: the formula of Cao, Sun & Xu
        (2013). Both solve a cubic / quartic stationarity equation; the
        formulas are stated for ``(w - z)² + λ|w|^p``, so they are used with
        ``λ = 2θ``. At ``|z|`` equal to the threshold both 0 and the non-zero
        root are minimisers; 0 is returned.

    Returns
    -------
    Tensor
        Same shape as ``z`` (broadcast with ``theta``).
    """
    p = check_power(p)
    theta = torch.as_tensor(theta, dtype=z.dtype, device=z.device)
    a = z.abs()
    if p == 1.0:
        return torch.sign(z) * torch.clamp(a - theta, min=0.0)
    thr = lp_threshold(theta, p)
    keep = a > thr
    if p == 0.0:
        return torch.where(keep, z, torch.zeros_like(z))
    # evaluate the root where it exists only; elsewhere use a harmless stand-in
    lam = 2.0 * theta
    safe_a = torch.where(keep, a, torch.ones_like(a))
    safe_lam = torch.where(keep, lam, torch.ones_like(lam)).expand_as(safe_a)
    if p == 0.5:
        arg = (safe_lam / 8.0) * (safe_a / 3.0).pow(-1.5)
        phi = torch.arccos(arg.clamp(-1.0, 1.0))
        w = (2.0 / 3.0) * safe_a * (1.0 + torch.cos(2.0 * math.pi / 3.0 - phi / 1.5))
    else:
        arg = (27.0 / 16.0) * safe_a.pow(2) * safe_lam.pow(-1.5)
        phi = torch.arccosh(arg.clamp_min(1.0))
        big_a = (
            (2.0 / math.sqrt(3.0)) * safe_lam.pow(0.25) * torch.cosh(phi / 3.0).sqrt()
        )
        inner = (2.0 * safe_a / big_a - big_a.pow(2)).clamp_min(0.0)
        w = ((big_a + inner.sqrt()) / 2.0).pow(3)
    w = torch.where(lam.expand_as(safe_a) > 0, w, safe_a)  # θ = 0: identity
    return torch.where(keep, torch.sign(z) * w, torch.zeros_like(z))


class _Neighbourhood:
    """How AdjustLambda spreads a perturbation's support to its neighbours.

    Penalty weights live on *units* (pixels of an image, columns otherwise);
    :meth:`smooth` maps the columns' support ``(n, d)`` to a value in ``[0, 1]``
    per unit, zero exactly where no neighbour moved, and :meth:`to_columns`
    broadcasts a per-unit tensor back to the columns.
    """

    n_units: int

    def smooth(self, support: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_columns(self, v: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def gaussian_kernel(size: int, sigma: float, dtype=torch.float32, device=None):
    """Normalised ``size × size`` Gaussian kernel (as torchvision's GaussianBlur)."""
    half = (size - 1) / 2.0
    x = torch.linspace(-half, half, size, dtype=dtype, device=device)
    k1 = torch.exp(-0.5 * (x / sigma).pow(2))
    k1 = k1 / k1.sum()
    return torch.outer(k1, k1)


class ImageNeighbourhood(_Neighbourhood):
    """Pixels of ``(C, H, W)`` images flattened channels first; Gaussian blur.

    The support of a pixel is ``sign(Σ_c |w_c|)`` (seed 004, AdjustLambda
    step 1); it is blurred with a normalised ``kernel_size²`` Gaussian kernel
    of standard deviation ``sigma`` and reflect padding (step 2), as
    ``torchvision.transforms.GaussianBlur`` in the authors' code.
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        kernel_size: int = 5,
        sigma: float = 1.0,
        device=None,
        dtype=torch.float32,
    ) -> None:
        self.shape = tuple(int(s) for s in shape)
        c, h, w = self.shape
        self.n_units = h * w
        self.kernel = gaussian_kernel(kernel_size, sigma, dtype, device).view(
            1, 1, kernel_size, kernel_size
        )
        self.pad = kernel_size // 2
        # reflect padding needs the pad to be smaller than the image
        self.mode = "reflect" if self.pad < min(h, w) else "replicate"

    def smooth(self, support: Tensor) -> Tensor:
        c, h, w = self.shape
        n = support.shape[0]
        m = support.view(n, c, h * w).any(dim=1).to(self.kernel.dtype)
        if self.pad == 0:
            return m * self.kernel.view(())
        img = torch.nn.functional.pad(
            m.view(n, 1, h, w), (self.pad,) * 4, mode=self.mode
        )
        blurred = torch.nn.functional.conv2d(img, self.kernel)
        # exact zeros where no pixel of the window moved (no float residue)
        near = torch.nn.functional.max_pool2d(img, 2 * self.pad + 1, stride=1) > 0
        return torch.where(near, blurred, torch.zeros_like(blurred)).view(n, h * w)

    def to_columns(self, v: Tensor) -> Tensor:
        return v.repeat(1, self.shape[0])


class GroupNeighbourhood(_Neighbourhood):
    """A partition of the columns: a column's neighbours are its group's columns.

    The blurred support of a column is the fraction of its group's columns
    that moved (a box blur over the group), so a one-hot block or a
    user-defined feature group plays the role of an image neighbourhood.
    """

    def __init__(self, group_ids: Tensor) -> None:
        self.ids = group_ids.long()
        self.n_units = int(group_ids.shape[0])
        self.n_groups = int(self.ids.max()) + 1 if self.n_units else 0
        self.size = torch.zeros(self.n_groups, device=group_ids.device).index_add_(
            0, self.ids, torch.ones(self.n_units, device=group_ids.device)
        )

    def smooth(self, support: Tensor) -> Tensor:
        n = support.shape[0]
        s = support.to(torch.float32)
        counts = torch.zeros(n, self.n_groups, device=s.device).index_add_(
            1, self.ids, s
        )
        frac = counts / self.size
        return frac.index_select(1, self.ids)

    def to_columns(self, v: Tensor) -> Tensor:
        return v


class GroupSparseNAG(Solver):
    """Group-wise sparse proximal gradient with Nesterov momentum (GSE; seed 004).

    Phase 1 (steps ``k < k_hat``): forward-backward splitting on
    ``smooth(x) + Σ_j λ_j |x_j - x0_j|^p`` with Nesterov momentum, the prox
    being :func:`prox_lp` with per-coordinate ``λ``; after every step
    AdjustLambda divides ``λ`` by ``M̄ = M + 1`` where the blurred support ``M``
    of the new iterate is non-zero and by ``q`` elsewhere, so coordinates near
    the perturbed ones get cheaper and the others dearer. Phase 2 (``k ≥
    k_hat``): projected Nesterov gradient on the smooth part only, restricted
    to ``V = {j : λ_j ≤ λ}`` (the coordinates whose penalty did not grow).

    The starting penalty of a row is ``λ = scale · λ₀`` where ``λ₀`` is the
    largest penalty for which the first (projected) step leaves the factual
    (the authors' "section search", here in closed form via
    :func:`lp_threshold`), times 0.99 so that the first step moves at least
    one coordinate. ``scale`` is
    the per-row value of :class:`LambdaSearch` (``ctx.radius``); 1 without it.

    Parameters
    ----------
    lr : float
        Step size α.
    p : {0, 1/2, 2/3, 1}
        Exponent of the penalty.
    k_hat : int
        Steps of phase 1.
    q : float
        AdjustLambda's factor for coordinates far from the support, in (0, 1].
    neighbourhood : ImageNeighbourhood or GroupNeighbourhood
        Maps the support to its blurred version; None means each column is its
        own neighbourhood.
    """

    def __init__(
        self,
        lr: float = 0.005,
        p: float = 0.5,
        k_hat: int = 30,
        q: float = 0.25,
        neighbourhood: _Neighbourhood | None = None,
    ) -> None:
        self.lr = float(lr)
        self.p = check_power(p)
        self.k_hat = int(k_hat)
        self.q = float(q)
        self.neighbourhood = neighbourhood

    def query(self, state):
        return state["y"]

    def _units(self, d: int) -> int:
        return d if self.neighbourhood is None else self.neighbourhood.n_units

    def _to_columns(self, v: Tensor) -> Tensor:
        return v if self.neighbourhood is None else self.neighbourhood.to_columns(v)

    def _smooth(self, support: Tensor) -> Tensor:
        if self.neighbourhood is None:
            return support.to(torch.float32)
        return self.neighbourhood.smooth(support)

    def init(self, x0):
        n, d = x0.shape
        return {
            "x": x0.clone(),
            "y": x0.clone(),
            # per-unit penalties and the row's starting penalty (set at step 0)
            "lam": torch.zeros(n, self._units(d), dtype=x0.dtype, device=x0.device),
            "lam0": torch.zeros(n, 1, dtype=x0.dtype, device=x0.device),
            # V, as 0/1 floats: the coordinates phase 2 may move
            "keep": torch.ones_like(x0),
        }

    def step(self, state, grad, ctx: StepContext) -> None:
        lr, k, x0 = self.lr, ctx.it, ctx.x0
        g = _masked(grad, ctx.grad_mask)
        z = state["y"] - lr * g - x0
        if k == 0:
            # calibrate on the feasible step: a coordinate pushed against its
            # bound (a black pixel pushed darker) would pass the prox but not
            # the projection, and the first step would move nothing
            reach = (ctx.project(x0 + z) - x0).abs().amax(dim=1, keepdim=True)
            theta0 = lp_weight_at_threshold(reach, self.p)
            scale = 1.0 if ctx.radius is None else ctx.radius.view(-1, 1)
            lam0 = 0.99 * scale * theta0 / lr
            state["lam0"] = lam0
            state["lam"] = lam0.expand_as(state["lam"]).clone()
        if k < self.k_hat:
            theta = lr * self._to_columns(state["lam"])
            x_new = ctx.project(x0 + prox_lp(z, theta, self.p))
            blurred = self._smooth(x_new != x0).to(x0.dtype)
            mbar = torch.where(
                blurred != 0, blurred + 1.0, torch.full_like(blurred, self.q)
            )
            big = torch.finfo(x0.dtype).max / 4  # never inf: λ stays comparable
            state["lam"] = (state["lam"] / mbar).clamp(max=big)
        else:
            keep = state["keep"]
            if k == self.k_hat:  # V: the coordinates whose penalty did not grow
                keep = self._to_columns(state["lam"] <= state["lam0"]).to(x0.dtype)
                state["keep"] = keep
                z = keep * z
                state["x"] = x0 + keep * (state["x"] - x0)
            x_new = ctx.project(x0 + keep * z)
        y_new = x_new + (k / (k + 3.0)) * (x_new - state["x"])
        if k >= self.k_hat:
            y_new = x0 + state["keep"] * (y_new - x0)
        state["x"] = x_new
        state["y"] = ctx.project(y_new)


class LambdaSearch(CSearch):
    """Per-row search on the penalty scale of :class:`GroupSparseNAG` (GSE).

    The scale starts at ``initial``. A row that failed multiplies it by
    ``factor`` (< 1: a weaker penalty) until it succeeds once, then bisects
    towards the last success; a row that succeeded divides it by ``factor``
    (a stronger penalty, a sparser perturbation) until it fails once, then
    bisects towards the last failure. The prediction weight ``c`` stays 1; the
    scale reaches the solver as the per-row ``radius`` of its step context.

    Parameters
    ----------
    initial : float
    n_steps : int
        Rounds (each restarts from the factual).
    factor : float
        In (0, 1).
    """

    def __init__(self, initial: float = 1.0, n_steps: int = 10, factor: float = 0.5):
        super().__init__(initial, n_steps, factor)

    def init(self, n: int, like: Tensor) -> dict[str, Tensor]:
        ones = torch.ones(n, dtype=like.dtype, device=like.device)
        return {
            "c": ones,
            "hi": torch.full_like(ones, float("inf")),
            "radius": ones * self.initial,
            "lam_lo": torch.zeros_like(ones),  # largest scale that succeeded
            "lam_hi": torch.full_like(ones, float("inf")),  # smallest that failed
        }

    def update(self, state: dict[str, Tensor], success: Tensor) -> None:
        s, lo, hi = state["radius"], state["lam_lo"], state["lam_hi"]
        lo = torch.where(success, torch.maximum(lo, s), lo)
        hi = torch.where(success, hi, torch.minimum(hi, s))
        grow = torch.where(torch.isfinite(hi), (lo + hi) / 2, s / self.factor)
        shrink = torch.where(lo > 0, (lo + hi) / 2, s * self.factor)
        state.update(radius=torch.where(success, grow, shrink), lam_lo=lo, lam_hi=hi)


class GroupCount:
    """Cost ranking valid candidates: perturbed groups, then the ℓ2 norm.

    ``d_{2,0}(δ) + ‖δ‖₂ / (1 + ‖δ‖₂)``: the number of groups with a non-zero
    change (seed 004's ``d_{2,0}`` over a partition), ties broken by the
    smaller ℓ2 norm (the fraction stays below 1).

    Parameters
    ----------
    group_ids : Tensor of shape (d,)
        Group index ``0..G-1`` of every column.
    """

    def __init__(self, group_ids: Tensor) -> None:
        self.ids = group_ids.long()
        self.n_groups = int(self.ids.max()) + 1 if self.ids.numel() else 0

    def __call__(self, ctx: TermContext) -> Tensor:
        delta = ctx.x - ctx.x0
        ids = self.ids.to(delta.device)
        moved = (delta != 0).to(delta.dtype)
        counts = torch.zeros(
            delta.shape[0], self.n_groups, dtype=delta.dtype, device=delta.device
        ).index_add_(1, ids, moved)
        l2 = delta.norm(dim=1)
        return (counts > 0).sum(dim=1).to(delta.dtype) + l2 / (1.0 + l2)
