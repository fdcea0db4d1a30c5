"""Generators end to end: validity, targets, sklearn integration, bad input."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skcf.exceptions import (
    ConstraintError,
    CounterfactualWarning,
    NotDifferentiableError,
)
from skcf.generators import (
    ECCoGenerator,
    ElasticNetGenerator,
    PGDGenerator,
    WachterGenerator,
)

FAST = {
    WachterGenerator: dict(max_iter=60, n_search_steps=3),
    ElasticNetGenerator: dict(max_iter=60, n_search_steps=4),
    PGDGenerator: dict(steps=20, n_radii=10),
    ECCoGenerator: dict(max_iter=60),
}
GENERATORS = list(FAST)


def make(cls, estimator, **kw):
    return cls(estimator, random_state=0, **{**FAST[cls], **kw})


@pytest.fixture(scope="module")
def queries(tabular, skorch_logits):
    X, _ = tabular
    return X[:60]


@pytest.mark.parametrize("cls", GENERATORS)
@pytest.mark.parametrize("net", ["skorch_logits", "skorch_softmax"])
def test_valid_counterfactuals_on_mlp(cls, net, tabular, queries, request):
    net = request.getfixturevalue(net)
    X, _ = tabular
    gen = make(cls, net).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(queries)
    assert cf.validity >= 0.95
    pred = net.predict(cf.X_cf[cf.valid])
    assert_array_equal(pred, 1 - net.predict(queries[cf.valid]))  # really flipped
    assert_array_equal(cf.y_cf_pred[cf.valid], pred)
    assert np.isfinite(cf.X_cf).all()
    assert (cf.n_iter > 0).all()
    assert_array_equal(cf.X_cf[~cf.valid], queries[~cf.valid])


def test_elastic_net_beta_trades_l2_for_sparsity(tabular, queries, skorch_logits):
    X, _ = tabular
    l1 = make(ElasticNetGenerator, skorch_logits, beta=1.0).fit(X).explain(queries)
    l2 = make(ElasticNetGenerator, skorch_logits, beta=0.0).fit(X).explain(queries)
    both = l1.valid & l2.valid
    assert l1.l0[both].mean() < l2.l0[both].mean()
    assert l1.l1[both].mean() <= l2.l1[both].mean() * 1.05


def test_confidence_margin_is_reached(tabular, queries, skorch_logits):
    X, _ = tabular
    gen = make(ElasticNetGenerator, skorch_logits, confidence=0.5).fit(X)
    cf = gen.explain(queries)
    z = gen.model_.logits(torch.as_tensor(cf.X_cf[cf.valid])).detach().numpy()
    t = gen._label_to_index(cf.target[cf.valid], "target")
    margin = z[np.arange(len(t)), t] - z[np.arange(len(t)), 1 - t]
    assert (margin >= 0.5 - 1e-4).all()


def test_fgsm_is_one_step(tabular, queries, skorch_logits):
    X, _ = tabular
    gen = PGDGenerator(skorch_logits, steps=1, min_eps=False, norm="linf", eps=1.5).fit(
        X
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(queries)
    assert cf.n_iter.max() <= 2  # one gradient step, plus looking at the result
    moved = cf.delta[cf.valid]
    assert_allclose(np.abs(moved).max(axis=1), 1.5, rtol=1e-5)  # ±eps per coordinate


@pytest.mark.parametrize("cls", GENERATORS)
def test_targets_on_multiclass(cls, multiclass):
    X, y, net = multiclass
    q = X[:30]
    gen = make(cls, net, target=2).fit(X)
    cf = gen.explain(q)
    assert (cf.y_cf_pred[cf.valid] == 2).all() and cf.validity >= 0.9
    other = make(cls, net, target="other").fit(X).explain(q)
    assert (other.y_cf_pred[other.valid] != other.y_pred[other.valid]).all()
    assert other.validity >= 0.9
    per_row = np.array([0, 1, 2] * 10, dtype=object)
    per_row[:3] = "other"
    rows = gen.explain(q, target=per_row)
    ok = rows.valid
    assert (rows.y_cf_pred[3:][ok[3:]] == per_row[3:][ok[3:]].astype(int)).all()
    assert (rows.y_cf_pred[:3][ok[:3]] != rows.y_pred[:3][ok[:3]]).all()
    with pytest.raises(ValueError, match="binary"):
        make(cls, net).fit(X)  # "opposite" on three classes


def test_rows_already_at_target_are_returned_unchanged(multiclass):
    X, y, net = multiclass
    gen = make(WachterGenerator, net, target=1).fit(X)
    q = X[net.predict(X) == 1][:5]
    cf = gen.explain(q)
    assert cf.valid.all() and (cf.l0 == 0).all()


def test_pipeline_scaler_then_generator(tabular):
    X, y = tabular
    X_raw = X * 4 + 10
    clf = LogisticRegression()
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("cf", WachterGenerator(clf, random_state=0, max_iter=50)),
        ]
    )
    X_cf = pipe.fit(X_raw, y).transform(X_raw[:20])
    fitted = pipe.named_steps["cf"].estimator_
    scaled = pipe.named_steps["scale"].transform(X_raw[:20])
    assert (fitted.predict(X_cf) != fitted.predict(scaled)).mean() >= 0.95


def test_counterfactuals_in_pipeline_input_units(tabular):
    """A model pipeline with a scaler yields CFs in raw units."""
    X, y = tabular
    X_raw = X * 4 + 10
    model = Pipeline([("s", StandardScaler()), ("lr", LogisticRegression())]).fit(
        X_raw, y
    )
    gen = WachterGenerator(model, random_state=0).fit(X_raw)
    cf = gen.explain(X_raw[:20])
    assert cf.validity == 1.0
    assert (model.predict(cf.X_cf) != model.predict(X_raw[:20])).all()
    assert np.abs(cf.X_cf).mean() > 5  # raw units, not standardised


def test_grid_search_with_frozen_net(tabular, skorch_logits):
    X, _ = tabular
    gen = make(WachterGenerator, FrozenEstimator(skorch_logits))
    search = GridSearchCV(gen, {"lam": [0.1, 1.0], "distance": ["l1", "l2"]}, cv=2)
    search.fit(X[:80])
    assert set(search.cv_results_["params"][0]) == {"lam", "distance"}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert 0 < search.best_score_ <= 1


def test_grid_search_fits_unfitted_model(tabular):
    X, y = tabular
    gen = WachterGenerator(LogisticRegression(), max_iter=30, random_state=0)
    search = GridSearchCV(gen, {"lam": [0.5, 2.0]}, cv=2).fit(X[:100], y[:100])
    assert search.best_estimator_.estimator_ is not None


def test_dataframe_in_dataframe_out(tabular, skorch_logits):
    pd = pytest.importorskip("pandas")
    X, _ = tabular
    cols = [f"f{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=cols)
    gen = make(
        WachterGenerator,
        LogisticRegression().fit(df, skorch_logits.predict(X)),
        immutable=["f0", "f1"],
        bounds={"f2": (-1.0, 1.0)},
    )
    gen.set_output(transform="pandas").fit(df)
    out = gen.transform(df.iloc[:20])
    assert isinstance(out, pd.DataFrame) and list(out.columns) == cols
    assert_array_equal(out["f0"], df["f0"].iloc[:20])
    frame = gen.explain(df.iloc[:20]).to_frame()
    assert {"valid", "l1", "y_cf_pred"} <= set(frame.columns)
    with pytest.raises(ConstraintError, match="unknown feature 'nope'"):
        clone(gen).set_params(immutable=["nope"]).fit(df)


@pytest.mark.parametrize("cls", GENERATORS)
def test_batch_size_invariance(cls, tabular, queries, skorch_logits):
    X, _ = tabular
    a = make(cls, skorch_logits, batch_size=1).fit(X).explain(queries[:12])
    b = make(cls, skorch_logits, batch_size=512).fit(X).explain(queries[:12])
    assert_array_equal(a.valid, b.valid)
    assert_allclose(a.X_cf, b.X_cf, atol=1e-4)


@pytest.mark.parametrize("cls", GENERATORS)
def test_deterministic_under_random_state(cls, tabular, queries, skorch_logits):
    X, _ = tabular
    kw = {"random_start": True} if cls is PGDGenerator else {}
    gen = make(cls, skorch_logits, **kw).fit(X)
    assert_array_equal(gen.transform(queries[:10]), gen.transform(queries[:10]))
    again = make(cls, skorch_logits, **kw).fit(X)
    assert_array_equal(gen.transform(queries[:10]), again.transform(queries[:10]))


@pytest.mark.parametrize("cls", GENERATORS)
def test_pickle_and_clone_round_trip(cls, tabular, queries, skorch_logits):
    X, _ = tabular
    gen = make(cls, skorch_logits).fit(X)
    loaded = pickle.loads(pickle.dumps(gen))
    assert_array_equal(loaded.transform(queries[:8]), gen.transform(queries[:8]))
    fresh = clone(gen)
    assert fresh.get_params()["random_state"] == 0
    assert not hasattr(fresh, "model_")


def test_user_net_is_not_modified(tabular, queries, skorch_logits):
    X, _ = tabular
    params = list(skorch_logits.module_.parameters())
    before = [p.detach().clone() for p in params]
    grads = [None if p.grad is None else p.grad.clone() for p in params]
    make(ElasticNetGenerator, skorch_logits).fit(X).transform(queries[:10])
    assert all(torch.equal(b, p) for b, p in zip(before, params))
    # input gradients come from autograd.grad: parameters collect no .grad
    for g, p in zip(grads, params):
        assert (g is None and p.grad is None) or torch.equal(g, p.grad)


def test_float32_is_preserved(tabular, skorch_logits):
    X, _ = tabular
    gen = make(WachterGenerator, skorch_logits).fit(X)
    assert gen.transform(X[:5].astype(np.float32)).dtype == np.float32
    assert gen.transform(X[:5].astype(np.float64)).dtype == np.float64


def test_impossible_rows_warn_once_and_are_not_valid(tabular, skorch_logits):
    X, _ = tabular
    gen = make(
        WachterGenerator,
        skorch_logits,
        immutable=list(range(1, 6)),
        bounds={0: (-0.01, 0.01)},
        max_iter=10,
        n_search_steps=1,
    ).fit(X)
    q = X[np.abs(X[:, 0]) < 0.01][:5] if (np.abs(X[:, 0]) < 0.01).any() else X[:5]
    with pytest.warns(CounterfactualWarning, match=r"\d+ of 5 rows") as record:
        cf = gen.explain(q)
    assert len([w for w in record if w.category is CounterfactualWarning]) == 1
    assert not cf.valid.all()
    assert_array_equal(cf.X_cf[~cf.valid], q[~cf.valid])
    assert (cf.y_cf_pred[~cf.valid] == cf.y_pred[~cf.valid]).all()


# ------------------------------------------------------------------ bad input
@pytest.fixture(scope="module")
def fitted(tabular, skorch_logits):
    return make(WachterGenerator, skorch_logits).fit(tabular[0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused(fitted, tabular, bad):
    X = tabular[0][:3].copy()
    X[1, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        fitted.transform(X)
    with pytest.raises(ValueError, match="NaN|infinity"):
        clone(fitted).fit(X)


def test_wrong_feature_count(fitted, tabular):
    with pytest.raises(ValueError, match="features"):
        fitted.transform(tabular[0][:3, :4])


def test_unfitted_use(skorch_logits, tabular):
    with pytest.raises(NotFittedError):
        WachterGenerator(skorch_logits).transform(tabular[0][:3])


def test_unknown_target(skorch_logits, tabular):
    X = tabular[0]
    with pytest.raises(ValueError, match="Unknown target 7.*classes are \\[0, 1\\]"):
        WachterGenerator(skorch_logits, target=7).fit(X)
    gen = make(WachterGenerator, skorch_logits).fit(X)
    with pytest.raises(ValueError, match="Unknown target 'cat'"):
        gen.explain(X[:2], target=["cat", 1])
    with pytest.raises(ValueError, match="shape"):
        gen.explain(X[:2], target=[1, 1, 1])


def test_black_box_model_to_gradient_generator(tabular):
    X, y = tabular
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(NotDifferentiableError, match="RandomForestClassifier"):
        WachterGenerator(forest).fit(X)


@pytest.mark.parametrize(
    "kw, match",
    [
        (
            dict(increase_only=[0], decrease_only=[0]),
            "both increase_only and decrease_only",
        ),
        (dict(bounds={0: (1.0, -1.0)}), "Empty bounds"),
        (dict(immutable=list(range(6))), "Every feature is immutable"),
        (dict(immutable=[9]), "feature index 9"),
        (dict(categorical=[[0, 1]]), "not one-hot"),
        (dict(categorical=[[0]]), "at least 2"),
        (dict(bounds={0: 3.0}), "pair"),
    ],
)
def test_contradictory_constraints(tabular, skorch_logits, kw, match):
    with pytest.raises(ConstraintError, match=match):
        WachterGenerator(skorch_logits, **kw).fit(tabular[0])


def test_invalid_parameter_value(tabular, skorch_logits):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(
        InvalidParameterError, match="'lam' parameter of WachterGenerator"
    ):
        WachterGenerator(skorch_logits, lam=-1).fit(tabular[0])


def test_unfitted_net_needs_y(tabular):
    from skorch import NeuralNetClassifier

    net = NeuralNetClassifier(
        torch.nn.Linear,
        module__in_features=6,
        module__out_features=2,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=2,
        train_split=None,
        verbose=0,
    )
    X, y = tabular
    with pytest.raises(ValueError, match="requires y"):
        WachterGenerator(net).fit(X)
    gen = WachterGenerator(net, max_iter=20).fit(X, y)
    assert not net.initialized_ if hasattr(net, "initialized_") else True
    assert gen.estimator_ is not net and gen.estimator_.initialized_


def test_clone_keeps_a_fitted_model(tabular, skorch_logits):
    """GridSearchCV works on a plain fitted net: clones share it, never refit it."""
    X, _ = tabular
    gen = make(WachterGenerator, skorch_logits)
    assert clone(gen).estimator is skorch_logits
    search = GridSearchCV(gen, {"lam": [0.5, 2.0]}, cv=2).fit(X[:60])
    assert search.best_estimator_.estimator_ is skorch_logits
    unfitted = WachterGenerator(LogisticRegression())
    assert clone(unfitted).estimator is not unfitted.estimator


def test_verbose_prints_summary_and_progress(tabular, skorch_logits, capsys):
    X, _ = tabular
    make(WachterGenerator, skorch_logits, verbose=1).fit(X).transform(X[:5])
    out = capsys.readouterr().out
    assert "[WachterGenerator]" in out and "/5 valid" in out
    make(WachterGenerator, skorch_logits, verbose=0).fit(X).transform(X[:5])
    assert capsys.readouterr().out == ""
    make(WachterGenerator, skorch_logits, verbose=2).fit(X).transform(X[:5])
    assert "WachterGenerator" in capsys.readouterr().err  # tqdm bar


def test_cuda_pickle_loads_on_cpu_with_warning(tabular, skorch_logits):
    """A model saved on a GPU loads on a CPU-only machine, with a DeviceWarning."""
    from skcf.exceptions import DeviceWarning

    X, _ = tabular
    gen = make(WachterGenerator, skorch_logits).fit(X)
    state = gen.model_.__getstate__()
    state["device"] = "cuda:0"
    model = type(gen.model_).__new__(type(gen.model_))
    if torch.cuda.is_available():
        pytest.skip("CUDA is available: nothing to map")
    with pytest.warns(DeviceWarning, match="loaded on the CPU"):
        model.__setstate__(state)
    assert model.device.type == "cpu"
    assert_allclose(model.predict_proba(X[:5]), gen.model_.predict_proba(X[:5]))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", GENERATORS)
def test_cpu_cuda_parity(cls, tabular, queries, skorch_logits):
    X, _ = tabular
    cpu = make(cls, skorch_logits, device="cpu").fit(X).explain(queries[:20])
    gpu = make(cls, skorch_logits, device="cuda").fit(X).explain(queries[:20])
    assert abs(cpu.validity - gpu.validity) <= 0.05
    both = cpu.valid & gpu.valid
    assert_allclose(cpu.X_cf[both], gpu.X_cf[both], atol=5e-2)
    assert next(skorch_logits.module_.parameters()).device.type == "cpu"


def test_ecco_goes_deeper_than_the_boundary_and_never_diverges(
    tabular, queries, skorch_logits
):
    X, _ = tabular
    wachter = make(WachterGenerator, skorch_logits).fit(X).explain(queries)
    ecco = make(ECCoGenerator, skorch_logits).fit(X).explain(queries)

    def p(cf):
        proba = skorch_logits.predict_proba(cf.X_cf)
        return proba[np.arange(len(cf)), cf.y_cf_pred.astype(int)]

    assert ecco.validity >= 0.95
    assert p(ecco)[ecco.valid].mean() > p(wachter)[wachter.valid].mean() + 0.1
    wild = make(ECCoGenerator, skorch_logits, lambda_energy=1e6, lr=1e3).fit(X)
    cf = wild.explain(queries[:10])
    assert np.isfinite(cf.X_cf).all()
    lo, hi = wild.constraints_["lower"], wild.constraints_["upper"]
    assert ((cf.X_cf >= lo - 1e-6) & (cf.X_cf <= hi + 1e-6)).all()


def test_ecco_refuses_unbounded_features(tabular, skorch_logits):
    with pytest.raises(ConstraintError, match="finite bounds"):
        ECCoGenerator(skorch_logits, bounds=None).fit(tabular[0])


def test_wachter_patience_ends_stalled_rounds_early():
    """``patience`` cuts failing rounds that only wait out ``max_iter``; the
    default (None) runs them in full, and every row stays valid."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = LogisticRegression().fit(X, y)
    full = WachterGenerator(clf, random_state=0).fit(X)
    cut = clone(full).set_params(patience=5).fit(X)
    a, b = full.explain(X[:50]), cut.explain(X[:50])
    assert a.validity == b.validity == 1.0
    assert b.n_iter.mean() < 0.5 * a.n_iter.mean()
    assert_array_equal(clf.predict(b.X_cf), 1 - clf.predict(X[:50]))
