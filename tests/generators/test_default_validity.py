"""Default settings reach a counterfactual wherever one exists (issues 9, 11).

Wachter on German credit with one-hot groups stalled on fractional one-hots
until its gradients were taken at the snapped point; min-ε PGD stopped at the
median training-row norm. Both keep the earlier behaviour one parameter away.
On Adult's raw road with an ``MLPClassifier`` (issue 9), ECCo stalled the same
way as Wachter, PGD's ℓ2 step lost most of its length to coordinates held on
their bounds, and rows whose flip lies past a dip of the score (small capital
gains lower it) need a start away from the factual.
"""

import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skcf.datasets import load_german_credit
from skcf.exceptions import CounterfactualWarning
from skcf.generators import ECCoGenerator, PGDGenerator, WachterGenerator
from skcf.models import MLP, DifferentiableModel


@pytest.fixture(scope="module")
def german():
    """German credit (encoded road) and a small skorch net, trained once."""
    from skorch import NeuralNetClassifier

    data = load_german_credit()
    X = data.data.astype(np.float32)
    y = np.asarray(data.target).astype(np.int64)
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MLP,
        module__n_features=X.shape[1],
        module__hidden=(64, 32),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.01,
        max_epochs=40,
        batch_size=64,
        train_split=None,
        verbose=0,
    ).fit(X[:700], y[:700])
    return X[:700], X[700:800], net, data.actionability


@pytest.fixture(scope="module")
def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    clf = LogisticRegression(max_iter=1000).fit(X[:400], y[:400])
    return X[:400], X[400:], clf


@pytest.mark.parametrize("actionability", ["groups", "all"])
def test_wachter_one_hot_groups_reach_validity(german, actionability):
    X, Q, net, act = german
    kw = {k: v for k, v in act.items() if v}
    if actionability == "groups":
        kw = {"categorical": act["categorical"]}
    gen = WachterGenerator(net, random_state=0, **kw).fit(X)
    cf = gen.explain(Q)
    assert cf.validity >= 0.99
    assert gen._violations(Q, cf.X_cf)[cf.valid].sum() == 0
    # the relaxed gradients (the earlier behaviour) stall on fractional one-hots
    relaxed = WachterGenerator(net, straight_through=False, random_state=0, **kw)
    assert relaxed.fit(X).explain(Q).validity < cf.validity


def test_min_eps_pgd_grows_past_the_median_norm(breast_cancer):
    X, Q, clf = breast_cancer
    gen = PGDGenerator(clf, random_state=0).fit(X)
    cf = gen.explain(Q)
    assert cf.validity >= 0.99
    assert gen.max_eps_ == pytest.approx(3 * gen.eps_)
    assert np.all(cf.l2[cf.valid] <= gen.max_eps_ + 1e-5)
    # seed 001's schedule stops at eps_: some rows lie farther than that
    paper = PGDGenerator(clf, max_eps=None, random_start=False, random_state=0)
    paper.fit(X)
    cf0 = paper.explain(Q)
    assert paper.max_eps_ == paper.eps_ and cf0.validity < 0.99
    # the rows it finds keep their counterfactuals
    assert cf.valid[cf0.valid].all()
    assert_array_equal(cf.X_cf[cf0.valid], cf0.X_cf[cf0.valid])


def test_pgd_max_eps_rounds_up_to_the_grid(breast_cancer):
    X, _, clf = breast_cancer
    gen = PGDGenerator(clf, eps=1.0, n_radii=4, max_eps=1.6).fit(X)
    assert gen.max_eps_ == pytest.approx(1.75)
    assert PGDGenerator(clf, eps=1.0, max_eps=0.5).fit(X).max_eps_ == 1.0
    assert PGDGenerator(clf, eps=1.0, min_eps=False).fit(X).max_eps_ == 1.0


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_pgd_random_start_is_keyed_by_row_content(breast_cancer, norm):
    X, Q, clf = breast_cancer
    Q = Q[:40]
    kw = dict(norm=norm, random_start=True, steps=10, random_state=0)
    out = PGDGenerator(clf, **kw).fit(X).transform(Q)
    reversed_ = PGDGenerator(clf, **kw).fit(X).transform(Q[::-1])[::-1]
    assert_array_equal(reversed_, out)
    # nor on the other rows of the call or batch
    chunked = PGDGenerator(clf, batch_size=7, **kw).fit(X).transform(Q)
    assert_array_equal(chunked, out)
    assert_array_equal(PGDGenerator(clf, **kw).fit(X).transform(Q[5:9]), out[5:9])
    # the start is random: another seed gives other counterfactuals
    other = PGDGenerator(clf, **{**kw, "random_state": 1}).fit(X).transform(Q)
    assert not np.array_equal(other, out)


def _linear_logit(weight, bias):
    """A one-logit model ``z = weight · x + bias`` (class 1 where z > 0)."""
    lin = torch.nn.Linear(len(weight), 1).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([weight], dtype=torch.float64))
        lin.bias.fill_(bias)
    return DifferentiableModel(lin)


def test_ecco_straight_through_sees_the_rounded_integer():
    # z = 3n - 1 with n integer: n = 1 flips. With its cost weight the relaxed
    # search settles at a fraction of n that rounds back to 0; gradients taken
    # at the rounded point keep pushing until n = 1 is judged.
    model = _linear_logit([3.0, 0.0], -1.0)
    X = np.c_[np.zeros(10), np.linspace(-1, 1, 10)]
    kw = dict(integer=[0], immutable=[1], bounds={0: (0, 3)}, feature_weights=[21, 1])
    with pytest.warns(CounterfactualWarning):
        relaxed = ECCoGenerator(model, straight_through=False, **kw).fit(X).explain(X)
    assert relaxed.validity == 0.0
    cf = ECCoGenerator(model, **kw).fit(X).explain(X)
    assert cf.validity == 1.0
    assert_array_equal(cf.X_cf[:, 0], 1.0)


def test_pgd_l2_step_ignores_coordinates_held_on_their_bounds():
    # five heavy features sit on their upper bound, pushed upwards: a step
    # normalised over them would move the free feature 1/sqrt(126) of it
    model = _linear_logit([1.0, 5, 5, 5, 5, 5], -0.5 - 25)
    X = np.c_[np.zeros(4), np.ones((4, 5))]
    bounds = {0: (-3, 3), **{j: (0, 1) for j in range(1, 6)}}
    gen = PGDGenerator(
        model, eps=1.0, min_eps=False, steps=1, step_size=1.0, bounds=bounds
    ).fit(X)
    cf = gen.explain(X)
    assert cf.validity == 1.0
    assert_allclose(cf.delta[:, 0], 1.0)
    assert_array_equal(cf.delta[:, 1:], 0.0)


class _Dip(torch.nn.Module):
    """Class-1 logit falling until x0 = 1, then rising: it flips past x0 = 1.43."""

    def forward(self, x):
        z = 4 * torch.relu(x[:, 0] - 1) - 0.5 * x[:, 0] - 1 + 0 * x[:, 1]
        return torch.stack([torch.zeros_like(z), z], 1)


def test_pgd_retries_rows_the_factual_start_misses():
    model = DifferentiableModel(_Dip().double())
    rng = np.random.default_rng(0)
    near = np.c_[rng.uniform(1.1, 1.3, 10), rng.uniform(-1, 1, 10)]  # past the dip
    far = np.c_[rng.uniform(0, 0.8, 30), rng.uniform(-1, 1, 30)]  # before it
    X = np.r_[near, far]
    kw = dict(eps=4.0, max_eps=None, bounds={0: (-1, 3), 1: (-1, 1)}, random_state=0)
    with pytest.warns(CounterfactualWarning):
        paper = PGDGenerator(model, random_start=False, **kw).fit(X).explain(X)
        cf = PGDGenerator(model, **kw).fit(X).explain(X)
    # from the factual, the gradient leads the far rows away from the flip
    assert paper.valid[:10].all() and not paper.valid[10:].any()
    # the retry from random starts finds some; the rows found keep theirs
    assert cf.valid[10:].mean() >= 0.25
    assert_array_equal(cf.X_cf[:10], paper.X_cf[:10])
    assert (cf.X_cf[cf.valid, 0] > 1.4).all()


def test_pgd_hinge_takes_its_gradient_at_the_rounded_point():
    # z = 3n - 1, n integer: the hinge is flat once the relaxed n passes 1/3,
    # where n still rounds to 0; at the rounded point it keeps pushing to n = 1
    model = _linear_logit([3.0, 0.0], -1.0)
    X = np.c_[np.zeros(6), np.linspace(-1, 1, 6)]
    kw = dict(integer=[0], immutable=[1], bounds={0: (0, 3)}, eps=2.0)
    gen = PGDGenerator(model, loss="hinge", max_eps=None, random_start=False, **kw)
    cf = gen.fit(X).explain(X)
    assert cf.validity == 1.0
    assert_array_equal(cf.X_cf[:, 0], 1.0)


def test_gse_tabular_step_reaches_validity(german):
    """GSE's CIFAR-10 step (0.005, images in [-1, 1]) barely moves standardised
    tabular rows; its tabular default (0.2) flips them, and the CIFAR step
    stays one parameter away."""
    from skcf.generators import GroupSparseGenerator

    X, Q, net, act = german
    kw = {k: v for k, v in act.items() if v}
    Q = Q[net.predict(Q) == 0][:40]
    cf = GroupSparseGenerator(net, random_state=0, **kw).fit(X).explain(Q)
    assert cf.validity >= 0.95
    assert np.asarray(cf.violations)[cf.valid].sum() == 0
    cifar = GroupSparseGenerator(net, lr=0.005, random_state=0, **kw).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)  # rows left
        assert cifar.explain(Q).validity < cf.validity
