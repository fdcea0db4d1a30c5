"""Default settings reach a counterfactual wherever one exists (issue 11).

Wachter on German credit with one-hot groups stalled on fractional one-hots
until its gradients were taken at the snapped point; min-ε PGD stopped at the
median training-row norm. Both keep the earlier behaviour one parameter away.
"""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skcf.datasets import load_german_credit
from skcf.generators import PGDGenerator, WachterGenerator
from skcf.models import MLP


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
    paper = PGDGenerator(clf, max_eps=None, random_state=0).fit(X)
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
