"""Growing Spheres (Laugel et al., 2018): gradient-free counterfactuals."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..base import BaseGenerator, reaches_target
from ..utils._docstring import generator_docstring
from ..utils._random import row_keys
from ..utils._sklearn_compat import Interval

#: most points classified by one ``predict_proba`` call
_MAX_POINTS = 200_000
#: most candidate entries (points x features) per call, ~80 MB in float64
_MAX_ELEMENTS = 10_000_000
#: candidate entries built at once (a few MB: stays in cache)
_BLOCK_ELEMENTS = 500_000
#: most halvings of the initial radius (eta / 2**30 is below any useful precision)
_MAX_HALVINGS = 30
#: default initial radius, as a fraction of the median norm of the centred rows
_ETA_FRACTION = 0.1


@generator_docstring
class GrowingSpheresGenerator(BaseGenerator):
    """Growing Spheres: counterfactuals by random search in ℓ2 spherical layers.

    A model-agnostic, gradient-free method: only the model's ``predict_proba``
    is used, so random forests, gradient boosting or any fitted classifier can
    be explained, as well as the differentiable models the other generators take.

    For each factual ``x0`` (Laugel et al., 2018, Algorithm 1):

    1. *Shrink*: ``n_samples`` points are drawn uniformly in the ball of radius
       ``eta`` around ``x0``. While that ball already contains an *enemy* (a
       point that reaches the target), ``eta`` is halved and the ball redrawn.
    2. *Grow*: points are drawn uniformly in the spherical layers
       ``a0 <= ‖x - x0‖₂ <= a1``, starting at ``[eta, 2 eta]`` and moving out by
       ``eta`` each time (``[a0, a1] = [a1, a1 + eta]``), until a layer contains
       an enemy or ``max_layers`` layers were tried.
    3. The enemy closest to ``x0`` (ℓ2) is kept; with ``feature_selection=True`` it is
       then made sparse by feature selection (Laugel et al., Algorithm 2): the
       changed features are reset to their factual value one at a time, in
       increasing order of ``|change|``, and each reset is kept only if the
       point still reaches the target.

    An enemy is a point whose predicted class is the target with target
    probability at least ``tau`` (untargeted rows: any other class, with its
    probability at least ``tau``), the rule ``explain`` uses to call a row valid.
    Points move only along the coordinates a row can move (mutable features
    with room in the row's box; a one-hot option bounded at 0 is not one), and
    the balls and layers are those of that subspace; each point is clipped to
    the row's feasible box (bounds, ``increase_only`` / ``decrease_only``) and
    snapped to valid one-hots and integers *before* it is classified, so every
    candidate already satisfies the actionability constraints. A one-hot group
    is reset as a whole during sparsification.

    Parameters
    ----------
    estimator : object
        The classifier to explain: any fitted classifier with ``predict_proba``
        (random forests, gradient boosting, ``Pipeline`` objects, ...), a skorch
        ``NeuralNetClassifier`` or a ``torch.nn.Module``. Only its predictions
        are used. A fitted model is used as is and never modified, and ``clone``
        (hence ``GridSearchCV``) keeps it rather than refitting it; an unfitted
        one is cloned and fitted on ``(X, y)`` in ``fit`` (as ``estimator_``).

    %(target)s

    n_samples : int, default=1000
        Points drawn per sphere or layer, for each row.

    eta : float, default=None
        Initial radius, in the units of ``X``. None means a tenth of the median
        ℓ2 norm of the training rows centred on their mean, over the mutable
        features (see ``eta_``). It is also the width of the layers once the
        shrinking phase has ended.

    max_layers : int, default=50
        Most layers explored in the growing phase. A row with no enemy within
        radius ``(max_layers + 1) · eta`` gets no counterfactual.

    feature_selection : bool, default=True
        Reset changed features to their factual values where the prediction
        allows it (feature selection of Laugel et al.).

    %(actionability)s

    %(engine)s

    Attributes
    ----------
    estimator_ : object
        The model explained (the given one if fitted, else a fitted clone).
    model_ : DifferentiableModel or BlackBoxModel
        Prediction view of ``estimator_`` (a black box unless it is
        differentiable).
    classes_ : ndarray
        Class labels in the order of the model's outputs.
    eta_ : float
        Initial radius used (``eta``, or the value learned in ``fit``).
    scale_ : ndarray of shape (n_features,)
        Median absolute deviation per feature (std, then 1, where it is zero);
        used by ``score``.
    constraints_ : dict
        Resolved actionability constraints (indices, bounds).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    WachterGenerator : gradient-based minimum-cost counterfactuals.
    PGDGenerator : minimum-radius projected gradient (differentiable models).

    Notes
    -----
    Distances are plain ℓ2 in the units of ``X``, as in the paper: put the
    features on comparable scales (standardise them) first.

    ``explain(X).n_iter`` counts the spheres and layers sampled for each row
    (0 for rows that already reach the target). The cost is about
    ``n_samples · n_iter`` model evaluations per row, plus one evaluation per
    changed feature for sparsification; memory is bounded by chunks of
    ``batch_size`` rows whose points are classified at most 200,000 at a time
    (fewer for wide data).
    All rows of a chunk advance together, each with its own radius; the
    shrinking phase stops after 30 halvings (the closest enemy of the last ball
    is then kept).

    The random numbers of a row come from its own torch generator, seeded by
    ``random_state`` and the row's values, so a row's counterfactual depends
    neither on ``batch_size`` nor on the order or the other rows of the call.
    Candidates are built and classified in the lower of the data's and the
    model's precision: float32 for float32 data or a float32 network (which
    would round float64 candidates anyway), float64 otherwise; a returned row
    keeps the factual's own values wherever it did not move.

    Growing Spheres is fast and needs no gradient, but without feature
    selection its counterfactuals are neither sparse nor minimal. Seed 003
    (Hardy et al.) runs CARLA's implementation (fixed layer width, no feature
    selection) on Adult and Fashion-MNIST (§3.1-3.2): 100 %% success (Table 1),
    but on Adult 7.09 changed features on average, 4.99 of them redundant,
    against 1.77 and 0 for Actionable Recourse (Table 2), and noisy,
    adversarial-looking image counterfactuals (§4.2, §5).

    References
    ----------
    Laugel, Lesot, Marsala, Renard, Detyniecki (2018). Inverse classification
    for comparison-based interpretability in machine learning. IPMU 2018
    (arXiv:1712.08443), Algorithms 1 (growing spheres) and 2 (feature
    selection). Seed 003: Hardy, Salman, Wang, Li, Exploring the connection
    between adversarial examples and algorithmic recourse, §2 ([12]), §3.1-3.2,
    §4.1 (Tables 1 and 2) and §5.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.generators import GrowingSpheresGenerator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    >>> gen = GrowingSpheresGenerator(forest, n_samples=200, random_state=0).fit(X)
    >>> cf = gen.explain(X[:10])
    >>> cf.validity
    1.0
    >>> bool((forest.predict(cf.X_cf) != forest.predict(X[:10])).all())
    True
    >>> bool(cf.l0.mean() < X.shape[1])  # feature selection made them sparse
    True
    """

    _requires_gradients = False

    _parameter_constraints: dict = {
        **BaseGenerator._parameter_constraints,
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "eta": [Interval(Real, 0, None, closed="neither"), None],
        "max_layers": [Interval(Integral, 1, None, closed="left")],
        "feature_selection": ["boolean"],
    }

    def __init__(
        self,
        estimator,
        *,
        target="opposite",
        n_samples=1000,
        eta=None,
        max_layers=50,
        feature_selection=True,
        immutable=None,
        increase_only=None,
        decrease_only=None,
        bounds="infer",
        categorical=None,
        integer=None,
        tau=0.0,
        batch_size=1024,
        device=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.target = target
        self.n_samples = n_samples
        self.eta = eta
        self.max_layers = max_layers
        self.feature_selection = feature_selection
        self.immutable = immutable
        self.increase_only = increase_only
        self.decrease_only = decrease_only
        self.bounds = bounds
        self.categorical = categorical
        self.integer = integer
        self.tau = tau
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X, y):
        if self.eta is not None:
            self.eta_ = float(self.eta)
            return
        mutable = self.constraints_["mutable"]
        Xm = np.asarray(X, dtype=np.float64)[:, mutable]
        radius = float(np.median(np.linalg.norm(Xm - Xm.mean(axis=0), axis=1)))
        if not (np.isfinite(radius) and radius > 1e-12):  # constant data
            radius = float(np.linalg.norm(self.scale_[mutable]))
        self.eta_ = _ETA_FRACTION * radius

    def _generate(self, X, y0, tgt, untargeted):
        n = X.shape[0]
        X64 = np.array(X, dtype=np.float64)  # a writable copy: X may be read-only
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        keys = row_keys(X64, seed)  # per-row streams: see Notes
        cons = self._engine_constraints("cpu", torch.float64)
        units = _units(self.constraints_)
        space = _Space(self.constraints_)
        X_cf = X64.copy()
        n_iter = np.zeros(n, dtype=np.int64)
        size = n if self.batch_size is None else self.batch_size
        starts = range(0, n, size)
        if self.verbose >= 2:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=type(self).__name__, unit="chunk")
        for start in starts:
            rows = slice(start, start + size)
            search = _Search(
                self,
                X64[rows],
                y0[rows],
                tgt[rows],
                untargeted[rows],
                [_generator(key) for key in keys[rows].tolist()],
                cons,
                space,
                X.dtype,
            )
            X_cf[rows], n_iter[rows] = search.run(units)
        return X_cf, n_iter


class _Space:
    """The coordinates a search moves: mutable features, minus one-hot groups
    with an immutable column (frozen whole). Group and integer positions are
    given in this subspace, so snapping works on ``(rows, points, k)`` blocks.
    """

    def __init__(self, constraints):
        c = constraints
        free = c["mutable"].copy()
        groups = [np.asarray(g) for g in c["groups"]]
        for g in groups:
            if not free[g].all():
                free[g] = False
        self.cols = np.flatnonzero(free)
        # runs of consecutive free columns: (start, stop, offset in the subspace)
        breaks = np.flatnonzero(np.diff(self.cols) != 1) + 1
        self.runs = [
            (int(run[0]), int(run[-1]) + 1, int(offset))
            for run, offset in zip(
                np.split(self.cols, breaks), np.r_[0, breaks], strict=True
            )
            if run.size
        ]
        pos = np.full(free.size, -1)
        pos[self.cols] = np.arange(self.cols.size)
        self.groups = [_as_slice(pos[g]) for g in groups if free[g].all()]
        self.integer = np.flatnonzero(c["integer"][self.cols])
        # integer features live on a grid origin + step * k (step 1 by default)
        step, origin = c.get("step"), c.get("origin")
        self.step = None if step is None else np.asarray(step)[self.cols][self.integer]
        self.origin = (
            None if origin is None else np.asarray(origin)[self.cols][self.integer]
        )
        # one-directional features: sample the allowed half-space only
        inc, dec = c["increase_only"][self.cols], c["decrease_only"][self.cols]
        sign = np.where(inc, 1.0, np.where(dec, -1.0, 0.0))
        self.directed = [(j, sign[j]) for j in np.flatnonzero(sign)]

    def scatter(self, x, x0, z):
        """In place: ``x`` (rows, points, d) gets ``x0`` with ``z`` in the free
        coordinates (slices of consecutive columns are cheaper than fancy
        indexing)."""
        x[:] = x0[:, None, :]
        if len(self.runs) <= 16:
            for start, stop, offset in self.runs:
                x[:, :, start:stop] = z[:, :, offset : offset + stop - start]
        else:
            x[:, :, self.cols] = z

    def grid_bounds(self, lo, hi):
        """Each row's range ``(klo, khi)`` of grid steps on the integer features.

        ``lo``/``hi`` have shape ``(rows, k)``; computed once per row, in the
        precision of the bounds (float64), whatever the candidates' dtype.
        None without integer features.
        """
        if not self.integer.size:
            return None
        j = self.integer
        step, origin = (1.0, 0.0) if self.step is None else (self.step, self.origin)
        # a bound closer than float rounding to a grid point counts as on it
        klo = np.ceil((lo[:, j] - origin) / step - 1e-6)
        khi = np.floor((hi[:, j] - origin) / step + 1e-6)
        return klo[:, None, :], khi[:, None, :]

    def snap(self, z, lo, hi, grid=None, masked=False):
        """In place: argmax one-hot per group, integers rounded into the box.

        ``z`` has shape ``(rows, points, k)``, ``lo``/``hi`` ``(rows, 1, k)``:
        the rule of :meth:`Constraints.snap`, without repeating the bounds of
        a row for each of its points. ``grid``: the rows' :meth:`grid_bounds`
        (computed from ``lo``/``hi`` when None). ``masked``: the one-hot
        options bounded at 0 already hold ``-inf`` in ``z`` (the box ``z`` was
        clipped to said so, see :class:`_Search`). Grid points are computed in
        float64 and then stored in ``z``'s dtype, so a float32 search puts an
        integer feature left on its factual step on the factual's float32
        value.
        """
        flat = z.reshape(-1) if z.flags.c_contiguous else None
        for g in self.groups:  # few groups; every row and point at once
            block = z[:, :, g]
            if not masked:
                allowed = hi[:, :, g] > 0.5  # an option bounded at 0 stays off
                if not allowed.all():
                    block = np.where(allowed, block, -np.inf)
            winner = block.argmax(axis=2)
            if flat is None:
                z[:, :, g] = np.arange(block.shape[2]) == winner[:, :, None]
                continue
            # the winners' flat positions: cheaper than a (rows, points, k) mask
            z[:, :, g] = 0.0
            col = winner + g.start if isinstance(g, slice) else g[winner]
            col += np.arange(0, flat.size, z.shape[2]).reshape(winner.shape)
            flat[col.ravel()] = 1.0
        if self.integer.size:
            j = self.integer
            if grid is None:
                grid = self.grid_bounds(lo[:, 0], hi[:, 0])
            klo, khi = grid
            if self.step is None:
                k = np.round(z[:, :, j])
                np.maximum(k, klo, out=k, casting="unsafe")
                np.minimum(k, khi, out=k, casting="unsafe")
                z[:, :, j] = k
            else:
                k = np.round((z[:, :, j] - self.origin) / self.step)
                np.maximum(k, klo, out=k)
                np.minimum(k, khi, out=k)
                k *= self.step
                k += self.origin
                z[:, :, j] = k
        return z


class _Search:
    """One chunk of rows: shared state of the shrink / grow / sparsify phases.

    Every phase loops over steps (halvings, layers, features) and handles all
    the chunk's rows that are still active at once; only drawing the random
    numbers visits the rows one by one (one generator per row, which is what
    makes results independent of the chunking).
    """

    def __init__(self, gen, x0, y0, tgt, untargeted, rngs, cons, space, dtype):
        self.gen = gen
        self.model = gen.model_
        self.n_samples = gen.n_samples
        self.x0, self.y0, self.tgt, self.untargeted = x0, y0, tgt, untargeted
        self.rngs = rngs
        self.cons = cons
        self.space = space
        self.dtype = dtype
        cols = space.cols
        # candidates are built and scored in the lower of the data's and the
        # model's precision: float32 data, or a float32 network (which would
        # round float64 candidates anyway), are searched in float32 (half the
        # memory traffic, random draws several times faster)
        self.work = _work_dtype(dtype, getattr(self.model, "dtype", None))
        self.torch_work = torch.from_numpy(np.empty(0, self.work)).dtype
        # float64 rows searched in float32: a returned point takes the row's own
        # float64 value wherever it kept the factual's float32 one, so untouched
        # coordinates come back bit-equal to the factual
        self.restore = self.work != np.dtype(dtype)
        self.x0w = x0.astype(self.work)
        lo, hi = cons.row_bounds(torch.from_numpy(x0))
        lo, hi = lo.numpy()[:, cols], hi.numpy()[:, cols]
        self.lo, self.hi = lo.astype(self.work), hi.astype(self.work)
        # a one-hot option bounded at 0 is clipped to -inf: never a group's
        # argmax (what snap would otherwise mask out for every point)
        off = np.zeros(lo.shape, dtype=bool)
        for g in space.groups:
            off[:, g] = hi[:, g] <= 0.5
        self.lo[off] = -np.inf
        self.hi[off] = -np.inf
        # integer features: each row's grid range, from its float64 box
        self.grid = space.grid_bounds(lo, hi)
        origin = gen.constraints_.get("origin")
        self.grid_origin = np.zeros(x0.shape[1])
        if origin is not None:
            integer = gen.constraints_["integer"]
            self.grid_origin[integer] = np.abs(np.asarray(origin)[integer])
        self.z0 = self.x0w[:, cols]
        # coordinates a row can move: an empty box or a one-hot option bounded
        # at 0 is no direction to sample (e.g. the unknown-category slots of a
        # pipeline's search space); a row's own property, whatever the chunk
        live = (hi > lo) & ~off
        self.live = live.astype(self.work)
        self.dim = np.maximum(live.sum(axis=1), 1).astype(np.float64)
        d = x0.shape[1]
        per_call = max(1, min(_MAX_POINTS, _MAX_ELEMENTS // d))
        self.rows_per_call = max(1, per_call // self.n_samples)
        self.rows_per_block = max(1, _BLOCK_ELEMENTS // (d * self.n_samples))
        self.buffer = None

    # ------------------------------------------------------------ helpers
    def _enemy(self, proba, rows):
        """Which points reach each row's target (the rule ``explain`` checks)."""
        reached, _, _ = reaches_target(
            proba, self.y0[rows], self.tgt[rows], self.untargeted[rows], self.gen.tau
        )
        return reached

    def _draw(self, rows, a0, a1):
        """Uniform points in the layers ``a0 <= r <= a1`` around each row,
        as free coordinates ``(rows, n_samples, k)``."""
        s, k = self.n_samples, self.space.cols.size
        step_t = torch.empty((len(rows), s, k), dtype=self.torch_work)
        u_t = torch.empty((len(rows), s), dtype=self.torch_work)
        for i, r in enumerate(rows):  # per-row generators: batch invariant
            rng = self.rngs[r]
            step_t[i].normal_(generator=rng)
            u_t[i].uniform_(generator=rng)
        step, u = step_t.numpy(), u_t.numpy().astype(np.float64)
        for j, sign in self.space.directed:
            step[:, :, j] = np.abs(step[:, :, j]) * sign
        step *= self.live[rows][:, None, :]  # no move along a stuck coordinate
        k = self.dim[rows][:, None]
        norm = np.sqrt(np.einsum("rsk,rsk->rs", step, step))
        # radius with density ∝ r^(k-1) on [a0, a1]: uniform in the layer's volume
        a0, a1 = a0[:, None], a1[:, None]
        t = (a0 / a1) ** k
        radius = a1 * (t + u * (1.0 - t)) ** (1.0 / k)
        step *= (radius / np.maximum(norm, 1e-30))[:, :, None]
        step += self.z0[rows][:, None, :]
        return step

    def _layer(self, rows, a0, a1):
        """Closest enemy in one layer per row: (points, distances, found).

        Points are clipped to their row's box and snapped (one-hots, integers)
        before they are classified, so every candidate is feasible. They are
        built in small blocks of rows (cache friendly) and classified in large
        calls of at most ``_MAX_POINTS`` points.
        """
        s, d = self.n_samples, self.x0.shape[1]
        best = np.empty((len(rows), d))
        dist = np.full(len(rows), np.inf)
        for c in range(0, len(rows), self.rows_per_call):
            call = np.arange(c, min(c + self.rows_per_call, len(rows)))
            if self.buffer is None:  # reused across calls: no fresh pages
                self.buffer = np.empty(
                    (min(self.rows_per_call, len(self.x0)), s, d), dtype=self.work
                )
            x = self.buffer[: call.size]
            dd = np.empty((call.size, s))
            for b in range(0, call.size, self.rows_per_block):
                blk = slice(b, b + self.rows_per_block)
                sub = rows[call[blk]]
                z = self._draw(sub, a0[call[blk]], a1[call[blk]])
                lo, hi = self.lo[sub][:, None, :], self.hi[sub][:, None, :]
                np.clip(z, lo, hi, out=z)
                grid = None if self.grid is None else tuple(g[sub] for g in self.grid)
                z = self.space.snap(z, lo, hi, grid, masked=True)
                self.space.scatter(x[blk], self.x0w[sub], z)
                z -= self.z0[sub][:, None, :]
                dd[blk] = np.sqrt(np.einsum("rsk,rsk->rs", z, z))
            sub = rows[call]
            proba = self.model.predict_proba(x.reshape(-1, d))
            hit = self._enemy(proba, np.repeat(sub, s)).reshape(call.size, s)
            dd[~hit] = np.inf
            pick = dd.argmin(axis=1)
            best[call] = x[np.arange(call.size), pick]
            dist[call] = dd[np.arange(call.size), pick]
        if self.restore:  # untouched coordinates: the factual's own values
            x0 = self.x0[rows]
            np.copyto(best, x0, where=best == self.x0w[rows])
        return best, dist, np.isfinite(dist)

    # --------------------------------------------------------------- phases
    def run(self, units):
        m = len(self.x0)
        x_cf = self.x0.copy()
        best_dist = np.full(m, np.inf)
        n_iter = np.zeros(m, dtype=np.int64)
        everyone = np.arange(m)
        if not self.space.cols.size:  # every mutable feature is in a frozen group
            return x_cf, n_iter
        # rows whose factual already reaches the target (e.g. targeted rows
        # already in the target class) are their own counterfactual
        done = self._enemy(self.model.predict_proba(self.x0), everyone)
        best_dist[done] = 0.0

        def keep(rows, best, dist, hit):
            better = hit & (dist < best_dist[rows])
            x_cf[rows[better]] = best[better]
            best_dist[rows[better]] = dist[better]

        eta = np.full(m, self.gen.eta_)
        zeros = np.zeros(m)
        shrinking = ~done
        for _ in range(_MAX_HALVINGS + 1):  # 1. shrink while the ball holds enemies
            rows = np.flatnonzero(shrinking)
            if not rows.size:
                break
            best, dist, hit = self._layer(rows, zeros[rows], eta[rows])
            keep(rows, best, dist, hit)
            n_iter[rows] += 1
            eta[rows[hit]] /= 2.0
            shrinking[rows[~hit]] = False
        done |= shrinking  # still enemies after every halving: keep the closest
        a1 = eta.copy()
        growing = ~done
        for _ in range(self.gen.max_layers):  # 2. grow layers until an enemy
            rows = np.flatnonzero(growing)
            if not rows.size:
                break
            a0 = a1[rows]
            a1[rows] = a0 + eta[rows]
            best, dist, hit = self._layer(rows, a0, a1[rows])
            keep(rows, best, dist, hit)
            n_iter[rows] += 1
            growing[rows[hit]] = False
        found = np.isfinite(best_dist) & (best_dist > 0)
        if self.gen.feature_selection and found.any():
            rows = np.flatnonzero(found)
            x_cf[rows] = self._sparsify(rows, x_cf[rows], units)
        return x_cf, n_iter

    def _judged(self, x, x0):
        """``x`` with the float rounding repaired that ``explain`` repairs.

        Values a few units in the last place of the search's dtype off a
        bound, an integer step or a one-hot are put on it (as
        :meth:`BaseGenerator._exact` does with the returned rows); a real
        breach is left as it is.
        """
        fixed = self.cons.exact(torch.from_numpy(x), torch.from_numpy(x0)).numpy()
        eps = 16 * np.finfo(self.work).eps
        # grid points ``origin + k * step`` carry the rounding of both terms
        scale = np.abs(x) + np.abs(x0) + self.grid_origin + np.finfo(np.float64).tiny
        return torch.from_numpy(np.where(np.abs(fixed - x) <= eps * scale, fixed, x))

    def _sparsify(self, rows, x_cf, units):
        """Reset changed units (features, one-hot groups) by increasing |change|."""
        x0 = self.x0[rows]
        # a reset must not add a violation (factual values outside the bounds,
        # non-integer or not one-hot). Violations add up over units (features,
        # one-hot groups) and a reset only touches its own unit, so the test is
        # "does the factual break fewer of this unit's constraints than the
        # current values": counted once per unit, before the greedy pass, on
        # the values ``explain`` will judge (float rounding repaired: a factual
        # an ulp off its integer grid, a float32 point a hair past a bound)
        t0 = torch.from_numpy(x0)
        per_cf = _unit_violations(self.cons, self._judged(x_cf, x0), t0, units)
        x0_judged = self._judged(x0, x0)  # its own reference: no direction broken
        per_x0 = _unit_violations(self.cons, x0_judged, x0_judged, units)
        change = np.sqrt(((x_cf - x0) ** 2) @ units.T)  # (rows, units)
        change = np.where(change > 0, change, np.inf)
        order = np.argsort(change, axis=1, kind="stable")
        n_changed = np.isfinite(change).sum(axis=1)
        for k in range(int(n_changed.max(initial=0))):
            act = np.flatnonzero(n_changed > k)
            unit = order[act, k]
            cand = np.where(units[unit], x0[act], x_cf[act])
            ok = self._enemy(self.model.predict_proba(cand), rows[act])
            ok &= per_x0[act, unit] <= per_cf[act, unit]  # never trade validity
            x_cf[act[ok]] = cand[ok]
        return x_cf


def _work_dtype(dtype, model_dtype):
    """The dtype candidates are built and scored in.

    The data's dtype, or float32 for float64 data and a network working in a
    lower precision (which rounds each candidate to it anyway).
    """
    if np.dtype(dtype) == np.float32 or model_dtype in (
        torch.float32,
        torch.float16,
        torch.bfloat16,
    ):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _generator(key):
    """A torch generator seeded by a row's 64-bit key."""
    rng = torch.Generator()
    rng.manual_seed(int(key))
    return rng


def _unit_violations(cons, x, x0, units):
    """Violated constraints per row and sparsification unit, ``(n, n_units)``.

    Units are the single features, then the mutable one-hot groups in
    :meth:`Constraints.packed_groups` order (the layout of :func:`_units`).
    """
    bad, group_bad = cons.violation_flags(x, x0)
    counts = bad.numpy().astype(np.int64) @ units.T.astype(np.int64)
    if group_bad is not None:
        counts[:, units.shape[0] - group_bad.shape[1] :] += group_bad.numpy()
    return counts


def _as_slice(index):
    """A slice (indexing gives a view) for sorted consecutive indices."""
    if index.size and np.array_equal(index, np.arange(index[0], index[-1] + 1)):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def _units(constraints):
    """Boolean ``(n_units, n_features)`` membership of the sparsification units.

    One unit per mutable feature outside the one-hot groups, one per mutable
    group (reset as a whole).
    """
    mutable = constraints["mutable"]
    d = mutable.size
    in_group = np.zeros(d, dtype=bool)
    rows = []
    for g in constraints["groups"]:
        in_group[g] = True
        if mutable[g].any():
            row = np.zeros(d, dtype=bool)
            row[g] = True
            rows.append(row)
    single = np.flatnonzero(mutable & ~in_group)
    eye = np.zeros((single.size, d), dtype=bool)
    eye[np.arange(single.size), single] = True
    return np.concatenate([eye, np.asarray(rows, dtype=bool).reshape(-1, d)])
