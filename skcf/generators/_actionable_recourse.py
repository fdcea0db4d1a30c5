"""Actionable Recourse (Ustun, Spangher & Liu, 2019): minimum-cost actions by MILP."""

import copy
from contextvars import ContextVar
from numbers import Integral, Real

import numpy as np
import torch
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from sklearn.utils import check_random_state

from ..base import BaseGenerator, reaches_target
from ..models import DifferentiableModel
from ..models._adapters import BlackBoxModel
from ..models._space import unfrozen
from ..utils._docstring import generator_docstring
from ..utils._random import normal, row_keys, uniform
from ..utils._sklearn_compat import Interval, StrOptions

__all__ = ["ActionableRecourseGenerator"]

#: per-call side channel from ``_generate`` to ``explain`` (which rows had no
#: feasible action): a context variable, so ``explain`` never writes to ``self``
_REPORT = ContextVar("skcf_actionable_recourse_report", default=None)

#: most candidate entries (rows x features x grid points) built at once
_BLOCK_ELEMENTS = 2_000_000
#: most sampled entries (rows x samples x features) of one LIME block
_LIME_ELEMENTS = 4_000_000
#: log-probabilities are clipped here before the surrogate is fitted
_PROBA_FLOOR = 1e-10
#: leaf modules whose composition is affine (softmax only shifts all logits)
_AFFINE_LEAVES = (
    torch.nn.Linear,
    torch.nn.Identity,
    torch.nn.Flatten,
    torch.nn.Dropout,
    torch.nn.Softmax,
    torch.nn.LogSoftmax,
)


@generator_docstring
class ActionableRecourseGenerator(BaseGenerator):
    """Actionable Recourse: exact minimum-cost actions by mixed-integer programming.

    Ustun, Spangher and Liu (2019) find, for a linear classifier, the cheapest
    *action* that flips its decision, over a finite grid of feasible values per
    feature, by solving one mixed-integer linear program (MILP) per row. Here
    each row's MILP is solved with ``scipy.optimize.milp`` (HiGHS), so the
    returned action is the exact optimum over the grid.

    **Action grid.** For every mutable feature the candidate values are at
    most ``n_grid + 1`` values of the training data: all distinct values when
    there are few, else the training quantiles at levels ``0, 1/n_grid, ...,
    1``. Per row they are clipped to the feasible box (``bounds``,
    ``increase_only`` / ``decrease_only``), snapped to the integer grid of
    ``integer`` features, and the factual value is the "no action" choice.
    Immutable features have no candidates; a one-hot group (``categorical``)
    switches to exactly one allowed category. These come from the same
    actionability parameters as every skcf generator, by column name on the
    raw-data road.

    **Cost** (Ustun et al., §3, "total log-percentile shift" and "maximum
    percentile shift"). ``Q_j`` is the percentile of a value among the
    training values of feature ``j`` (see Notes). With ``shift="log"`` the
    cost of moving feature ``j`` from ``x_j`` to ``x'_j`` is

    ``c_j = |log((1 - Q_j(x'_j)) / (1 - Q_j(x_j)))|``

    and with ``shift="linear"`` it is ``c_j = |Q_j(x'_j) - Q_j(x_j)|``. The
    row's cost is ``sum_j c_j`` (``cost="total"``) or ``max_j c_j``
    (``cost="max"``; ties are broken by the smallest total, found by a second
    MILP over the actions whose every ``c_j`` is at most the optimal maximum).
    A one-hot column is a 0/1 feature like any other, so switching category
    ``a`` to ``b`` costs ``c_a + c_b`` (total) or ``max(c_a, c_b)``.

    **Target.** The MILP asks the target logit to beat every other logit by
    ``margin``: ``f_t(x') - f_k(x') >= margin`` for ``k != t`` (for a binary
    model: the decision score). ``target="other"`` solves one MILP per class
    other than the predicted one and keeps the cheapest.

    **Linear models** (``surrogate="auto"`` or ``"linear"``): sklearn linear
    classifiers (``LogisticRegression``, ``LinearSVC``, ``SGDClassifier``...),
    torch networks made of linear layers, pipelines of scalers before them,
    and raw-data pipelines (``ColumnTransformer`` of scalers and encoders)
    ending in one, whose compiled preprocessing is affine, and any classifier
    with ``coef_`` / ``intercept_``. Their logits are an exact affine map of
    the search space, read off the model and checked on the training rows.

    **Other models** (``surrogate="auto"`` or ``"lime"``): AR-LIME, as CARLA
    runs it in seed 003. Around each factual ``n_samples`` points are drawn
    (numeric features: Gaussian steps of one training standard deviation,
    clipped to the feasible box; one-hot groups: a category drawn from the
    training frequencies), weighted by LIME's kernel
    ``sqrt(exp(-d^2 / kernel_width^2))`` on standardised distances, and a
    ridge regression (alpha 1, as LIME) of the model's log-probabilities on
    the changes is fitted, anchored at the factual's own log-probabilities.
    The MILP is solved on that local linear model and each candidate action
    is checked on the real model; when it does not reach the target, the
    next cheapest action (a *flipset*, Ustun et al. §4) is solved for, up to
    ``max_candidates`` actions per row. A row whose flipset runs out is
    solved again on a surrogate refitted around its failed action nearest
    the target, up to ``relinearize`` times (``relinearize=0`` is the paper's
    AR-LIME).

    Rows for which no action set reaches the target (the MILP is
    infeasible) are *infeasible*: a result, not an error. They are returned
    unchanged, are not valid, and ``explain(X).infeasible`` flags them.

    Parameters
    ----------
    %(estimator)s
        Any classifier with ``predict_proba`` works through the AR-LIME
        surrogate.

    %(target)s

    cost : {"total", "max"}, default="total"
        Aggregate of the per-feature costs: their sum or their maximum.

    shift : {"log", "linear"}, default="log"
        Per-feature cost: log-percentile shift
        ``|log((1 - Q(x')) / (1 - Q(x)))|`` or percentile shift
        ``|Q(x') - Q(x)|``. Ustun et al.'s two costs are ``cost="total",
        shift="log"`` and ``cost="max", shift="linear"``.

    margin : float, default=1e-3
        Required lead of the target logit over every other logit (over the
        decision threshold for binary models), in logit units. With ``tau >
        0`` the margin is raised to what ``tau`` needs (see Notes).

    n_grid : int, default=100
        Grid resolution: at most ``n_grid + 1`` candidate values per feature
        (training quantiles).

    surrogate : {"auto", "linear", "lime"}, default="auto"
        ``"linear"``: the model must be linear (else ``fit`` raises);
        ``"lime"``: always fit a local linear surrogate per row (AR-LIME);
        ``"auto"``: exact for linear models, AR-LIME otherwise.

    n_samples : int, default=1000
        AR-LIME: points sampled around each factual.

    kernel_width : float, default=None
        AR-LIME: kernel width on standardised distances; None means LIME's
        ``0.75 * sqrt(n)`` for ``n`` mutable features (a one-hot group
        counts as one).

    max_candidates : int, default=10
        Actions tried per row (and per target class) before the row is given
        up: the flipset size. Only AR-LIME needs more than one, as an action
        of a linear model is valid by construction.

    relinearize : int, default=3
        AR-LIME: further rounds for rows whose flipset found no valid action.
        Each fits a new surrogate around the row's failed action that came
        nearest the target (the largest log-probability lead of the target
        class) and solves the row's MILP from the factual again on it, up to
        ``max_candidates`` actions. 0 is AR-LIME as CARLA runs it (seed 003):
        one surrogate, at the factual. The surrogate at the factual only
        knows the model near the factual, so actions that must go further
        fail on the model: on the raw-data road 0.40-0.93 of rejected
        German credit and Adult applicants got a valid action with 0 (a
        neural network or gradient boosting behind the pipeline).

    enumeration : {"distinct_subsets", "distinct_actions"}, default="distinct_subsets"
        How the next action of a flipset differs from those tried:
        ``"distinct_subsets"`` (Ustun et al.'s default) changes another set
        of features; ``"distinct_actions"`` may change the same features by
        other amounts.

    time_limit : float, default=None
        Seconds allowed to each MILP (None: no limit). A MILP stopped by the
        limit returns the best action found so far, which may not be the
        cheapest; one without any counts as infeasible.

    n_jobs : int, default=None
        Processes solving the rows' MILPs in parallel (joblib); None means 1.

    %(actionability)s

    %(engine)s

    Attributes
    ----------
    estimator_ : object
        The model explained (the given one if fitted, else a fitted clone).
    model_ : DifferentiableModel or BlackBoxModel
        Prediction view of ``estimator_``.
    classes_ : ndarray
        Class labels in the order of the model's outputs.
    surrogate_ : {"linear", "lime"}
        How the rows are solved: exactly on the linear model, or on AR-LIME
        surrogates.
    coef_ : ndarray of shape (n_features, n_classes) or None
        Logits of the linear model as ``X @ coef_ + intercept_`` (up to a
        shift shared by all classes); None with AR-LIME.
    intercept_ : ndarray of shape (n_classes,) or None
    grid_ : list of ndarray
        Candidate values per feature (search space on the raw-data road).
    percentile_knots_ : list of tuple of ndarray
        ``(values, percentiles)`` per feature: the percentile function ``Q``
        is their linear interpolation.
    std_ : ndarray of shape (n_features,)
        Training standard deviation per feature (1 where zero): AR-LIME's
        step size.
    mean_ : ndarray of shape (n_features,)
        Training mean per feature: AR-LIME draws one-hot categories with
        these frequencies.
    scale_ : ndarray of shape (n_features,)
        Median absolute deviation per feature; used by ``score``.
    constraints_ : dict
        Resolved actionability constraints (indices, bounds).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    GrowingSpheresGenerator : gradient-free random search, model-agnostic.
    WachterGenerator : gradient-based minimum-cost counterfactuals.

    Notes
    -----
    *Percentiles.* ``Q_j(v)`` is the mid-rank empirical distribution function
    of the training values ``x_{1j}, ..., x_{nj}``:
    ``Q_j(u) = (#{i: x_ij < u} + #{i: x_ij = u} / 2) / n`` at each distinct
    training value ``u``, linear between them, ``0.25 / n`` and ``1 - 0.25 /
    n`` one data range below the smallest and above the largest value, and
    constant beyond. It stays strictly inside ``(0, 1)``, so every cost is
    finite, and a value never seen in training (a category absent from the
    data) is expensive. Ustun et al.'s library smooths ``Q`` with a Gaussian
    KDE instead; the mid-rank form keeps the cost exactly reproducible.

    *Exactness.* For a linear model the returned action is the minimum of
    the cost over the grid among the actions that reach the margin, to
    HiGHS's tolerances (relative gap 1e-9). The test suite checks it against
    brute-force enumeration. The grid itself is a discretisation: a
    continuous feature moves to a training quantile or a bound.

    *tau.* A binary model reaches probability ``tau`` when its logit gap is
    at least ``log(tau / (1 - tau))``; for ``K`` classes a gap of
    ``log(tau (K - 1) / (1 - tau))`` over every other class suffices. The
    margin used is the larger of that and ``margin``.

    *Cost of the search.* One MILP per row and target class (for
    ``cost="max"`` possibly two HiGHS runs: the maximum, then the total), plus
    one per extra flipset candidate. Each has a binary
    variable per candidate value; for a binary model only moves that raise
    the decision score are kept, as a move the other way only adds cost.
    ``explain(X).n_iter`` counts the MILPs solved for each row. AR-LIME adds
    ``n_samples`` model evaluations per row.

    ``explain(X)`` returns a ``CounterfactualSet`` with two more
    attributes: ``infeasible`` (bool per row: no action set reaches the
    target on the linear model or the row's surrogate) and ``cost`` (the
    recourse cost of each valid row, NaN elsewhere).

    Seed 003 (Hardy et al.) runs CARLA's AR-LIME (flipset size 500) on
    naturally and adversarially trained networks for Adult: success 37.2 %%
    and 39.5 %% (Table 1), 1.77 changed features and no redundant change
    (Table 2). See docs/actionable_recourse.md for our numbers.

    References
    ----------
    Ustun, Spangher, Liu (2019). Actionable recourse in linear
    classification. FAT* 2019 (arXiv:1809.06514), §3 (integer program, cost
    functions) and §4 (flipsets). Ribeiro, Singh, Guestrin (2016). "Why
    should I trust you?": LIME, KDD 2016 (the tabular sampler and kernel).
    Seed 003: Hardy, Salman, Wang, Li, Exploring the connection between
    adversarial examples and algorithmic recourse, §3.2 (AR-LIME on Adult),
    Tables 1-2, Figs. 3-4.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.generators import ActionableRecourseGenerator
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randint(0, 10, size=(200, 3)).astype(float)
    >>> y = (X[:, 0] + X[:, 1] > 9).astype(int)
    >>> clf = LogisticRegression().fit(X, y)
    >>> gen = ActionableRecourseGenerator(clf, immutable=[2], integer=[0, 1])
    >>> cf = gen.fit(X).explain(X[y == 0][:5])
    >>> cf.validity, gen.surrogate_
    (1.0, 'linear')
    >>> bool((cf.X_cf[:, 2] == X[y == 0][:5, 2]).all())  # immutable kept
    True
    >>> bool((clf.predict(cf.X_cf) == 1).all()), bool(np.isfinite(cf.cost).all())
    (True, True)
    """

    _requires_gradients = False

    _parameter_constraints: dict = {
        **BaseGenerator._parameter_constraints,
        "cost": [StrOptions({"total", "max"})],
        "shift": [StrOptions({"log", "linear"})],
        "margin": [Interval(Real, 0, None, closed="left")],
        "n_grid": [Interval(Integral, 1, None, closed="left")],
        "surrogate": [StrOptions({"auto", "linear", "lime"})],
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "kernel_width": [Interval(Real, 0, None, closed="neither"), None],
        "max_candidates": [Interval(Integral, 1, None, closed="left")],
        "relinearize": [Interval(Integral, 0, None, closed="left")],
        "enumeration": [StrOptions({"distinct_subsets", "distinct_actions"})],
        "time_limit": [Interval(Real, 0, None, closed="neither"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        estimator,
        *,
        target="opposite",
        cost="total",
        shift="log",
        margin=1e-3,
        n_grid=100,
        surrogate="auto",
        n_samples=1000,
        kernel_width=None,
        max_candidates=10,
        relinearize=3,
        enumeration="distinct_subsets",
        time_limit=None,
        n_jobs=None,
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
        self.cost = cost
        self.shift = shift
        self.margin = margin
        self.n_grid = n_grid
        self.surrogate = surrogate
        self.n_samples = n_samples
        self.kernel_width = kernel_width
        self.max_candidates = max_candidates
        self.relinearize = relinearize
        self.enumeration = enumeration
        self.time_limit = time_limit
        self.n_jobs = n_jobs
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

    # ------------------------------------------------------------------ fit
    def _fit(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        linear = None if self.surrogate == "lime" else self._linear_logits(X)
        if self.surrogate == "linear" and linear is None:
            raise ValueError(
                f"The 'surrogate' parameter of {type(self).__name__} is 'linear', "
                f"but the model {type(unfrozen(self.estimator_)).__name__} is not "
                "linear in its input (its logits are not an affine function of "
                "X on the training rows). Use surrogate='lime' (a local linear "
                "surrogate per row, checked on the model) or surrogate='auto'."
            )
        self.surrogate_ = "lime" if linear is None else "linear"
        self.coef_, self.intercept_ = (None, None) if linear is None else linear
        in_group = np.zeros(X.shape[1], dtype=bool)
        for g in self.constraints_["groups"]:
            in_group[g] = True
        self.grid_, self.percentile_knots_ = _grids(X, in_group, self.n_grid)
        std = X.std(axis=0)
        self.std_ = np.where(std > 1e-12, std, 1.0)
        self.mean_ = X.mean(axis=0)
        q0, q1 = (
            np.array([np.interp(v, *k) for k in self.percentile_knots_])
            for v in (0.0, 1.0)
        )
        # cost of a one-hot column going 1 -> 0 and 0 -> 1 (same for every row)
        self.onehot_cost_ = (
            _shift_cost(q0, q1, self.shift),
            _shift_cost(q1, q0, self.shift),
        )
        return self

    def _linear_logits(self, X):
        """``(coef, intercept)`` with logits ``X @ coef + intercept`` (up to a
        per-row shift shared by the classes), or None if the model is not
        linear in the search space."""
        model = self.model_
        if isinstance(model, DifferentiableModel):
            return _affine_of_network(model, X, self.scale_)
        if isinstance(model, BlackBoxModel):
            est = self._final_estimator() if self.space_ is not None else None
            est = unfrozen(self.estimator_) if est is None else est
            return _affine_of_coef(est, model, X, self.space_, self.scale_)
        return None

    # -------------------------------------------------------------- explain
    def explain(self, X, target=None):
        """Counterfactuals of ``X`` with validity, costs and infeasible rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Factual rows.
        target : array-like of shape (n_samples,) or scalar, default=None
            Per-row target classes (labels, or ``"other"``); defaults to the
            ``target`` parameter.

        Returns
        -------
        cf : CounterfactualSet
            With two more attributes: ``infeasible`` (bool per row: no action
            set reaches the target) and ``cost`` (recourse cost of each valid
            row in the generator's ``cost`` / ``shift``; NaN for rows without
            a valid counterfactual).
        """
        report = {}
        token = _REPORT.set(report)
        try:
            cf = super().explain(X, target)
        finally:
            _REPORT.reset(token)
        n = len(cf)
        infeasible = np.zeros(n, dtype=bool)
        flags = report.get("infeasible")
        if flags is not None:
            if len(flags) == n:
                infeasible = flags
            else:  # rows the model could not score were not searched
                known = np.array([p is not None for p in cf.y_pred], dtype=bool)
                infeasible[known] = flags
        cf.infeasible = infeasible
        cost = self._recourse_cost(np.asarray(cf.Z), np.asarray(cf.Z_cf))
        cf.cost = np.where(cf.valid, cost, np.nan)
        return cf

    def _recourse_cost(self, Z, Z_cf):
        """Cost of moving each row of ``Z`` to ``Z_cf`` (search space)."""
        Z = np.asarray(Z, dtype=np.float64)
        Z_cf = np.asarray(Z_cf, dtype=np.float64)
        per = np.zeros_like(Z)
        for j in np.flatnonzero((Z != Z_cf).any(axis=0)):  # over features
            kv, kq = self.percentile_knots_[j]
            moved = Z[:, j] != Z_cf[:, j]
            per[moved, j] = _shift_cost(
                np.interp(Z_cf[moved, j], kv, kq),
                np.interp(Z[moved, j], kv, kq),
                self.shift,
            )
        if self.cost == "max":
            return per.max(axis=1, initial=0.0)
        return per.sum(axis=1)

    # ------------------------------------------------------------- generate
    def _generate(self, X, y0, tgt, untargeted):
        n, d = X.shape
        X64 = np.array(X, dtype=np.float64)
        K = len(self.classes_)
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        cons = self._engine_constraints("cpu", torch.float64)
        lo, hi = (t.numpy() for t in cons.row_bounds(torch.from_numpy(X64)))
        layout = _Layout(self.constraints_, d)
        margin = _effective_margin(self.margin, self.tau, K)
        X_cf = X64.copy()
        n_iter = np.zeros(n, dtype=np.int64)
        infeasible = np.zeros(n, dtype=bool)
        size = n if self.batch_size is None else int(self.batch_size)
        starts = range(0, n, max(size, 1))
        if self.verbose >= 2:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=type(self).__name__, unit="chunk")
        for s in starts:
            rows = np.arange(s, min(s + size, n))
            out = self._solve_chunk(
                X64[rows],
                lo[rows],
                hi[rows],
                y0[rows],
                tgt[rows],
                untargeted[rows],
                layout,
                margin,
                seed,
            )
            X_cf[rows], n_iter[rows], infeasible[rows] = out
        report = _REPORT.get()
        if report is not None:
            report["infeasible"] = infeasible
        return X_cf.astype(X.dtype, copy=False), n_iter

    def _solve_chunk(self, x0, lo, hi, y0, tgt, untargeted, layout, margin, seed):
        """Counterfactuals, MILP counts and infeasibility of one chunk of rows."""
        m = len(x0)
        K = len(self.classes_)
        x_cf = x0.copy()
        n_iter = np.zeros(m, dtype=np.int64)
        infeasible = np.zeros(m, dtype=bool)
        proba0 = self.model_.predict_proba(x0)
        done, _, _ = reaches_target(proba0, y0, tgt, untargeted, self.tau)
        todo = np.flatnonzero(~done)
        if not todo.size:
            return x_cf, n_iter, infeasible
        if self.surrogate_ == "linear":
            coef = np.broadcast_to(self.coef_, (todo.size, *self.coef_.shape))
            score0 = x0[todo] @ self.coef_ + self.intercept_
        else:
            coef = self._lime(x0[todo], lo[todo], hi[todo], proba0[todo], layout, seed)
            score0 = np.log(np.clip(proba0[todo], _PROBA_FLOOR, None))
        cand = dict(zip(todo, _options(self, x0[todo], lo[todo], hi[todo], layout)))
        anchor = [None] * m
        infeasible[todo] = True
        for round_ in range(1 + (self.relinearize if self.surrogate_ == "lime" else 0)):
            if round_:  # AR-LIME again, linearised at the failed actions
                todo = np.array([i for i in todo if anchor[i] is not None], dtype=int)
                if not todo.size:
                    break
                A = np.stack([anchor[i] for i in todo])
                pA = self.model_.predict_proba(A)
                coef = self._lime(A, lo[todo], hi[todo], pA, layout, seed + round_)
                # the surrogate's logits at the factual: s(A) + coef (x0 - A)
                score0 = np.log(np.clip(pA, _PROBA_FLOOR, None)) + np.einsum(
                    "rd,rdk->rk", x0[todo] - A, coef
                )
            # one job per (row, target class): "other" rows try every other class
            jobs = []
            for r, i in enumerate(todo):
                classes = (
                    [k for k in range(K) if k != y0[i]] if untargeted[i] else [tgt[i]]
                )
                for t in classes:
                    jobs.append(
                        _job(r, t, cand[i], coef[r], score0[r], margin, self.cost)
                    )
            best = self._flipsets(jobs, x0[todo], y0[todo], tgt[todo], untargeted[todo])
            for r, i in enumerate(todo):
                x_new, count, none_feasible, anchor[i] = best[r]
                n_iter[i] += count
                infeasible[i] &= none_feasible
                if x_new is not None:
                    x_cf[i], anchor[i] = x_new, None
        return x_cf, n_iter, infeasible

    def _flipsets(self, jobs, x0, y0, tgt, untargeted):
        """Solve, check on the model, and enumerate further actions per row.

        Each round solves the jobs that need a (new) solution, then checks,
        for each unfinished row, its cheapest current action on the model in
        one batched call. A row stops at its first valid action; a job whose
        action failed gets a cut (the flipset's next item) and is solved again
        in the next round, up to ``max_candidates`` actions per job.
        """
        m = len(x0)
        by_row = [[] for _ in range(m)]
        for j, job in enumerate(jobs):
            by_row[job.row].append(j)
        counts = np.zeros(m, dtype=np.int64)
        ever_feasible = np.zeros(m, dtype=bool)
        result = [None] * m
        anchor = [None] * m
        best_gap = np.full(m, -np.inf)
        pending = list(range(len(jobs)))  # jobs to (re)solve this round
        open_rows = list(range(m))
        options = {"mip_rel_gap": 1e-9}
        if self.time_limit is not None:
            options["time_limit"] = float(self.time_limit)
        while open_rows:
            solved = _solve_all(
                [jobs[j] for j in pending], self.cost, options, self.n_jobs
            )
            for j, sol in zip(pending, solved, strict=True):
                job = jobs[j]
                job.solution = sol
                job.tries += 1
                counts[job.row] += 1
                ever_feasible[job.row] |= sol is not None
            pending = []
            rows, picks = [], []
            for r in open_rows:  # each row's cheapest live action
                live = [j for j in by_row[r] if jobs[j].solution is not None]
                if live:
                    rows.append(r)
                    picks.append(
                        min(live, key=lambda k: (jobs[k].solution.objective, k))
                    )
            open_rows = rows
            if not rows:
                break
            cand = np.stack([jobs[j].apply(x0[r]) for r, j in zip(rows, picks)])
            idx = np.asarray(rows)
            proba = self.model_.predict_proba(cand)
            ok, _, _ = reaches_target(
                proba,
                y0[idx],
                tgt[idx],
                untargeted[idx],
                self.tau,
            )
            gap = _target_gap(proba, [jobs[j].target for j in picks])
            for r, j, good, x_new, g in zip(rows, picks, ok, cand, gap, strict=True):
                if good:
                    result[r] = x_new
                    continue
                if g > best_gap[r]:  # the failed action nearest the target
                    best_gap[r], anchor[r] = g, x_new
                job = jobs[j]
                if job.tries >= self.max_candidates:
                    job.solution = None  # this target class is exhausted
                else:
                    job.add_cut(self.enumeration)
                    pending.append(j)
            open_rows = [r for r, good in zip(rows, ok, strict=True) if not good]
        return [
            (result[r], counts[r], not ever_feasible[r], anchor[r]) for r in range(m)
        ]

    # ---------------------------------------------------------------- LIME
    def _lime(self, x0, lo, hi, proba0, layout, seed):
        """Per-row local linear surrogates ``(rows, n_features, n_classes)``."""
        m, d = x0.shape
        K = proba0.shape[1]
        coef = np.zeros((m, d, K))
        free = layout.free
        if not free.size:
            return coef
        S = int(self.n_samples)
        keys = row_keys(x0, seed)
        scale = np.where(layout.in_group, 1.0, self.std_)[free]
        units = layout.n_units
        width = (
            0.75 * np.sqrt(max(units, 1))
            if self.kernel_width is None
            else float(self.kernel_width)
        )
        step = max(1, _LIME_ELEMENTS // (S * d))
        log0 = np.log(np.clip(proba0, _PROBA_FLOOR, None))
        for s in range(0, m, step):
            sl = slice(s, min(s + step, m))
            Z = _lime_samples(self, x0[sl], lo[sl], hi[sl], keys[sl], layout, S)
            p = self.model_.predict_proba(Z.reshape(-1, d)).reshape(len(Z), S, K)
            Y = np.log(np.clip(p, _PROBA_FLOOR, None)) - log0[sl, None, :]
            D = (Z[:, :, free] - x0[sl, None, free]) / scale
            dist2 = np.einsum("rsk,rsk->rs", D, D)
            w = np.sqrt(np.exp(-dist2 / width**2))
            Dw = D * w[:, :, None]
            gram = np.einsum("rsk,rsl->rkl", Dw, D)
            gram += np.eye(free.size)[None]  # ridge, alpha 1 (LIME's Ridge)
            rhs = np.einsum("rsk,rsc->rkc", Dw, Y)
            beta = np.linalg.solve(gram, rhs)
            coef[sl][:, free, :] = beta / scale[None, :, None]
        return coef


# ---------------------------------------------------------------- helpers
class _Layout:
    """The units that move: numeric features and (mutable) one-hot groups."""

    def __init__(self, constraints, d):
        c = constraints
        mutable = np.asarray(c["mutable"], dtype=bool)
        self.groups = [np.asarray(g) for g in c["groups"] if mutable[g].all()]
        self.in_group = np.zeros(d, dtype=bool)
        for g in self.groups:
            self.in_group[g] = True
        self.numeric = np.flatnonzero(mutable & ~self.in_group)
        self.free = np.flatnonzero(mutable & (self.in_group | ~_in_any(c, d)))
        self.integer = np.asarray(c["integer"], dtype=bool) & mutable & ~self.in_group
        step, origin = c.get("step"), c.get("origin")
        self.step = np.ones(d) if step is None else np.asarray(step, dtype=np.float64)
        self.origin = (
            np.zeros(d) if origin is None else np.asarray(origin, dtype=np.float64)
        )
        self.n_units = self.numeric.size + len(self.groups)


def _in_any(c, d):
    """Columns of any one-hot group (a partly immutable group never moves)."""
    out = np.zeros(d, dtype=bool)
    for g in c["groups"]:
        out[np.asarray(g)] = True
    return out


def _grids(X, in_group, n_grid):
    """Candidate grid and percentile knots per feature (a loop over features)."""
    n, d = X.shape
    levels = np.linspace(0.0, 1.0, n_grid + 1)
    grids, knots = [], []
    for j in range(d):
        col = X[:, j]
        u, counts = np.unique(col, return_counts=True)
        first = np.cumsum(counts) - counts  # rows strictly below each value
        q = (first + 0.5 * counts) / n
        h = float(u[-1] - u[0]) if u.size > 1 else 1.0
        knots.append((np.r_[u[0] - h, u, u[-1] + h], np.r_[0.25 / n, q, 1 - 0.25 / n]))
        if in_group[j]:
            grids.append(np.array([0.0, 1.0]))
        elif u.size <= n_grid + 1:
            grids.append(u)
        else:
            grids.append(np.unique(np.quantile(col, levels, method="inverted_cdf")))
    return grids, knots


def _target_gap(proba, targets):
    """Log-probability lead of each row's target class over its best rival."""
    logp = np.log(np.clip(proba, _PROBA_FLOOR, None))
    rows = np.arange(len(logp))
    t = np.asarray(targets, dtype=int)
    rival = logp.copy()
    rival[rows, t] = -np.inf
    return logp[rows, t] - rival.max(axis=1)


def _shift_cost(q_new, q_old, shift):
    if shift == "linear":
        return np.abs(q_new - q_old)
    return np.abs(np.log1p(-q_new) - np.log1p(-q_old))


def _effective_margin(margin, tau, n_classes):
    """The logit margin that also guarantees probability ``tau``."""
    if tau <= 0:
        return float(margin)
    if tau >= 1:
        return np.inf
    need = np.log(tau * max(n_classes - 1, 1) / (1.0 - tau))
    return float(max(margin, need))


class _Options:
    """One row's candidate moves ("options"), grouped in units.

    A unit is a numeric feature (an option sets it to one grid value) or a
    one-hot group (an option switches the row to one other category, which
    changes two columns). ``cols``, ``vals`` and ``deltas`` have shape
    ``(n_options, 2)``; an unused second column is ``-1`` with delta 0.
    ``must`` lists the units whose factual value lies outside the row's box
    (they have to move).
    """

    __slots__ = ("unit", "cols", "vals", "deltas", "cost", "must")

    def __init__(self, unit, cols, vals, deltas, cost, must):
        self.unit, self.cols, self.vals, self.deltas = unit, cols, vals, deltas
        self.cost, self.must = cost, must

    def subset(self, keep):
        return _Options(
            self.unit[keep],
            self.cols[keep],
            self.vals[keep],
            self.deltas[keep],
            self.cost[keep],
            self.must,
        )


def _options(gen, x0, lo, hi, layout):
    """Candidate options of each row, built for blocks of rows at once."""
    m, d = x0.shape
    num, groups = layout.numeric, layout.groups
    combine = np.maximum if gen.cost == "max" else np.add
    parts = [[] for _ in range(m)]  # per row: (unit, cols, vals, deltas, cost)
    musts = [[] for _ in range(m)]
    if num.size:
        G = max(len(gen.grid_[j]) for j in num)
        grid = np.full((num.size, G), np.nan)
        for a, j in enumerate(num):  # padded grid of the numeric features
            grid[a, : len(gen.grid_[j])] = gen.grid_[j]
        integer = layout.integer[num][None, :, None]
        step, origin = layout.step[num][:, None], layout.origin[num][:, None]
        block = max(1, _BLOCK_ELEMENTS // (num.size * G))
        for s in range(0, m, block):
            sl = slice(s, min(s + block, m))
            z0 = x0[sl][:, num]
            zlo, zhi = lo[sl][:, num, None], hi[sl][:, num, None]
            V = np.clip(grid[None], zlo, zhi)  # NaN padding stays NaN
            if integer.any():  # onto the integer grid, inside the box
                k = np.round((V - origin) / step)
                k = np.maximum(k, np.ceil((zlo - origin) / step - 1e-6))
                k = np.minimum(k, np.floor((zhi - origin) / step + 1e-6))
                V = np.where(integer, origin + k * step, V)
            # clipping and rounding keep each row sorted: duplicates are adjacent
            new = np.isfinite(V) & (V != z0[:, :, None])
            new[:, :, 1:] &= V[:, :, 1:] != V[:, :, :-1]
            Q = np.empty_like(V)
            Q0 = np.empty_like(z0)
            for a, j in enumerate(num):  # percentiles: a loop over features
                kv, kq = gen.percentile_knots_[j]
                Q[:, a] = np.interp(np.nan_to_num(V[:, a]), kv, kq)
                Q0[:, a] = np.interp(z0[:, a], kv, kq)
            C = _shift_cost(Q, Q0[:, :, None], gen.shift)
            outside = (z0 < zlo[:, :, 0]) | (z0 > zhi[:, :, 0])
            for r in range(V.shape[0]):  # one MILP per row: its own arrays
                a, k = np.nonzero(new[r])
                v = V[r, a, k]
                cols = np.stack([num[a], np.full(a.size, -1)], axis=1)
                vals = np.stack([v, np.zeros(a.size)], axis=1)
                deltas = np.stack([v - z0[r, a], np.zeros(a.size)], axis=1)
                parts[s + r].append((a, cols, vals, deltas, C[r, a, k]))
                musts[s + r].append(np.flatnonzero(outside[r]))
    for gi, g in enumerate(groups):  # a loop over groups, vectorised over rows
        unit = num.size + gi
        off, on = gen.onehot_cost_[0][g], gen.onehot_cost_[1][g]
        active = x0[:, g].argmax(axis=1)  # the factual's category (one-hot)
        allowed = hi[:, g] > 0.5
        allowed[np.arange(m), active] = False
        cost = combine(off[active][:, None], on[None, :])
        must = hi[np.arange(m), g[active]] < 0.5  # its category is not allowed
        for r in range(m):
            b = np.flatnonzero(allowed[r])
            a = np.full(b.size, g[active[r]])
            cols = np.stack([a, g[b]], axis=1)
            vals = np.stack([np.zeros(b.size), np.ones(b.size)], axis=1)
            deltas = np.stack([-np.ones(b.size), np.ones(b.size)], axis=1)
            parts[r].append((np.full(b.size, unit), cols, vals, deltas, cost[r, b]))
            if must[r]:
                musts[r].append(np.array([unit]))
    out = []
    for r in range(m):
        if not parts[r]:
            z = np.zeros((0, 2))
            out.append(_Options(np.zeros(0, int), z.astype(int), z, z, z[:, 0], []))
            continue
        unit, cols, vals, deltas, cost = (np.concatenate(x) for x in zip(*parts[r]))
        must = np.concatenate(musts[r]) if musts[r] else np.zeros(0, dtype=int)
        out.append(_Options(unit, cols, vals, deltas, cost, must))
    return out


class _Solution:
    __slots__ = ("chosen", "objective")

    def __init__(self, chosen, objective):
        self.chosen, self.objective = chosen, objective


class _Job:
    """One row and target class: the MILP's data, its cuts and its solution."""

    def __init__(self, row, target, options, gains, need):
        self.row, self.target = row, target
        self.options, self.gains, self.need = options, gains, need
        self.cuts = []  # (coefficients over the options, upper bound)
        self.solution = None
        self.tries = 0

    def apply(self, x0):
        x = x0.copy()
        if self.solution is not None:
            o = self.options
            c = self.solution.chosen
            cols, vals = o.cols[c].ravel(), o.vals[c].ravel()
            x[cols[cols >= 0]] = vals[cols >= 0]
        return x

    def add_cut(self, enumeration):
        """Exclude the current action (or its set of changed features)."""
        chosen = self.solution.chosen
        on = np.zeros(len(self.options.unit), dtype=bool)
        on[chosen] = True
        if enumeration == "distinct_subsets":
            # same changed features: a moved numeric unit by any amount, a
            # moved group to the same category
            moved = np.unique(self.options.unit[chosen])
            numeric = self.options.cols[:, 1] < 0
            on |= numeric & np.isin(self.options.unit, moved)
        self.cuts.append((np.where(on, 1.0, -1.0), float(chosen.size - 1)))


def _job(r, t, options, coef, score0, margin, cost):
    """The MILP of row ``r`` for target class ``t`` on the linear model ``coef``."""
    K = coef.shape[1]
    others = [k for k in range(K) if k != t]
    G = (coef[:, [t]] - coef[:, others]).T  # (K - 1, d)
    need = margin - (score0[t] - score0[others])
    o = options
    gains = (G[:, o.cols] * o.deltas[None]).sum(axis=2)  # (K - 1, n_options)
    if o.unit.size and not o.must.size:
        # exact reductions: an option raising no gap only adds cost, and no
        # option costs more than a known feasible action (an upper bound)
        keep = (gains > 0).any(axis=0)
        alone = (gains >= need[:, None]).all(axis=0)
        bound = o.cost[alone].min(initial=np.inf)
        if len(others) == 1:
            greedy = _upper_bound(
                o.unit[keep], gains[0, keep], o.cost[keep], need[0], cost
            )
            bound = min(bound, np.inf if greedy is None else greedy)
        if np.isfinite(bound):
            keep &= o.cost <= bound * (1 + 1e-9) + 1e-12
        o, gains = o.subset(keep), gains[:, keep]
    return _Job(r, t, o, gains, need)


def _upper_bound(unit, gain, cost, need, agg):
    """Cost of a feasible action of a binary model (each unit's largest move,
    in order of cost per gain, until the margin holds), or None."""
    if not unit.size:
        return None
    best = np.inf
    order = np.lexsort((-gain, unit))  # per unit, its largest gain first
    first = np.r_[True, unit[order][1:] != unit[order][:-1]]
    top = order[first]
    top = top[gain[top] > 0]
    top = top[np.argsort(cost[top] / gain[top], kind="stable")]
    reach = np.cumsum(gain[top]) >= need
    if reach.any():
        k = int(np.argmax(reach))
        taken = cost[top[: k + 1]]
        best = float(taken.max() if agg == "max" else taken.sum())
    return None if not np.isfinite(best) else float(best)


def _solve_all(jobs, cost, options, n_jobs):
    """Solve the jobs' MILPs, in parallel processes when ``n_jobs`` asks."""
    if not jobs:
        return []
    problems = [_problem(job) for job in jobs]
    if n_jobs in (None, 1) or len(jobs) < 2:
        return [_solve(p, cost, options) for p in problems]
    from joblib import Parallel, delayed, effective_n_jobs

    workers = min(effective_n_jobs(n_jobs), len(jobs))
    parts = np.array_split(np.arange(len(jobs)), workers)
    solved = Parallel(n_jobs=workers)(
        delayed(_solve_many)([problems[i] for i in part], cost, options)
        for part in parts
    )
    return [s for part in solved for s in part]


def _solve_many(problems, cost, options):
    return [_solve(p, cost, options) for p in problems]


def _problem(job):
    """The MILP's data as plain arrays (picklable for joblib workers)."""
    o = job.options
    n = o.unit.size
    cols = np.arange(n)
    units, inv = np.unique(o.unit, return_inverse=True)
    # at most one option per unit (exactly one where the unit must move)
    lower = np.where(np.isin(units, o.must), 1.0, -np.inf)
    one = sparse.csr_array((np.ones(n), (inv, cols)), shape=(units.size, n))
    cons = [(one, lower, np.ones(units.size))]
    cons.append((sparse.csr_array(job.gains), job.need, np.full(job.need.size, np.inf)))
    for coef, ub in job.cuts:
        cons.append((sparse.csr_array(coef[None, :]), [-np.inf], [ub]))
    stuck = bool(np.setdiff1d(o.must, units).size)  # must move, cannot
    return dict(
        cost=o.cost,
        cons=cons,
        inv=inv,
        n_units=units.size,
        need=job.need,
        stuck=stuck,
        # one score row and no forced move: exact shortcuts (_reduce and,
        # without cuts, _max_threshold) apply
        single=job.gains[0] if job.need.size == 1 and not o.must.size else None,
        gains=job.gains,
        must=bool(o.must.size),
        cuts=list(job.cuts),
    )


def _solve(problem, cost, options):
    """Minimum-cost action of one MILP, or None when infeasible."""
    c = problem["cost"]
    n = c.size
    if problem["stuck"]:
        return None
    if cost == "total":
        return _min_total(problem, np.ones(n, dtype=bool), options, "total")
    if problem["single"] is not None and not problem["cuts"]:
        t_star = _max_threshold(
            problem["inv"], problem["single"], c, problem["need"][0]
        )
        if t_star is None:
            return None
        return _min_total(problem, _below(c, t_star), options, "max")
    if not n:
        return _min_total(problem, np.ones(0, dtype=bool), options, "max")
    # max: minimise t with cost(unit) <= t per unit, then the total at that t
    stage1 = [
        LinearConstraint(sparse.hstack([A, sparse.csr_array((A.shape[0], 1))]), lb, ub)
        for A, lb, ub in problem["cons"]
    ]
    k = problem["n_units"]
    per_unit = sparse.csr_array(
        (
            np.r_[c, -np.ones(k)],
            (np.r_[problem["inv"], np.arange(k)], np.r_[np.arange(n), np.full(k, n)]),
        ),
        shape=(k, n + 1),
    )
    stage1.append(LinearConstraint(per_unit, -np.inf, 0.0))
    res = milp(
        np.r_[np.zeros(n), 1.0],
        constraints=stage1,
        integrality=np.r_[np.ones(n), 0.0],
        bounds=Bounds(np.zeros(n + 1), np.r_[np.ones(n), np.inf]),
        options=options,
    )
    if res.x is None:
        return None
    sol = _min_total(problem, _below(c, float(res.x[-1])), options, "max")
    return sol if sol is not None else _solution(res.x[:n] > 0.5, c, "max")


def _below(c, t_star):
    """Options costing at most ``t_star`` (up to the solver's tolerance)."""
    return c <= t_star * (1 + 1e-7) + 1e-9


def _min_total(problem, allowed, options, agg):
    """Cheapest total over the ``allowed`` options (for ``cost="max"``: the
    second stage, ties broken by the total); ``agg`` names the reported cost.

    Options that cannot be part of an optimal action are left out of the
    MILP first (:func:`_reduce`); the MILP decides among the others.
    """
    c = problem["cost"]
    keep = allowed & _reduce(problem, allowed)
    idx = np.flatnonzero(keep)
    if not idx.size:  # no move: feasible only if every constraint holds at 0
        ok = all(
            (np.asarray(lb) <= 0).all() and (np.asarray(ub) >= 0).all()
            for _, lb, ub in problem["cons"]
        )
        return _solution(np.zeros(c.size, dtype=bool), c, agg) if ok else None
    constraints = [LinearConstraint(A[:, idx], lb, ub) for A, lb, ub in problem["cons"]]
    res = milp(
        c[idx],
        constraints=constraints,
        integrality=np.ones(idx.size),
        bounds=Bounds(0, 1),
        options=options,
    )
    if res.x is None:
        return None
    on = np.zeros(c.size, dtype=bool)
    on[idx[res.x > 0.5]] = True
    return _solution(on, c, agg)


def _solution(on, c, agg):
    chosen = np.flatnonzero(on)
    value = c[chosen].max(initial=0.0) if agg == "max" else c[chosen].sum()
    return _Solution(chosen, float(value))


def _reduce(problem, allowed):
    """Options that may belong to a cheapest action (an exact reduction).

    For a score row ``gain @ u >= need`` and the total cost, ``L(lam) = lam *
    need + sum_units m_unit(lam)``, with ``m_unit = min(0, min_o (c_o - lam *
    g_o))`` over the unit's options, is a lower bound on the cost of every
    feasible action for any ``lam >= 0`` (Lagrangian relaxation of that row),
    and ``L + (c_o - lam * g_o) - m_unit(o)`` one on every feasible action
    that uses option ``o``; with several rows (several classes) the largest
    of the rows' bounds holds. An option whose bound exceeds the cost of a
    known feasible action (one met while setting ``lam`` by bisection, or a
    single change of one unit of it, that meets every row and cut) cannot be
    optimal and is left out. Any ``lam`` gives valid bounds.
    """
    keep = allowed.copy()
    if problem["must"] or not allowed.any():
        return keep
    idx = np.flatnonzero(allowed)
    cost = problem["cost"][idx]
    gains = problem["gains"][:, idx]
    needs = np.asarray(problem["need"], dtype=np.float64)
    if (needs <= 0).all():  # the factual already meets the margin
        return np.zeros_like(keep)
    unit = problem["inv"][idx]  # non-decreasing: options come unit by unit
    first = np.r_[True, unit[1:] != unit[:-1]]
    starts, seg = np.flatnonzero(first), np.cumsum(first) - 1
    lower = np.full(idx.size, -np.inf)
    actions = []
    for gain, need in zip(gains, needs, strict=True):
        if need <= 0:
            continue
        found = _lagrange(gain, need, cost, starts, seg)
        if found is None:  # this row cannot be met: infeasible
            return keep
        bound, acts = found
        lower = np.maximum(lower, bound)
        actions += acts
    if not actions:
        return keep
    U = np.array(actions, dtype=np.float64)
    ok = (U @ gains.T >= needs[None, :] - 1e-12).all(axis=1)
    for coef, ub in problem["cuts"]:
        ok &= U @ coef[idx] <= ub + 1e-9
    if not ok.any():
        return keep
    upper = float((U[ok] @ cost).min())
    keep[idx[lower > upper + 1e-9 * (1.0 + abs(upper))]] = False
    return keep


def _lagrange(gain, need, cost, starts, seg):
    """Lower bound per option and candidate actions for one score row."""

    def minimiser(lam):
        red = cost - lam * gain
        low = np.minimum(np.minimum.reduceat(red, starts), 0.0)
        take = (red <= low[seg]) & (red < 0)
        lead = np.flatnonzero(take)
        on = np.zeros(red.size, dtype=bool)
        if lead.size:  # per unit its first option of least reduced cost
            on[lead[np.r_[True, seg[lead][1:] != seg[lead][:-1]]]] = True
        return red, low, on

    hi = 1.0
    while gain[minimiser(hi)[2]].sum() < need:
        hi *= 4.0
        if hi > 1e12:  # even the largest moves fall short
            return None
    lo = 0.0
    seen = [minimiser(hi)[2]]
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        on = minimiser(mid)[2]
        seen.append(on)
        if gain[on].sum() >= need:
            hi = mid
        else:
            lo = mid
    # actions met on the way: the minimisers, and for those that fall short
    # the cheapest changes of one unit's option that reach ``need``
    actions = []
    n_units = starts.size
    for on in seen:
        actions.append(on)
        if gain[on].sum() >= need:
            continue
        held_gain = np.zeros(n_units)
        held_cost = np.zeros(n_units)
        held_gain[seg[on]] = gain[on]
        held_cost[seg[on]] = cost[on]
        short = need - (gain[on].sum() - held_gain[seg])  # what the unit must give
        fits = np.flatnonzero(gain >= short)
        total = cost[on].sum() - held_cost[seg] + cost
        for o in fits[np.argsort(total[fits], kind="stable")][:3]:
            swap = on & (seg != seg[o])
            swap[o] = True
            actions.append(swap)
    # and the cheapest single-unit actions (other supports than the above:
    # they often survive a flipset's cuts)
    alone = np.flatnonzero(gain >= need)
    if alone.size:
        alone = alone[np.lexsort((cost[alone], seg[alone]))]
        lead = alone[np.r_[True, seg[alone][1:] != seg[alone][:-1]]]
        single = np.zeros((lead.size, cost.size), dtype=bool)
        single[np.arange(lead.size), lead] = True
        actions += list(single)
    red, low, _ = minimiser(hi)
    return hi * need + low.sum() + red - low[seg], actions


def _max_threshold(unit, gain, cost, need):
    """Smallest ``t`` such that the options costing at most ``t`` reach
    ``need`` (one linear constraint, at most one option per unit), or None.

    With the options admitted in order of cost, the best reachable score is
    the sum over units of the best gain admitted so far (0: no move); it is
    exact, so ``t`` is the optimal maximum cost.
    """
    if need <= 0:
        return 0.0
    by_unit = np.lexsort((cost, unit))  # per unit, in order of cost
    u, g = unit[by_unit], np.maximum(gain[by_unit], 0.0)
    span = 2.0 * float(np.abs(g).max(initial=0.0)) + 1.0
    offset = u * span  # a running max that restarts at every unit
    best = np.maximum.accumulate(g + offset) - offset
    first = np.r_[True, u[1:] != u[:-1]]
    prev = np.where(first, 0.0, np.r_[0.0, best[:-1]])
    inc = np.empty_like(best)
    inc[by_unit] = best - prev  # gain added when the option is admitted
    order = np.argsort(cost, kind="stable")
    reach = np.cumsum(inc[order]) >= need
    if not reach.any():
        return None
    return float(cost[order[int(np.argmax(reach))]])


def _lime_samples(gen, x0, lo, hi, keys, layout, S):
    """``S`` points around each row (the first one is the row itself)."""
    m, d = x0.shape
    Z = np.repeat(x0[:, None, :], S, axis=1)
    num = layout.numeric
    if num.size:
        eps = normal(keys, (S, num.size), stream=0)
        z = x0[:, None, num] + eps * gen.std_[num]
        z = np.clip(z, lo[:, None, num], hi[:, None, num])
        integer = layout.integer[num]
        if integer.any():
            st, org = layout.step[num], layout.origin[num]
            k = np.round((z - org) / st)
            k = np.maximum(k, np.ceil((lo[:, None, num] - org) / st - 1e-6))
            k = np.minimum(k, np.floor((hi[:, None, num] - org) / st + 1e-6))
            z = np.where(integer, org + k * st, z)
        Z[:, :, num] = z
    for gi, g in enumerate(layout.groups):  # a category by training frequency
        allowed = hi[:, g] > 0.5
        p = gen.mean_[g][None, :] * allowed
        p = np.where(p.sum(axis=1, keepdims=True) > 0, p, allowed * 1.0)
        total = p.sum(axis=1, keepdims=True)
        cum = np.cumsum(p / np.where(total > 0, total, 1.0), axis=1)
        cum[:, -1] = np.inf
        u = uniform(keys, (S,), stream=1 + gi)
        pick = (u[:, :, None] >= cum[:, None, :]).sum(axis=2)
        block = (pick[:, :, None] == np.arange(len(g))).astype(np.float64)
        ok = total[:, 0] > 0
        Z[:, :, g] = np.where(ok[:, None, None], block, Z[:, :, g])
    Z[:, 0, :] = x0
    return Z


# ------------------------------------------------------- linear extraction
def _affine_of_network(model, X, scale):
    """Exact ``(coef, intercept)`` of a network made of affine layers."""
    modules = [*model.preprocess, model.module]
    if not all(_affine_structure(m) for m in modules):
        return None
    try:
        pre = [
            copy.deepcopy(p).to(device="cpu", dtype=torch.float64)
            for p in model.preprocess
        ]
        module = copy.deepcopy(model.module).to(device="cpu", dtype=torch.float64)
    except (RuntimeError, TypeError):
        return None
    probe = DifferentiableModel(module, output=model.output, preprocess=pre)
    d = X.shape[1]

    def logits(x):
        with torch.no_grad():
            out = probe.logits(torch.as_tensor(x, dtype=torch.float64))
        out = out.numpy()
        return out - out[:, :1]

    base = np.zeros((1, d))
    f0 = logits(base)[0]
    coef = logits(np.eye(d)) - f0[None, :]
    linear = (coef, f0)
    return linear if _matches(linear, X, scale, lambda x: _gap(model, x)) else None


def _gap(model, x):
    """The model's own logits relative to class 0 (its float precision)."""
    with torch.no_grad():
        t = torch.as_tensor(x, device=model.device, dtype=model.dtype)
        out = model.logits(t).double().cpu().numpy()
    return out - out[:, :1]


def _affine_structure(module):
    """Only leaves whose composition is affine (checked numerically after)."""
    if not isinstance(module, torch.nn.Module):
        return False
    leaves = [m for m in module.modules() if not list(m.children())]
    return all(
        isinstance(m, _AFFINE_LEAVES) or type(m).__name__ in ("_Affine", "_LinearMap")
        for m in leaves
    )


def _affine_of_coef(est, model, X, space, scale):
    """``(coef, intercept)`` from ``coef_`` / ``intercept_`` of a black box."""
    coef = getattr(est, "coef_", None)
    intercept = getattr(est, "intercept_", None)
    if coef is None or intercept is None:
        return None
    try:
        coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        intercept = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
    except (TypeError, ValueError):
        return None
    if coef.shape[0] != intercept.shape[0] or not np.isfinite(coef).all():
        return None
    if coef.shape[0] == 1:  # binary: one score for the second class
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.r_[0.0, intercept]
    W, b = coef.T, intercept
    if space is not None:  # the compiled preprocessing is affine
        b = space.bias @ W + b
        W = space.weight @ W
    if W.shape[0] != X.shape[1]:
        return None
    W = W - W[:, :1]
    b = b - b[0]
    sample = _probe_rows(X, scale)
    with np.errstate(all="ignore"):
        proba = model.predict_proba(sample)
    if proba.shape[1] != W.shape[1]:
        return None
    same = (sample @ W + b).argmax(axis=1) == proba.argmax(axis=1)
    return (W, b) if same.all() else None


def _probe_rows(X, scale, n=256):
    """Training rows and far-off points around them, for the linearity check."""
    rows = X[np.linspace(0, len(X) - 1, min(len(X), n)).astype(int)]
    rng = np.random.default_rng(0)
    far = rows + rng.normal(size=rows.shape) * 3 * scale
    return np.vstack([rows, far])


def _matches(linear, X, scale, gap):
    W, b = linear
    if not (np.isfinite(W).all() and np.isfinite(b).all()):
        return False
    sample = _probe_rows(X, scale)
    want = gap(sample)
    got = sample @ W + b
    if not np.isfinite(want).all():
        return False
    tol = 1e-6 + 1e-4 * np.abs(want).max(initial=1.0)
    return bool(np.abs(got - want).max(initial=0.0) <= tol)
