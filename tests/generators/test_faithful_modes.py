"""The papers' own settings, one parameter away from our defaults (issue 12 §4)."""

import warnings

import numpy as np
import pytest
import torch

from skcf._engine import FISTA, CSearch, HingeLoss, L2Distance, solve
from skcf.exceptions import CounterfactualWarning
from skcf.generators import PGDGenerator
from skcf.models import DifferentiableModel


@pytest.fixture(scope="module")
def lr_problem():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X, LogisticRegression(max_iter=1000).fit(X, y)


def test_pgd_all_steps_judges_the_final_iterate_like_art(lr_problem):
    X, clf = lr_problem
    kw = dict(steps=20, n_radii=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        first = PGDGenerator(clf, **kw).fit(X).explain(X[:40])
        art = PGDGenerator(clf, all_steps=True, **kw).fit(X).explain(X[:40])
    assert art.validity >= 0.95 and first.validity >= 0.95
    # every row ran all steps at each radius it tried
    assert (np.asarray(art.n_iter) % 20 == 0).all()
    assert (np.asarray(art.n_iter) >= np.asarray(first.n_iter)).all()
    # the final iterate is deeper in the target class than the first valid one
    both = art.valid & first.valid
    p_art = clf.predict_proba(art.X_cf[both])[
        np.arange(both.sum()), art.y_cf_pred[both]
    ]
    p_first = clf.predict_proba(first.X_cf[both])[
        np.arange(both.sum()), first.y_cf_pred[both]
    ]
    assert np.median(p_art) > np.median(p_first)


def test_final_only_counts_a_stalled_rows_last_iterate():
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    )
    model = DifferentiableModel(module.double())
    x0 = torch.randn(30, 4, dtype=torch.float64)
    target = 1 - model(x0).argmax(1)
    kw = dict(
        terms=[HingeLoss(), L2Distance()],
        solver=FISTA(0.05),
        search=CSearch(1.0, 3),
        max_iter=60,
        patience=5,
    )
    res = solve(model, x0, target, early_stop=False, final_only=True, **kw)
    assert res.found.any()
    ok = model(res.x_cf).argmax(1) == target
    assert bool(ok[res.found].all())


def test_madry_full_inner_maximisation_goes_deeper():
    from skcf.datasets import make_moons
    from skcf.training import AdversarialTrainingClassifier

    X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
    X = X.astype(np.float32)
    kw = dict(
        module=torch.nn.Sequential(
            torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
        ),
        max_epochs=3,
        lr=0.05,
        optimizer=torch.optim.Adam,
        train_split=None,
        verbose=0,
        eps=0.3,
        steps=10,
        random_start=False,
        random_state=0,
    )
    net = AdversarialTrainingClassifier(**kw).fit(X, y)
    first = net.perturb(X, y)
    net.set_params(full_inner_max=True)
    net.generator_ = net._build_generator().fit(X)
    full = net.perturb(X, y)

    def loss(Xa):
        return torch.nn.functional.cross_entropy(
            net.module_(torch.as_tensor(Xa)), torch.as_tensor(y), reduction="none"
        )

    with torch.no_grad():
        assert loss(full).mean() > loss(first).mean()
    assert np.abs(full - X).max() <= 0.3 + 1e-5


def test_scfe_l0_budget_holds_when_the_factual_is_out_of_bounds():
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from skcf.generators import SCFEGenerator

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y == 0).astype(int)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    gen = SCFEGenerator(
        clf, max_changes=2, density="knn", max_iter=80, random_state=0
    ).fit(X, y)
    Q = X[:30].copy()
    Q[:, 3] = X[:, 3].max() + 10.0  # outside the inferred bounds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(Q)
    assert cf.validity > 0.5
    assert int(np.asarray(cf.l0)[cf.valid].max()) <= 2
    # the out-of-bounds feature is one of the (at most) two that moved
    assert (cf.X_cf[cf.valid, 3] < Q[cf.valid, 3]).all()


def test_scfe_gravity_pulls_towards_the_authors_knn_point():
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from skcf.density import PrototypeIndex
    from skcf.generators import SCFEGenerator

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y == 0).astype(int)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    Q = X[:30]
    kw = dict(max_iter=80, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        off = SCFEGenerator(clf, density="gravity", density_weight=0.0, **kw)
        on = SCFEGenerator(clf, density="gravity", density_weight=1.0, **kw)
        cf_off, cf_on = off.fit(X, y).explain(Q), on.fit(X, y).explain(Q)
    assert isinstance(on.density_, PrototypeIndex)
    assert on.density_.kind == "density" and on.density_.n_neighbors == 3
    # the gravity point of the target class (the opposite one here)
    points, _ = on.density_.query(Q)
    g = points[np.arange(len(Q)), 1 - clf.predict(Q)]
    assert cf_on.validity >= 0.9 and cf_off.validity >= 0.9
    both = cf_on.valid & cf_off.valid
    d_on = np.linalg.norm(cf_on.X_cf - g, axis=1)[both]
    d_off = np.linalg.norm(cf_off.X_cf - g, axis=1)[both]
    assert np.median(d_on) < 0.8 * np.median(d_off)
    # another k is one index away; an encoder is refused (input-space pull)
    SCFEGenerator(clf, density=PrototypeIndex(5, kind="density"), **kw).fit(X, y)
    with pytest.raises(ValueError, match="encoder=None"):
        SCFEGenerator(
            clf, density=PrototypeIndex(encoder=_Encoder(), kind="density"), **kw
        ).fit(X, y)


class _Encoder:
    def encode(self, X):
        return np.asarray(X)[:, :2]


def test_cfproto_reference_mode():
    from sklearn.datasets import load_wine
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from skcf.density import PrototypeIndex
    from skcf.generators import ProtoGenerator

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier((16,), max_iter=800, random_state=0).fit(X, y)
    # k-th nearest row itself vs the mean of the k nearest
    kth = PrototypeIndex(3, kind="kth").fit(X, y)
    mean = PrototypeIndex(3).fit(X, y)
    p_kth, _ = kth.query(X[:5])
    p_mean, _ = mean.query(X[:5])
    rows = {tuple(r) for r in X.round(12)}
    assert all(tuple(p.round(12)) in rows for p in p_kth[:, 1])
    assert not np.allclose(p_kth, p_mean)
    kw = dict(target="other", max_iter=60, n_search_steps=3, random_state=0)
    ours = ProtoGenerator(clf, **kw).fit(X, y)
    ref = ProtoGenerator(clf, reference=True, **kw).fit(X, y)
    assert ref.prototypes_.kind == "kth" and ours.prototypes_.kind == "mean"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = ref.explain(X[:20])
    assert cf.validity >= 0.9
    assert (clf.predict(cf.X_cf[cf.valid]) != clf.predict(X[:20][cf.valid])).all()


def test_connectedness_ball_sampling_finds_chains_through_empty_regions():
    from sklearn.linear_model import LogisticRegression

    from skcf.metrics import connectedness_score

    # class-1 training data only at x in [4, 5]; the model says class 1 for x > 0
    X_ref = np.r_[np.linspace(-5, -4, 20), np.linspace(4, 5, 20)].reshape(-1, 1)
    y_ref = (X_ref[:, 0] > 0).astype(int)
    clf = LogisticRegression().fit(X_ref, y_ref)
    X_cf = np.array([[1.0], [4.5]])
    kw = dict(epsilon=0.2, reduce=None)
    rows_only = connectedness_score(clf, X_cf, X_ref, y_ref, **kw)
    sampled = connectedness_score(
        clf, X_cf, X_ref, y_ref, n_ball_samples=200, random_state=0, **kw
    )
    assert rows_only.tolist() == [False, True]  # x=1 is 3 away from class-1 data
    assert sampled.tolist() == [True, True]  # a chain through sampled class-1 points
    assert (sampled >= rows_only).all()
    with pytest.raises(ValueError, match="min_samples=2"):
        connectedness_score(clf, X_cf, X_ref, y_ref, n_ball_samples=5, min_samples=3)


def test_sphere_manifold_distance_per_point_radius():
    from skcf.metrics import sphere_manifold_distance

    rng = np.random.default_rng(0)
    X_ref = rng.normal(size=(60, 3))
    X_cf = rng.normal(size=(7, 3))
    got = sphere_manifold_distance(X_cf, X_ref, radius="point", reduce=None)
    for i, x in enumerate(X_cf):  # the definition, one row at a time
        d = np.linalg.norm(X_ref - x, axis=1)
        r = 0.2 * d.mean()
        want = d[d <= r].mean() if (d <= r).any() else d.min()
        assert got[i] == pytest.approx(want)
