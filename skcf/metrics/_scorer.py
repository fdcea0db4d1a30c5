"""Scorers for model selection of counterfactual generators (``GridSearchCV``)."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_array

from ..base import is_generator
from ..utils._sklearn_compat import validate_params
from ._constraints import constraint_violations
from ._distance import proximity
from ._plausibility import (
    _SPHERE_FRACTION,
    _mean_pairwise_distance,
    connectedness_score,
    knn_manifold_distance,
    lof_distance,
    sphere_manifold_distance,
    ynn_score,
)
from ._timing import time_per_counterfactual
from ._validity import redundancy

__all__ = ["make_cf_scorer"]

_DISTANCES = ("l0", "l1", "l2", "linf")
_PLAUSIBILITY = (
    "lof",
    "knn_distance",
    "sphere_distance",
    "ynn",
    "connectedness",
)
_METRICS = (
    "validity",
    *_DISTANCES,
    "sparsity",
    "redundancy",
    "violations",
    *_PLAUSIBILITY,
    "time",
    "score",
)
_HIGHER_IS_BETTER = ("validity", "score", "ynn", "connectedness")
# metrics that charge a row without a valid counterfactual (``failure_cost``)
_CHARGED = (*_DISTANCES, "sparsity", "redundancy", *_PLAUSIBILITY)

# keyword options each named metric accepts, with their defaults
_OPTIONS: dict[str, dict] = {
    "validity": {},
    "score": {},
    "l0": {"scale": None, "valid_only": False, "reduce": "mean", "atol": 1e-8},
    **{
        m: {"scale": None, "valid_only": False, "reduce": "mean"}
        for m in ("l1", "l2", "linf")
    },
    "sparsity": {"valid_only": False, "atol": 1e-8},
    "redundancy": {"valid_only": False, "atol": 1e-8, "batch_size": 4096},
    "violations": {"valid_only": False, "reduce": "mean"},
    "lof": {
        "X_ref": None,
        "y_ref": None,
        "n_neighbors": 20,
        "valid_only": False,
        "reduce": "mean",
    },
    "knn_distance": {
        "X_ref": None,
        "y_ref": None,
        "n_neighbors": 5,
        "valid_only": False,
        "reduce": "mean",
    },
    "sphere_distance": {
        "X_ref": None,
        "y_ref": None,
        "radius": None,
        "empty": "nearest",
        "valid_only": False,
        "reduce": "mean",
    },
    "ynn": {"X_ref": None, "n_neighbors": 5, "valid_only": False, "reduce": "mean"},
    "connectedness": {
        "X_ref": None,
        "y_ref": None,
        "epsilon": None,
        "min_samples": 2,
        "valid_only": False,
    },
    "time": {},
}
for _m in _CHARGED:
    _OPTIONS[_m]["failure_cost"] = "worst"
_REDUCE = {"violations": ("mean", "sum")}
# options without a usable default: the reference data
_REQUIRED = {
    "lof": ("X_ref",),
    "knn_distance": ("X_ref",),
    "sphere_distance": ("X_ref",),
    "ynn": ("X_ref",),
    "connectedness": ("X_ref", "y_ref"),
}


def _check_options(metric, kwargs):
    allowed = _OPTIONS[metric]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(
            f"make_cf_scorer(metric={metric!r}) got unexpected keyword argument(s) "
            f"{unknown}; the {metric!r} metric accepts "
            f"{sorted(allowed) or 'no options'}."
        )
    if "reduce" in kwargs:
        choices = _REDUCE.get(metric, ("mean", "median"))
        if kwargs["reduce"] not in choices:
            raise ValueError(
                f"The 'reduce' option of make_cf_scorer(metric={metric!r}) must be "
                f"one of {list(choices)} (a scorer returns one number). Got "
                f"{kwargs['reduce']!r} instead."
            )
    valid_only = kwargs.get("valid_only", False)
    if not isinstance(valid_only, (bool, np.bool_)):
        raise TypeError(
            "The 'valid_only' option of make_cf_scorer must be a bool. Got "
            f"{valid_only!r} instead."
        )
    if "failure_cost" in kwargs:
        _check_failure_cost(metric, kwargs["failure_cost"], valid_only)
    scale = kwargs.get("scale")
    if isinstance(scale, str) and scale != "mad":
        raise ValueError(
            "The 'scale' option of make_cf_scorer must be 'mad' (the generator's "
            f"fitted scale_), an array of per-feature scales or None. Got {scale!r} "
            "instead."
        )
    missing = [k for k in _REQUIRED.get(metric, ()) if kwargs.get(k) is None]
    if missing:
        raise TypeError(
            f"make_cf_scorer(metric={metric!r}) requires the keyword argument(s) "
            f"{missing}: the reference rows (and their labels) the counterfactuals "
            "are compared with, usually the training data, e.g. "
            "make_cf_scorer(metric, X_ref=X_train, y_ref=y_train)."
        )
    if kwargs.get("X_ref") is not None:  # fail at creation, not inside a search
        X_ref = kwargs["X_ref"]
        if not _is_raw_frame(X_ref):  # raw frames are encoded by the generator
            X_ref = check_array(X_ref, input_name="X_ref")
        y_ref = kwargs.get("y_ref")
        if y_ref is not None and np.shape(y_ref) != (X_ref.shape[0],):
            raise ValueError(
                f"The 'y_ref' option of make_cf_scorer(metric={metric!r}) must "
                f"have shape ({X_ref.shape[0]},), one label per row of X_ref. Got "
                f"shape {np.shape(y_ref)} instead."
            )
    return {**allowed, **kwargs}


def _check_failure_cost(metric, value, valid_only):
    if valid_only:
        raise ValueError(
            f"make_cf_scorer(metric={metric!r}) got both valid_only=True, which "
            "leaves rows without a valid counterfactual out, and failure_cost, "
            "which charges them; pass one of the two."
        )
    if isinstance(value, str) and value == "worst":
        return
    top = 1.0 if metric in _HIGHER_IS_BETTER else np.inf
    if (
        not isinstance(value, Real)
        or isinstance(value, (bool, np.bool_))
        or not 0.0 <= value <= top
        or not np.isfinite(value)
    ):
        span = "in [0, 1]" if top == 1.0 else ">= 0"
        raise ValueError(
            f"The 'failure_cost' option of make_cf_scorer(metric={metric!r}) must "
            f"be 'worst' or a finite number {span}: the value a row without a "
            f"valid counterfactual counts as. Got {value!r} instead."
        )


def _is_raw_frame(X):
    """A DataFrame with non-numeric columns (the raw-data road)."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None:
        return False
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return not all(is_numeric_dtype(d) or is_bool_dtype(d) for d in dtypes)


def _unwrap_pipeline(estimator, X):
    """``(generator, X seen by it)`` for a Pipeline ending in a generator."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and hasattr(estimator.steps[-1][1], "explain"):
        return estimator.steps[-1][1], estimator[:-1].transform(X)
    return estimator, X


def _short(value):
    """Repr of an option; arrays are summarised by their shape."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) >= 1:
        return f"<{type(value).__name__} of shape {tuple(shape)}>"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"<{type(value).__name__} of length {len(value)}>"
    return repr(value)


def _reduce_rows(values, reduce, skip_nan=False):
    """``values`` reduced to one number (``nan`` when there is none)."""
    values = np.asarray(values, dtype=np.float64)
    if skip_nan:
        values = values[~np.isnan(values)]
    if not values.size:
        return float("nan")
    return float(np.mean(values) if reduce == "mean" else np.median(values))


def _search_box(generator, Z, seen):
    """``(lower, upper, mutable, increase_only, decrease_only)`` of the search.

    The generator's fitted constraints (``constraints_``); a side without a
    bound falls back to the range of the rows in ``seen``.
    """
    d = Z.shape[1]
    fitted = getattr(generator, "constraints_", None)
    fitted = fitted if isinstance(fitted, dict) else {}

    def get(key, default, dtype):
        value = fitted.get(key)
        if value is None or np.shape(value) != (d,):
            return np.full(d, default, dtype=dtype)
        return np.asarray(value, dtype=dtype)

    lower = get("lower", -np.inf, np.float64)
    upper = get("upper", np.inf, np.float64)
    rows = np.vstack([np.asarray(s, dtype=np.float64) for s in seen])
    lower = np.where(np.isfinite(lower), lower, rows.min(axis=0))
    upper = np.where(np.isfinite(upper), upper, rows.max(axis=0))
    return (
        lower,
        upper,
        get("mutable", True, bool),
        get("increase_only", False, bool),
        get("decrease_only", False, bool),
    )


def _room(Z, lower, upper, mutable, increase_only, decrease_only):
    """Largest change of each coordinate of each row that the constraints allow."""
    up = np.where(decrease_only, 0.0, np.maximum(upper - Z, 0.0))
    down = np.where(increase_only, 0.0, np.maximum(Z - lower, 0.0))
    return np.where(mutable, np.maximum(up, down), 0.0)


def _column_room(space, X, failed, room):
    """``room`` per original column in the raw road's cost units.

    A numeric column: its coordinate's room in original units; a linked
    numeric column: the farthest of the values its driver's categories give
    it; a categorical or ordinal column: 1 if it may change at all.
    """
    out = np.zeros((room.shape[0], len(space.columns)))
    for j, info in enumerate(space.columns):
        s = np.asarray(info.search, dtype=np.intp)
        if info.kind == "numeric" and s.size:
            out[:, j] = abs(info.scale) * room[:, s].max(axis=1)
        elif info.kind in ("categorical", "ordinal") and s.size:
            out[:, j] = (room[:, s] > 0).any(axis=1)
        elif info.kind == "numeric" and info.link is not None:
            driver = np.asarray(space.columns[info.link].search, dtype=np.intp)
            values = np.asarray(info.link_values, dtype=np.float64)
            values = values[np.isfinite(values)]
            if not (driver.size and values.size):
                continue
            import pandas as pd

            col = X.iloc[:, j] if hasattr(X, "iloc") else np.asarray(X)[:, j]
            x = pd.to_numeric(pd.Series(np.asarray(col)), errors="coerce")
            x = x.to_numpy(dtype=np.float64, na_value=np.nan)[failed]
            far = np.maximum(np.abs(values.max() - x), np.abs(x - values.min()))
            far = np.where(np.isnan(far), np.ptp(values), far)
            out[:, j] = np.where((room[:, driver] > 0).any(axis=1), far, 0.0)
    return out


def _plausibility_bound(metric, X_ref, y_ref, lower, upper, n_neighbors):
    """An upper bound of lof / knn / sphere distance over the box.

    Every distance from a point of the box ``[lower, upper]`` to a reference
    row is at most ``D``, that row's distance to its farthest box corner, so
    a kNN or sphere distance is at most ``max D``. The LOF of a point is at
    most ``max lrd(o) * max(D, k-distance(o))`` over the reference rows ``o``
    (its reachability distances are at most that).
    """
    labels = [None] if y_ref is None else np.unique(np.asarray(y_ref))
    bound = 0.0
    for label in labels:
        R = X_ref if label is None else X_ref[np.asarray(y_ref) == label]
        if not len(R):
            continue
        far = np.maximum(np.abs(R - lower), np.abs(upper - R))
        value = float(np.sqrt((far**2).sum(axis=1)).max())
        if metric == "lof" and len(R) >= 2:
            k = min(n_neighbors, len(R) - 1)
            dist, idx = NearestNeighbors(n_neighbors=k).fit(R).kneighbors()
            kdist = dist[:, -1]
            lrd = 1.0 / (np.maximum(dist, kdist[idx]).mean(axis=1) + 1e-10)
            value = float(lrd.max() * (max(value, kdist.max()) + 1e-10))
        bound = max(bound, value)
    return bound


class _CFScorer:
    """Callable ``scorer(generator, X, y=None)``; build it with make_cf_scorer."""

    def __init__(self, metric, greater_is_better, kwargs):
        self.metric = metric
        self.greater_is_better = greater_is_better
        self.kwargs = kwargs
        self._options = kwargs if callable(metric) else _check_options(metric, kwargs)
        self._sign = 1.0 if greater_is_better else -1.0
        self._cache = {}  # quantities of the reference data, computed once

    def __call__(self, estimator, X, y=None):
        """Score ``estimator`` (a fitted generator) on the factual rows ``X``.

        Parameters
        ----------
        estimator : BaseGenerator
            Fitted generator.
        X : array-like of shape (n_samples, n_features)
            Factual rows to explain.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        estimator, X = _unwrap_pipeline(estimator, X)
        if not (is_generator(estimator) or hasattr(estimator, "explain")):
            raise TypeError(
                f"{self!r} scores counterfactual generators (objects with an "
                f"explain method), got {type(estimator).__name__}. Pass an skcf "
                "generator (or a Pipeline ending in one) to GridSearchCV."
            )
        if self.metric == "score":
            value = estimator.score(X, y)
        else:
            value = self._compute(estimator, estimator.explain(X))
        return self._sign * float(value)

    def _compute(self, generator, cf):
        if callable(self.metric):
            return self.metric(cf, **self._options)
        metric, opts = self.metric, dict(self._options)
        if metric == "validity":
            return cf.validity
        if metric == "time":
            return time_per_counterfactual(cf)
        valid_only = opts.pop("valid_only", False)
        if metric == "violations":
            return self._violations(generator, cf, valid_only, opts)
        failure_cost = opts.pop("failure_cost")
        valid = np.asarray(cf.valid, dtype=bool)
        failed = ~valid
        if metric == "connectedness":  # a share of the rows, not a mean of rows
            n_valid = int(valid.sum())
            share = self._values(generator, cf, valid, opts) if n_valid else np.nan
            if valid_only:
                return share
            if not len(cf):
                return float("nan")
            charge = 0.0 if failure_cost == "worst" else float(failure_cost)
            total = (share * n_valid if n_valid else 0.0) + charge * failed.sum()
            return total / len(cf)
        reduce = opts.pop("reduce", "mean")
        values = self._values(generator, cf, valid, opts)
        if not valid_only:
            rows = np.empty(len(cf))
            rows[valid] = values
            if failed.any():
                rows[failed] = (
                    self._worst(generator, cf, failed, opts)
                    if failure_cost == "worst"
                    else float(failure_cost)
                )
            values = rows
        return _reduce_rows(values, reduce, skip_nan=metric == "sphere_distance")

    def _violations(self, generator, cf, valid_only, opts):
        """Broken constraints of the returned rows (a failure returns the factual)."""
        keep = cf.valid if valid_only else np.ones(len(cf), dtype=bool)
        if getattr(cf, "space", None) is not None:
            counts = np.asarray(cf.violations)[keep]
            if opts["reduce"] == "sum":
                return float(np.sum(counts))
            return float(np.mean(counts)) if len(counts) else float("nan")
        return constraint_violations(
            cf.X[keep], cf.X_cf[keep], generator=generator, **opts
        )

    def _values(self, generator, cf, rows, opts):
        """The metric on each row of the mask ``rows`` (a share for connectedness).

        On the raw-data road distances and sparsity count a changed category
        as 1 and numeric changes in original units (``scale="mad"``: in MADs
        of the column); redundancy reverts whole columns; plausibility
        compares search-space rows (the reference rows are encoded by the
        generator's space).
        """
        metric, opts = self.metric, dict(opts)
        if not rows.any() and metric != "connectedness":
            return np.zeros(0)
        space = getattr(cf, "space", None)
        if metric in _DISTANCES or metric == "sparsity":
            if space is None:
                X, X_cf = cf.X, cf.X_cf
            else:
                X_cf = cf.delta
                X = np.zeros_like(X_cf)
            if metric == "sparsity":
                return proximity(X, X_cf, norm="l0", valid=rows, reduce=None, **opts)
            opts["scale"] = self._scale(generator, cf, opts["scale"])
            return proximity(X, X_cf, norm=metric, valid=rows, reduce=None, **opts)
        if metric == "redundancy":
            if space is None:
                return redundancy(
                    generator, cf.X, cf.X_cf, valid=rows, return_per_row=True, **opts
                )
            from ._validity import _count_redundant

            proba = generator.model_.predict_proba
            Z, Z_cf = cf.Z[rows], cf.Z_cf[rows]
            keep = np.asarray(proba(Z_cf)).argmax(axis=1)
            return _count_redundant(
                proba,
                Z,
                Z_cf,
                keep,
                np.zeros(len(keep), dtype=bool),
                units=[c.search for c in space.columns if len(c.search)],
                atol=opts["atol"],
                batch_size=opts["batch_size"],
            )
        X_cf = cf.X_cf if space is None else cf.Z_cf
        if space is not None:
            opts["X_ref"] = self._encoded_ref(space, opts["X_ref"])
        return self._plausibility(generator, cf, X_cf, rows, opts)

    def _scale(self, generator, cf, scale):
        if not isinstance(scale, str):  # None or an array
            return scale
        space = getattr(cf, "space", None)  # "mad"
        return generator.scale_ if space is None else space.column_scale

    def _plausibility(self, generator, cf, X_cf, rows, opts):
        """lof, knn/sphere distance, ynn (per row) and connectedness (a share)."""
        X_ref = opts.pop("X_ref")
        if self.metric == "ynn":
            return ynn_score(generator, X_cf, X_ref, valid=rows, reduce=None, **opts)
        if self.metric == "connectedness":
            y_ref = opts.pop("y_ref")
            return connectedness_score(
                generator, X_cf, X_ref, y_ref, valid=rows, **opts
            )
        # lof, knn_distance, sphere_distance: same-class lookups use the labels
        # explain predicted for the counterfactuals
        y_ref = opts.pop("y_ref")
        y_cf = None if y_ref is None else cf.y_cf_pred
        kw = {"y_cf": y_cf, "y_ref": y_ref, "valid": rows, "reduce": None, **opts}
        if self.metric == "lof":
            return lof_distance(X_cf, X_ref, **kw)
        if self.metric == "knn_distance":
            return knn_manifold_distance(X_cf, X_ref, **kw)
        if kw["radius"] is None:
            kw["radius"] = self._default_radius(X_ref)
        return sphere_manifold_distance(X_cf, X_ref, **kw)

    def _default_radius(self, X_ref):
        """O(n_ref^2): once per scorer, not per call."""
        if "radius" not in self._cache:
            X_ref_checked = check_array(X_ref, dtype=np.float64)
            if X_ref_checked.shape[0] >= 2:
                self._cache["radius"] = _SPHERE_FRACTION * _mean_pairwise_distance(
                    X_ref_checked
                )
            else:
                self._cache["radius"] = None  # the metric raises a clear error
        return self._cache["radius"]

    def _worst(self, generator, cf, failed, opts):
        """What each row of the mask ``failed`` is charged (``failure_cost="worst"``).

        The worst value the metric can take on a counterfactual that the
        generator's constraints admit for that row (an upper bound of it for
        the plausibility metrics); see make_cf_scorer's Notes.
        """
        metric = self.metric
        if metric in ("ynn", "connectedness"):
            return np.zeros(int(failed.sum()))
        space = getattr(cf, "space", None)
        Z = np.asarray(cf.Z, dtype=np.float64)
        Z_cf = np.asarray(cf.Z_cf, dtype=np.float64)
        if metric in _PLAUSIBILITY:  # lof, knn_distance, sphere_distance
            X_ref = opts["X_ref"]
            if space is not None:
                X_ref = self._encoded_ref(space, X_ref)
            X_ref = check_array(X_ref, dtype=np.float64)
            lower, upper, *_ = _search_box(generator, Z, [Z, Z_cf, X_ref])
            # the points a counterfactual can reach: the box, and the factual
            # value of a coordinate it may not move
            lower = np.minimum(lower, Z.min(axis=0))
            upper = np.maximum(upper, Z.max(axis=0))
            bound = _plausibility_bound(
                metric, X_ref, opts["y_ref"], lower, upper, opts.get("n_neighbors")
            )
            return np.full(int(failed.sum()), bound)
        box = _search_box(generator, Z, [Z, Z_cf])
        room = _room(Z[failed], *box)  # largest move of each search coordinate
        if space is None:
            worst = room
        else:
            worst = _column_room(space, cf.X, failed, room)
        if metric in ("l0", "sparsity", "redundancy"):
            return (worst > opts["atol"]).sum(axis=1).astype(np.float64)
        scale = self._scale(generator, cf, opts["scale"])
        return proximity(
            np.zeros_like(worst), worst, norm=metric, scale=scale, reduce=None
        )

    def _encoded_ref(self, space, X_ref):
        key = ("X_ref", id(space))
        if key not in self._cache:
            self._cache[key] = space.encode(X_ref)
        return self._cache[key]

    def __repr__(self):
        name = (
            getattr(self.metric, "__name__", repr(self.metric))
            if callable(self.metric)
            else repr(self.metric)
        )
        extra = "".join(f", {k}={_short(v)}" for k, v in self.kwargs.items())
        return (
            f"make_cf_scorer({name}, greater_is_better={self.greater_is_better}{extra})"
        )


@validate_params(
    {"metric": [callable, str], "greater_is_better": ["boolean", None]},
    prefer_skip_nested_validation=True,
)
def make_cf_scorer(metric="validity", *, greater_is_better=None, **kwargs):
    """Make a scorer for counterfactual generators, for ``GridSearchCV``.

    The scorer is a callable ``scorer(generator, X, y=None) -> float`` that calls
    ``generator.explain(X)`` once and computes ``metric`` on the result. Pass it
    as ``scoring=`` to ``GridSearchCV``, ``cross_validate`` or
    ``cross_val_score``, alone or in a scoring dict. As with scikit-learn's
    ``neg_*`` scorers, a lower-is-better metric is negated so that greater is
    always better for the search.

    Parameters
    ----------
    metric : str or callable, default="validity"
        What to score:

        - ``"validity"``: fraction of valid rows (:func:`validity_score`).
        - ``"l0"``, ``"l1"``, ``"l2"``, ``"linf"``: mean distance
          (:func:`proximity`); rows without a valid counterfactual are
          charged ``failure_cost``, as for every metric below but
          ``violations`` and ``time``.
        - ``"sparsity"``: mean number of changed features (:func:`sparsity`).
        - ``"redundancy"``: mean number of unnecessary changes
          (:func:`redundancy`).
        - ``"violations"``: mean number of broken constraints
          (:func:`constraint_violations`).
        - ``"lof"``: mean local outlier factor (:func:`lof_distance`).
        - ``"knn_distance"``: mean distance to the K nearest reference rows
          (:func:`knn_manifold_distance`).
        - ``"sphere_distance"``: mean distance to the reference rows in a ball
          (:func:`sphere_manifold_distance`).
        - ``"ynn"``: share of neighbours the model puts in the counterfactual's
          class (:func:`ynn_score`).
        - ``"connectedness"``: fraction of ε-connected counterfactuals
          (:func:`connectedness_score`).
        - ``"time"``: seconds per counterfactual
          (:func:`time_per_counterfactual`).
        - ``"score"``: the generator's own ``score`` (validity discounted by
          cost).
        - a callable ``metric(cf, **kwargs) -> float`` taking the
          :class:`~skcf.base.CounterfactualSet` returned by ``explain``.
    greater_is_better : bool, default=None
        Whether a high metric is good; if False the scorer returns
        ``-metric``. None infers it: True for ``"validity"``, ``"score"``,
        ``"ynn"``, ``"connectedness"`` and callables (as
        :func:`sklearn.metrics.make_scorer`), False for the others.
    **kwargs : dict
        Options of the metric. ``scale`` (``l0``-``linf``): None, an array of
        per-feature scales, or ``"mad"`` for the generator's fitted ``scale_``.
        ``valid_only`` (all but ``validity``, ``score`` and ``time``): average
        over the rows with a valid counterfactual only (CARLA), default False.
        ``reduce`` (distances, ``lof`` and ``ynn``: ``"mean"``/``"median"``;
        ``violations``: ``"mean"``/``"sum"``),
        ``atol`` (``l0``, ``sparsity``, ``redundancy``) and ``batch_size``
        (``redundancy``). A callable metric receives all of them.

        ``failure_cost`` (every metric but ``validity``, ``score``,
        ``violations`` and ``time``): what a row without a valid
        counterfactual counts as, ``"worst"`` (default, see Notes) or a
        number (in [0, 1] for ``ynn`` and ``connectedness``). Not with
        ``valid_only=True``, which leaves those rows out.

        The plausibility metrics compare counterfactuals with reference rows,
        given here once: ``X_ref`` (required for ``lof``, ``knn_distance``,
        ``sphere_distance``, ``ynn`` and ``connectedness``) and ``y_ref``
        (required for ``connectedness``; optional for ``lof``,
        ``knn_distance`` and ``sphere_distance``, where it makes each
        counterfactual be compared with the reference rows of the class
        ``explain`` predicted for it, ``cf.y_cf_pred``). The other options are
        those of the functions: ``n_neighbors`` (``lof``, ``knn_distance``,
        ``ynn``), ``radius`` and ``empty`` (``sphere_distance``), ``epsilon``
        and ``min_samples`` (``connectedness``). ``connectedness`` and
        ``time`` take no ``reduce``.

    Returns
    -------
    scorer : callable
        ``scorer(generator, X, y=None) -> float``.

    Notes
    -----
    Generators return a row unchanged when they find no valid counterfactual.
    Measured as it is, such a row would cost nothing and look perfectly
    plausible, so giving up would win every search. With
    ``failure_cost="worst"`` (the default) a failed row is instead charged the
    worst value the metric can take on any counterfactual that the
    generator's constraints admit for that row:

    - ``l0``, ``sparsity``, ``redundancy``: the number of features (original
      columns on the raw-data road) the constraints let change;
    - ``l1``, ``l2``, ``linf``: the norm (in the scorer's ``scale``) of the
      farthest move the constraints allow: each mutable feature to the
      farther of its bounds (only upwards for ``increase_only``, downwards
      for ``decrease_only``), immutable features unchanged; on the raw-data
      road a numeric column to the farther bound in original units and a
      categorical column that may change 1;
    - ``lof``, ``knn_distance``, ``sphere_distance``: an upper bound of the
      metric over the box of the bounds (the largest distance from a point of
      the box to a reference row, and for ``lof`` that distance times the
      largest local reachability density of the reference rows);
    - ``ynn``, ``connectedness``: 0.

    The bounds are the generator's fitted ones (``bounds="infer"``, the
    default of every generator, spans the training data); a side without a
    bound falls back to the range of the scored rows and counterfactuals.
    Within those bounds no valid counterfactual can cost more than a
    failure, so a generator that finds none never outscores one that finds
    some. The charge is deliberately large: a failure is as bad as the most
    expensive recourse possible. To report the mean cost of the found
    counterfactuals instead (CARLA), pass ``valid_only=True`` and score
    ``"validity"`` next to it in a scoring dict; with ``valid_only=True`` and
    no valid row the score is ``nan``. ``violations`` and ``time`` describe
    the returned rows and the call, and charge nothing; ``"score"`` discounts
    validity by cost on its own.

    The :class:`~skcf.exceptions.CounterfactualWarning` of ``explain`` is
    re-issued at the caller's line (the ``GridSearchCV(...).fit`` call, say).

    To search a generator over a model that is already fitted, wrap the model
    in ``sklearn.frozen.FrozenEstimator``: ``GridSearchCV`` clones the
    generator, and cloning unfits a plain fitted estimator.

    In ``GridSearchCV`` the scorer only sees the factual rows of the test fold,
    so the reference data are fixed when the scorer is made: pass the training
    rows the generator and the model learned from (``X_ref=X_train``,
    ``y_ref=y_train``). The default ``radius`` of ``sphere_distance`` (an
    O(n_ref²) mean of pairwise distances) is computed on the first call and
    reused.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skcf.generators import WachterGenerator
    >>> from skcf.metrics import make_cf_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(30, 3))
    >>> clf = LogisticRegression().fit(X, (X[:, 0] + X[:, 1] > 0).astype(int))
    >>> make_cf_scorer("l1", scale="mad")
    make_cf_scorer('l1', greater_is_better=False, scale='mad')
    >>> gen = WachterGenerator(FrozenEstimator(clf), max_iter=30, n_search_steps=2,
    ...                        random_state=0)
    >>> scoring = {"validity": make_cf_scorer("validity"),
    ...            "l1": make_cf_scorer("l1", scale="mad")}
    >>> search = GridSearchCV(gen, {"lam": [0.1, 1.0]}, cv=2, scoring=scoring,
    ...                       refit="validity").fit(X)
    >>> search.best_params_
    {'lam': 1.0}

    A weak ``lam`` finds fewer counterfactuals here; its failures are charged
    the worst admissible cost, so it also loses on cost:

    >>> res = search.cv_results_
    >>> bool(res["mean_test_validity"][0] < res["mean_test_validity"][1])
    True
    >>> bool(res["mean_test_l1"][0] < res["mean_test_l1"][1])
    True

    Plausibility metrics need the reference (training) rows:

    >>> y = clf.predict(X)
    >>> make_cf_scorer("knn_distance", X_ref=X, y_ref=y, valid_only=True)
    make_cf_scorer('knn_distance', greater_is_better=False,
                   X_ref=<ndarray of shape (30, 3)>, y_ref=<ndarray of shape (30,)>,
                   valid_only=True)
    >>> scorer = make_cf_scorer("connectedness", X_ref=X, y_ref=y)
    >>> 0.0 <= scorer(search.best_estimator_, X[:5]) <= 1.0
    True
    """
    if isinstance(metric, str) and metric not in _METRICS:
        raise ValueError(
            f"The 'metric' parameter of make_cf_scorer must be one of "
            f"{list(_METRICS)} or a callable. Got {metric!r} instead."
        )
    if greater_is_better is None:
        greater_is_better = callable(metric) or metric in _HIGHER_IS_BETTER
    return _CFScorer(metric, bool(greater_is_better), kwargs)
