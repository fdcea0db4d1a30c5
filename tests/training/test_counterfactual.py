"""CounterfactualTrainingClassifier (seed 002)."""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skcf.datasets import make_credit_toy
from skcf.generators import ECCoGenerator, WachterGenerator
from skcf.training import CounterfactualTrainingClassifier

from .conftest import TinyNet, tiny_kwargs


@pytest.fixture
def credit():
    X, y = make_credit_toy(n_samples=160, random_state=0)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), y


def _net(**kw):
    kw.setdefault("generator", WachterGenerator(None, n_search_steps=1, max_iter=10))
    return CounterfactualTrainingClassifier(TinyNet, **tiny_kwargs(**kw))


def _batch(net, X, y):
    return net._divergence_batch(torch.as_tensor(X), torch.as_tensor(y))


def test_one_epoch_runs_with_finite_losses(credit):
    X, y = credit
    net = _net().fit(X, y)
    assert np.isfinite(net.history[:, "train_loss"]).all()
    batch = net.history[-1, "batches", 0]
    for key in ("div", "energy_reg", "adv_loss"):
        assert np.isfinite(batch[key])
    assert net.predict(X).shape == (len(X),)


def test_protection_copies_immutable_columns_into_positive_samples(credit):
    X, y = credit
    net = _net(immutable=[0], max_epochs=2).fit(X, y)
    b = _batch(net, X, y)
    rows = b["rows"].numpy()
    assert rows.size > 10
    x_cf, x_pos = b["x_cf"].numpy(), b["x_pos"].numpy()
    # the counterfactual never moves the immutable column, and protection
    # copies x'[d] into the positive sample, so the divergence ignores it
    np.testing.assert_array_equal(x_cf[:, 0], X[rows, 0])
    np.testing.assert_array_equal(x_pos[:, 0], x_cf[:, 0])
    assert not np.allclose(x_pos[:, 1], x_cf[:, 1])  # mutable column untouched
    # positive samples are real rows of the target class (outside column 0)
    tgt = b["target"].numpy()
    match = (X[:, None, 1] == x_pos[None, :, 1]) & (y[:, None] == tgt[None, :])
    assert match.any(axis=0).all()
    # and the target differs from the row's label
    assert np.all(tgt != y[rows])


def test_without_protection_positive_samples_are_untouched(credit):
    X, y = credit
    net = _net(immutable=[0], protect=False).fit(X, y)
    b = _batch(net, X, y)
    assert not np.allclose(b["x_pos"].numpy()[:, 0], b["x_cf"].numpy()[:, 0])


def test_one_directional_protection(credit):
    X, y = credit
    net = _net(increase_only=[0], decrease_only=[1]).fit(X, y)
    b = _batch(net, X, y)
    x_cf, x_pos = b["x_cf"].numpy(), b["x_pos"].numpy()
    rows = b["rows"].numpy()
    assert np.all(x_cf[:, 0] >= X[rows, 0] - 1e-6)  # generator obeys directions
    assert np.all(x_cf[:, 1] <= X[rows, 1] + 1e-6)
    # the forbidden direction is protected: x⁺ is never below x' on an
    # increase-only feature, nor above it on a decrease-only one
    assert np.all(x_pos[:, 0] >= x_cf[:, 0]) and np.all(x_pos[:, 1] <= x_cf[:, 1])


def test_adversarial_examples_within_eps_and_counterfactuals_detached(credit):
    X, y = credit
    net = _net(eps=0.2, max_epochs=2).fit(X, y)
    b = _batch(net, X, y)
    rows = b["rows"].numpy()
    delta = b["x_adv"].numpy() - X[rows]
    assert np.abs(delta).max() < 0.2
    assert np.abs(delta).max() > 0  # nascent counterfactuals moved
    assert not any(b[k].requires_grad for k in ("x_cf", "x_adv", "x_pos"))
    assert all(
        p.grad is None or torch.isfinite(p.grad).all() for p in net.module_.parameters()
    )


def test_counterfactual_training_lowers_sensitivity_to_protected_feature(credit):
    X, y = make_credit_toy(n_samples=300, random_state=1)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)

    def sensitivity(net):
        x = torch.tensor(X, requires_grad=True)
        z = net.module_(x)
        (z[:, 1] - z[:, 0]).sum().backward()
        g = x.grad.abs().mean(0).numpy()
        return g[0] / g[1]

    kw = dict(max_epochs=20, lr=0.02, batch_size=64, immutable=[0])
    kw["module__hidden"] = 16
    vanilla = _net(lambda_div=0.0, lambda_adv=0.0, lambda_energy_reg=0.0, **kw)
    ct = _net(lambda_div=1.0, **kw)
    r_vanilla = sensitivity(vanilla.fit(X, y))
    r_ct = sensitivity(ct.fit(X, y))
    assert r_ct < r_vanilla
    assert (ct.predict(X) == y).mean() > (vanilla.predict(X) == y).mean() - 0.05


def test_stable_at_the_top_of_the_seed_grid(credit):
    X, y = credit
    net = _net(lambda_div=15.0, lambda_adv=1.0, max_epochs=5, lr=0.1).fit(X, y)
    losses = net.history[:, "train_loss"]
    assert np.isfinite(losses).all() and max(losses) < 1e3
    assert all(torch.isfinite(p).all() for p in net.module_.parameters())


def test_non_finite_loss_raises_before_updating_weights(credit, monkeypatch):
    X, y = credit
    net = _net().fit(X, y)
    before = [p.detach().clone() for p in net.module_.parameters()]
    orig = net._divergence_batch

    def exploding(Xi, yi):
        out = orig(Xi, yi)
        if "x_cf" in out:
            out["x_cf"] = out["x_cf"] * 1e38
        return out

    monkeypatch.setattr(net, "_divergence_batch", exploding)
    with pytest.raises(FloatingPointError, match="lambda_energy_reg"):
        net.partial_fit(X, y)
    after = list(net.module_.parameters())
    assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True))


def test_ecco_generator_inside(credit):
    X, y = credit
    gen = ECCoGenerator(None, max_iter=10)
    net = _net(generator=gen).fit(X, y)
    assert np.isfinite(net.history[:, "train_loss"]).all()
    assert isinstance(net.generator_, ECCoGenerator)
    assert net.generator is gen and not hasattr(gen, "constraints_")  # not mutated


def test_clone_pickle_and_grid_search_over_generator_params(credit):
    X, y = credit
    net = _net(lambda_div=0.3, generator__max_iter=5)
    params = clone(net).get_params()
    assert params["lambda_div"] == 0.3 and params["generator__max_iter"] == 5
    net.fit(X, y)
    assert net.generator_.max_iter == 5
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_allclose(again.predict_proba(X), net.predict_proba(X))
    grid = {"lambda_div": [0.1, 1.0], "generator__max_iter": [3, 6]}
    gs = GridSearchCV(_net(), grid, cv=2).fit(X, y)
    assert gs.best_params_["generator__max_iter"] in (3, 6)
    assert (
        gs.best_estimator_.generator_.max_iter == gs.best_params_["generator__max_iter"]
    )


def test_deterministic_under_random_state(credit):
    X, y = credit
    a = _net(max_epochs=2).fit(X, y).predict_proba(X)
    torch.manual_seed(7)
    b = _net(max_epochs=2).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize(
    "param, value, exc",
    [
        ("lambda_div", -1.0, ValueError),
        ("lambda_adv", "a", ValueError),
        ("eps", 0.0, ValueError),
        ("protect", "yes", ValueError),
        ("generator", "wachter", TypeError),
    ],
)
def test_bad_params_raise_naming_the_parameter(credit, param, value, exc):
    X, y = credit
    with pytest.raises(exc, match=param):
        _net(**{param: value}).fit(X, y)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda_and_predicts_like_its_cpu_copy(credit):
    X, y = credit
    net = _net(device="cuda", max_epochs=2).fit(X, y)
    assert next(net.module_.parameters()).device.type == "cuda"
    proba = net.predict_proba(X)
    assert np.isfinite(proba).all()
    module = copy.deepcopy(net.module_).cpu()
    with torch.no_grad():
        cpu = torch.softmax(module(torch.as_tensor(X)), dim=1).numpy()
    np.testing.assert_allclose(cpu, proba, atol=1e-4)


def _raw_frame():
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 240
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 70, n),
            "income": rng.gamma(4.0, 900.0, n).round(2),
            "housing": rng.choice(["own", "rent", "free"], n, p=[0.6, 0.3, 0.1]),
            "job": rng.choice(["clerk", "manager", "none"], n),
        }
    )
    score = 0.002 * X["income"] - 0.03 * (X["age"] - 40) + (X["housing"] == "own")
    y = (score > score.median()).astype(int).to_numpy()
    return X, y


def _prep():
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["housing", "job"]),
        ]
    )


def test_raw_road_preprocessor_constraints_by_column_name():
    import warnings

    import pandas as pd

    from skcf.exceptions import CounterfactualWarning
    from skcf.generators import ElasticNetGenerator
    from skcf.models import MLP

    X, y = _raw_frame()
    net = CounterfactualTrainingClassifier(
        MLP,
        module__hidden=(16,),
        preprocessor=_prep(),
        immutable=["job"],
        increase_only=["age"],
        **tiny_kwargs(max_epochs=3, lr=0.02),
    ).fit(X, y)
    assert "preprocessor" in net.get_params() and clone(net).preprocessor is not None
    assert net.predict(X).shape == (len(X),) and (net.predict(X) == y).mean() > 0.7
    # the inner generator's constraints come from the compiled space, by name
    frozen = [
        name
        for name, m in zip(
            net.space_.search_names, net.generator_.constraints_["mutable"]
        )
        if not m
    ]
    assert frozen and all(name.startswith("job") for name in frozen)
    # skcf's generators explain the trained net on raw rows
    q = X[net.predict(X) == 0].head(20)
    gen = ElasticNetGenerator(net, increase_only=["age"], random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    assert isinstance(cf.X_cf, pd.DataFrame) and cf.validity >= 0.8
    np.testing.assert_array_equal(net.predict(cf.X_cf)[cf.valid], 1)
    assert (cf.X_cf["age"] >= q["age"]).all()
    assert set(cf.X_cf["housing"]) <= {"own", "rent", "free"}
