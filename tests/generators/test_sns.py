"""Stable Neighbor Search (seed 001 Def. 5): validity, constraints, stability."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skcf._engine import StabilityTerm
from skcf.evaluation import fit_seeded, invalidation_rate, make_model_family
from skcf.generators import (
    ElasticNetGenerator,
    GrowingSpheresGenerator,
    PGDGenerator,
    StableNeighborSearch,
)
from skcf.models import MLP, as_differentiable


def make_tabular(n_samples=300, n_features=6, n_classes=2, random_state=0):
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        class_sep=1.2,
        random_state=random_state,
    )
    return StandardScaler().fit_transform(X).astype(np.float32), y.astype(np.int64)


def _net(n_features, n_classes=2, max_epochs=20):
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(
        MLP,
        module__n_features=n_features,
        module__n_classes=n_classes,
        module__hidden=(16, 8),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.02,
        max_epochs=max_epochs,
        batch_size=32,
        train_split=None,
        verbose=0,
    )


@pytest.fixture(scope="module")
def setup():
    X, y = make_tabular(n_samples=300, n_features=6)
    net = fit_seeded(_net(6), X, y, seed=0)
    return X, y, net


def _base(net, **kw):
    return ElasticNetGenerator(
        net, beta=0.0, confidence=0.0, max_iter=40, n_search_steps=3, **kw
    )


def _stability(model, X, cls):
    term = StabilityTerm(model, n_grid=10)
    x = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        return term.integral(x, torch.as_tensor(cls)).numpy()


def test_sns_keeps_validity_stays_in_ball_and_raises_stability(setup):
    X, _, net = setup
    Q = X[:40]
    base = _base(net).fit(X)
    sns = StableNeighborSearch(_base(net), radius=1.0, steps=60).fit(X)
    cf0, cf = base.explain(Q), sns.explain(Q)
    assert cf0.valid.mean() > 0.9
    assert_array_equal(cf.valid, cf0.valid)  # never lowers (nor invents) validity
    assert_array_equal(cf.y_cf_pred, cf0.y_cf_pred)
    v = cf.valid
    moved = np.linalg.norm(cf.X_cf[v] - cf0.X_cf[v], axis=1)
    assert moved.max() <= 1.0 + 1e-4 and moved.mean() > 0.5
    cls = np.asarray(cf.y_cf_pred[v], dtype=int)
    s0 = _stability(sns.model_, cf0.X_cf[v], cls)
    s1 = _stability(sns.model_, cf.X_cf[v], cls)
    assert (s1 >= s0 - 1e-6).all() and (s1 - s0).mean() > 0.05


def test_sns_respects_actionability(setup):
    X, _, net = setup
    cons = dict(immutable=[0], increase_only=[1], decrease_only=[2], bounds="infer")
    sns = StableNeighborSearch(_base(net, **cons), radius=2.0, steps=40).fit(X)
    cf = sns.explain(X[:40])
    assert cf.valid.mean() > 0.5 and (cf.violations == 0).all()
    d = cf.delta
    assert (d[:, 0] == 0).all() and (d[:, 1] >= 0).all() and (d[:, 2] <= 0).all()
    lo, hi = sns.constraints_["lower"], sns.constraints_["upper"]
    assert ((cf.X_cf >= lo - 1e-6) & (cf.X_cf <= hi + 1e-6)).all()


def test_rejected_refinements_keep_the_inner_counterfactual(setup, monkeypatch):
    """A refined point that is invalid is never returned: the row keeps the
    inner generator's counterfactual, so validity never drops."""
    X, _, net = setup
    Q = X[net.predict(X) == 0][:30]
    back = X[net.predict(X) == 0][-1]  # a point of the factual class
    sns = StableNeighborSearch(_base(net, immutable=[0]), radius=1.0, steps=5).fit(X)
    cf0 = sns.generator_.explain(Q)
    assert cf0.valid.mean() > 0.8

    def refine(X_start, cls, y0):
        refined = X_start.copy()
        refined[0::3, 0] += 1.0  # moves an immutable feature
        refined[1::3] = back  # falls back into the factual class
        refined[2::3, 1] += 1e-3  # a valid, barely moved point
        n = len(X_start)
        return refined, np.ones(n, dtype=bool), np.ones(n, dtype=np.int64)

    monkeypatch.setattr(sns, "_refine", refine)
    cf = sns.explain(Q)
    assert cf.validity >= cf0.validity
    assert_array_equal(cf.valid, cf0.valid)
    assert (cf.violations == 0).all()
    assert (cf.delta[:, 0] == 0).all()
    assert (np.asarray(cf.y_cf_pred)[cf.valid] == 1).all()
    # the rows refine was called on, in order: the inner generator's valid rows
    rows = np.flatnonzero(cf0.valid)
    rejected = rows[np.r_[0 : len(rows) : 3, 1 : len(rows) : 3]]
    accepted = rows[2::3]
    assert_array_equal(cf.X_cf[rejected], cf0.X_cf[rejected])
    np.testing.assert_allclose(cf.X_cf[accepted, 1], cf0.X_cf[accepted, 1] + 1e-3)
    assert_array_equal(cf.X_cf[~cf0.valid], Q[~cf0.valid])


def test_sns_lowers_invalidation_on_a_seed_family(setup):
    X, y, net = setup
    Q = X[:60]
    family = make_model_family(
        _net(6, max_epochs=20), X, y, kind="seed", n_models=6, random_state=0
    )
    base = _base(net).fit(X)
    sns = StableNeighborSearch(_base(net), radius=1.5, steps=60).fit(X)
    cf0, cf = base.explain(Q), sns.explain(Q)
    iv0 = invalidation_rate(cf0.X_cf[cf0.valid], net, family)
    iv = invalidation_rate(cf.X_cf[cf.valid], net, family)
    assert iv0 > 0.15  # minimal counterfactuals sit on the boundary
    assert iv < 0.3 * iv0


def test_auto_radius_from_min_eps_pgd(setup):
    X, _, net = setup
    sns = StableNeighborSearch(
        _base(net), steps=5, n_auto_samples=50, random_state=0
    ).fit(X)
    pgd = PGDGenerator(net).fit(X)
    unit = pgd.eps_ / pgd.n_radii
    k = sns.radius_ / (0.8 * unit)
    assert 1 <= round(k) <= pgd.n_radii and abs(k - round(k)) < 1e-6
    scaled = StableNeighborSearch(
        _base(net), steps=5, n_auto_samples=50, radius_scale=0.4, random_state=0
    ).fit(X)
    assert scaled.radius_ == pytest.approx(sns.radius_ / 2)


def test_multiclass_target_probability():
    X, y = make_tabular(n_samples=300, n_features=6, n_classes=3)
    net = fit_seeded(_net(6, n_classes=3), X, y, seed=0)
    base = ElasticNetGenerator(net, target=2, beta=0.0, max_iter=40, n_search_steps=3)
    sns = StableNeighborSearch(base, radius=1.0, steps=40).fit(X)
    Q = X[y != 2][:20]
    cf0, cf = base.fit(X).explain(Q), sns.explain(Q)
    assert cf.valid.any() and (cf.y_cf_pred[cf.valid] == 2).all()
    p0 = net.predict_proba(cf0.X_cf[cf.valid].astype(np.float32))[:, 2]
    p1 = net.predict_proba(cf.X_cf[cf.valid].astype(np.float32))[:, 2]
    assert (p1 >= p0 - 1e-6).all() and p1.mean() > p0.mean() + 0.05


def test_batch_size_and_determinism(setup):
    X, _, net = setup
    a = StableNeighborSearch(_base(net), radius=1.0, steps=20, batch_size=7).fit(X)
    b = StableNeighborSearch(_base(net), radius=1.0, steps=20).fit(X)
    np.testing.assert_allclose(a.transform(X[:20]), b.transform(X[:20]), atol=1e-5)
    np.testing.assert_array_equal(b.transform(X[:20]), b.transform(X[:20]))


def test_grid_search_over_inner_parameters(setup):
    X, _, net = setup
    sns = StableNeighborSearch(_base(net), radius=0.5, steps=10)
    assert "generator__beta" in sns.get_params()
    gs = GridSearchCV(sns, {"generator__beta": [0.0, 0.5]}, cv=2).fit(X[:60])
    assert gs.best_params_["generator__beta"] in (0.0, 0.5)
    assert gs.best_estimator_.generator_.beta == gs.best_params_["generator__beta"]
    assert gs.best_estimator_.estimator_ is net  # the fitted model is shared


def test_gradient_free_inner_generator():
    X, y = make_tabular(n_samples=200, n_features=4)
    clf = LogisticRegression().fit(X, y)
    gs = GrowingSpheresGenerator(clf, n_samples=100, random_state=0)
    sns = StableNeighborSearch(gs, radius=0.5, steps=20).fit(X)
    cf = sns.explain(X[:10])
    assert cf.valid.all()
    p = clf.predict_proba(cf.X_cf).max(axis=1)
    p0 = clf.predict_proba(gs.fit(X).transform(X[:10])).max(axis=1)
    assert (p >= p0 - 1e-6).all()


def test_stability_term_matches_a_loop():
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    model = as_differentiable(lin)
    x = torch.randn(4, 3)
    cls = torch.tensor([0, 1, 1, 0])
    term = StabilityTerm(model, n_grid=5)
    expected = torch.stack(
        [
            torch.softmax(lin(s / 5 * x), dim=1)[torch.arange(4), cls]
            for s in range(1, 6)
        ]
    ).mean(0)
    torch.testing.assert_close(term.integral(x, cls), expected)
    with pytest.raises(ValueError, match="n_grid"):
        StabilityTerm(model, n_grid=0)


def test_errors(setup):
    X, _, net = setup
    with pytest.raises(TypeError, match="skcf generator"):
        StableNeighborSearch(PGDGenerator).fit(X)
    with pytest.raises(InvalidParameterError, match="radius"):
        StableNeighborSearch(_base(net), radius=-1.0).fit(X)
    with pytest.raises(NotFittedError):
        StableNeighborSearch(_base(net)).transform(X)
    sns = StableNeighborSearch(_base(net), radius=0.5, steps=5).fit(X)
    with pytest.raises(ValueError, match="features"):
        sns.transform(X[:, :3])
    Xn = X[:3].copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sns.transform(Xn)
