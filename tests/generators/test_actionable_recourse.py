"""ActionableRecourseGenerator: exact MILP recourse (Ustun et al.) and AR-LIME."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

from skcf.exceptions import CounterfactualWarning
from skcf.generators import ActionableRecourseGenerator

MARGIN = 1e-3


# ------------------------------------------------------------ reference
def percentile(train, v):
    """Mid-rank empirical CDF as documented (independent re-implementation)."""
    n = len(train)
    values, counts = np.unique(train, return_counts=True)
    q = (np.cumsum(counts) - counts + 0.5 * counts) / n
    h = values[-1] - values[0] if len(values) > 1 else 1.0
    knots = np.r_[values[0] - h, values, values[-1] + h]
    return np.interp(v, knots, np.r_[0.25 / n, q, 1 - 0.25 / n])


def shift_cost(train, old, new, shift="log"):
    q_old, q_new = percentile(train, old), percentile(train, new)
    if shift == "linear":
        return abs(q_new - q_old)
    return abs(np.log((1 - q_new) / (1 - q_old)))


def brute_force(x0, choices, margin_of, cost_of):
    """Cheapest ``(max, total)`` or ``total`` action over every combination."""
    best = None
    for combo in itertools.product(*choices):
        x = np.array(combo, dtype=np.float64)
        if margin_of(x) < MARGIN:
            continue
        key = cost_of(x0, x)
        if best is None or key < best:
            best = key
    return best


def integer_data(n=240, d=3, seed=0, n_classes=2):
    """Integer features 0..5; for two classes ``x0 + x1 - x2 > 3`` plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 6, size=(n, d)).astype(np.float64)
    if n_classes == 2:
        score = X[:, 0] + X[:, 1] - X[:, 2] - 3 + rng.normal(0, 0.7, n)
        return X, (score > 0).astype(int)
    w = rng.normal(size=(d, n_classes))
    y = (X @ w + rng.normal(0, 0.7, size=(n, n_classes))).argmax(axis=1)
    return X, y


def explain(gen, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        return gen.explain(X, **kw)


# ------------------------------------------------------------- exactness
@pytest.mark.parametrize("cost", ["total", "max"])
@pytest.mark.parametrize("shift", ["log", "linear"])
def test_exact_against_brute_force(cost, shift):
    X, y = integer_data(d=3, seed=1)
    clf = LogisticRegression().fit(X, y)
    action = dict(immutable=[2], increase_only=[0], bounds={1: (1, 4)})
    gen = ActionableRecourseGenerator(clf, cost=cost, shift=shift, **action).fit(X)
    assert gen.surrogate_ == "linear"
    q = X[clf.predict(X) == 0][:25]
    cf = explain(gen, q)

    def choices(x0):
        return [
            [v for v in np.unique(X[:, 0]) if v >= x0[0]],
            # a factual outside the bounds must move into them
            [v for v in np.unique(X[:, 1]) if 1 <= v <= 4],
            [x0[2]],
        ]

    def cost_of(x0, x):
        per = [shift_cost(X[:, j], x0[j], x[j], shift) for j in range(3)]
        per = [c if x[j] != x0[j] else 0.0 for j, c in enumerate(per)]
        return (max(per), sum(per)) if cost == "max" else sum(per)

    def margin_of(x):
        return float(clf.decision_function(x[None])[0])

    n_feasible = 0
    for i, x0 in enumerate(q):
        best = brute_force(x0, choices(x0), margin_of, cost_of)
        if best is None:
            assert cf.infeasible[i] and not cf.valid[i]
            assert_array_equal(cf.X_cf[i], x0)
            assert np.isnan(cf.cost[i])
            continue
        n_feasible += 1
        assert cf.valid[i] and not cf.infeasible[i]
        got = cost_of(x0, cf.X_cf[i])
        assert_allclose(got, best, rtol=1e-7, atol=1e-9)
        assert margin_of(cf.X_cf[i]) >= MARGIN - 1e-9
        head = best[0] if cost == "max" else best
        assert_allclose(cf.cost[i], head, rtol=1e-7, atol=1e-9)
    assert n_feasible >= 10


def test_exact_with_a_onehot_group():
    rng = np.random.default_rng(3)
    n = 300
    num = rng.integers(0, 5, size=(n, 2)).astype(np.float64)
    cat = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    X = np.column_stack([num, np.eye(3)[cat]])
    score = num @ [0.8, -0.5] + np.array([-1.5, 0.0, 1.2])[cat]
    y = (score + rng.normal(0, 0.5, n) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    gen = ActionableRecourseGenerator(
        clf, categorical=[[2, 3, 4]], bounds={2: (0, 0)}, decrease_only=[1]
    ).fit(X)
    q = X[clf.predict(X) == 0][:25]
    cf = explain(gen, q)

    def choices(x0):
        # category 0 is closed: a factual in it must leave it
        cats = [tuple(np.eye(3)[k]) for k in (1, 2)]
        return [
            list(np.unique(X[:, 0])),
            [v for v in np.unique(X[:, 1]) if v <= x0[1]],
            cats,
        ]

    def flat(combo):
        return np.array([combo[0], combo[1], *combo[2]])

    def cost_of(x0, x):
        return sum(shift_cost(X[:, j], x0[j], x[j]) for j in range(5) if x[j] != x0[j])

    def margin_of(x):
        return float(clf.decision_function(x[None])[0])

    for i, x0 in enumerate(q):
        best = None
        for combo in itertools.product(*choices(x0)):
            x = flat(combo)
            if margin_of(x) >= MARGIN:
                c = cost_of(x0, x)
                best = c if best is None else min(best, c)
        if best is None:
            assert cf.infeasible[i] and not cf.valid[i]
            continue
        assert cf.valid[i]
        assert_allclose(cf.cost[i], best, rtol=1e-7, atol=1e-9)
        assert_allclose(cost_of(x0, cf.X_cf[i]), best, rtol=1e-7, atol=1e-9)
        block = cf.X_cf[i, 2:]
        assert set(block) <= {0.0, 1.0} and block.sum() == 1
        assert block[0] == 0  # never in the closed category


@pytest.mark.parametrize("target", [2, "other"])
def test_exact_multiclass(target):
    X, y = integer_data(d=3, seed=0, n_classes=3)
    clf = LogisticRegression().fit(X, y)
    gen = ActionableRecourseGenerator(clf, target=target, immutable=[1]).fit(X)
    q = X[clf.predict(X) != 2][:12] if target == 2 else X[:12]
    cf = explain(gen, q)
    grid = list(np.unique(X[:, 0])), list(np.unique(X[:, 2]))

    def cost_of(x0, x):
        return sum(shift_cost(X[:, j], x0[j], x[j]) for j in (0, 2) if x[j] != x0[j])

    for i, x0 in enumerate(q):
        y0 = clf.predict(x0[None])[0]
        classes = [target] if target == 2 else [k for k in range(3) if k != y0]
        best = None
        for t in classes:

            def margin_of(x, t=t):
                f = clf.decision_function(x[None])[0]
                return f[t] - np.delete(f, t).max()

            choice = [grid[0], [x0[1]], grid[1]]
            b = brute_force(x0, choice, margin_of, cost_of)
            if b is not None:
                best = b if best is None else min(best, b)
        if best is None:
            assert cf.infeasible[i] and not cf.valid[i]
        else:
            assert cf.valid[i]
            assert_allclose(cf.cost[i], best, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------ constraints
def test_constraints_honoured_on_continuous_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    X[:, 3] = np.round(X[:, 3] * 3)  # an integer feature
    X[:, 4:] = np.eye(2)[rng.integers(0, 2, 400)]  # a one-hot pair
    y = X @ [1.0, -1.0, 0.5, 0.3, -0.5, 0.5] + rng.normal(0, 0.3, 400) > 0
    clf = LogisticRegression().fit(X, y.astype(int))
    gen = ActionableRecourseGenerator(
        clf,
        immutable=[0],
        increase_only=[2],
        decrease_only=[1],
        bounds={1: (-1.0, None)},
        integer=[3],
        categorical=[[4, 5]],
        n_grid=20,
    ).fit(X)
    q = X[clf.predict(X) == 0][:40]
    cf = explain(gen, q)
    assert cf.validity > 0.5
    Xc = cf.X_cf
    assert_array_equal(Xc[:, 0], q[:, 0])
    assert (Xc[:, 2] >= q[:, 2]).all() and (Xc[:, 1] <= q[:, 1]).all()
    moved = Xc[:, 1] != q[:, 1]
    assert (Xc[moved, 1] >= -1.0).all()
    assert_array_equal(Xc[:, 3], np.round(Xc[:, 3]))
    assert_array_equal(Xc[:, 4:].sum(axis=1), 1.0)
    assert (cf.violations[cf.valid] == 0).all()
    assert_array_equal(clf.predict(Xc[cf.valid]), 1)
    # a moved continuous feature lands on a training quantile or a bound
    for j in (1, 2):
        grid = gen.grid_[j]
        ch = Xc[:, j] != q[:, j]
        assert np.isin(Xc[ch, j], np.r_[grid, -1.0]).all()
    assert len(gen.grid_[2]) <= 21


def test_infeasible_rows_are_a_result_not_an_error():
    X, y = integer_data(d=3, seed=1)
    clf = LogisticRegression().fit(X, y)
    gen = ActionableRecourseGenerator(clf, immutable=[0, 1], bounds={2: (0, 0)}).fit(X)
    q = X[clf.predict(X) == 0][:10]
    with pytest.warns(CounterfactualWarning, match="got no valid"):
        cf = gen.explain(q)
    margins = clf.decision_function(np.column_stack([q[:, :2], np.zeros(len(q))]))
    reachable = margins >= MARGIN  # feature 2 must move to 0, the rest stay
    assert_array_equal(cf.infeasible, ~reachable)
    assert_array_equal(cf.valid, reachable)
    assert not cf.valid[cf.infeasible].any()
    assert_array_equal(cf.X_cf[cf.infeasible], q[cf.infeasible])
    assert np.isnan(cf.cost[cf.infeasible]).all()
    assert cf.infeasible.any()
    assert (cf.n_iter[cf.infeasible] == 1).all()


def test_tau_raises_the_margin():
    X, y = integer_data(d=3, seed=1)
    clf = LogisticRegression().fit(X, y)
    q = X[clf.predict(X) == 0][:15]
    cf = explain(ActionableRecourseGenerator(clf, tau=0.8).fit(X), q)
    p = clf.predict_proba(cf.X_cf[cf.valid])[:, 1]
    assert (p >= 0.8).all() and cf.valid.any()


# -------------------------------------------------------------- linear models
class CoefOnly(ClassifierMixin, BaseEstimator):
    """A linear classifier known only by coef_, intercept_ and predict_proba."""

    def fit(self, X, y):
        lr = LogisticRegression().fit(X, y)
        self.coef_, self.intercept_, self.classes_ = (
            lr.coef_,
            lr.intercept_,
            lr.classes_,
        )
        return self

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)

    def predict_proba(self, X):
        z = np.asarray(X) @ self.coef_[0] + self.intercept_[0]
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1 - p, p])


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: LinearSVC().fit(X, y),
        lambda X, y: make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        lambda X, y: CoefOnly().fit(X, y),
    ],
    ids=["linear_svc", "scaled_pipeline", "coef_only"],
)
def test_linear_models_are_solved_exactly(make):
    X, y = integer_data(d=3, seed=2)
    model = make(X, y)
    gen = ActionableRecourseGenerator(model).fit(X)
    assert gen.surrogate_ == "linear"
    q = X[model.predict(X) == 0][:10]
    cf = explain(gen, q)
    assert cf.validity == 1.0
    assert_array_equal(model.predict(cf.X_cf), 1)


def test_torch_linear_module_is_linear_and_a_relu_net_is_not():
    X, y = integer_data(d=3, seed=2)
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2).double()
    assert ActionableRecourseGenerator(lin).fit(X).surrogate_ == "linear"
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)
    )
    assert ActionableRecourseGenerator(net).fit(X).surrogate_ == "lime"


# ------------------------------------------------------------------ AR-LIME
@pytest.fixture(scope="module")
def mlp_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] + X[:, 1] ** 2 - X[:, 2] > 0.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier((16,), max_iter=800, random_state=0).fit(X, y)
    return X, mlp


def test_ar_lime_on_an_mlp_is_rechecked_on_the_model(mlp_problem):
    X, mlp = mlp_problem
    q = X[mlp.predict(X) == 0][:25]
    gen = ActionableRecourseGenerator(mlp, immutable=[3], n_samples=300, random_state=0)
    gen.fit(X)
    assert gen.surrogate_ == "lime" and gen.coef_ is None
    cf = explain(gen, q)
    assert cf.validity >= 0.8
    assert_array_equal(mlp.predict(cf.X_cf[cf.valid]), 1)
    assert_array_equal(cf.X_cf[~cf.valid], q[~cf.valid])  # factuals returned
    assert_array_equal(cf.X_cf[:, 3], q[:, 3])
    assert (cf.n_iter >= 1).all()
    assert (cf.n_iter <= gen.max_candidates * (1 + gen.relinearize)).all()


def test_ar_lime_flipset_tries_more_actions(mlp_problem):
    X, mlp = mlp_problem
    q = X[mlp.predict(X) == 0][:25]
    one = ActionableRecourseGenerator(
        mlp,
        max_candidates=1,
        relinearize=0,
        margin=0.0,
        n_samples=300,
        random_state=0,
    ).fit(X)
    many = clone(one).set_params(max_candidates=8, enumeration="distinct_actions")
    a, b = explain(one, q), explain(many.fit(X), q)
    assert b.validity >= a.validity
    assert (a.n_iter <= 1).all() and b.n_iter.max() > 1


def test_ar_lime_relinearizes_rows_whose_flipset_ran_out():
    """A surrogate fitted at the factual misses a curved boundary; refitted
    around the nearest failed action it finds more of them. The first round
    is the paper's AR-LIME, unchanged."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    y = (np.sin(2 * X[:, 0]) + X[:, 1] > 1.0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier((32, 16), max_iter=1500, random_state=0).fit(X, y)
    q = X[mlp.predict(X) == 0][:40]
    params = dict(max_candidates=3, n_samples=300, random_state=0)
    paper = ActionableRecourseGenerator(mlp, relinearize=0, **params).fit(X)
    refit = ActionableRecourseGenerator(mlp, **params).fit(X)
    a, b = explain(paper, q), explain(refit, q)
    assert b.validity >= a.validity + 0.1
    assert_array_equal(b.X_cf[a.valid], a.X_cf[a.valid])
    assert_array_equal(mlp.predict(b.X_cf[b.valid]), 1)
    assert_array_equal(b.X_cf[~b.valid], q[~b.valid])
    assert (a.n_iter <= 3).all() and b.n_iter.max() > 3
    assert (b.n_iter <= 3 * (1 + refit.relinearize)).all()


def test_surrogate_linear_refuses_a_non_linear_model(mlp_problem):
    X, mlp = mlp_problem
    with pytest.raises(ValueError, match="not linear in its input.*surrogate='lime'"):
        ActionableRecourseGenerator(mlp, surrogate="linear").fit(X)


def test_determinism_and_batch_invariance(mlp_problem):
    X, mlp = mlp_problem
    q = X[mlp.predict(X) == 0][:12]
    params = dict(n_samples=200, random_state=3)
    a = explain(ActionableRecourseGenerator(mlp, **params).fit(X), q)
    b = explain(ActionableRecourseGenerator(mlp, batch_size=1, **params).fit(X), q)
    assert_array_equal(a.X_cf, b.X_cf)
    assert_array_equal(a.n_iter, b.n_iter)
    c = explain(ActionableRecourseGenerator(mlp, **params).fit(X), q[::-1])
    assert_array_equal(a.X_cf, c.X_cf[::-1])


def test_parallel_jobs_give_the_same_answer():
    from joblib import parallel_config

    X, y = integer_data(d=3, seed=1)
    clf = LogisticRegression().fit(X, y)
    q = X[clf.predict(X) == 0][:8]
    a = explain(ActionableRecourseGenerator(clf).fit(X), q)
    with parallel_config(backend="threading"):  # no process start-up in tests
        b = explain(ActionableRecourseGenerator(clf, n_jobs=2).fit(X), q)
    assert_array_equal(a.X_cf, b.X_cf)


# --------------------------------------------------------------- raw road
def make_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.integers(20, 31, n),
            "hours": rng.integers(30, 41, n),
            "job": pd.Categorical(rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])),
        },
        index=pd.RangeIndex(500, 500 + n),
    )
    score = 0.2 * (X["age"] - 25) + 0.3 * (X["hours"] - 35)
    score += X["job"].map({"a": -1.0, "b": 0.2, "c": 1.0}).astype(float)
    y = (score + rng.normal(0, 0.8, n) > 0).astype(int)
    return X, y


def prep():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "hours"]),
            ("cat", OneHotEncoder(), ["job"]),
        ]
    )


def test_raw_road_is_exact_in_original_units():
    X, y = make_frame()
    pipe = Pipeline([("prep", prep()), ("clf", LogisticRegression())]).fit(X, y)
    gen = ActionableRecourseGenerator(
        pipe, immutable=["age"], bounds={"job": ["a", "b"]}
    ).fit(X)
    assert gen.surrogate_ == "linear"
    q = X[pipe.predict(X) == 0].head(15)
    cf = explain(gen, q)
    out = cf.X_cf
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_index_equal(out.index, q.index)
    pd.testing.assert_series_equal(out.dtypes, q.dtypes)
    assert (out["age"] == q["age"]).all()
    moved = out["job"] != q["job"]
    assert out.loc[moved, "job"].isin(["a", "b"]).all()
    assert_array_equal(pipe.predict(out)[cf.valid], 1)
    onehot = pd.get_dummies(X["job"]).astype(float)

    def cost_of(row, new_hours, new_job):
        c = 0.0
        if new_hours != row["hours"]:
            c += shift_cost(X["hours"].to_numpy(), row["hours"], new_hours)
        if new_job != row["job"]:
            for cat in (row["job"], new_job):
                col = onehot[cat].to_numpy()
                c += shift_cost(
                    col,
                    1.0 if cat == row["job"] else 0.0,
                    0.0 if cat == row["job"] else 1.0,
                )
        return c

    for i, (_, row) in enumerate(q.iterrows()):
        jobs = ["a", "b"]  # "c" is closed: a factual in it must leave it
        cands = pd.DataFrame(
            [(row["age"], h, j) for h in sorted(X["hours"].unique()) for j in jobs],
            columns=list(X.columns),
        ).astype(X.dtypes.to_dict())
        ok = pipe.decision_function(cands) >= MARGIN
        costs = [cost_of(row, h, j) for h, j in zip(cands["hours"], cands["job"])]
        if not ok.any():
            assert cf.infeasible[i]
            continue
        best = min(c for c, good in zip(costs, ok) if good)
        assert cf.valid[i]
        assert_allclose(cf.cost[i], best, rtol=1e-7, atol=1e-9)


def test_raw_road_with_an_mlp_pipeline():
    X, y = make_frame(seed=1)
    mlp = MLPClassifier((8,), max_iter=1000, random_state=0)
    pipe = Pipeline([("prep", prep()), ("clf", mlp)]).fit(X, y)
    gen = ActionableRecourseGenerator(
        pipe, increase_only=["age"], n_samples=200, random_state=0
    ).fit(X)
    assert gen.surrogate_ == "lime"
    q = X[pipe.predict(X) == 0].head(15)
    cf = explain(gen, q)
    assert cf.validity >= 0.7
    assert_array_equal(pipe.predict(cf.X_cf)[cf.valid], 1)
    assert (cf.X_cf["age"] >= q["age"]).all()
    pd.testing.assert_frame_equal(cf.X_cf[~cf.valid], q[~cf.valid])
    assert list(gen.get_feature_names_out()) == list(X.columns)


# ------------------------------------------------------------------ errors
def test_clear_errors_on_bad_input():
    X, y = integer_data(d=3, seed=1)
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(
        ValueError, match="'cost' parameter of ActionableRecourseGenerator must be"
    ):
        ActionableRecourseGenerator(clf, cost="median").fit(X)
    with pytest.raises(ValueError, match="'n_grid' parameter"):
        ActionableRecourseGenerator(clf, n_grid=0).fit(X)
    with pytest.raises(NotFittedError):
        ActionableRecourseGenerator(clf).transform(X)
    gen = ActionableRecourseGenerator(clf).fit(X)
    with pytest.raises(ValueError, match="3 features"):
        gen.transform(X[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        gen.transform(np.full((1, 3), np.nan))
