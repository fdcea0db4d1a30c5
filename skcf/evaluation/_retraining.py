"""Retraining studies: leave-one-out and random-seed families (seed 001 §5, B.4)."""

from __future__ import annotations

import time
from numbers import Integral

import numpy as np
from joblib import Memory, Parallel, delayed
from sklearn.base import clone
from sklearn.utils import check_random_state

from ..models._adapters import _is_skorch
from ..utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["ModelFamily", "fit_seeded", "make_model_family"]


def _seed_everything_local(seed):
    """Context that seeds torch's global RNG and restores it afterwards."""
    import torch

    ctx = torch.random.fork_rng(devices=[])
    ctx.__enter__()
    torch.manual_seed(int(seed))
    return ctx


def _fit_seeded(estimator, X, y, seed):
    est = clone(estimator)
    if _is_skorch(est):
        # skorch draws the initial weights and the batch order from torch's
        # global RNG; seed it in a forked RNG so the caller's stream is untouched
        # (seed 001 B.4: "change the random seed directly before initializing").
        ctx = _seed_everything_local(seed)
        try:
            est.fit(np.asarray(X, dtype=np.float32), np.asarray(y))
        finally:
            ctx.__exit__(None, None, None)
        return est
    if "random_state" in est.get_params():
        est.set_params(random_state=int(seed))
    return est.fit(X, y)


@validate_params(
    {
        "estimator": "no_validation",
        "X": ["array-like"],
        "y": ["array-like"],
        "seed": [Interval(Integral, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def fit_seeded(estimator, X, y, *, seed):
    """Fit a clone of ``estimator`` with a fixed initialisation seed.

    For a skorch net, torch's global RNG is seeded with ``seed`` just before the
    net is initialised and trained (in a forked RNG state, so the caller's
    random stream is unchanged): the initial weights and the mini-batch order
    are a function of ``seed``. Other estimators get ``random_state=seed`` when
    they have that parameter. Use it to train the *base* model of a study so
    that it shares its initialisation with a leave-one-out family built with
    the same seed.

    Parameters
    ----------
    estimator : object
        A skorch ``NeuralNetClassifier`` or an sklearn classifier; it is cloned
        (a fitted one is not modified).
    X : array-like of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,)
        Labels.
    seed : int
        Initialisation seed.

    Returns
    -------
    estimator : object
        The fitted clone.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import SGDClassifier
    >>> from skcf.evaluation import fit_seeded
    >>> X = np.random.RandomState(0).normal(size=(40, 3)); y = (X[:, 0] > 0) * 1
    >>> clf = SGDClassifier(max_iter=5, tol=None)
    >>> a = fit_seeded(clf, X, y, seed=1); b = fit_seeded(clf, X, y, seed=1)
    >>> c = fit_seeded(clf, X, y, seed=2)
    >>> bool(np.allclose(a.coef_, b.coef_)), bool(np.allclose(a.coef_, c.coef_))
    (True, False)
    """
    return _fit_seeded(estimator, X, y, seed)


def _fit_member(estimator, X, y, drop, seed):
    """One member of a family (module level, so joblib and dask can ship it)."""
    if drop is not None:
        keep = np.ones(len(X), dtype=bool)
        keep[drop] = False
        X, y = X[keep], y[keep]
    start, cpu = time.perf_counter(), time.thread_time()
    est = _fit_seeded(estimator, X, y, seed)
    return est, time.perf_counter() - start, time.thread_time() - cpu


class ModelFamily:
    """A family of retrained models, as built by :func:`make_model_family`.

    Parameters
    ----------
    estimators : list of fitted classifiers
        The retrained models.
    kind : {"loo", "seed", "custom"}, default="custom"
        How they differ: one training row removed each (``"loo"``), the
        initialisation seed (``"seed"``), or anything else (``"custom"``, e.g. a
        hand-built family).
    dropped : ndarray of shape (n_models,), default=None
        Index of the training row each ``"loo"`` model did not see.
    seeds : ndarray of shape (n_models,), default=None
        Initialisation seed of each model.
    fit_times : ndarray of shape (n_models,), default=None
        Training wall time of each model in seconds, as measured when it was
        trained (also for models loaded from the cache).
    cpu_times : ndarray of shape (n_models,), default=None
        CPU time of the training thread for each model (with a one-thread torch,
        the compute a model needs, whatever the machine's load).

    Attributes
    ----------
    n_models : int
        Number of models.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.evaluation import ModelFamily
    >>> X = np.array([[-1.0], [1.0]]); y = np.array([0, 1])
    >>> fam = ModelFamily([LogisticRegression().fit(X, y) for _ in range(3)])
    >>> fam.n_models, fam.predict(np.array([[2.0]])).tolist()
    (3, [[1], [1], [1]])
    """

    def __init__(
        self,
        estimators,
        *,
        kind="custom",
        dropped=None,
        seeds=None,
        fit_times=None,
        cpu_times=None,
    ):
        self.estimators = list(estimators)
        self.kind = kind
        self.dropped = None if dropped is None else np.asarray(dropped)
        self.seeds = None if seeds is None else np.asarray(seeds)
        self.fit_times = None if fit_times is None else np.asarray(fit_times)
        self.cpu_times = None if cpu_times is None else np.asarray(cpu_times)
        if not self.estimators:
            raise ValueError("A ModelFamily needs at least one fitted estimator.")

    @property
    def n_models(self):
        return len(self.estimators)

    def __len__(self):
        return self.n_models

    def __iter__(self):
        return iter(self.estimators)

    def __getitem__(self, i):
        return self.estimators[i]

    def predict(self, X):
        """Predictions of every model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        y_pred : ndarray of shape (n_models, n_samples)
            Predicted labels, one row per model.
        """
        return np.stack([_predict_labels(est, X) for est in self.estimators])

    def __repr__(self):
        return f"ModelFamily(kind={self.kind!r}, n_models={self.n_models})"


def _predict_labels(estimator, X):
    """``estimator.predict(X)``, with float32 input for skorch nets."""
    X = np.asarray(X)
    if _is_skorch(estimator):
        pred = estimator.predict(X.astype(np.float32))
        classes = getattr(estimator, "classes_override_", None)
        return pred if classes is None else np.asarray(classes)[pred]
    return np.asarray(estimator.predict(X))


@validate_params(
    {
        "estimator": "no_validation",
        "X": ["array-like"],
        "y": ["array-like"],
        "kind": [StrOptions({"loo", "seed"})],
        "n_models": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "memory": [None, str, Memory],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def make_model_family(
    estimator,
    X,
    y,
    *,
    kind="loo",
    n_models=100,
    n_jobs=None,
    memory=None,
    random_state=None,
    verbose=0,
):
    """Retrain a classifier many times under small changes (seed 001 §5.1, B.4).

    - ``kind="loo"`` (leave-one-out): every model starts from the *same*
      initial weights (seed ``base_seed``) and is trained on the data minus one
      row; the removed rows are drawn without replacement.
    - ``kind="seed"`` (random seed): same data, initialisation seeds
      ``base_seed + 1, base_seed + 2, ...`` (the paper increments the seed).

    All other hyper-parameters are those of ``estimator``. ``base_seed`` is
    drawn from ``random_state``; train the base model with
    ``fit_seeded(estimator, X, y, seed=family.seeds[0])`` for a LOO family to
    share its initialisation.

    The models are trained through joblib: ``n_jobs`` processes by default,
    and any joblib backend works unchanged, e.g. on a ``dask.distributed``
    cluster::

        from dask.distributed import Client
        from joblib import parallel_backend
        client = Client("scheduler-address:8786")
        with parallel_backend("dask"):
            family = make_model_family(net, X, y, n_models=500, n_jobs=-1)

    With ``memory`` each model is cached on disk (``joblib.Memory``), keyed by
    the estimator's parameters, the data, the dropped row and the seed, so a
    repeated study (or a larger one) does not retrain the models it has.

    Parameters
    ----------
    estimator : object
        A skorch ``NeuralNetClassifier`` (seeded through torch) or an sklearn
        classifier with a ``random_state`` parameter. It is cloned, never fitted.
    X : array-like of shape (n_samples, n_features)
        Training data of the base model.
    y : array-like of shape (n_samples,)
        Its labels.
    kind : {"loo", "seed"}, default="loo"
        Source of variation.
    n_models : int, default=100
        Size of the family (100 in the paper). For ``"loo"`` at most
        ``n_samples``.
    n_jobs : int, default=None
        Parallel training jobs (joblib semantics: None is 1 unless in a
        ``parallel_backend`` context, -1 is all cores).
    memory : str or joblib.Memory, default=None
        Cache directory (or object) for trained models; None disables caching.
    random_state : int, RandomState instance or None, default=None
        Draws ``base_seed`` and the dropped rows.
    verbose : int, default=0
        joblib's progress messages.

    Returns
    -------
    family : ModelFamily
        Fitted models with ``dropped`` (LOO) and ``seeds``.

    References
    ----------
    Black, Wang, Datta, Fredrikson (2022). Consistent counterfactuals for deep
    models. Seed 001, §5.1 ("Retraining controls") and App. B.4.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import SGDClassifier
    >>> from skcf.evaluation import make_model_family
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(30, 2)); y = (X[:, 0] > 0).astype(int)
    >>> fam = make_model_family(SGDClassifier(max_iter=20, tol=None), X, y,
    ...                         kind="loo", n_models=5, random_state=0)
    >>> len(fam), len(set(fam.dropped.tolist())), len(set(fam.seeds.tolist()))
    (5, 5, 1)
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(
            "make_model_family needs X of shape (n_samples, n_features) and y of "
            f"shape (n_samples,), got {X.shape} and {y.shape}."
        )
    if not np.all(np.isfinite(X.astype(np.float64))):
        raise ValueError("X contains NaN or infinity; clean or impute it first.")
    rng = check_random_state(random_state)
    base_seed = int(rng.randint(0, 2**31 - n_models - 1))
    if kind == "loo":
        if n_models > len(X):
            raise ValueError(
                f"kind='loo' removes a different row per model, so n_models must be "
                f"at most n_samples={len(X)}; got n_models={n_models}."
            )
        dropped = rng.choice(len(X), size=n_models, replace=False)
        seeds = np.full(n_models, base_seed)
    else:
        dropped = None
        seeds = base_seed + 1 + np.arange(n_models)
    template = clone(estimator)
    fit = _fit_member
    if memory is not None:
        mem = memory if isinstance(memory, Memory) else Memory(memory, verbose=0)
        fit = mem.cache(_fit_member)
    drops = [None] * n_models if dropped is None else [int(i) for i in dropped]
    out = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(fit)(template, X, y, drop, int(seed))
        for drop, seed in zip(drops, seeds, strict=True)
    )
    return ModelFamily(
        [est for est, _, _ in out],
        kind=kind,
        dropped=dropped,
        seeds=seeds,
        fit_times=np.array([t for _, t, _ in out]),
        cpu_times=np.array([c for _, _, c in out]),
    )
