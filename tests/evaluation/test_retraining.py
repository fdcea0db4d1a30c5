"""Retraining families and the invalidation rate (seed 001 §5, Def. 2)."""

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.utils._param_validation import InvalidParameterError

from skcf.evaluation import (
    ModelFamily,
    cost_invalidation_r2,
    fit_seeded,
    invalidation_rate,
    make_model_family,
)

N_FITS = {"n": 0}


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Remembers the rows it saw; a random 'initialisation' from random_state."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        N_FITS["n"] += 1
        self.X_ = np.asarray(X).copy()
        self.w_ = np.random.RandomState(self.random_state).normal(size=X.shape[1])
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return (np.asarray(X) @ self.w_ > 0).astype(int)


class Threshold(ClassifierMixin, BaseEstimator):
    """Fixed 1-D linear model: class 1 iff x_0 > threshold."""

    def __init__(self, threshold=0.0):
        self.threshold = threshold

    def fit(self, X=None, y=None):
        return self

    def __sklearn_is_fitted__(self):
        return True

    def predict(self, X):
        return (np.asarray(X)[:, 0] > self.threshold).astype(int)


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    return X, (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)


def test_loo_family_drops_exactly_one_row_and_shares_init(data):
    X, y = data
    fam = make_model_family(RecordingClassifier(), X, y, n_models=10, random_state=0)
    assert fam.kind == "loo" and len(fam) == 10
    assert len(set(fam.dropped.tolist())) == 10  # without replacement
    assert len(set(fam.seeds.tolist())) == 1
    for est, i in zip(fam, fam.dropped, strict=True):
        np.testing.assert_array_equal(est.X_, np.delete(X, i, axis=0))
        np.testing.assert_array_equal(est.w_, fam[0].w_)  # same initialisation


def test_seed_family_shares_data_and_varies_init(data):
    X, y = data
    fam = make_model_family(
        RecordingClassifier(), X, y, kind="seed", n_models=6, random_state=0
    )
    assert fam.dropped is None and len(set(fam.seeds.tolist())) == 6
    for est in fam:
        np.testing.assert_array_equal(est.X_, X)
    ws = np.stack([est.w_ for est in fam])
    assert np.linalg.matrix_rank(ws) == 3  # genuinely different initialisations
    again = make_model_family(
        RecordingClassifier(), X, y, kind="seed", n_models=6, random_state=0
    )
    np.testing.assert_array_equal(ws, np.stack([est.w_ for est in again]))


def _net(max_epochs):
    from skorch import NeuralNetClassifier

    from skcf.models import MLP

    return NeuralNetClassifier(
        MLP,
        module__n_features=3,
        module__hidden=(8,),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.05,
        max_epochs=max_epochs,
        batch_size=16,
        train_split=None,
        verbose=0,
    )


def _weights(net):
    return torch.cat([p.detach().ravel() for p in net.module_.parameters()])


def test_skorch_loo_shares_initial_weights_seed_family_does_not(data):
    X, y = data
    # max_epochs=0: the fitted weights are the initial weights
    loo = make_model_family(_net(0), X, y, n_models=3, random_state=0)
    rs = make_model_family(_net(0), X, y, kind="seed", n_models=3, random_state=0)
    w_loo = [_weights(m) for m in loo]
    w_rs = [_weights(m) for m in rs]
    assert all(torch.equal(w_loo[0], w) for w in w_loo[1:])
    assert not torch.equal(w_rs[0], w_rs[1]) and not torch.equal(w_rs[1], w_rs[2])
    base0 = fit_seeded(_net(0), X, y, seed=int(loo.seeds[0]))
    assert torch.equal(_weights(base0), w_loo[0])
    # trained: the removed row changes the weights, the global RNG is untouched
    state = torch.random.get_rng_state()
    trained = make_model_family(_net(3), X, y, n_models=2, random_state=0)
    assert torch.equal(state, torch.random.get_rng_state())
    assert not torch.equal(_weights(trained[0]), _weights(trained[1]))
    assert trained.predict(X.astype(np.float32)).shape == (2, len(X))


def test_cache_avoids_retraining(data, tmp_path):
    X, y = data
    kwargs = dict(n_models=4, random_state=0, memory=str(tmp_path))
    first = make_model_family(RecordingClassifier(), X, y, **kwargs)
    before = N_FITS["n"]
    second = make_model_family(RecordingClassifier(), X, y, **kwargs)
    assert N_FITS["n"] == before  # loaded from disk
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.w_, b.w_)


def test_parallel_matches_serial(data):
    from joblib import parallel_backend

    X, y = data
    est = SGDClassifier(max_iter=5, tol=None)
    serial = make_model_family(est, X, y, kind="seed", n_models=4, random_state=1)
    with parallel_backend("threading"):  # processes would only add start-up time
        par = make_model_family(
            est, X, y, kind="seed", n_models=4, random_state=1, n_jobs=2
        )
    np.testing.assert_array_equal(serial.predict(X), par.predict(X))


def test_dask_backend_on_local_cluster(data):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    X, y = data
    est = SGDClassifier(max_iter=5, tol=None)
    serial = make_model_family(est, X, y, n_models=4, random_state=2)
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ):
        with parallel_backend("dask"):
            fam = make_model_family(est, X, y, n_models=4, random_state=2, n_jobs=-1)
    np.testing.assert_array_equal(fam.dropped, serial.dropped)
    np.testing.assert_array_equal(fam.predict(X), serial.predict(X))


def test_invalidation_rate_on_fixed_linear_family():
    base = Threshold(0.0)
    family = ModelFamily([Threshold(t) for t in (0.0, 0.5, 1.0, 1.5)])
    X_cf = np.array([[0.25, 9.0], [1.2, -3.0], [2.0, 0.0]])
    per_row = invalidation_rate(X_cf, base, family, average=False)
    np.testing.assert_allclose(per_row, [0.75, 0.25, 0.0])
    mean, std = invalidation_rate(X_cf, base, family, return_std=True)
    assert mean == pytest.approx(1 / 3)
    # per-model rates 0, 1/3, 1/3, 2/3
    assert std == pytest.approx(np.std([0, 1 / 3, 1 / 3, 2 / 3]))
    # a reference target instead of the base model; a plain list as the family
    assert invalidation_rate(
        X_cf, None, list(family), target=np.zeros(3, int)
    ) == pytest.approx(2 / 3)


def test_cost_invalidation_r2():
    rng = np.random.RandomState(0)
    cost = rng.uniform(size=50)
    iv = 0.5 * cost + rng.normal(scale=0.1, size=50)
    assert cost_invalidation_r2(cost, iv) == pytest.approx(
        np.corrcoef(cost, iv)[0, 1] ** 2
    )
    assert cost_invalidation_r2(cost, np.zeros(50)) == 0.0
    with pytest.raises(ValueError, match="same length"):
        cost_invalidation_r2(cost, iv[:3])
    with pytest.raises(ValueError, match="finite"):
        cost_invalidation_r2([1.0, np.nan], [0.0, 1.0])


def test_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="n_models must be at most"):
        make_model_family(LogisticRegression(), X, y, n_models=41)
    with pytest.raises(InvalidParameterError, match="kind"):
        make_model_family(LogisticRegression(), X, y, kind="bootstrap")
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make_model_family(LogisticRegression(), Xn, y, n_models=2)
    with pytest.raises(ValueError, match="not fitted"):
        invalidation_rate(X, Threshold(), [LogisticRegression()])
    with pytest.raises(ValueError, match="base model or target"):
        invalidation_rate(X, None, [Threshold()])
    with pytest.raises(ValueError, match="at least one"):
        ModelFamily([])
