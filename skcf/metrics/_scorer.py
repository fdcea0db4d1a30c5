"""Scorers for model selection of counterfactual generators (``GridSearchCV``)."""

from __future__ import annotations

import numpy as np

from ..base import is_generator
from ..utils._sklearn_compat import validate_params
from ._constraints import constraint_violations
from ._distance import proximity, sparsity
from ._validity import redundancy

__all__ = ["make_cf_scorer"]

_DISTANCES = ("l0", "l1", "l2", "linf")
_METRICS = ("validity", *_DISTANCES, "sparsity", "redundancy", "violations", "score")

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
}
_REDUCE = {"violations": ("mean", "sum")}


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
    return {**allowed, **kwargs}


class _CFScorer:
    """Callable ``scorer(generator, X, y=None)``; build it with make_cf_scorer."""

    def __init__(self, metric, greater_is_better, kwargs):
        self.metric = metric
        self.greater_is_better = greater_is_better
        self.kwargs = kwargs
        self._options = kwargs if callable(metric) else _check_options(metric, kwargs)
        self._sign = 1.0 if greater_is_better else -1.0

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
        if not (is_generator(estimator) or hasattr(estimator, "explain")):
            raise TypeError(
                f"{self!r} scores counterfactual generators (objects with an "
                f"explain method), got {type(estimator).__name__}. Pass an skcf "
                "generator to GridSearchCV."
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
        if self.metric in _DISTANCES:
            if isinstance(opts["scale"], str):  # "mad"
                opts["scale"] = generator.scale_
            return proximity(cf.X, cf.X_cf, norm=self.metric, valid=valid, **opts)
        if self.metric == "sparsity":
            return sparsity(cf.X, cf.X_cf, valid=valid, **opts)
        if self.metric == "redundancy":
            return redundancy(generator, cf.X, cf.X_cf, valid=valid, **opts)
        # violations
        X, X_cf = (cf.X, cf.X_cf) if valid is None else (cf.X[valid], cf.X_cf[valid])
        return constraint_violations(X, X_cf, generator=generator, **opts)

    def __repr__(self):
        name = (
            getattr(self.metric, "__name__", repr(self.metric))
            if callable(self.metric)
            else repr(self.metric)
        )
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
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
        - ``"score"``: the generator's own ``score`` (validity discounted by
          cost).
        - a callable ``metric(cf, **kwargs) -> float`` taking the
          :class:`~skcf.base.CounterfactualSet` returned by ``explain``.
    greater_is_better : bool, default=None
        Whether a high metric is good; if False the scorer returns
        ``-metric``. None infers it: True for ``"validity"``, ``"score"`` and
        callables (as :func:`sklearn.metrics.make_scorer`), False for the
        others.
    **kwargs : dict
        Options of the metric. ``scale`` (``l0``-``linf``): None, an array of
        per-feature scales, or ``"mad"`` for the generator's fitted ``scale_``.
        ``valid_only`` (all but ``validity``/``score``): average over the rows
        with a valid counterfactual only (CARLA), default False. ``reduce``
        (distances: ``"mean"``/``"median"``; ``violations``: ``"mean"``/``"sum"``),
        ``atol`` (``l0``, ``sparsity``, ``redundancy``) and ``batch_size``
        (``redundancy``). A callable metric receives all of them.

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
    """
    if isinstance(metric, str) and metric not in _METRICS:
        raise ValueError(
            f"The 'metric' parameter of make_cf_scorer must be one of "
            f"{list(_METRICS)} or a callable. Got {metric!r} instead."
        )
    if greater_is_better is None:
        greater_is_better = callable(metric) or metric in ("validity", "score")
    return _CFScorer(metric, bool(greater_is_better), kwargs)
