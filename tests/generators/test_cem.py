"""CEM (pertinent negatives / positives) and DCFE (Wachter et al.'s loss)."""

import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.linear_model import LogisticRegression

from skcf._engine import Constraints
from skcf._engine._cem_terms import (
    AnchoredL1Distance,
    BaseRelativeConstraints,
    SquaredProbabilityLoss,
)
from skcf._engine._terms import TermContext
from skcf.density import Autoencoder
from skcf.exceptions import CounterfactualWarning
from skcf.generators import CEMGenerator, DCFEGenerator

FAST = dict(max_iter=60, n_search_steps=4, random_state=0)


@pytest.fixture(scope="module")
def data(tabular):
    X, y = tabular
    return X, y, LogisticRegression().fit(X, y)


def explain(gen, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        return gen.explain(X, **kw)


# --------------------------------------------------------------- pertinent negatives
def test_pn_flips_the_class_with_sparse_additions(data):
    X, _, clf = data
    gen = CEMGenerator(clf, **FAST).fit(X)
    X0 = X[:40]
    cf = explain(gen, X0)
    ok = cf.valid
    assert (clf.predict(cf.X_cf[ok]) != clf.predict(X0[ok])).all()
    # only additions: a row can flip iff raising the features that push the
    # logit the right way, up to their bounds, crosses the boundary
    z = clf.decision_function(X0)
    w = clf.coef_[0] * -np.sign(z)[:, None]
    reach = (np.clip(w, 0, None) * (gen.constraints_["upper"] - X0)).sum(axis=1)
    feasible = reach > np.abs(z) + 0.5
    assert feasible.sum() >= 15
    assert ok[feasible].mean() >= 0.9 and not ok[reach < np.abs(z)].any()
    # base = feature minimum: a pertinent negative only adds (increases)
    assert_array_equal(gen.base_, X.min(axis=0))
    assert (cf.X_cf >= X0).all()
    assert cf.l0[ok].mean() < X.shape[1] - 1  # the ℓ1 shrinkage makes it sparse


def test_pn_moves_away_from_a_middle_base(data):
    X, _, clf = data
    gen = CEMGenerator(clf, base=0.0, **FAST).fit(X)
    cf = explain(gen, X[:40])
    assert cf.validity >= 0.8
    delta = cf.X_cf - X[:40]
    above = X[:40] >= 0
    assert (delta[above] >= 0).all() and (delta[~above] <= 0).all()
    assert cf.violations.max() == 0


def test_pn_on_a_network_with_a_targeted_class(multiclass):
    X, y, net = multiclass
    gen = CEMGenerator(net, base=X.mean(axis=0), **FAST).fit(X)
    pred = net.predict(X[:30])
    target = (pred + 1) % 3
    cf = explain(gen, X[:30], target=target)
    assert cf.validity >= 0.5
    assert (net.predict(cf.X_cf[cf.valid]) == target[cf.valid]).all()


# --------------------------------------------------------------- pertinent positives
def test_pp_keeps_the_class_with_a_minimal_part(data):
    X, _, clf = data
    gen = CEMGenerator(clf, mode="pp", **FAST).fit(X)
    X0 = X[:40]
    cf = explain(gen, X0)
    pp = np.asarray(cf.X_cf, dtype=np.float64)
    assert cf.validity == 1.0
    assert_array_equal(clf.predict(pp), clf.predict(X0))
    assert_array_equal(cf.target, cf.y_pred)  # a PP explains the predicted class
    b = gen.base_
    # a part of x0: between the base and x0, coordinate by coordinate
    assert (pp >= np.minimum(b, X0) - 1e-6).all()
    assert (pp <= np.maximum(b, X0) + 1e-6).all()
    kept = np.abs(pp - b) > 1e-6
    assert kept.sum(axis=1).mean() < 0.6 * X.shape[1]  # a small subset is enough
    # the kept part is smaller than x0 itself (ℓ1 from the base)
    assert (np.abs(pp - b).sum(axis=1) <= np.abs(X0 - b).sum(axis=1) + 1e-6).all()


def test_pp_takes_no_target(data):
    X, _, clf = data
    gen = CEMGenerator(clf, mode="pp", **FAST).fit(X)
    with pytest.raises(ValueError, match="takes no target"):
        gen.explain(X[:3], target=1)


# --------------------------------------------------------------- autoencoder, search
def test_autoencoder_term_lowers_reconstruction_error(data):
    X, _, clf = data
    ae = Autoencoder((8,), 3, max_epochs=20, lr=1e-2, random_state=0).fit(X)
    X0 = X[:30]
    kw = dict(autoencoder=ae, base=0.0, max_iter=40, n_search_steps=3, random_state=0)
    plain = explain(CEMGenerator(clf, gamma=0.0, **kw).fit(X), X0)
    with_ae = explain(CEMGenerator(clf, gamma=10.0, **kw).fit(X), X0)
    both = plain.valid & with_ae.valid
    assert both.sum() >= 15

    def err(cf):
        return -ae.score_samples(np.asarray(cf.X_cf)[both]).mean()

    assert err(with_ae) < err(plain)


def test_binary_search_on_c_finds_more_counterfactuals(data):
    X, _, clf = data
    kw = dict(initial_c=1e-3, max_iter=60, random_state=0)
    one = explain(CEMGenerator(clf, n_search_steps=1, **kw).fit(X), X[:40])
    many = explain(CEMGenerator(clf, n_search_steps=6, **kw).fit(X), X[:40])
    assert one.validity < 0.5 <= many.validity


@pytest.mark.parametrize("mode", ["pn", "pp"])
def test_deterministic_and_batch_invariant(data, mode):
    X, _, clf = data
    a = explain(CEMGenerator(clf, mode=mode, **FAST).fit(X), X[:25])
    b = explain(CEMGenerator(clf, mode=mode, batch_size=7, **FAST).fit(X), X[:25])
    assert_array_equal(np.asarray(a.X_cf), np.asarray(b.X_cf))
    assert_array_equal(a.valid, b.valid)


# --------------------------------------------------------------- constraints
@pytest.mark.parametrize("mode", ["pn", "pp"])
def test_immutable_and_bounds_hold(data, mode):
    X, _, clf = data
    X0 = X[:40]
    hi = float(np.quantile(X[:, 1], 0.9))
    gen = CEMGenerator(
        clf, mode=mode, immutable=[0], bounds={1: (None, hi)}, **FAST
    ).fit(X)
    cf = explain(gen, X0)
    out = np.asarray(cf.X_cf)
    ok = cf.valid
    assert ok.any()
    assert_array_equal(out[:, 0], X0[:, 0])
    inside = X0[:, 1] <= hi  # factuals already inside the bound stay inside
    assert (out[ok & inside, 1] <= hi).all()
    assert (cf.violations[ok] == 0).all()


def test_base_rule_in_engine_constraints():
    cons = Constraints.unconstrained(3, dtype=torch.float64)
    base = torch.zeros(3, dtype=torch.float64)
    x0 = torch.tensor([[1.0, -1.0, 0.5]], dtype=torch.float64)
    pn = BaseRelativeConstraints.wrap(cons, base, "pn")
    lo, hi = pn.row_bounds(x0)
    assert lo.tolist() == [[1.0, -np.inf, 0.5]]
    assert hi.tolist() == [[np.inf, -1.0, np.inf]]
    bad = torch.tensor([[0.5, -2.0, 0.7]], dtype=torch.float64)  # first moved down
    assert pn.violations(bad, x0).tolist() == [1]
    pp = BaseRelativeConstraints.wrap(cons, base, "pp").to("cpu", torch.float64)
    assert isinstance(pp, BaseRelativeConstraints)
    lo, hi = pp.row_bounds(x0)
    assert lo.tolist() == [[0.0, -1.0, 0.0]] and hi.tolist() == [[1.0, 0.0, 0.5]]
    assert pp.violations(bad, x0).tolist() == [2]
    with pytest.raises(ValueError, match="mode"):
        BaseRelativeConstraints.wrap(cons, base, "xx")


def test_anchored_distance_measures_from_the_anchor():
    anchor = torch.tensor([1.0, 1.0])
    x = torch.tensor([[2.0, 0.0]])
    ctx = TermContext(x, torch.zeros_like(x), torch.zeros(1, 2), *[None] * 3)
    assert AnchoredL1Distance(anchor, 2.0)(ctx).tolist() == [4.0]


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, match",
    [
        (dict(base=[0.0, 1.0]), "base"),
        (dict(base=np.nan), "base"),
        (dict(mode="both"), "mode"),
        (dict(gamma=-1.0), "gamma"),
        (dict(base="max"), "base"),
    ],
)
def test_bad_parameters(data, params, match):
    X, _, clf = data
    with pytest.raises(ValueError, match=match):
        CEMGenerator(clf, **params).fit(X)


def test_unfitted_and_feature_mismatch(data):
    from sklearn.exceptions import NotFittedError

    X, _, clf = data
    with pytest.raises(NotFittedError):
        CEMGenerator(clf).transform(X[:2])
    gen = CEMGenerator(clf, **FAST).fit(X)
    with pytest.raises(ValueError, match="features"):
        gen.transform(X[:2, :3])


# --------------------------------------------------------------- DCFE
def test_dcfe_reaches_the_target_probability(data):
    X, _, clf = data
    gen = DCFEGenerator(clf, tau=0.7, max_iter=60, random_state=0).fit(X)
    cf = explain(gen, X[:40])
    assert cf.validity >= 0.9
    ok = cf.valid
    pred = clf.predict(X[:40])
    proba = clf.predict_proba(cf.X_cf[ok])
    assert (proba[np.arange(ok.sum()), 1 - pred[ok]] >= 0.7).all()
    assert (gen.scale_ > 0).all()  # MAD weights of the ℓ1 distance


def test_dcfe_constraints_and_determinism(data):
    X, _, clf = data
    kw = dict(immutable=[2], max_iter=60, random_state=0)
    a = explain(DCFEGenerator(clf, **kw).fit(X), X[:30])
    b = explain(DCFEGenerator(clf, batch_size=4, **kw).fit(X), X[:30])
    assert_array_equal(np.asarray(a.X_cf), np.asarray(b.X_cf))
    assert_array_equal(np.asarray(a.X_cf)[:, 2], X[:30, 2])


def test_squared_probability_loss():
    logits = torch.tensor([[0.0, 0.0], [0.0, 10.0]])
    x = torch.zeros(2, 1)
    t = torch.tensor([1, 1])
    ctx = TermContext(
        x, x, logits, t, torch.zeros(2, dtype=torch.bool), torch.tensor([0, 0])
    )
    value = SquaredProbabilityLoss(target_proba=1.0)(ctx)
    assert value[0].item() == pytest.approx(0.25)
    assert value[1].item() == pytest.approx(0.0, abs=1e-8)


def test_dcfe_bad_parameters(data):
    X, _, clf = data
    with pytest.raises(ValueError, match="target_proba"):
        DCFEGenerator(clf, target_proba=1.5).fit(X)
    with pytest.raises(ValueError, match="feature_weights"):
        DCFEGenerator(clf, feature_weights=[1.0]).fit(X).transform(X[:2])


def test_dcfe_retry_reaches_saturated_rows():
    # an overconfident model: p_t(x0) down to 1e-56. (p_t - 1)² is flat there,
    # so the stall rule ends every round of the first search; the retry (λ
    # growing 1000-fold, no stall rule) finds most of those rows
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit(X, y)
    clf.coef_ *= 12
    clf.intercept_ *= 12
    Xq = X[clf.predict(X) == 0][:20]
    paper = explain(DCFEGenerator(clf, retry=False, random_state=0).fit(X), Xq)
    cf = explain(DCFEGenerator(clf, random_state=0).fit(X), Xq)
    assert paper.validity <= 0.5
    assert cf.validity >= 0.8
    assert np.isfinite(cf.X_cf).all()
    flipped = clf.predict(cf.X_cf) != clf.predict(Xq)
    assert flipped[cf.valid].all()
    assert (
        np.asarray(paper.X_cf)[paper.valid] == np.asarray(cf.X_cf)[paper.valid]
    ).all()
