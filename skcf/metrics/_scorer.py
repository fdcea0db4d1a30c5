"""Scorers for model selection of counterfactual generators (``GridSearchCV``)."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array

from ..base import is_generator
from ..utils._sklearn_compat import validate_params
from ._constraints import constraint_violations
from ._distance import proximity, sparsity
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

# keyword options each named metric accepts, with their defaults
_OPTIONS = {
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
        opts = dict(self._options)
        if self.metric == "validity":
            return cf.validity
        valid = cf.valid if opts.pop("valid_only", False) else None
        space = getattr(cf, "space", None)
        if space is not None:
            return self._compute_raw(generator, cf, space, valid, opts)
        if self.metric in _DISTANCES:
            if isinstance(opts["scale"], str):  # "mad"
                opts["scale"] = generator.scale_
            return proximity(cf.X, cf.X_cf, norm=self.metric, valid=valid, **opts)
        if self.metric == "sparsity":
            return sparsity(cf.X, cf.X_cf, valid=valid, **opts)
        if self.metric == "redundancy":
            return redundancy(generator, cf.X, cf.X_cf, valid=valid, **opts)
        if self.metric == "violations":
            X, X_cf = (
                (cf.X, cf.X_cf) if valid is None else (cf.X[valid], cf.X_cf[valid])
            )
            return constraint_violations(X, X_cf, generator=generator, **opts)
        if self.metric == "time":
            return time_per_counterfactual(cf)
        return self._compute_plausibility(generator, cf, cf.X, cf.X_cf, valid, opts)

    def _compute_plausibility(self, generator, cf, X, X_cf, valid, opts):
        """lof, knn/sphere distance, ynn, connectedness of ``X_cf``."""
        X_ref = opts.pop("X_ref")
        if self.metric == "ynn":
            return ynn_score(generator, X_cf, X_ref, valid=valid, **opts)
        if self.metric == "connectedness":
            y_ref = opts.pop("y_ref")
            return connectedness_score(
                generator, X_cf, X_ref, y_ref, valid=valid, **opts
            )
        # lof, knn_distance, sphere_distance: same-class lookups use the labels
        # explain predicted for the counterfactuals
        y_ref = opts.pop("y_ref")
        y_cf = None if y_ref is None else cf.y_cf_pred
        kw = {"y_cf": y_cf, "y_ref": y_ref, "valid": valid, **opts}
        if self.metric == "lof":
            return lof_distance(X_cf, X_ref, **kw)
        if self.metric == "knn_distance":
            return knn_manifold_distance(X_cf, X_ref, **kw)
        if kw["radius"] is None:  # O(n_ref^2): once per scorer, not per call
            if "radius" not in self._cache:
                X_ref_checked = check_array(X_ref, dtype=np.float64)
                if X_ref_checked.shape[0] >= 2:
                    self._cache["radius"] = _SPHERE_FRACTION * _mean_pairwise_distance(
                        X_ref_checked
                    )
                else:
                    self._cache["radius"] = None  # the metric raises a clear error
            kw["radius"] = self._cache["radius"]
        return sphere_manifold_distance(X_cf, X_ref, **kw)

    def _compute_raw(self, generator, cf, space, valid, opts):
        """The raw-data road: costs per original column, in original units.

        Distances and sparsity count a changed category as 1 and numeric
        changes in original units (``scale="mad"``: in MADs of the column);
        violations are the ones ``explain`` judged on the returned rows;
        redundancy reverts whole columns; plausibility compares search-space
        rows (the reference rows are encoded by the generator's space).
        """
        metric = self.metric
        delta = cf.delta
        zero = np.zeros_like(delta)
        if metric in _DISTANCES:
            if isinstance(opts["scale"], str):  # "mad"
                opts["scale"] = space.column_scale
            return proximity(zero, delta, norm=metric, valid=valid, **opts)
        if metric == "sparsity":
            return sparsity(zero, delta, valid=valid, **opts)
        if metric == "violations":
            counts = cf.violations if valid is None else cf.violations[valid]
            if opts["reduce"] == "sum":
                return float(np.sum(counts))
            return float(np.mean(counts)) if len(counts) else float("nan")
        if metric == "time":
            return time_per_counterfactual(cf)
        Z, Z_cf = cf.Z, cf.Z_cf
        if metric == "redundancy":
            from ._validity import _count_redundant

            rows = np.ones(len(cf), dtype=bool) if valid is None else valid
            proba = generator.model_.predict_proba
            keep = np.asarray(proba(Z_cf[rows])).argmax(axis=1)
            counts = _count_redundant(
                proba,
                Z[rows],
                Z_cf[rows],
                keep,
                np.zeros(len(keep), dtype=bool),
                units=[c.search for c in space.columns if len(c.search)],
                atol=opts["atol"],
                batch_size=opts["batch_size"],
            )
            return float(counts.mean()) if len(counts) else float("nan")
        opts["X_ref"] = self._encoded_ref(space, opts["X_ref"])
        return self._compute_plausibility(generator, cf, Z, Z_cf, valid, opts)

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
          (:func:`proximity`).
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
    Generators return a row unchanged when they find no valid counterfactual,
    so a distance-only score rewards giving up. Score distances together with
    ``"validity"`` in a scoring dict (and ``refit`` on one of them), use
    ``valid_only=True``, or use ``"score"``, which discounts validity by cost.
    With ``valid_only=True`` and no valid row the score is ``nan``.

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

    A weak ``lam`` finds no counterfactual here, which costs nothing:

    >>> bool(search.cv_results_["mean_test_l1"][0] == 0.0)
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
