"""AdversarialTrainingClassifier and the susceptibility metric."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skcf.metrics import susceptibility
from skcf.training import AdversarialTrainingClassifier

from .conftest import TinyNet, tiny_kwargs


def _net(**kw):
    return AdversarialTrainingClassifier(TinyNet, **tiny_kwargs(**kw))


def test_one_epoch_runs_with_finite_loss(moons):
    X, y = moons
    net = _net(steps=3).fit(X, y)
    losses = net.history[:, "train_loss"]
    assert len(losses) == 1 and np.isfinite(losses).all()
    assert net.predict(X).shape == (len(X),)
    assert set(np.unique(net.predict(X))) <= {0, 1}


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_perturbations_respect_eps_and_constraints(moons, norm):
    X, y = moons
    lo, hi = -1.0, 1.6
    net = _net(eps=0.3, steps=5, norm=norm, immutable=[0], bounds={1: (lo, hi)}).fit(
        X, y
    )
    adv = net.perturb(X, y)
    delta = adv - X
    assert np.all(delta[:, 0] == 0)  # immutable column never perturbed
    if norm == "linf":
        assert np.abs(delta).max() <= 0.3 + 1e-5
    else:
        assert np.linalg.norm(delta, axis=1).max() <= 0.3 + 1e-5
    inside = (X[:, 1] >= lo) & (X[:, 1] <= hi)
    assert np.all((adv[inside, 1] >= lo - 1e-6) & (adv[inside, 1] <= hi + 1e-6))
    assert np.abs(delta).max() > 0.05  # something was perturbed


def test_perturbation_raises_loss_and_touches_no_grad(moons):
    X, y = moons
    net = _net(max_epochs=5).fit(X, y)
    net.optimizer_.zero_grad(set_to_none=True)
    adv = net.perturb(X, y)
    assert all(p.grad is None for p in net.module_.parameters())
    assert all(p.requires_grad for p in net.module_.parameters())
    ce = torch.nn.functional.cross_entropy
    proba = lambda A: torch.as_tensor(net.predict_proba(A))  # noqa: E731
    yt = torch.as_tensor(y)
    assert ce(proba(adv).log(), yt) > ce(proba(X).log(), yt)


def test_one_directional_features_move_only_their_way(moons):
    X, y = moons
    net = _net(eps=0.3, steps=4, increase_only=[0], decrease_only=[1]).fit(X, y)
    delta = net.perturb(X, y) - X
    assert delta[:, 0].min() >= -1e-6 and delta[:, 1].max() <= 1e-6


def test_fgsm_and_only_the_fraction_is_perturbed(moons):
    X, y = moons
    net = _net(steps=1, step_size=1.0, random_start=False, adv_fraction=0.25)
    net.fit(X, y)
    seen = {}

    def spy(x, yy, _orig=net._perturb):
        out = _orig(x, yy)
        seen["n"] = x.shape[0]
        return out

    net._perturb = spy
    batch = (torch.as_tensor(X[:32]), torch.as_tensor(y[:32]))
    step = net.train_step_single(batch)
    assert seen["n"] == 8 and torch.isfinite(step["loss"])
    adv = net.perturb(X, y)  # FGSM: every changed coordinate moved by exactly eps
    moved = np.abs(adv - X)
    assert np.allclose(moved[moved > 1e-4], 0.1, atol=1e-5)


def test_adversarial_training_lowers_susceptibility():
    from skcf.datasets import make_moons

    X, y = make_moons(n_samples=400, noise=0.1, random_state=1)
    kw = tiny_kwargs(max_epochs=30, batch_size=64, lr=0.03, module__hidden=16)
    plain = AdversarialTrainingClassifier(TinyNet, adv_fraction=0.0, **kw).fit(X, y)
    robust = AdversarialTrainingClassifier(
        TinyNet, eps=0.15, steps=3, adv_fraction=0.5, **kw
    ).fit(X, y)
    s_plain = susceptibility(plain, X, y, radius=0.15, steps=10)
    s_robust = susceptibility(robust, X, y, radius=0.15, steps=10)
    assert s_robust < s_plain
    assert (robust.predict(X) == y).mean() > 0.8


def test_deterministic_under_random_state(moons):
    X, y = moons
    a = _net(max_epochs=2).fit(X, y).predict_proba(X)
    torch.manual_seed(123)  # the caller's global state must not matter
    b = _net(max_epochs=2).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_string_labels_dataframe_and_names(moons):
    pd = pytest.importorskip("pandas")
    X, y = moons
    df = pd.DataFrame(X, columns=["age", "debt"])
    labels = np.where(y == 1, "good", "bad")
    net = _net(eps=0.2, immutable=["age"]).fit(df, labels)
    assert list(net.classes_) == ["bad", "good"]
    assert set(net.predict(df)) <= {"bad", "good"}
    adv = net.perturb(df, labels)
    assert np.all(adv[:, 0] == X[:, 0])


def test_clone_pickle_and_grid_search(moons):
    X, y = moons
    net = _net(eps=0.1, steps=2)
    params = clone(net).get_params(deep=False)
    assert params["eps"] == 0.1 and params["steps"] == 2
    net.fit(X, y)
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_allclose(again.predict_proba(X), net.predict_proba(X))
    gs = GridSearchCV(_net(steps=2), {"eps": [0.05, 0.2]}, cv=2).fit(X, y)
    assert gs.best_params_["eps"] in (0.05, 0.2)
    assert 0.0 <= gs.best_score_ <= 1.0


@pytest.mark.parametrize(
    "param, value",
    [
        ("eps", -1.0),
        ("steps", 0),
        ("norm", "l1"),
        ("adv_fraction", 1.5),
        ("max_grad_norm", 0.0),
    ],
)
def test_bad_params_raise_naming_the_parameter(moons, param, value):
    X, y = moons
    with pytest.raises(ValueError, match=param):
        _net(**{param: value}).fit(X, y)


def test_bad_input_errors(moons):
    X, y = moons
    with pytest.raises(ValueError, match="NaN|infinity"):
        _net().fit(np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), y)
    net = _net().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        net.predict(np.zeros((2, 3)))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _net().predict(X)


# ---------------------------------------------------------------- metric
def test_susceptibility_grows_with_radius_and_counts_correct_rows(moons):
    from sklearn.linear_model import LogisticRegression

    X, y = moons
    clf = LogisticRegression().fit(X, y)
    radii = [0.01, 0.1, 0.3, 2.0]
    s = [susceptibility(clf, X, y, radius=r) for r in radii]
    assert s == sorted(s) and s[-1] == 1.0 and s[0] < 0.2
    # with y, only the correctly classified rows are attacked and counted
    y_noisy = y.copy()
    y_noisy[:20] = 1 - y_noisy[:20]
    ok = clf.predict(X) == y_noisy
    assert 0 < ok.sum() < len(X)
    with_y = susceptibility(clf, X, y_noisy, radius=0.1)
    assert with_y == susceptibility(clf, X[ok], radius=0.1)


def test_susceptibility_respects_immutable_and_validates(moons):
    from sklearn.linear_model import LogisticRegression

    X, y = moons
    clf = LogisticRegression().fit(X, y)
    # the boundary depends on both features; freezing one lowers susceptibility
    free = susceptibility(clf, X, y, radius=0.3)
    frozen = susceptibility(clf, X, y, radius=0.3, immutable=[0, 1][:1])
    assert frozen <= free
    with pytest.raises(ValueError, match="radius"):
        susceptibility(clf, X, y, radius=-1.0)
    with pytest.raises(ValueError, match="shape"):
        susceptibility(clf, X, y[:-1], radius=0.1)


def test_susceptibility_keeps_one_hot_groups():
    """With ``categorical`` the attack cannot move one-hot columns by fractions."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(300, 2)), np.eye(3)[rng.integers(0, 3, 300)]]
    X = X.astype(np.float32)
    y = (X[:, 0] + 2 * X[:, 2] > 0.5).astype(int)
    clf = LogisticRegression().fit(X, y)
    loose = susceptibility(clf, X, y, radius=0.3)
    kept = susceptibility(clf, X, y, radius=0.3, categorical=[[2, 3, 4]])
    # a fractional move of the heavy one-hot column is what flips most rows
    assert kept < loose - 0.2


def test_default_train_split_scores_the_validation_subset():
    """skorch's valid_acc scores a torch Subset: never refused by validation."""
    from skcf.datasets import make_moons
    from skcf.models import MLP
    from skcf.training import CounterfactualTrainingClassifier

    X, y = make_moons(120, random_state=0)
    for cls in (AdversarialTrainingClassifier, CounterfactualTrainingClassifier):
        net = cls(MLP, module__n_features=2, max_epochs=2, verbose=0, random_state=0)
        net.fit(X.astype("float32"), y)  # default train_split: a validation split
        assert 0.0 <= net.history[-1]["valid_acc"] <= 1.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_adversarial_training_on_cuda(moons):
    X, y = moons
    net = _net(device="cuda", max_epochs=2).fit(X, y)
    assert next(net.module_.parameters()).device.type == "cuda"
    assert np.isfinite(net.predict_proba(X)).all()
    assert np.isfinite(net.history[-1, "train_loss"])


def test_raw_road_preprocessor_perturbs_raw_rows():
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from skcf.models import MLP

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 70, 200),
            "income": rng.gamma(4.0, 900.0, 200).round(2),
            "housing": rng.choice(["own", "rent", "free"], 200),
        }
    )
    y = (X["income"] > X["income"].median()).astype(int).to_numpy()
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(), ["housing"]),
        ]
    )
    net = AdversarialTrainingClassifier(
        MLP,
        module__hidden=(8,),
        preprocessor=prep,
        immutable=["housing"],
        eps=0.5,
        **tiny_kwargs(max_epochs=2),
    ).fit(X, y)
    X_adv = net.perturb(X.head(30), y[:30])
    assert isinstance(X_adv, pd.DataFrame)
    pd.testing.assert_series_equal(X_adv.dtypes, X.dtypes)
    assert (X_adv["housing"] == X["housing"].head(30)).all()  # immutable by name
    assert (X_adv["age"] == X_adv["age"].round()).all()  # integers stay integral
