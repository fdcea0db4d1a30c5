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
    ynn_score,
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


# ------------------------------------------------ rows without a counterfactual
class _GiveUp:
    """A fitted generator that finds no valid counterfactual (validity 0).

    It returns every factual unchanged and flagged invalid, as the generators
    do for the rows they fail on; everything else is the wrapped generator's.
    """

    def __init__(self, generator):
        self.generator = generator

    def __getattr__(self, name):
        return getattr(self.generator, name)

    def explain(self, X):
        from skcf.base import CounterfactualSet

        cf = self.generator.explain(X)
        n = len(cf)
        return CounterfactualSet(
            X=cf.X,
            X_cf=cf.X.copy(),
            y_pred=cf.y_pred,
            y_cf_pred=cf.y_pred,
            target=cf.target,
            valid=np.zeros(n, dtype=bool),
            violations=np.zeros(n, dtype=int),
            n_iter=cf.n_iter,
            feature_names=cf.feature_names,
            elapsed=cf.elapsed,
            Z=cf.Z,
            Z_cf=cf.Z.copy(),
            space=cf.space,
        )


def _cost_scorers(X_ref, y_ref):
    return {
        "l0": make_cf_scorer("l0"),
        "l1": make_cf_scorer("l1"),
        "l1_mad": make_cf_scorer("l1", scale="mad"),
        "l2": make_cf_scorer("l2", reduce="median"),
        "linf": make_cf_scorer("linf", scale="mad"),
        "sparsity": make_cf_scorer("sparsity"),
        "redundancy": make_cf_scorer("redundancy"),
        "lof": make_cf_scorer("lof", X_ref=X_ref, n_neighbors=5),
        "knn_distance": make_cf_scorer("knn_distance", X_ref=X_ref, y_ref=y_ref),
        "sphere_distance": make_cf_scorer("sphere_distance", X_ref=X_ref),
        "ynn": make_cf_scorer("ynn", X_ref=X_ref),
        "connectedness": make_cf_scorer("connectedness", X_ref=X_ref, y_ref=y_ref),
    }


@pytest.fixture(scope="module")
def fixed_box(data, clf):
    """A generator with a known box, and rows of which some get no counterfactual."""
    X, _ = data
    gen = WachterGenerator(
        clf,
        max_iter=50,
        random_state=0,
        bounds={0: (-3.0, 3.0), 1: (-3.0, 3.0), 2: (-3.0, 3.0), 3: (-3.0, 3.0)},
        immutable=[3],
        increase_only=[2],
        decrease_only=[1],
    ).fit(X)
    rows = X[:20]
    return gen, rows


def test_failures_are_charged_the_worst_admissible_cost(fixed_box, monkeypatch):
    """A failed row costs its farthest move inside the constraints' box."""
    gen, rows = fixed_box
    cf = gen.explain(rows)
    valid = cf.valid.copy()
    valid[::3] = False  # some rows fail: returned unchanged
    X_cf = np.where(valid[:, None], cf.X_cf, cf.X)
    failed_cf = type(cf)(**{**vars(cf), "valid": valid, "X_cf": X_cf, "Z_cf": X_cf})
    monkeypatch.setattr(gen, "explain", lambda X: failed_cf)
    x = rows[~valid]
    room = np.maximum(3.0 - x, x + 3.0)
    room[:, 1] = x[:, 1] + 3.0  # decrease_only: only down to the bound
    room[:, 2] = 3.0 - x[:, 2]  # increase_only: only up to the bound
    room[:, 3] = 0.0  # immutable: a counterfactual never moves it
    l1 = np.abs(X_cf - rows).sum(axis=1)
    l1[~valid] = room.sum(axis=1)
    assert make_cf_scorer("l1")(gen, rows) == pytest.approx(-l1.mean())
    l1_mad = np.abs(X_cf - rows) / gen.scale_
    l1_mad = l1_mad.sum(axis=1)
    l1_mad[~valid] = (room / gen.scale_).sum(axis=1)
    assert make_cf_scorer("l1", scale="mad")(gen, rows) == pytest.approx(-l1_mad.mean())
    linf = np.abs(X_cf - rows).max(axis=1)
    linf[~valid] = room.max(axis=1)
    assert make_cf_scorer("linf")(gen, rows) == pytest.approx(-linf.mean())
    l0 = (np.abs(X_cf - rows) > 1e-8).sum(axis=1)
    l0[~valid] = 3  # the three mutable features
    assert make_cf_scorer("l0")(gen, rows) == pytest.approx(-l0.mean())
    assert make_cf_scorer("sparsity")(gen, rows) == pytest.approx(-l0.mean())
    # the other conventions: a fixed charge, or leave the failures out (CARLA)
    l1_free = np.abs(X_cf - rows).sum(axis=1)
    assert make_cf_scorer("l1", failure_cost=0.0)(gen, rows) == pytest.approx(
        -l1_free.mean()
    )
    assert make_cf_scorer("l1", failure_cost=7.0)(gen, rows) == pytest.approx(
        -np.where(valid, l1_free, 7.0).mean()
    )
    assert make_cf_scorer("l1", valid_only=True)(gen, rows) == pytest.approx(
        -l1_free[valid].mean()
    )
    # higher-is-better shares: a failure counts 0
    ynn = make_cf_scorer("ynn", X_ref=rows, n_neighbors=3)
    per_row = ynn_score(gen, X_cf, rows, n_neighbors=3, valid=valid, reduce=None)
    assert ynn(gen, rows) == pytest.approx(per_row.sum() / len(rows))


@pytest.mark.parametrize(
    "name",
    [
        "l0",
        "l1",
        "l1_mad",
        "l2",
        "linf",
        "sparsity",
        "redundancy",
        "lof",
        "knn_distance",
        "sphere_distance",
        "ynn",
        "connectedness",
    ],
)
def test_giving_up_never_beats_a_working_generator(data, clf, name):
    """Validity 0 (every row returned unchanged) scores below any valid search."""
    X, y = data
    rows = X[clf.predict(X) == 0][:15]
    scorer = _cost_scorers(X, clf.predict(X))[name]
    for gen in (
        WachterGenerator(clf, max_iter=50, random_state=0).fit(X),
        WachterGenerator(clf, max_iter=50, random_state=0, bounds=None).fit(X),
    ):
        working = scorer(gen, rows)
        assert gen.explain(rows).validity > 0.5
        assert scorer(_GiveUp(gen), rows) < working


def test_one_step_search_loses_the_grid_search(data, clf):
    """GridSearchCV on a cost scorer prefers the search that finds counterfactuals."""
    X, _ = data
    gen = WachterGenerator(FrozenEstimator(clf), random_state=0)
    search = GridSearchCV(
        gen,
        {"max_iter": [1, 100], "lam": [0.01]},
        scoring=make_cf_scorer("l1", scale="mad"),
        cv=2,
        error_score="raise",
    ).fit(X[clf.predict(X) == 0][:30])
    validity = GridSearchCV(
        gen, {"max_iter": [1, 100], "lam": [0.01]}, scoring=make_cf_scorer(), cv=2
    ).fit(X[clf.predict(X) == 0][:30])
    assert validity.cv_results_["mean_test_score"][0] < 0.5  # max_iter=1 fails
    assert search.best_params_["max_iter"] == 100


def test_raw_road_charges_failures(monkeypatch):
    """On a DataFrame with categories: failures cost the farthest column moves."""
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "income": rng.normal(3000.0, 800.0, n).round(1),
            "debt": rng.normal(1000.0, 300.0, n).round(1),
            "housing": rng.choice(["own", "rent", "free"], n),
            "sex": rng.choice(["f", "m"], n),
        }
    )
    y = (
        (frame.income - 2 * frame.debt) / 800.0 + (frame.housing == "own")
        + rng.normal(0, 0.3, n)
        > 1.2
    ).astype(int)  # fmt: skip
    pipe = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["income", "debt"]),
                ("cat", OneHotEncoder(), ["housing", "sex"]),
            ]
        ),
        LogisticRegression(),
    ).fit(frame, y)
    gen = WachterGenerator(pipe, max_iter=60, random_state=0, immutable=["sex"]).fit(
        frame
    )
    rows = frame[pipe.predict(frame) == 0].head(12)
    cf = gen.explain(rows)
    assert cf.validity > 0.5
    lazy = _GiveUp(gen)
    box = gen.space_._bounds("infer")
    lo = np.array([box[0][0], box[1][0]])
    hi = np.array([box[0][1], box[1][1]])
    x = rows[["income", "debt"]].to_numpy()
    room = np.maximum(hi - x, x - lo)
    # numeric columns: to the farther bound; housing may change (1); sex may not
    expected = room.sum(axis=1) + 1.0
    assert make_cf_scorer("l1")(lazy, rows) == pytest.approx(-expected.mean())
    mad = gen.space_.column_scale[:2]
    assert make_cf_scorer("l1", scale="mad")(lazy, rows) == pytest.approx(
        -(room / mad).sum(axis=1).mean() - 1.0
    )
    assert make_cf_scorer("l0")(lazy, rows) == -3.0
    for name, scorer in _cost_scorers(frame, pipe.predict(frame)).items():
        if name == "l2":
            continue  # median: same rule as l1
        assert scorer(lazy, rows) < scorer(gen, rows), name


def test_failure_warning_points_at_the_caller(data, clf):
    """The scorer re-issues explain's warning at the user's line, not its own."""
    X, _ = data
    gen = WachterGenerator(clf, max_iter=1, random_state=0).fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_cf_scorer("l1")(gen, X[:10])
        make_cf_scorer("score")(gen, X[:10])
        GridSearchCV(gen, {"lam": [0.01]}, scoring=make_cf_scorer("l1"), cv=2).fit(
            X[:20]
        )
    cf_warnings = [w for w in caught if issubclass(w.category, CounterfactualWarning)]
    assert len(cf_warnings) >= 4
    assert {w.filename for w in cf_warnings} == {__file__}


def test_failure_cost_option_errors():
    with pytest.raises(ValueError, match="'failure_cost' option"):
        make_cf_scorer("l1", failure_cost=-1.0)
    with pytest.raises(ValueError, match="'failure_cost' option"):
        make_cf_scorer("l1", failure_cost="max")
    with pytest.raises(ValueError, match="'failure_cost' option"):
        make_cf_scorer("l1", failure_cost=np.inf)
    with pytest.raises(ValueError, match=r"'failure_cost' option.*\[0, 1\]"):
        make_cf_scorer("ynn", X_ref=np.zeros((3, 2)), failure_cost=2.0)
    with pytest.raises(ValueError, match="pass one of the two"):
        make_cf_scorer("l1", failure_cost=1.0, valid_only=True)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        make_cf_scorer("violations", failure_cost=1.0)
    assert "failure_cost=2.5" in repr(make_cf_scorer("l2", failure_cost=2.5))
