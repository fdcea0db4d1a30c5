"""Actionability constraints as tensors: gradient masks, projection, snapping."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import NamedTuple

import numpy as np
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
    step, origin : Tensor of shape (d,), optional
        The grid of the integer features: ``origin + step * k`` for integer
        ``k``. None means the plain integers (step 1, origin 0). A search
        space that standardises an integer column ``x = c + s * z`` puts ``z``
        on the grid ``step = 1 / s``, ``origin = -c / s``.
    rank, rank_dir : Tensor of shape (d,), optional
        Ordered categories: ``rank`` holds each one-hot column's position in
        its category order and ``rank_dir`` +1 (the category may only move up
        the order), -1 (only down) or 0 (either way, or not ordered). A
        directed group forbids, per row, the columns on the wrong side of the
        factual's category; :meth:`violation_flags` flags a move the wrong way.
    stay : Tensor of shape (d,), bool, optional
        Features whose upper bound also admits the row's own factual value: a
        place a row may stay on but never move to (the slot of a category the
        encoder never saw, which a factual can hold).
    """

    lower: Tensor
    upper: Tensor
    mutable: Tensor
    increase_only: Tensor
    decrease_only: Tensor
    groups: list = field(default_factory=list)
    integer: Tensor | None = None
    step: Tensor | None = None
    origin: Tensor | None = None
    rank: Tensor | None = None
    rank_dir: Tensor | None = None
    stay: Tensor | None = None
    _packed: tuple | None = field(default=None, init=False, repr=False)
    _ranked: tuple | None = field(default=None, init=False, repr=False)

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
            None if self.step is None else self.step.to(device=device, dtype=dtype),
            None if self.origin is None else self.origin.to(device=device, dtype=dtype),
            None if self.rank is None else self.rank.to(device=device, dtype=dtype),
            None if self.rank_dir is None else self.rank_dir.to(device),
            None if self.stay is None else self.stay.to(device),
        )

    def same_as(self, other) -> bool:
        """Whether ``other`` is a :class:`Constraints` of this class with equal
        fields (the same feasible set, grid and groups)."""
        if type(other) is not type(self):
            return False
        for f in fields(self):
            if not f.init:
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "groups":
                if len(a) != len(b) or not all(map(_equal, a, b)):
                    return False
            elif not _equal(a, b):
                return False
        return True

    def packed_groups(self) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
        """Mutable one-hot groups as a padded ``(G, L)`` index matrix.

        Returns ``(index, mask, columns, positions)``: ``index[g, :len(g)]`` holds
        group ``g``'s columns, ``mask`` marks the real entries, ``columns`` is
        ``index[mask]`` and ``positions`` their offsets in ``index.reshape(-1)``;
        None without mutable groups. Computed once, so every group operation is
        one batched gather / scatter.
        """
        if self._packed is None:
            # a cache outlives the search: ordinary tensors, even when first
            # asked for inside inference mode
            with torch.inference_mode(False):
                self._packed = self._pack()
        return None if self._packed[0] is None else self._packed  # type: ignore[return-value]

    def _pack(self) -> tuple:
        """:meth:`packed_groups`' tensors, a few batched operations for any
        number of groups (this runs once per call of a generator)."""
        if not self.groups:
            return (None,)
        device = self.lower.device
        sizes = [len(g) for g in self.groups]
        # groups with a mutable column: per-group sums of the mutable flags
        counts = torch.zeros(len(sizes), dtype=torch.long, device=device)
        owner = torch.repeat_interleave(
            torch.arange(len(sizes), device=device),
            torch.tensor(sizes, device=device),
        )
        flags = self.mutable[torch.cat(list(self.groups))].long()
        keep = counts.index_add_(0, owner, flags).tolist()
        groups = [g for g, k in zip(self.groups, keep) if k]
        if not groups:
            return (None,)
        index = torch.nn.utils.rnn.pad_sequence(groups, batch_first=True)
        lengths = torch.tensor([len(g) for g in groups], device=device)
        mask = torch.arange(index.shape[1], device=device) < lengths[:, None]
        positions = torch.arange(index.numel(), device=device)[mask.reshape(-1)]
        return (index, mask, index[mask], positions)

    def ranked_groups(self) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
        """``(R, head, rank, rank_dir)`` for directed ordered groups, else None.

        ``x @ R`` gives, on every column of a directed group, the rank of the
        row's category in that group (a one-hot row picks one rank); ``head``
        marks one column per directed group, where a violation is counted.
        """
        if self._ranked is None:
            # a cache outlives the search: ordinary tensors, even when first
            # asked for inside inference mode
            with torch.inference_mode(False):
                if self.rank is None or self.rank_dir is None or not self.groups:
                    self._ranked = (None,)
                else:
                    d = self.lower.shape[0]
                    R = torch.zeros(
                        d, d, dtype=self.lower.dtype, device=self.lower.device
                    )
                    head = torch.zeros(d, dtype=torch.bool, device=self.lower.device)
                    for g in self.groups:
                        if bool((self.rank_dir[g] != 0).any()):
                            R[g.view(-1, 1), g.view(1, -1)] = self.rank[g].view(-1, 1)
                            head[g[0]] = True
                    self._ranked = (
                        (R, head, self.rank, self.rank_dir)
                        if bool(head.any())
                        else (None,)
                    )
        return None if self._ranked[0] is None else self._ranked  # type: ignore[return-value]

    @property
    def needs_snapping(self) -> bool:
        return self.packed_groups() is not None or (
            self.integer is not None and bool((self.integer & self.mutable).any())
        )

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
        if self.stay is not None:
            hi = torch.where(self.stay, torch.maximum(hi, x0), hi)
        ranked = self.ranked_groups()
        if ranked is not None:  # ordered categories: only one way from x0's
            R, _, rank, rank_dir = ranked
            r0 = x0 @ R
            wrong = ((rank_dir > 0) & (rank < r0 - 0.5)) | (
                (rank_dir < 0) & (rank > r0 + 0.5)
            )
            hi = torch.where(wrong, torch.minimum(hi, torch.zeros_like(hi)), hi)
        frozen = (~self.mutable) | (lo > hi)
        lo = torch.where(frozen, x0, lo)
        hi = torch.where(frozen, x0, hi)
        return lo, hi

    @staticmethod
    def clamp(x: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
        """Clamp to the per-row box (the exact Euclidean projection onto it)."""
        return torch.clamp(x, lo, hi)  # min(max(x, lo), hi) in one operation

    def project(
        self, x: Tensor, lo: Tensor, hi: Tensor, plan: BoxPlan | None = None
    ) -> Tensor:
        """Project onto the box, then each mutable one-hot group onto the simplex.

        The simplex (the convex hull of the one-hot vectors) is the relaxation
        the optimiser moves in; :meth:`snap` turns its points into one-hots. The
        simplex lies inside ``[0, 1]``, so one-hot columns stay in their bounds.
        An option the row may not take (upper bound below 0.5: a category left
        out by ``bounds``, the wrong side of an ordered category's direction,
        the slot of a category the encoder never saw) is held at 0: the group
        moves on the face of the simplex its allowed options span, the same
        options :meth:`snap` chooses from. ``plan`` is :meth:`box_plan` of the
        same ``lo``/``hi`` (computed here when not given).
        """
        x = self.clamp(x, lo, hi)
        packed = self.packed_groups()
        if packed is not None:
            if plan is None:
                plan = self.box_plan(lo, hi)
            index, _, cols, pos = packed
            fill = plan.fill
            assert fill is not None  # a plan of these constraints: groups filled
            # adding 0 leaves an allowed entry as it is, -inf excludes the rest
            block = _gather(x, index) + fill
            x = x.index_copy(1, cols, _scatter_values(_project_simplex(block), pos))
        return x

    def box_plan(self, lo: Tensor, hi: Tensor) -> BoxPlan:
        """What :meth:`project` and :meth:`snap` read from the per-row box.

        An engine run keeps the box of its rows fixed between compactions, so
        it computes the plan once and passes it to every step of the run: the
        options each row may take in each group, the integer features' grid
        bounds and whether there are any (no host sync per step). A group
        with no allowed option in a row (bounds that exclude every category)
        keeps all its options there, so the relaxation stays defined; the
        violation is reported on the result.
        """
        fill = None
        packed = self.packed_groups()
        if packed is not None:
            index, mask = packed[0], packed[1]
            allowed = mask & (_gather(hi, index) > 0.5)  # option bounded at 0 stays off
            allowed = torch.where(allowed.any(dim=2, keepdim=True), allowed, mask)
            fill = torch.zeros(allowed.shape, dtype=hi.dtype, device=hi.device)
            fill = fill.masked_fill(~allowed, float("-inf"))
        ints = None
        if self.integer is not None and bool(self.integer.any()):
            klo, khi = self._grid_bounds(lo, hi)
            ints = (self.integer & self.mutable, klo, khi)
        return BoxPlan(fill, ints)

    def snap(
        self, x: Tensor, lo: Tensor, hi: Tensor, plan: BoxPlan | None = None
    ) -> Tensor:
        """Make mutable one-hot groups valid one-hots and round integer features.

        ``plan`` is :meth:`box_plan` of the same ``lo``/``hi`` (computed here
        when not given).
        """
        if plan is None:
            plan = self.box_plan(lo, hi)
        if plan.fill is not None:
            index, _, cols, pos = self.packed_groups()  # type: ignore[misc]
            block = _gather(x, index) + plan.fill
            winner = block.argmax(dim=2, keepdim=True)
            onehot = torch.zeros_like(block).scatter_(2, winner, 1.0)
            x = x.index_copy(1, cols, _scatter_values(onehot, pos))
        if plan.integer is not None:
            selected, klo, khi = plan.integer
            x = torch.where(selected, self._round_into(x, (klo, khi)), x)
        return x

    def _grid(self, x: Tensor) -> Tensor:
        """Grid coordinates ``(x - origin) / step`` of the integer features."""
        if self.step is None or self.origin is None:
            return x
        return (x - self.origin) / self.step

    def _ungrid(self, k: Tensor) -> Tensor:
        if self.step is None or self.origin is None:
            return k
        return self.origin + k * self.step

    def round(
        self, x: Tensor, lo: Tensor | None = None, hi: Tensor | None = None
    ) -> Tensor:
        """Nearest grid point of every feature (inside ``[lo, hi]`` when given).

        Only meaningful on the integer features; callers select them.
        """
        grid = None if lo is None or hi is None else self._grid_bounds(lo, hi)
        return self._round_into(x, grid)

    def _round_into(self, x: Tensor, grid: tuple[Tensor, Tensor] | None) -> Tensor:
        """Nearest grid point, clamped to ``grid = (klo, khi)`` when given."""
        k = torch.round(self._grid(x))
        if grid is not None:
            k = torch.clamp(k, grid[0], grid[1])
        return self._ungrid(k)

    def _grid_bounds(self, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
        """The grid points nearest inside ``[lo, hi]`` (as grid coordinates)."""
        # a bound closer than float rounding to a grid point counts as on it
        return torch.ceil(self._grid(lo) - 1e-6), torch.floor(self._grid(hi) + 1e-6)

    def violations(self, x: Tensor, x0: Tensor, tol: Tensor | float = 0.0) -> Tensor:
        """Number of violated feature constraints per row, shape ``(n,)``."""
        bad, group_bad = self.violation_flags(x, x0, tol)
        count = bad.sum(dim=1)
        if group_bad is not None:
            count = count + group_bad.sum(dim=1)
        return count

    def violation_flags(
        self, x: Tensor, x0: Tensor, tol: Tensor | float = 0.0
    ) -> tuple[Tensor, Tensor | None]:
        """Which constraints each row breaks.

        Returns ``(bad, group_bad)``: ``bad`` of shape ``(n, d)`` flags the
        features that break their own constraints (immutability, bounds,
        direction, integrality); ``group_bad`` of shape ``(n, G)`` flags the
        mutable one-hot groups (in :meth:`packed_groups` order) that are not
        one-hot, None without such groups. :meth:`violations` is their sum.

        Immutability, integrality and one-hot groups are exact: a changed
        immutable value, an integer off its grid or a one-hot entry other than
        0 and 1 is a violation however small. ``tol`` (a float or a ``(d,)``
        tensor, absolute, in the features' units) forgives bound and direction
        breaches up to float rounding; it never grows with ``|x|``.
        :meth:`exact` makes values the engine returns hold with ``tol=0``.
        """
        delta = x - x0
        bad = (~self.mutable) & (delta != 0)
        # bounds bind what may move; an immutable feature is what it is
        upper = self.upper
        if self.stay is not None:  # the factual's own place is allowed
            upper = torch.where(self.stay, torch.maximum(upper, x0), upper)
        bad |= self.mutable & ((x < self.lower - tol) | (x > upper + tol))
        bad |= self.increase_only & (delta < -tol)
        bad |= self.decrease_only & (delta > tol)
        if self.integer is not None:
            bad |= self.integer & (x != self.round(x))
        ranked = self.ranked_groups()
        if ranked is not None:
            R, head, _, rank_dir = ranked
            step = (x - x0) @ R  # rank change of each directed group
            bad |= head & (
                ((rank_dir > 0) & (step < -0.5)) | ((rank_dir < 0) & (step > 0.5))
            )
        packed = self.packed_groups()
        if packed is None:
            return bad, None
        index, mask, _, _ = packed
        block = _gather(x, index).masked_fill(~mask, 0.0)
        not_binary = ((block != 0) & (block != 1)).any(dim=2)
        not_single = (block != 0).sum(dim=2) != 1
        return bad, not_binary | not_single

    def exact(self, x: Tensor, x0: Tensor) -> Tensor:
        """Put ``x`` exactly inside the constraints, in its own dtype.

        Clamps to the per-row box (immutable features come back bit-equal to
        ``x0``, one-directional ones never cross it), makes one-hot groups
        exact one-hots and rounds integer features onto their grid, *in the
        dtype of the returned values*: the last step before they are judged,
        so float error of an earlier, lower-precision step (a float32 model,
        ``x0 + delta`` arithmetic) cannot leave a value a hair outside a
        bound or off an integer. Bounds should be rounded inwards to the dtype
        (see :func:`inward_bounds`).
        """
        lo, hi = self.row_bounds(x0)
        return self.snap(self.clamp(x, lo, hi), lo, hi)


class BoxPlan(NamedTuple):
    """:meth:`Constraints.box_plan`: ``fill`` is ``(n, G, L)``, 0 on the
    options a row may take and ``-inf`` elsewhere (None without groups);
    ``integer`` is ``(selected, klo, khi)``, the mutable integer features and
    their grid bounds per row (None without integer features)."""

    fill: Tensor | None
    integer: tuple[Tensor, Tensor, Tensor] | None


def inward_bounds(lower, upper, dtype):
    """``lower``/``upper`` (float64 arrays) rounded *into* the interval in ``dtype``.

    Casting a bound to a narrower float rounds to the nearest representable
    value, which may lie outside it (``float32(100000.3) > 100000.3``); the
    next representable value inwards keeps every clamped value inside the
    float64 bound.
    """
    lo = np.asarray(lower, dtype=np.float64).astype(dtype)
    hi = np.asarray(upper, dtype=np.float64).astype(dtype)
    with np.errstate(invalid="ignore"):
        lo = np.where(lo < lower, np.nextafter(lo, dtype(np.inf)), lo)
        hi = np.where(hi > upper, np.nextafter(hi, dtype(-np.inf)), hi)
    return lo.astype(dtype), hi.astype(dtype)


def _gather(x: Tensor, index: Tensor) -> Tensor:
    """``x[:, index]`` for a ``(G, L)`` index, as one ``index_select``."""
    return x.index_select(1, index.reshape(-1)).view(x.shape[0], *index.shape)


def _scatter_values(block: Tensor, positions: Tensor) -> Tensor:
    """The real (unpadded) entries of a ``(n, G, L)`` block, as ``(n, n_cols)``."""
    return block.reshape(block.shape[0], -1).index_select(1, positions)


def _equal(a, b) -> bool:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return False
    return a == b


def _project_simplex(v: Tensor) -> Tensor:
    """Euclidean projection onto the probability simplex along the last dimension.

    Sort-based algorithm of Duchi et al. (2008), batched over leading dimensions.
    Entries equal to ``-inf`` (padding) are excluded and come out as 0.
    """
    k = v.shape[-1]
    u, _ = torch.sort(v, dim=-1, descending=True)
    css = torch.cumsum(u, dim=-1) - 1.0
    key = (k, v.dtype, v.device)
    ind = _RANKS.get(key)
    if ind is None:
        with torch.inference_mode(False):  # a cache: an ordinary tensor
            ind = _RANKS[key] = torch.arange(1, k + 1, device=v.device, dtype=v.dtype)
    # the condition holds on a prefix of the sorted entries (Duchi et al.):
    # its length is the support size; NaN (padding) compares False, and a row
    # of NaN keeps a support of 1 (its NaN passes through)
    support = ((u - css / ind) > 0).sum(dim=-1, keepdim=True).clamp_min_(1)
    theta = css.gather(-1, support - 1) / support
    return torch.clamp(v - theta, min=0.0)


#: ``arange(1, k + 1)`` per (k, dtype, device), for :func:`_project_simplex`
_RANKS: dict = {}
