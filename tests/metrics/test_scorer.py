"""make_cf_scorer with GridSearchCV and friends."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, cross_validate

from skcf.exceptions import CounterfactualWarning
from skcf.generators import WachterGenerator
from skcf.metrics import (
    constraint_violations,
    make_cf_scorer,
    proximity,
    redundancy,
    sparsity,
)


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        yield


@pytest.fixture(scope="module")
def rows(data):
    return data[0][:15]


@pytest.fixture(scope="module")
def cf(generator, rows):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        return generator.explain(rows)


def test_repr():
    expected = "make_cf_scorer('validity', greater_is_better=True)"
    assert repr(make_cf_scorer()) == expected
    assert (
        repr(make_cf_scorer("l1", scale="mad", valid_only=True))
        == "make_cf_scorer('l1', greater_is_better=False, scale='mad', "
        "valid_only=True)"
    )

    def mean_l1(cf):
        return cf.l1.mean()

    assert repr(make_cf_scorer(mean_l1, greater_is_better=False)) == (
        "make_cf_scorer(mean_l1, greater_is_better=False)"
    )


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("validity", True),
        ("score", True),
        ("l0", False),
        ("l1", False),
        ("l2", False),
        ("linf", False),
        ("sparsity", False),
        ("redundancy", False),
        ("violations", False),
        (lambda cf: 0.0, True),
    ],
)
def test_greater_is_better_inferred(metric, expected):
    assert make_cf_scorer(metric).greater_is_better is expected


def test_values_match_metrics(generator, rows, cf):
    """The scorer equals the metric on explain's result (explain is deterministic)."""

    def score(metric, **kw):
        return make_cf_scorer(metric, **kw)(generator, rows)

    assert score("validity") == cf.validity
    assert score("l1") == pytest.approx(-cf.l1.mean())
    assert score("l2", reduce="median") == pytest.approx(-np.median(cf.l2))
    assert score("linf", valid_only=True) == pytest.approx(-cf.linf[cf.valid].mean())
    assert score("l1", scale="mad") == pytest.approx(
        -proximity(cf.X, cf.X_cf, scale=generator.scale_)
    )
    assert score("l0", atol=1e-3) == pytest.approx(
        -proximity(cf.X, cf.X_cf, norm="l0", atol=1e-3)
    )
    assert score("sparsity") == pytest.approx(-sparsity(cf.X, cf.X_cf))
    assert score("redundancy", valid_only=True) == pytest.approx(
        -redundancy(generator, cf.X, cf.X_cf, valid=cf.valid)
    )
    assert score("violations") == -constraint_violations(
        cf.X, cf.X_cf, generator=generator, reduce="mean"
    )
    assert score("score") == pytest.approx(generator.score(rows))
    assert score("l1", greater_is_better=True) == pytest.approx(cf.l1.mean())


def test_callable_metric_gets_kwargs(generator, rows, cf):
    def quantile_l1(cf_set, q=0.5):
        return float(np.quantile(cf_set.l1, q))

    scorer = make_cf_scorer(quantile_l1, greater_is_better=False, q=0.9)
    assert scorer(generator, rows) == pytest.approx(-np.quantile(cf.l1, 0.9))


def test_explain_called_once(generator, rows, monkeypatch):
    calls = []
    original = generator.explain

    def spy(X, *args, **kwargs):
        calls.append(len(X))
        return original(X, *args, **kwargs)

    monkeypatch.setattr(generator, "explain", spy)
    make_cf_scorer("redundancy")(generator, rows)
    assert calls == [len(rows)]


def test_check_scoring_accepts_it(generator):
    scorer = make_cf_scorer("l1")
    assert check_scoring(generator, scoring=scorer) is scorer


def test_picklable():
    scorer = make_cf_scorer("l2", scale="mad", valid_only=True)
    clone = pickle.loads(pickle.dumps(scorer))
    assert repr(clone) == repr(scorer)


def test_grid_search_single_metric(data, clf):
    X, _ = data
    gen = WachterGenerator(FrozenEstimator(clf), max_iter=30, random_state=0)
    search = GridSearchCV(
        gen,
        {"lam": [0.1, 1.0]},
        scoring=make_cf_scorer("l1"),
        cv=2,
        error_score="raise",
    ).fit(X[:40])
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (2,)
    assert np.all(scores <= 0)
    assert search.best_score_ == scores.max()


def test_grid_search_scoring_dict_and_refit(data, clf):
    X, _ = data
    gen = WachterGenerator(
        FrozenEstimator(clf), max_iter=30, n_search_steps=2, random_state=0
    )
    scoring = {
        "validity": make_cf_scorer("validity"),
        "l1": make_cf_scorer("l1", scale="mad", valid_only=True),
        "redundancy": make_cf_scorer("redundancy"),
        "score": make_cf_scorer("score"),
    }
    search = GridSearchCV(
        gen,
        {"lam": [0.1, 1.0]},
        scoring=scoring,
        refit="validity",
        cv=2,
        error_score="raise",
    ).fit(X[:40])
    res = search.cv_results_
    for name in scoring:
        assert f"mean_test_{name}" in res
    assert search.best_index_ == int(np.argmax(res["mean_test_validity"]))
    assert hasattr(search.best_estimator_, "model_")
    assert search.score(X[:5]) == pytest.approx(
        search.best_estimator_.explain(X[:5]).validity
    )


def test_grid_search_fits_unfitted_model(data):
    X, y = data
    gen = WachterGenerator(LogisticRegression(), max_iter=30, random_state=0)
    search = GridSearchCV(
        gen,
        {"lam": [0.1, 1.0]},
        scoring=make_cf_scorer("l2"),
        cv=2,
        error_score="raise",
    ).fit(X[:40], y[:40])
    assert np.all(search.cv_results_["mean_test_score"] <= 0)


def test_cross_validate(data, clf):
    X, _ = data
    gen = WachterGenerator(FrozenEstimator(clf), max_iter=30, random_state=0)
    scoring = {"v": make_cf_scorer(), "s": make_cf_scorer("sparsity")}
    out = cross_validate(gen, X[:30], cv=2, error_score="raise", scoring=scoring)
    assert out["test_v"].shape == (2,)
    assert np.all((0 <= out["test_v"]) & (out["test_v"] <= 1))


# ------------------------------------------------------------------ errors
def test_unknown_metric():
    with pytest.raises(ValueError, match="'metric' parameter of make_cf_scorer"):
        make_cf_scorer("accuracy")


def test_bad_metric_type():
    with pytest.raises((TypeError, ValueError), match="'metric' parameter"):
        make_cf_scorer(3)


def test_bad_greater_is_better():
    with pytest.raises((TypeError, ValueError), match="'greater_is_better' parameter"):
        make_cf_scorer("l1", greater_is_better="yes")


def test_unknown_option():
    with pytest.raises(TypeError, match="unexpected keyword argument.*'norm'"):
        make_cf_scorer("l1", norm="l2")
    with pytest.raises(TypeError, match="'valid_only'"):
        make_cf_scorer("validity", valid_only=True)


def test_reduce_must_be_scalar():
    with pytest.raises(ValueError, match="'reduce' option"):
        make_cf_scorer("l1", reduce=None)
    with pytest.raises(ValueError, match="'reduce' option"):
        make_cf_scorer("violations", reduce="median")


def test_bad_scale_string():
    with pytest.raises(ValueError, match="'scale' option"):
        make_cf_scorer("l1", scale="std")


def test_bad_valid_only():
    with pytest.raises(TypeError, match="'valid_only' option"):
        make_cf_scorer("l1", valid_only="yes")


def test_not_a_generator(clf, data):
    with pytest.raises(TypeError, match="scores counterfactual generators"):
        make_cf_scorer("l1")(clf, data[0][:3])
