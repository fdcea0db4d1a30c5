"""Never report a lie (issue 11): the reproducers of the reliability audit as
regression tests, and property tests over random affine feature scales and
random constraint sets judged on the returned values by the user's own model
and by an independent check of the constraints written here."""

import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcf.exceptions import ConstraintError, CounterfactualWarning
from skcf.generators import (
    ElasticNetGenerator,
    GrowingSpheresGenerator,
    PGDGenerator,
    WachterGenerator,
)

GENERATORS = [WachterGenerator, ElasticNetGenerator, GrowingSpheresGenerator]


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        return fn(*args, **kwargs)


def _offset_data(offset, n=600, seed=0):
    Z = np.random.default_rng(seed).normal(size=(n, 4))
    y = (Z[:, 0] + Z[:, 1] - Z[:, 2] > 0).astype(int)
    return Z + offset * np.array([1.2345, 0.5, 3e-5, 7.7]), y


# ------------------------------------------------------------ item 1: lies
@pytest.mark.parametrize("Generator", GENERATORS + [PGDGenerator])
def test_issue_reproducer_scaler_pipeline_never_lies(Generator):
    X, y = _offset_data(1e5, n=2000)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    kwargs = {"max_iter": 50} if Generator is ElasticNetGenerator else {}
    cf = _quiet(Generator(pipe, random_state=0, **kwargs).fit(X).explain, X[:300])
    flipped = pipe.predict(cf.X_cf) != pipe.predict(X[:300])
    assert cf.valid.mean() > 0.5
    assert_array_equal(flipped, cf.valid)  # valid exactly where the pipe flips


def _independent_breaches(X, X_cf, spec):
    """Constraint breaches counted here, in float64, on the returned values."""
    Xf, Cf = np.asarray(X, np.float64), np.asarray(X_cf, np.float64)
    bad = np.zeros(len(X), dtype=int)
    for j in spec["immutable"]:
        bad += Cf[:, j] != Xf[:, j]
    for j in spec["increase_only"]:
        bad += Cf[:, j] < Xf[:, j]
    for j in spec["decrease_only"]:
        bad += Cf[:, j] > Xf[:, j]
    for j, (lo, hi) in spec["bounds"].items():
        bad += (Cf[:, j] < lo) | (Cf[:, j] > hi)
    for j in spec["integer"]:
        bad += Cf[:, j] != np.round(Cf[:, j])
    return bad


def _random_spec(rng, X):
    """A random constraint set on the 4 features of ``X`` (feature 3 integer)."""
    perm = rng.permutation(3)  # feature 3 stays free: some search room is left
    spec = {"immutable": [], "increase_only": [], "decrease_only": [], "bounds": {}}
    roles = rng.choice(["free", "immutable", "increase", "decrease"], size=2)
    for j, role in zip(perm[:2], roles):
        if role == "immutable":
            spec["immutable"].append(int(j))
        elif role == "increase":
            spec["increase_only"].append(int(j))
        elif role == "decrease":
            spec["decrease_only"].append(int(j))
    j = int(perm[2])
    lo, hi = np.quantile(X[:, j], [0.05, 0.95])
    spec["bounds"][j] = (float(lo), float(hi))
    spec["integer"] = [3] if rng.random() < 0.5 else []
    return spec


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("road", ["raw", "encoded"])
def test_property_no_lie_and_no_breach_at_any_affine_scale(seed, road):
    """Random affine scales (offsets up to 1e9, spreads 1e-3..1e3), random
    constraint sets: every row called valid is flipped by the user's own model
    on the returned values and breaks nothing, checked independently."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(500, 4))
    y = (Z[:, 0] + Z[:, 1] - Z[:, 2] + 0.5 * Z[:, 3] > 0).astype(int)
    offset = 10.0 ** rng.uniform(0, 9, size=4) * rng.choice([-1, 1], size=4)
    spread = 10.0 ** rng.uniform(-3, 3, size=4)
    spread[3] = max(spread[3], 3.0)  # an integer column has integers to move on
    X = Z * spread + offset
    X[:, 3] = np.round(X[:, 3])  # an integer column (counts, years, cents)
    if road == "raw":
        model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    else:  # the model takes the raw values itself
        model = LogisticRegression(max_iter=2000).fit((X - X.mean(0)) / X.std(0), y)
        mu, sd = X.mean(0), X.std(0)
        model.coef_ = model.coef_ / sd
        model.intercept_ = model.intercept_ - model.coef_ @ mu
    spec = _random_spec(rng, X)
    queries = X[:40]
    rates = []
    for Generator in GENERATORS:
        gen = Generator(model, random_state=seed, **spec)
        cf = _quiet(gen.fit(X).explain, queries)
        X_cf = np.asarray(cf.X_cf)
        flipped = model.predict(X_cf) != model.predict(queries)
        assert not (cf.valid & ~flipped).any(), (Generator.__name__, offset)
        breaches = _independent_breaches(queries, X_cf, spec)
        assert not (cf.valid & (breaches > 0)).any(), (Generator.__name__, offset)
        assert_array_equal(X_cf[~cf.valid], queries[~cf.valid])
        assert np.isfinite(X_cf).all()
        rates.append(cf.valid.mean())
    assert np.mean(rates) >= 0.5  # the property is not vacuous


# ------------------------------------------------- item 2: fixed tolerances
def _line_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)) + [1e5, 0.0]
    y = (X[:, 0] - 1e5 + X[:, 1] > 0).astype(int)
    return X, LogisticRegression().fit(X, y)


@pytest.mark.parametrize(
    "kwargs, query",
    [
        ({"increase_only": [0], "bounds": {0: (None, 1e5)}}, [[100000.9, -3.0]]),
        ({"immutable": [0]}, [[100000.5, -3.0]]),
        ({"integer": [0]}, [[100000.5, -3.0]]),
    ],
)
def test_issue_reproducer_no_breach_forgiven_in_proportion_to_the_value(kwargs, query):
    X, clf = _line_model()
    gen = WachterGenerator(clf, **kwargs).fit(X)
    cf = _quiet(gen.explain, query)
    X_cf = np.asarray(cf.X_cf)
    if "increase_only" in kwargs:  # the factual breaks the bound and cannot fix it
        assert not cf.valid[0] and cf.violations[0] >= 1
    if "immutable" in kwargs:
        assert X_cf[0, 0] == query[0][0]
    if "integer" in kwargs and cf.valid[0]:
        assert X_cf[0, 0] == np.round(X_cf[0, 0])


def test_float32_network_results_are_exact_on_float64_rows():
    # a float32 network on float64 rows: the values it leaves on a bound or an
    # integer must come back exactly there, in float64 (items 2 and 8)
    torch.manual_seed(0)
    X, clf = _line_model()
    net = torch.nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
        net.bias.copy_(torch.tensor([0.0, -1e5]))
    queries = X[:30] - [0.0, 2.0]
    queries[:, 0] = np.round(queries[:, 0]) + 0.25
    gen = WachterGenerator(
        net, integer=[0], increase_only=[1], bounds={1: (None, 0.731)}
    )
    cf = _quiet(gen.fit(X).explain, queries)
    X_cf = np.asarray(cf.X_cf)
    assert cf.valid.any()
    ok = cf.valid
    assert_array_equal(X_cf[ok, 0], np.round(X_cf[ok, 0]))
    assert (X_cf[ok, 1] <= 0.731).all() and (X_cf[ok, 1] >= queries[ok, 1]).all()


# -------------------------------------------------- item 3: non-finite output
class _NaNOnSomeRows(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x):
        out = self.linear(x)
        return torch.where(x[:, 1:2] > 1.0, torch.full_like(out, float("nan")), out)


@pytest.mark.parametrize("Generator", GENERATORS)
def test_non_finite_predictions_are_never_valid_and_invent_no_class(Generator):
    torch.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(200, 3))
    gen = Generator(_NaNOnSomeRows(), random_state=0).fit(X)
    with pytest.warns(CounterfactualWarning, match="not finite"):
        cf = gen.explain(X[:60])
    nan_rows = X[:60, 1] > 1.0
    assert nan_rows.any()
    assert not cf.valid[nan_rows].any()
    assert all(v is None for v in cf.y_pred[nan_rows])
    assert all(v is not None for v in cf.y_pred[~nan_rows])
    # counterfactuals of finite rows are never judged on a NaN either
    X_cf = np.asarray(cf.X_cf)
    assert not (cf.valid & (X_cf[:, 1] > 1.0)).any()
    assert_array_equal(X_cf[nan_rows], X[:60][nan_rows])


# ---------------------------------------------------- item 5: memory layouts
@pytest.mark.parametrize("Generator", GENERATORS)
def test_negative_strides_and_read_only_rows(Generator):
    X, clf = _line_model()
    gen = Generator(clf, random_state=0).fit(X[::-1])
    flipped = np.flip(X[:20], axis=0)
    frozen = X[:20].copy()
    frozen.setflags(write=False)
    a = _quiet(gen.explain, flipped)
    b = _quiet(gen.explain, np.ascontiguousarray(flipped))
    assert_array_equal(np.asarray(a.X_cf), np.asarray(b.X_cf))
    assert _quiet(gen.explain, frozen).valid.any()
    assert _quiet(gen.explain, X[:40:2]).valid.any()


# --------------------------------------------------- item 6: silent accepts
def _onehot_data():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(120, 2)), np.eye(3)[np.arange(120) % 3]]
    y = (X[:, 0] + X[:, 3] > 0.3).astype(int)
    return X, LogisticRegression().fit(X, y)


def test_nan_bound_is_refused():
    X, clf = _line_model()
    with pytest.raises(ConstraintError, match="NaN"):
        WachterGenerator(clf, bounds={0: (np.nan, 1.0)}).fit(X)


def test_inferred_bounds_need_more_than_one_row():
    X, clf = _line_model()
    with pytest.raises(ValueError, match="1 sample"):
        WachterGenerator(clf).fit(X[:1])
    WachterGenerator(clf, bounds=None).fit(X[:1])  # explicit: no bounds learned


def test_factual_that_is_not_one_hot_is_refused():
    X, clf = _onehot_data()
    gen = WachterGenerator(clf, categorical=[[2, 3, 4]]).fit(X)
    for broken in ([0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.5, 0.5, 0.0]):
        Xb = X[:3].copy()
        Xb[1, 2:] = broken
        with pytest.raises(ValueError, match=r"row\(s\) of X \(first: \[1\]\)"):
            gen.explain(Xb)
    # an immutable group is never moved, so any value in it is accepted as is
    frozen = WachterGenerator(clf, categorical=[[2, 3, 4]], immutable=[2, 3, 4])
    Xb = X[:3].copy()
    Xb[1, 2:] = 0.0
    cf = _quiet(frozen.fit(X).explain, Xb)
    assert_array_equal(np.asarray(cf.X_cf)[:, 2:], Xb[:, 2:])


def test_immutable_column_inside_a_group_is_refused():
    X, clf = _onehot_data()
    with pytest.raises(ConstraintError, match="whole group"):
        WachterGenerator(clf, categorical=[[2, 3, 4]], immutable=[3]).fit(X)


# ---------------------------------------------- item 9: first-contact errors
def test_wrong_feature_count_names_the_expected_count():
    X, _ = _line_model()
    with pytest.raises(ValueError, match="takes 5"):
        WachterGenerator(torch.nn.Sequential(torch.nn.Linear(5, 2))).fit(X)
    clf = LogisticRegression().fit(np.c_[X, X], np.arange(len(X)) % 2)
    with pytest.raises(ValueError, match="model LogisticRegression takes 4"):
        WachterGenerator(clf).fit(X)


def test_failure_warning_points_at_the_callers_line():
    X, clf = _line_model()
    gen = WachterGenerator(clf, max_iter=1, n_search_steps=1).fit(X)
    with pytest.warns(CounterfactualWarning) as record:
        gen.explain(X[:20])
    assert record[0].filename == __file__


# ---------------------------- item 10a: a row the search finds, explain rejects
def test_rejected_row_comes_back_as_its_factual():
    # feature 0 may only grow but must end inside (-1, 1): from 2.0 no point is
    # allowed, so the search's point breaks the bound and explain must refuse
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    clf = LogisticRegression().fit(X, (X[:, 0] + X[:, 1] > 0).astype(int))
    gen = WachterGenerator(clf, increase_only=[0], bounds={0: (-1, 1)}).fit(X)
    queries = np.array([[2.0, -3.0], [-0.5, -0.4], [0.2, -0.9]])
    cf = _quiet(gen.explain, queries)
    X_cf = np.asarray(cf.X_cf)
    assert not cf.valid[0] and cf.violations[0] >= 1
    assert_array_equal(X_cf[0], queries[0])
    assert cf.valid[1:].all()
    assert_array_equal(X_cf[~cf.valid], queries[~cf.valid])


# ------------------------------------------- item 7: the batch guarantee
@pytest.mark.parametrize("Generator", [WachterGenerator, ElasticNetGenerator])
def test_batch_size_changes_values_by_float_rounding_only(Generator):
    """The documented guarantee: batch_size changes values by float rounding
    (float32 networks: within 1e-5 of the feature scale), never validity or
    constraints; Growing Spheres and float64 linear models are bit-equal."""
    X, y = _offset_data(0.0, n=400)
    mlp = MLPClassifier((16,), max_iter=300, random_state=0).fit(X, y)
    results = []
    for batch_size in (7, 1000):
        gen = Generator(mlp, batch_size=batch_size, random_state=0).fit(X)
        results.append(_quiet(gen.explain, X[:60]))
    a, b = results
    assert_array_equal(a.valid, b.valid)
    assert_array_equal(a.violations, b.violations)
    np.testing.assert_allclose(a.X_cf, b.X_cf, atol=1e-5 * X.std())


# ------------------------------------------ item 8: integers off by float error
def test_latent_search_returns_exact_integers():
    from skcf.generators import LatentSearchGenerator

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    X[:, 0] = np.round(X[:, 0] * 10 + 44)
    y = (X[:, 1] + X[:, 2] + 0.1 * (X[:, 0] - 44) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    gen = LatentSearchGenerator(clf, integer=[0], random_state=0).fit(X)
    cf = _quiet(gen.explain, X[:50])
    X_cf = np.asarray(cf.X_cf)
    changed = cf.valid & (X_cf[:, 0] != X[:50, 0])
    assert changed.any()
    assert_array_equal(X_cf[changed, 0], np.round(X_cf[changed, 0]))


# ------------------------------------ issue 10 item 3: memory bounded by chunks
def test_post_processing_runs_in_chunks(monkeypatch):
    """The user's model judges, and the constraints are checked, chunk by
    chunk: no step of explain holds all rows' intermediates at once."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9000, 3))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    seen = []
    real = clf.predict_proba

    def spy(Z):
        seen.append(len(Z))
        return real(Z)

    gen = WachterGenerator(clf, max_iter=3, n_search_steps=1, batch_size=64).fit(X)
    monkeypatch.setattr(clf, "predict_proba", spy)
    cf = _quiet(gen.explain, X)
    assert len(cf.valid) == len(X)
    assert seen and max(seen) <= 4096 < len(X)


@pytest.mark.parametrize("grad_mode", [torch.no_grad, torch.inference_mode])
@pytest.mark.parametrize("Generator", GENERATORS + [PGDGenerator])
@pytest.mark.parametrize("plain", [True, False], ids=["torch-mlp", "sklearn-mlp"])
def test_explain_under_the_callers_grad_mode(Generator, grad_mode, plain):
    """A serving framework's no_grad / inference_mode around the call: the
    same counterfactuals (autograd path and hand-written path alike)."""
    from skcf.models import MLP

    X, y = _offset_data(0.0, n=300)
    if plain:
        torch.manual_seed(0)
        model = MLP(4, hidden=(8,))
    else:
        model = MLPClassifier((8,), max_iter=300, random_state=0).fit(X, y)
    kwargs = (
        {"max_iter": 30} if Generator in (WachterGenerator, ElasticNetGenerator) else {}
    )
    gen = _quiet(Generator(model, random_state=0, **kwargs).fit, X)
    ref = _quiet(gen.explain, X[:5])
    with grad_mode():
        got = _quiet(gen.explain, X[:5])
    assert_array_equal(np.asarray(got.X_cf), np.asarray(ref.X_cf))
    assert_array_equal(got.valid, ref.valid)
