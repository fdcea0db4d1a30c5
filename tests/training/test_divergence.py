"""The divergence guard of the training nets (issue 11, item 4).

Aggressive settings must either train (accuracy >= 0.8 on the moons) or stop
with a clear error / warning, with the last healthy weights restored; never
hand back exploded weights or a silently collapsed 0.50 model.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skcf.datasets import make_moons
from skcf.generators import WachterGenerator
from skcf.models import MLP
from skcf.training import (
    AdversarialTrainingClassifier,
    CounterfactualTrainingClassifier,
    TrainingDivergedError,
    TrainingDivergedWarning,
)

from .conftest import TinyNet, tiny_kwargs

Adam, SGD = torch.optim.Adam, torch.optim.SGD


@pytest.fixture(scope="module")
def moons500():
    """The issue's data: standardised ``make_moons(500, noise=0.1)``."""
    X, y = make_moons(n_samples=500, noise=0.1, random_state=0)
    return ((X - X.mean(0)) / X.std(0)).astype(np.float32), y


def _issue_net(cls, **kw):
    """The issue's reproducer settings (15 epochs of a (32, 16) MLP)."""
    base = dict(
        module__n_features=2,
        module__hidden=(32, 16),
        max_epochs=15,
        batch_size=128,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    base.update(kw)
    return cls(MLP, **base)


def _weights(net):
    return [p.detach().clone() for p in net.module_.parameters()]


def _max_abs_weight(net):
    return max(float(p.detach().abs().max()) for p in net.module_.parameters())


def _assert_sane_weights(net):
    assert all(torch.isfinite(p).all() for p in net.module_.parameters())
    # the guard's default divergence_factor=1000 over a starting scale of 1
    assert _max_abs_weight(net) <= 1e3


class _TrainEnd(Callback):
    """Records the epoch count at each ``on_train_end``."""

    def __init__(self):
        self.seen = []

    def on_train_end(self, net, **kwargs):
        self.seen.append(len(net.history))


# ----------------------------------------------------- issue reproducers
def test_issue_reproducer_ct_moons_sgd_lr10_raises_naming_lr(moons500):
    X, y = moons500
    net = _issue_net(CounterfactualTrainingClassifier, lr=10.0)
    with pytest.raises(TrainingDivergedError, match=r"lower lr \(now 10\)"):
        net.fit(X, y)
    # before the guard: 15 epochs, loss stuck at 7.4, accuracy 0.50, no warning
    assert net.diverged_ and net.divergence_["reason"] == "dead network"
    assert net.divergence_["epoch"] < 15
    assert net.divergence_["restored_epoch"] < net.divergence_["epoch"]
    assert net.history[-1]["diverged"] == "dead network"
    _assert_sane_weights(net)


def test_issue_reproducer_ct_warn_mode_stops_and_returns_the_restored_net(
    moons500,
):
    X, y = moons500
    end = _TrainEnd()
    net = _issue_net(
        CounterfactualTrainingClassifier,
        lr=10.0,
        on_divergence="warn",
        callbacks=[end],
    )
    with pytest.warns(TrainingDivergedWarning, match="Training stopped"):
        assert net.fit(X, y) is net
    assert net.diverged_ and len(net.history) < 15
    assert end.seen == [len(net.history)]  # skorch ended training normally
    assert net.predict(X).shape == (len(X),)
    _assert_sane_weights(net)
    assert "_guard_" not in vars(net)
    pickle.loads(pickle.dumps(net))


def test_issue_reproducer_ct_adam_without_energy_penalty_names_it(moons500):
    """λ_div, λ_adv × 10 and no energy penalty: the loss ran to -3.6e6."""
    X, y = moons500
    net = _issue_net(
        CounterfactualTrainingClassifier,
        lr=0.5,
        optimizer=Adam,
        lambda_div=5.0,
        lambda_adv=2.5,
        lambda_energy_reg=0.0,
    )
    with pytest.raises(TrainingDivergedError, match="set lambda_energy_reg > 0"):
        net.fit(X, y)
    assert net.divergence_["reason"] == "exploding loss"
    assert net.divergence_["epoch"] <= 3
    _assert_sane_weights(net)


def test_issue_ct_adam_with_all_lambdas_x10_still_trains(moons500):
    """With the energy penalty scaled too, the same run is healthy."""
    X, y = moons500
    net = _issue_net(
        CounterfactualTrainingClassifier,
        lr=0.5,
        optimizer=Adam,
        lambda_div=5.0,
        lambda_adv=2.5,
        lambda_energy_reg=1.0,
        max_epochs=8,
    ).fit(X, y)
    assert not net.diverged_ and net.divergence_ is None
    assert (net.predict(X) == y).mean() >= 0.8
    # the objective never went below its closed-form bound -λ_div²/(2 λ_reg)
    assert net._loss_lower_bound() == pytest.approx(-12.5)
    losses = [b["train_loss"] for row in net.history for b in row["batches"]]
    assert min(losses) >= -12.5


@pytest.mark.parametrize(
    "kw",
    [
        dict(lr=10.0),
        dict(lr=100.0),
        dict(lr=5.0, optimizer=Adam),
        dict(lr=30.0, max_grad_norm=1.0),
    ],
    ids=["sgd-lr10", "sgd-lr100", "adam-lr5", "sgd-lr30-clipped"],
)
def test_issue_reproducers_at_raise_before_weights_explode(moons500, kw):
    """Before the guard these returned 0.50 models with max|w| up to 3e17."""
    X, y = moons500
    net = _issue_net(AdversarialTrainingClassifier, steps=3, **kw)
    with pytest.raises(TrainingDivergedError, match="lower lr"):
        net.fit(X, y)
    assert net.divergence_["epoch"] <= 3
    _assert_sane_weights(net)


# ------------------------------------------------------ property-style
GRID = [
    (AdversarialTrainingClassifier, dict(lr=1.0)),
    (AdversarialTrainingClassifier, dict(lr=10.0)),
    (AdversarialTrainingClassifier, dict(lr=300.0)),
    (AdversarialTrainingClassifier, dict(lr=0.05, optimizer=Adam)),
    (AdversarialTrainingClassifier, dict(lr=5.0, optimizer=Adam)),
    (AdversarialTrainingClassifier, dict(lr=50.0, max_grad_norm=1.0)),
    (CounterfactualTrainingClassifier, dict(lr=1.0)),
    (CounterfactualTrainingClassifier, dict(lr=10.0)),
    (CounterfactualTrainingClassifier, dict(lr=100.0, max_grad_norm=None)),
    (CounterfactualTrainingClassifier, dict(lr=0.05, optimizer=Adam)),
    (
        CounterfactualTrainingClassifier,
        dict(lr=0.5, optimizer=Adam, lambda_div=5.0, lambda_energy_reg=0.0),
    ),
    (
        CounterfactualTrainingClassifier,
        dict(lr=0.5, optimizer=Adam, lambda_div=15.0, lambda_adv=2.5),
    ),
]


@pytest.mark.parametrize("on_divergence", ["raise", "warn"])
def test_aggressive_grid_trains_or_stops_clearly(on_divergence):
    """Each run ends accurate, or raised / warned; weights always sane."""
    X, y = make_moons(n_samples=300, noise=0.1, random_state=1)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    outcomes = []
    for cls, kw in GRID:
        extra = {"steps": 3}
        if cls is CounterfactualTrainingClassifier:
            extra = {"generator": WachterGenerator(None, n_search_steps=1, max_iter=5)}
        net = cls(
            MLP,
            module__hidden=(32, 16),
            max_epochs=8,
            batch_size=64,
            train_split=None,
            verbose=0,
            random_state=0,
            on_divergence=on_divergence,
            **extra,
            **kw,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TrainingDivergedWarning)
            try:
                net.fit(X, y)
                stopped = False
            except TrainingDivergedError:
                assert on_divergence == "raise"
                stopped = True
        warned = any(w.category is TrainingDivergedWarning for w in caught)
        assert warned == (on_divergence == "warn" and net.diverged_)
        assert (stopped or warned) == net.diverged_
        accuracy = (net.predict(X) == y).mean()
        assert net.diverged_ or accuracy >= 0.8, (cls.__name__, kw, accuracy)
        _assert_sane_weights(net)
        outcomes.append(net.diverged_)
    assert 0 < sum(outcomes) < len(outcomes)  # the grid has both kinds


# ---------------------------------------------------------- mechanism
class _PoisonAt(Callback):
    """Records the weights after each epoch; makes the loss NaN at one epoch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def initialize(self):
        self.weights = {}
        return self

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            net._train_loss = lambda Xi, yi, **kw: (
                torch.tensor(float("nan"), requires_grad=True),
                net.infer(Xi),
            )

    def on_epoch_end(self, net, **kwargs):
        self.weights[len(net.history)] = _weights(net)


def test_restores_the_weights_of_the_last_healthy_epoch(moons):
    X, y = moons
    poison = _PoisonAt(epoch=3)
    net = AdversarialTrainingClassifier(
        TinyNet, steps=2, callbacks=[poison], **tiny_kwargs(max_epochs=5)
    )
    with pytest.raises(TrainingDivergedError, match="non-finite loss") as err:
        net.fit(X, y)
    assert "epoch 3, batch 1" in str(err.value)
    assert "Restored the weights of epoch 2" in str(err.value)
    assert net.divergence_ == {
        "reason": "non-finite loss",
        "epoch": 3,
        "restored_epoch": 2,
    }
    for now, then in zip(_weights(net), poison.weights[2], strict=True):
        assert torch.equal(now, then)
    assert np.isnan(net.history[-1, "batches", -1, "train_loss"])


def test_a_dead_epoch_end_is_never_restored(moons):
    """Weights that killed the net at an epoch's end are not the 'good' ones."""
    X, y = moons
    net = AdversarialTrainingClassifier(
        TinyNet, steps=2, on_divergence="warn", **tiny_kwargs(max_epochs=3)
    )
    net.initialize()
    with torch.no_grad():  # every ReLU dead from the start
        net.module_(torch.as_tensor(X[:1]))
        net.module_.net[0].weight.zero_()
        net.module_.net[0].bias.fill_(-1.0)
    start = _weights(net)
    with pytest.warns(TrainingDivergedWarning, match="dead network"):
        net.partial_fit(X, y)
    assert net.divergence_["epoch"] == 1
    assert net.divergence_["restored_epoch"] == 0
    for now, then in zip(_weights(net), start, strict=True):
        assert torch.equal(now, then)


def test_constant_inputs_are_not_a_dead_network():
    X = np.ones((40, 2), dtype=np.float32)
    y = np.arange(40) % 2
    net = AdversarialTrainingClassifier(
        TinyNet, adv_fraction=0.0, **tiny_kwargs(max_epochs=2)
    ).fit(X, y)
    assert not net.diverged_


def test_loss_below_the_attainable_bound_is_caught(moons):
    X, y = moons
    net = CounterfactualTrainingClassifier(
        TinyNet,
        lambda_div=1.0,
        lambda_energy_reg=0.5,
        divergence_factor=None,
        generator=WachterGenerator(None, n_search_steps=1, max_iter=3),
        **tiny_kwargs(max_epochs=2),
    )
    assert net.set_params(criterion=torch.nn.CrossEntropyLoss).initialize()
    assert net._loss_lower_bound() == pytest.approx(-1.0)

    def below(Xi, yi, **kw):
        y_pred = net.infer(Xi)
        return net.get_loss(y_pred, yi) * 0 - 5.0, y_pred

    net._train_loss = below
    with pytest.raises(TrainingDivergedError, match="below its lower bound"):
        net.partial_fit(X, y)
    assert net.divergence_["restored_epoch"] == 0


def test_bounds_of_the_objectives():
    ct = CounterfactualTrainingClassifier(TinyNet).initialize()
    assert ct._loss_lower_bound() == pytest.approx(-(0.5**2) / 0.2)
    assert ct.set_params(lambda_energy_reg=0.0)._loss_lower_bound() == -np.inf
    assert ct.set_params(lambda_div=0.0)._loss_lower_bound() == 0.0
    at = AdversarialTrainingClassifier(TinyNet).initialize()
    assert at._loss_lower_bound() == 0.0
    at.set_params(criterion=torch.nn.MSELoss).initialize()
    assert at._loss_lower_bound() == -np.inf


def test_healthy_fit_and_partial_fit_record_no_divergence(moons):
    X, y = moons
    net = AdversarialTrainingClassifier(TinyNet, steps=2, **tiny_kwargs(max_epochs=2))
    net.fit(X, y)
    assert net.diverged_ is False and net.divergence_ is None
    assert "_guard_" not in vars(net) and "_guard_" not in net.get_params()
    net.partial_fit(X, y)
    assert net.diverged_ is False and len(net.history) == 4


@pytest.mark.parametrize(
    "param, value",
    [
        ("on_divergence", "ignore"),
        ("divergence_factor", 1.0),
        ("divergence_factor", "big"),
    ],
)
def test_bad_guard_params_raise_naming_the_parameter(moons, param, value):
    X, y = moons
    with pytest.raises(ValueError, match=param):
        AdversarialTrainingClassifier(TinyNet, **{param: value}, **tiny_kwargs()).fit(
            X, y
        )
