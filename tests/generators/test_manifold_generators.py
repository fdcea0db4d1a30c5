"""Plausible-counterfactual generators: S-CFE, CFProto, REVISE, latent search."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import NearestNeighbors

from skcf.density import Autoencoder, GMMDensity, KNNDensity, VariationalAutoencoder
from skcf.exceptions import CounterfactualWarning, NotDifferentiableError
from skcf.generators import (
    LatentSearchGenerator,
    ProtoGenerator,
    REVISEGenerator,
    SCFEGenerator,
)

AE = dict(hidden=(16,), latent_dim=3, max_epochs=30, random_state=0)


def knn_to_class(X_cf, X, labels, cls, k=5):
    """Mean distance of each counterfactual to the k nearest rows of class ``cls``."""
    nn = NearestNeighbors(n_neighbors=k).fit(X[labels == cls])
    return nn.kneighbors(X_cf)[0].mean(axis=1)


@pytest.fixture(scope="module")
def setting(tabular, skorch_logits):
    X, _ = tabular
    labels = skorch_logits.predict(X)
    q = X[labels == 0][:40]
    return X, labels, q, skorch_logits


def factories():
    return {
        "scfe-kde": lambda net: SCFEGenerator(net, max_iter=100, random_state=0),
        "scfe-gmm": lambda net: SCFEGenerator(
            net, density=GMMDensity(2, random_state=0), max_iter=100, random_state=0
        ),
        "scfe-knn": lambda net: SCFEGenerator(
            net, density=KNNDensity(), max_iter=100, random_state=0
        ),
        "proto": lambda net: ProtoGenerator(net, random_state=0),
        "proto-ae": lambda net: ProtoGenerator(
            net, autoencoder=Autoencoder(**AE), random_state=0
        ),
        "revise": lambda net: REVISEGenerator(
            net, vae=VariationalAutoencoder(**AE), random_state=0
        ),
        "latent": lambda net: LatentSearchGenerator(
            net, autoencoder=Autoencoder(**AE), n_samples=256, random_state=0
        ),
    }


@pytest.mark.parametrize("name", list(factories()))
def test_validity_on_small_mlp(name, setting):
    X, labels, q, net = setting
    gen = factories()[name](net).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    assert cf.validity >= 0.95, cf.validity
    assert (net.predict(cf.X_cf[cf.valid]) == 1).all()
    assert np.isfinite(cf.X_cf).all()


def test_scfe_density_term_pulls_towards_target_class_data(setting):
    X, labels, q, net = setting
    plain = SCFEGenerator(net, density_weight=0.0, random_state=0).fit(X).explain(q)
    dense = SCFEGenerator(net, density_weight=1.0, random_state=0).fit(X).explain(q)
    both = plain.valid & dense.valid
    d_plain = knn_to_class(plain.X_cf[both], X, labels, 1).mean()
    d_dense = knn_to_class(dense.X_cf[both], X, labels, 1).mean()
    assert d_dense < 0.8 * d_plain, (d_dense, d_plain)


def test_proto_term_pulls_towards_target_class_data(setting):
    X, labels, q, net = setting
    plain = ProtoGenerator(net, theta=0.0, random_state=0).fit(X).explain(q)
    proto = ProtoGenerator(net, random_state=0).fit(X).explain(q)  # theta=100
    both = plain.valid & proto.valid
    d_plain = knn_to_class(plain.X_cf[both], X, labels, 1).mean()
    d_proto = knn_to_class(proto.X_cf[both], X, labels, 1).mean()
    assert d_proto < 0.8 * d_plain, (d_proto, d_plain)


@pytest.mark.parametrize("m", [1, 2, 3])
def test_scfe_changes_at_most_m_features(setting, m):
    X, _, q, net = setting
    cf = SCFEGenerator(net, max_changes=m, random_state=0).fit(X).explain(q)
    assert (cf.l0 <= m).all()
    assert cf.validity >= (0.8 if m == 1 else 0.95)


def test_scfe_l0_penalty_makes_it_sparser(setting):
    X, _, q, net = setting
    dense = SCFEGenerator(net, random_state=0).fit(X).explain(q)
    sparse = SCFEGenerator(net, beta=0.5, random_state=0).fit(X).explain(q)
    assert sparse.l0[sparse.valid].mean() < dense.l0[dense.valid].mean()


def test_latent_search_on_random_forest(tabular):
    X, y = tabular
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    gen = LatentSearchGenerator(
        forest, autoencoder=Autoencoder(**AE), n_samples=256, random_state=0
    ).fit(X)
    q = X[forest.predict(X) == 0][:30]
    cf = gen.explain(q)
    assert cf.validity >= 0.95
    assert (forest.predict(cf.X_cf[cf.valid]) == 1).all()


def test_latent_search_batch_size_invariance_and_determinism(setting):
    X, _, q, net = setting
    ae = Autoencoder(**AE).fit(X)
    a = (
        LatentSearchGenerator(
            net, autoencoder=ae, n_samples=64, batch_size=7, random_state=3
        )
        .fit(X)
        .transform(q[:20])
    )
    b = (
        LatentSearchGenerator(
            net, autoencoder=ae, n_samples=64, batch_size=100, random_state=3
        )
        .fit(X)
        .transform(q[:20])
    )
    np.testing.assert_allclose(a, b, atol=1e-5)  # same samples; float32 decoding


def test_gradient_generators_refuse_black_boxes(tabular):
    X, y = tabular
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    for gen in (SCFEGenerator(forest), ProtoGenerator(forest), REVISEGenerator(forest)):
        with pytest.raises(NotDifferentiableError, match="LatentSearchGenerator"):
            gen.fit(X)


@pytest.mark.parametrize("name", ["scfe-kde", "proto-ae", "revise", "latent"])
def test_fitted_components_survive_clone_and_pickle(name, setting):
    X, _, q, net = setting
    gen = factories()[name](net).fit(X)
    loaded = pickle.loads(pickle.dumps(gen))
    assert_array_equal(loaded.transform(q[:8]), gen.transform(q[:8]))
    fresh = clone(gen)
    assert not hasattr(fresh, "model_")
    assert fresh.get_params().keys() == gen.get_params().keys()


def test_constraints_hold_for_manifold_generators(setting):
    X, _, q, net = setting
    kw = dict(immutable=[0], increase_only=[1], random_state=0)
    for gen in (
        SCFEGenerator(net, **kw),
        ProtoGenerator(net, **kw),
        REVISEGenerator(net, vae=VariationalAutoencoder(**AE), **kw),
        LatentSearchGenerator(net, autoencoder=Autoencoder(**AE), n_samples=128, **kw),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CounterfactualWarning)
            cf = gen.fit(X).explain(q[:20])
        assert (cf.delta[:, 0] == 0).all(), type(gen).__name__
        assert (cf.delta[:, 1] >= 0).all(), type(gen).__name__
        assert (cf.violations == 0).all()
        assert (cf.l0 <= 5).all()  # the immutable column is exactly unchanged


def test_revise_with_one_hot_groups():
    """Regression: group preconditioning must not index the latent variable."""
    rng = np.random.default_rng(0)
    num = rng.normal(size=(300, 3))
    cat = np.eye(4)[rng.integers(0, 4, 300)]
    X = np.hstack([num, cat])
    y = (num[:, 0] + cat @ np.array([-1.0, 0.0, 0.5, 1.5]) > 0).astype(int)
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit(X, y)
    gen = REVISEGenerator(
        clf,
        vae=VariationalAutoencoder(**AE),
        categorical=[[3, 4, 5, 6]],
        random_state=0,
    ).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(X[clf.predict(X) == 0][:20])
    block = cf.X_cf[:, 3:]
    assert np.isin(block, (0.0, 1.0)).all() and (block.sum(1) == 1).all()
    assert cf.validity >= 0.9


@pytest.mark.parametrize("straight_through", [True, "retry"])
def test_revise_straight_through_snaps_and_never_lies(straight_through):
    rng = np.random.default_rng(0)
    num = rng.normal(size=(300, 3))
    cat = np.eye(4)[rng.integers(0, 4, 300)]
    X = np.hstack([num, cat])
    y = (0.3 * num[:, 0] + cat @ np.array([-1.0, -1.0, -1.0, 1.5]) > 0).astype(int)
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit(X, y)
    Xq = X[clf.predict(X) == 0][:20]
    gen = REVISEGenerator(
        clf,
        vae=VariationalAutoencoder(**AE),
        categorical=[[3, 4, 5, 6]],
        immutable=[0, 1, 2],
        straight_through=straight_through,
        random_state=0,
    ).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(Xq)
    block = cf.X_cf[:, 3:]
    assert np.isin(block, (0.0, 1.0)).all() and (block.sum(1) == 1).all()
    assert cf.validity >= 0.9
    assert (clf.predict(cf.X_cf) != clf.predict(Xq))[cf.valid].all()
