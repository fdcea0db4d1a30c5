"""GrowingSpheresGenerator: black-box models, constraints, determinism, sklearn API."""

import pickle
import time
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skcf.exceptions import ConstraintError, CounterfactualWarning
from skcf.generators._growing_spheres import (
    GrowingSpheresGenerator,
    _generator,
    _Search,
    _Space,
    _work_dtype,
)
from skcf.models import BlackBoxModel, DifferentiableModel
from skcf.utils._random import row_keys

FAST = dict(n_samples=200, random_state=0)


def make(estimator, **kw):
    return GrowingSpheresGenerator(estimator, **{**FAST, **kw})


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=400,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        class_sep=1.0,
        random_state=0,
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def models(data):
    X, y = data
    return {
        "forest": RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y),
        "boosting": GradientBoostingClassifier(n_estimators=50, random_state=0).fit(
            X, y
        ),
        "logistic": LogisticRegression().fit(X, y),
    }


@pytest.fixture(scope="module")
def constrained():
    """Numeric, integer and one-hot columns; the label depends on all of them."""
    rng = np.random.RandomState(0)
    n = 400
    num = rng.normal(size=(n, 3))
    count = rng.poisson(3.0, size=n).clip(0, 8).astype(float)
    cat = rng.randint(0, 3, size=n)
    onehot = np.eye(3)[cat]
    X = np.column_stack([num, count, onehot])
    score = num.sum(axis=1) + 0.5 * (count - 3) + np.array([-1.5, 0.0, 1.5])[cat]
    y = (score + 0.3 * rng.normal(size=n) > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
    return X, y, forest


# ------------------------------------------------------------------ validity
@pytest.mark.parametrize("name", ["forest", "boosting", "logistic"])
def test_valid_counterfactuals(name, data, models):
    X, _ = data
    model = models[name]
    gen = make(model).fit(X)
    kind = DifferentiableModel if name == "logistic" else BlackBoxModel
    assert isinstance(gen.model_, kind)
    queries = X[:50]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(queries)
    assert cf.validity >= 0.95
    pred = model.predict(cf.X_cf[cf.valid])
    assert_array_equal(pred, 1 - model.predict(queries[cf.valid]))  # really flipped
    assert_array_equal(cf.y_cf_pred[cf.valid], pred)
    assert np.isfinite(cf.X_cf).all()
    assert (cf.n_iter >= 1).all()
    assert_array_equal(cf.X_cf[~cf.valid], queries[~cf.valid])
    assert cf.X_cf.dtype == np.float64


def test_differentiable_float32_input(tabular, skorch_logits):
    X, _ = tabular  # float32
    gen = make(skorch_logits).fit(X)
    cf = gen.explain(X[:30])
    assert cf.X_cf.dtype == np.float32
    assert cf.validity >= 0.95
    assert_array_equal(
        skorch_logits.predict(cf.X_cf[cf.valid]),
        1 - skorch_logits.predict(X[:30][cf.valid]),
    )


def test_float32_network_on_float64_rows(tabular, skorch_logits):
    """Searched in the network's float32, returned exactly in float64."""
    X, _ = tabular
    X = X.astype(np.float64) + 1e-3 / 3  # values float32 cannot hold
    queries = X[:30]
    gen = make(skorch_logits, immutable=[0], batch_size=7).fit(X)
    cf = gen.explain(queries)
    assert cf.X_cf.dtype == np.float64
    assert cf.validity >= 0.95
    assert_array_equal(
        skorch_logits.predict(cf.X_cf[cf.valid].astype(np.float32)),
        1 - skorch_logits.predict(queries[cf.valid].astype(np.float32)),
    )
    # untouched coordinates are the factual's own float64 values, not their
    # float32 rounding (which would show as moves of ~1e-8)
    moved = np.abs(cf.X_cf - queries)
    assert not ((moved > 0) & (moved < 1e-5)).any()
    assert_array_equal(cf.X_cf[:, 0], queries[:, 0])
    assert (cf.l0[cf.valid] < X.shape[1]).all()
    # each row's draws are still its own: chunking and order change nothing
    perm = np.random.RandomState(0).permutation(30)
    again = make(skorch_logits, immutable=[0], batch_size=64).fit(X)
    assert_array_equal(again.transform(queries[perm]), cf.X_cf[perm])


def test_work_dtype():
    assert _work_dtype(np.float32, None) == np.float32
    assert _work_dtype(np.float64, None) == np.float64
    assert _work_dtype(np.float64, torch.float64) == np.float64
    assert _work_dtype(np.float64, torch.float32) == np.float32
    assert _work_dtype(np.float32, torch.float64) == np.float32


def test_points_are_drawn_along_movable_coordinates(data, models):
    """A coordinate a row cannot move (empty box) takes no share of the radius."""
    X, _ = data
    gen = make(models["logistic"], increase_only=[1], bounds={1: (None, 0.0)})
    gen.fit(X)
    x0 = X[:4].copy()
    x0[:2, 1] = 0.0  # at the upper bound of an increase-only feature: stuck
    x0[2:, 1] = -1.0
    space = _Space(gen.constraints_)
    cons = gen._engine_constraints("cpu", torch.float64)
    rngs = [_generator(k) for k in row_keys(x0, 0).tolist()]
    n = len(x0)
    search = _Search(
        gen,
        x0,
        np.zeros(n, int),
        np.ones(n, int),
        np.zeros(n, bool),
        rngs,
        cons,
        space,
        x0.dtype,
    )
    rows = np.arange(n)
    a0, a1 = np.full(n, 0.5), np.full(n, 1.0)
    space = search.space
    step = search._draw(rows, a0, a1) - x0[:, None, space.cols]
    stuck = np.flatnonzero(space.cols == 1)[0]
    assert (step[:2, :, stuck] == 0).all()
    assert (step[2:, :, stuck] > 0).any()
    norm = np.linalg.norm(step, axis=2)
    assert (norm >= 0.5 - 1e-9).all() and (norm <= 1.0 + 1e-9).all()
    # uniform in the volume of the layer of the row's own dimension
    k = np.array([space.cols.size - 1, space.cols.size])
    for rows_, dim in ((slice(0, 2), k[0]), (slice(2, 4), k[1])):
        inner = (norm[rows_] ** dim - 0.5**dim) / (1.0 - 0.5**dim)
        assert abs(inner.mean() - 0.5) < 0.05  # a uniform variable


def test_counterfactual_is_closest_enemy_of_a_layer(data, models):
    """Without sparsification, the distance is at most the outer radius reached."""
    X, _ = data
    gen = make(models["logistic"], feature_selection=False).fit(X)
    cf = gen.explain(X[:40])
    # shrinking never goes below eta / 2**30 and layers grow by eta (>= the final
    # halved eta): the distance is below (n_iter + 1) * eta_
    assert (cf.l2[cf.valid] <= (cf.n_iter[cf.valid] + 1) * gen.eta_ + 1e-9).all()


def test_tau_is_reached(data, models):
    X, _ = data
    model = models["logistic"]
    gen = make(model, tau=0.8).fit(X)
    cf = gen.explain(X[:30])
    assert cf.validity >= 0.95
    proba = model.predict_proba(cf.X_cf[cf.valid])
    target = 1 - model.predict(X[:30][cf.valid])
    assert (proba[np.arange(len(target)), target] >= 0.8).all()


# ------------------------------------------------------------ sparsification
def test_sparsify_reduces_l0(data, models):
    X, _ = data
    dense = make(models["forest"], feature_selection=False).fit(X).explain(X[:50])
    sparse = make(models["forest"], feature_selection=True).fit(X).explain(X[:50])
    assert_array_equal(sparse.valid, dense.valid)  # resets never lose validity
    both = sparse.valid
    assert (sparse.l0[both] <= dense.l0[both]).all()
    assert sparse.l0[both].mean() < dense.l0[both].mean()
    assert_array_equal(sparse.n_iter, dense.n_iter)  # same search, then selection


# --------------------------------------------------------------- constraints
def test_actionability_constraints_hold(constrained):
    X, _, forest = constrained
    gen = make(
        forest,
        immutable=[0],
        increase_only=[1],
        decrease_only=[2],
        integer=[3],
        categorical=[[4, 5, 6]],
        bounds={1: (None, 2.0), 3: (0, 8)},
    ).fit(X)
    queries = X[:60]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(queries)
    assert cf.validity >= 0.9
    Xc, v = cf.X_cf, cf.valid
    assert_array_equal(Xc[:, 0], queries[:, 0])  # immutable, bit for bit
    assert (Xc[:, 1] >= queries[:, 1]).all()  # increase only
    assert (Xc[:, 2] <= queries[:, 2]).all()  # decrease only
    assert (Xc[v, 1] <= 2.0).all()  # bound (the factual may lie above it)
    assert_array_equal(Xc[:, 3], np.round(Xc[:, 3]))  # integer
    assert ((Xc[:, 3] >= 0) & (Xc[:, 3] <= 8)).all()
    block = Xc[:, 4:]
    assert np.isin(block, (0.0, 1.0)).all() and (block.sum(axis=1) == 1).all()
    assert (cf.violations[v] == 0).all()
    # the search does use the integer and categorical columns
    changed = Xc[v] != queries[v]
    assert changed[:, 3].any() and changed[:, 4:].any()
    # a changed one-hot group always flips exactly one category (two columns)
    assert set(changed[:, 4:].sum(axis=1).tolist()) <= {0, 2}


def test_group_with_an_immutable_column_is_refused(constrained):
    # one column of a one-hot block cannot stay while the others move: an
    # error naming the group, not a silently frozen group (issue 11 item 6)
    X, _, forest = constrained
    with pytest.raises(ConstraintError, match=r"group \[4, 5, 6\]"):
        make(forest, categorical=[[4, 5, 6]], immutable=[4]).fit(X)
    queries = X[:20]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = (
            make(forest, categorical=[[4, 5, 6]], immutable=[4, 5, 6])
            .fit(X)
            .explain(queries)
        )
    assert_array_equal(cf.X_cf[:, 4:], queries[:, 4:])
    assert cf.validity >= 0.9


def test_snap_matches_engine_constraints(constrained):
    """The blockwise snapping used while sampling is Constraints.snap's rule."""
    X, _, forest = constrained
    gen = make(forest, integer=[3], categorical=[[4, 5, 6]], bounds="infer").fit(X)
    cons = gen._engine_constraints("cpu", torch.float64)
    space = _Space(gen.constraints_)
    rng = np.random.RandomState(1)
    x0 = X[:5]
    lo, hi = (t.numpy() for t in cons.row_bounds(torch.from_numpy(x0)))
    hi = hi.copy()
    hi[0, 5] = 0.0  # an option bounded at 0 must stay off
    points = x0[:, None, :] + 2 * rng.normal(size=(5, 40, X.shape[1]))
    points = np.clip(points, lo[:, None, :], hi[:, None, :])
    expected = cons.snap(
        torch.from_numpy(points.reshape(-1, X.shape[1])),
        torch.from_numpy(np.repeat(lo, 40, axis=0)),
        torch.from_numpy(np.repeat(hi, 40, axis=0)),
    ).numpy()
    z = points[:, :, space.cols].copy()
    got = space.snap(z, lo[:, None, space.cols], hi[:, None, space.cols])
    assert_array_equal(got.reshape(-1, space.cols.size), expected[:, space.cols])
    assert (got[0, :, 5] == 0).all()  # all features are free here


# ---------------------------------------------------------------- targets
@pytest.fixture(scope="module")
def three_classes():
    X, y = make_classification(
        n_samples=450,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=2,
    )
    X = StandardScaler().fit_transform(X)
    return X, y, RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)


def test_multiclass_int_target(three_classes):
    X, _, forest = three_classes
    queries = X[:45]
    gen = make(forest, target=2).fit(X)
    cf = gen.explain(queries)
    assert cf.validity >= 0.95
    assert (cf.y_cf_pred[cf.valid] == 2).all()
    assert (forest.predict(cf.X_cf[cf.valid]) == 2).all()
    already = forest.predict(queries) == 2
    assert already.any()
    assert_array_equal(cf.X_cf[already], queries[already])  # nothing to change
    assert cf.valid[already].all() and (cf.n_iter[already] == 0).all()


def test_multiclass_other_and_per_row_targets(three_classes):
    X, _, forest = three_classes
    queries = X[:45]
    gen = make(forest, target="other").fit(X)
    cf = gen.explain(queries)
    assert cf.validity >= 0.95
    assert (cf.y_cf_pred[cf.valid] != cf.y_pred[cf.valid]).all()
    assert (cf.target == "other").all()
    y0 = forest.predict(queries)
    per_row = np.empty(45, dtype=object)
    per_row[::2] = "other"
    per_row[1::2] = ((y0 + 1) % 3)[1::2]
    cf = gen.explain(queries, target=per_row)
    assert cf.validity >= 0.95
    odd = np.arange(45) % 2 == 1
    assert (cf.y_cf_pred[odd & cf.valid] == ((y0 + 1) % 3)[odd & cf.valid]).all()
    assert (cf.y_cf_pred[~odd & cf.valid] != y0[~odd & cf.valid]).all()


def test_opposite_needs_binary_model(three_classes):
    X, _, forest = three_classes
    with pytest.raises(ValueError, match="target='opposite' needs a binary model"):
        make(forest).fit(X)


# ------------------------------------------------------ failures are flagged
def test_rows_without_counterfactual_are_flagged(data, models):
    X, _ = data
    gen = make(models["forest"], eta=1e-6, max_layers=1).fit(X)
    queries = X[:20]
    with pytest.warns(CounterfactualWarning, match="20 of 20 rows"):
        cf = gen.explain(queries)
    assert not cf.valid.any()
    assert_array_equal(cf.X_cf, queries)
    assert_array_equal(cf.y_cf_pred, cf.y_pred)
    assert (cf.n_iter == 2).all()  # the initial ball and one layer
    with pytest.warns(CounterfactualWarning):
        assert_array_equal(gen.transform(queries), queries)


# -------------------------------------------------------------- determinism
@pytest.mark.parametrize("name", ["forest", "logistic"])
def test_deterministic_and_batch_size_invariant(name, data, models):
    X, _ = data
    queries = X[:40]
    one = make(models[name], batch_size=1).fit(X).explain(queries)
    many = make(models[name], batch_size=64).fit(X).explain(queries)
    assert_array_equal(one.X_cf, many.X_cf)
    assert_array_equal(one.n_iter, many.n_iter)
    again = make(models[name], batch_size=64).fit(X).explain(queries)
    assert_array_equal(again.X_cf, many.X_cf)
    other = make(models[name], random_state=1).fit(X).explain(queries)
    assert not np.array_equal(other.X_cf, many.X_cf)


def test_rows_do_not_depend_on_each_other(data, models):
    """Order and subset invariance: each row is seeded by its own values."""
    X, _ = data
    gen = make(models["forest"]).fit(X)
    queries = X[:30]
    full = gen.transform(queries)
    perm = np.random.RandomState(0).permutation(30)
    assert_array_equal(gen.transform(queries[perm]), full[perm])
    assert_array_equal(gen.transform(queries[7:8]), full[7:8])


def test_random_state_instance_advances(data, models):
    X, _ = data
    gen = make(models["forest"], random_state=np.random.RandomState(0)).fit(X)
    first, second = gen.transform(X[:10]), gen.transform(X[:10])
    assert not np.array_equal(first, second)


# ----------------------------------------------------------- sklearn surface
def test_default_eta(data, models):
    X, _ = data
    gen = GrowingSpheresGenerator(models["forest"], immutable=[0]).fit(X)
    Xm = X[:, 1:]
    expected = 0.1 * np.median(np.linalg.norm(Xm - Xm.mean(axis=0), axis=1))
    assert_allclose(gen.eta_, expected)
    assert GrowingSpheresGenerator(models["forest"], eta=0.3).fit(X).eta_ == 0.3


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_samples=0), "'n_samples' parameter"),
        (dict(eta=0.0), "'eta' parameter"),
        (dict(max_layers=0), "'max_layers' parameter"),
        (dict(feature_selection="yes"), "'feature_selection' parameter"),
    ],
)
def test_invalid_parameters(params, match, data, models):
    X, _ = data
    with pytest.raises(ValueError, match=match):
        GrowingSpheresGenerator(models["forest"], **params).fit(X)


def test_clone_and_pickle(data, models):
    X, _ = data
    gen = make(models["forest"], immutable=[1]).fit(X)
    twin = clone(gen)
    assert twin.get_params()["estimator"] is models["forest"]  # fitted: shared
    assert {k: v for k, v in twin.get_params().items() if k != "estimator"} == {
        k: v for k, v in gen.get_params().items() if k != "estimator"
    }
    restored = pickle.loads(pickle.dumps(gen))
    assert_array_equal(restored.transform(X[:10]), gen.transform(X[:10]))
    assert_array_equal(twin.fit(X).transform(X[:10]), gen.transform(X[:10]))


def test_unfitted_estimator_is_fitted_on_y(data):
    X, y = data
    gen = make(RandomForestClassifier(n_estimators=10, random_state=0)).fit(X, y)
    assert isinstance(gen.model_, BlackBoxModel)
    assert gen.explain(X[:10]).validity >= 0.9


def test_verbose_output(data, models, capsys):
    X, _ = data
    make(models["forest"], verbose=1).fit(X).explain(X[:5])
    assert "[GrowingSpheresGenerator] 5/5 valid" in capsys.readouterr().out
    make(models["forest"], verbose=2, batch_size=2).fit(X).explain(X[:5])
    assert "GrowingSpheresGenerator" in capsys.readouterr().err  # tqdm bar


# ------------------------------------------------------------------ timing
def test_timing_1000_rows_forest():
    """Printed, not asserted (run with -s): 1,000 rows x 13 features."""
    X, y = make_classification(
        n_samples=3000, n_features=13, n_informative=8, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    gen = GrowingSpheresGenerator(forest, n_samples=200, random_state=0).fit(X)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(X[:1000])
    elapsed = time.perf_counter() - start
    print(
        f"\nGrowingSpheres, RandomForest(20 trees), 1000 rows x 13 features, "
        f"n_samples=200: {elapsed:.2f} s, validity {cf.validity:.3f}, "
        f"mean l0 {cf.l0[cf.valid].mean():.2f}, mean layers {cf.n_iter.mean():.1f}"
    )
    assert cf.validity > 0.9
