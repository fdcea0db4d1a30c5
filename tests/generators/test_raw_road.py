"""The raw-data road: raw DataFrames through the user's own fitted pipeline."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from skorch import NeuralNetClassifier

from skcf.datasets import load_german_credit
from skcf.density import Autoencoder, VariationalAutoencoder
from skcf.exceptions import (
    ConstraintError,
    CounterfactualWarning,
    NotDifferentiableError,
)
from skcf.generators import (
    ECCoGenerator,
    ElasticNetGenerator,
    GrowingSpheresGenerator,
    LatentSearchGenerator,
    PGDGenerator,
    ProtoGenerator,
    REVISEGenerator,
    SCFEGenerator,
    StableNeighborSearch,
    WachterGenerator,
)
from skcf.metrics import make_cf_scorer
from skcf.models import MLP

EDUCATION = ["basic", "highschool", "college", "master"]


def make_frame(n=400, seed=0):
    """A small credit-like frame: ints, floats, strings, ordered category, bool."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 70, n)
    income = rng.gamma(4.0, 900.0, n).round(2)
    duration = rng.integers(4, 60, n)
    housing = rng.choice(["own", "rent", "free"], n, p=[0.6, 0.3, 0.1])
    job = rng.choice(["clerk", "manager", "worker", "none"], n, p=[0.4, 0.2, 0.3, 0.1])
    edu = rng.choice(EDUCATION, n, p=[0.3, 0.4, 0.2, 0.1])
    has_car = rng.random(n) < 0.4
    score = (
        0.002 * income
        - 0.08 * duration
        + 0.03 * (age - 40)
        + np.where(housing == "own", 1.0, -0.5)
        + np.array([EDUCATION.index(e) for e in edu]) * 0.8
        + has_car * 0.5
        + rng.normal(0, 0.7, n)
    )
    X = pd.DataFrame(
        {
            "age": age,
            "income": income,
            "duration": duration,
            "housing": housing,
            "job": pd.Categorical(job),
            "education": pd.Categorical(edu, categories=EDUCATION, ordered=True),
            "has_car": has_car,
        },
        index=pd.RangeIndex(1000, 1000 + n),
    )
    y = (score > np.median(score)).astype(int)
    return X, y


NUMERIC = ["age", "income", "duration"]
CATEGORICAL = ["housing", "job", "education"]
ACTION = dict(
    immutable=["job"],
    increase_only=["age", "education"],
    bounds={"housing": ["own", "rent"]},
)


def prep():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ],
        remainder="passthrough",
    )


@pytest.fixture(scope="module")
def frame():
    return make_frame()


@pytest.fixture(scope="module")
def lr_pipe(frame):
    X, y = frame
    return Pipeline([("prep", prep()), ("clf", LogisticRegression(max_iter=500))]).fit(
        X, y
    )


@pytest.fixture(scope="module")
def mlp_pipe(frame):
    X, y = frame
    clf = MLPClassifier((16,), max_iter=400, random_state=0)
    return Pipeline([("prep", prep()), ("clf", clf)]).fit(X, y)


@pytest.fixture(scope="module")
def hgb_pipe(frame):
    X, y = frame
    clf = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    return Pipeline([("prep", prep()), ("clf", clf)]).fit(X, y)


def queries(pipe, X, n=30):
    return X[pipe.predict(X) == 0].head(n)


FAST = {
    WachterGenerator: dict(max_iter=60, n_search_steps=3),
    ElasticNetGenerator: dict(max_iter=60, n_search_steps=4),
    PGDGenerator: dict(steps=20, n_radii=10),
    ECCoGenerator: dict(max_iter=60),
    SCFEGenerator: dict(max_iter=60, n_search_steps=3, density="knn"),
    ProtoGenerator: dict(max_iter=60, n_search_steps=2),
    GrowingSpheresGenerator: dict(n_samples=200, max_layers=30),
    REVISEGenerator: dict(
        max_iter=60,
        n_search_steps=2,
        vae=VariationalAutoencoder(
            hidden=(16,), latent_dim=4, max_epochs=10, random_state=0
        ),
    ),
    LatentSearchGenerator: dict(
        n_samples=64,
        max_rounds=6,
        autoencoder=Autoencoder(
            hidden=(16,), latent_dim=4, max_epochs=10, random_state=0
        ),
    ),
}


def check_returned(cf, q, pipe, X_train):
    """Everything the raw road promises, judged on the returned DataFrame."""
    out = cf.X_cf
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_index_equal(out.index, q.index)
    assert list(out.columns) == list(q.columns)
    pd.testing.assert_series_equal(out.dtypes, q.dtypes)
    # validity by the user's own pipeline, on the values we return
    valid = cf.valid
    assert_array_equal(pipe.predict(out)[valid], 1)
    assert_array_equal(cf.y_cf_pred[valid], pipe.predict(out)[valid])
    # invalid rows are the factuals, bit for bit
    pd.testing.assert_frame_equal(out[~valid], q[~valid])
    # constraints by column name, in original units
    assert (out["job"] == q["job"]).all()
    assert (out["age"] >= q["age"]).all()
    codes_cf = out["education"].cat.codes.to_numpy()
    assert (codes_cf >= q["education"].cat.codes.to_numpy()).all()
    moved = out["housing"] != q["housing"]
    assert out.loc[moved, "housing"].isin(["own", "rent"]).all()
    for col in ("housing",):
        assert set(out[col]) <= set(X_train[col])
    for col in ("age", "duration"):
        assert (out[col] == np.round(out[col])).all()
    assert (cf.violations[valid] == 0).all()


ALL = [*FAST, StableNeighborSearch]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_generator_through_a_column_transformer(cls, frame, mlp_pipe):
    X, y = frame
    q = queries(mlp_pipe, X)
    if cls is StableNeighborSearch:
        inner = ElasticNetGenerator(
            mlp_pipe, random_state=0, **FAST[ElasticNetGenerator], **ACTION
        )
        gen = cls(inner, steps=10, random_state=0)
    elif cls is ECCoGenerator:  # the energy term needs every feature bounded
        box = {"age": (18, 90), "income": (0, 2e4), "duration": (1, 72)}
        bounds = {**ACTION["bounds"], **box, "has_car": (0, 1)}
        gen = cls(mlp_pipe, random_state=0, **FAST[cls], **{**ACTION, "bounds": bounds})
    else:
        gen = cls(mlp_pipe, random_state=0, **FAST[cls], **ACTION)
    gen.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    assert cf.validity >= 0.8, cf.validity
    check_returned(cf, q, mlp_pipe, X)
    assert list(gen.get_feature_names_out()) == list(X.columns)
    # transform is explain's X_cf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        pd.testing.assert_frame_equal(gen.transform(q), cf.X_cf)


def test_gradient_free_on_a_boosted_pipeline(frame, hgb_pipe):
    X, y = frame
    q = queries(hgb_pipe, X)
    gen = GrowingSpheresGenerator(hgb_pipe, random_state=0, **ACTION).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    assert cf.validity >= 0.9
    check_returned(cf, q, hgb_pipe, X)


def test_gradient_generator_refuses_a_boosted_pipeline(frame, hgb_pipe):
    X, _ = frame
    with pytest.raises(NotDifferentiableError, match="GrowingSpheresGenerator"):
        WachterGenerator(hgb_pipe).fit(X)


def test_unsupported_step_names_the_step(frame):
    X, y = frame
    ct = ColumnTransformer(
        [
            (
                "bins",
                KBinsDiscretizer(n_bins=3, quantile_method="averaged_inverted_cdf"),
                ["income"],
            ),
            ("cat", OneHotEncoder(), CATEGORICAL),
        ]
    )
    pipe = Pipeline([("prep", ct), ("clf", LogisticRegression())]).fit(X, y)
    with pytest.raises(NotDifferentiableError, match=r"prep>bins.*KBinsDiscretizer"):
        WachterGenerator(pipe).fit(X)


def test_wrong_column_name_lists_the_valid_ones(frame, lr_pipe):
    X, _ = frame
    with pytest.raises(ConstraintError, match=r"unknown column 'salary'.*'income'"):
        WachterGenerator(lr_pipe, immutable=["salary"]).fit(X)
    with pytest.raises(ConstraintError, match="unknown column 'Age'"):
        WachterGenerator(lr_pipe, bounds={"Age": (0, 100)}).fit(X)
    with pytest.raises(ConstraintError, match="'housing', an unordered categorical"):
        WachterGenerator(lr_pipe, increase_only=["housing"]).fit(X)


def test_numeric_bounds_in_original_units(frame, lr_pipe):
    X, _ = frame
    q = queries(lr_pipe, X)
    gen = ElasticNetGenerator(
        lr_pipe, random_state=0, bounds={"income": (None, 6000.0), "duration": (6, 48)}
    ).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    out = cf.X_cf[cf.valid]
    changed = out["income"] != q.loc[out.index, "income"]
    assert (out.loc[changed, "income"] <= 6000.0).all()
    changed = out["duration"] != q.loc[out.index, "duration"]
    assert out.loc[changed, "duration"].between(6, 48).all()


def test_inferred_bounds_keep_non_negative_columns_non_negative(frame, lr_pipe):
    X, _ = frame
    gen = WachterGenerator(lr_pipe, bounds="infer").fit(X)
    c = gen.constraints_
    j = gen.space_.columns[1].search[0]  # income: gamma, never negative
    info = gen.space_.columns[1]
    assert info.center + info.scale * c["lower"][j] >= -1e-9


def test_delta_text_and_costs_in_original_units(frame, lr_pipe):
    X, _ = frame
    q = queries(lr_pipe, X, n=10)
    gen = WachterGenerator(lr_pipe, random_state=0, **ACTION).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    delta = cf.to_frame(kind="delta")
    changes = cf.to_frame(kind="changes")
    text = cf.to_text()
    assert len(text) == len(q)
    for _, change in changes.iterrows():
        i = q.index.get_loc(change["row"])
        cell = delta.loc[change["row"], change["feature"]]
        assert "→" in cell
        assert change["feature"] in text[i]
        assert q.loc[change["row"], change["feature"]] == change["from"]
        assert cf.X_cf.loc[change["row"], change["feature"]] == change["to"]
    # costs: numeric changes in MADs, one per changed category
    scale = gen.space_.column_scale
    assert np.allclose(cf.l1, np.abs(cf.delta / scale).sum(axis=1))
    cat = [list(q.columns).index(c) for c in CATEGORICAL]
    assert set(np.unique(cf.delta[:, cat])) <= {0.0, 1.0}
    assert_array_equal(cf.l0, (cf.X_cf != q).sum(axis=1).to_numpy())


def test_grid_search_over_a_generator_on_raw_data(frame, lr_pipe):
    X, _ = frame
    gen = WachterGenerator(lr_pipe, random_state=0, max_iter=30, **ACTION)
    search = GridSearchCV(
        gen,
        {"lam": [0.1, 1.0]},
        scoring={
            "validity": make_cf_scorer("validity"),
            "l1": make_cf_scorer("l1", scale="mad"),
            "violations": make_cf_scorer("violations"),
            "lof": make_cf_scorer("lof", X_ref=X, n_neighbors=5),
            "redundancy": make_cf_scorer("redundancy"),
        },
        refit="validity",
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        search.fit(queries(lr_pipe, X, n=60))
    res = search.cv_results_
    assert np.all(res["mean_test_validity"] > 0.5)
    assert np.all(np.isfinite(res["mean_test_l1"]))
    assert np.all(res["mean_test_violations"] == 0)
    assert search.best_estimator_.estimator is lr_pipe  # never refitted


def test_grid_search_over_a_pipeline_ending_in_a_generator(frame, lr_pipe):
    """The user's preprocessing as a frozen step before the generator."""
    X, _ = frame
    pre, clf = lr_pipe.named_steps["prep"], lr_pipe.named_steps["clf"]
    pipe = Pipeline(
        [
            ("prep", FrozenEstimator(pre)),
            ("gen", WachterGenerator(clf, random_state=0, max_iter=30)),
        ]
    )
    search = GridSearchCV(
        pipe, {"gen__lam": [0.1, 1.0]}, scoring=make_cf_scorer("validity"), cv=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        search.fit(queries(lr_pipe, X, n=60))
    assert np.all(search.cv_results_["mean_test_score"] > 0.5)


def test_set_output_pandas_on_the_encoded_road(frame):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(100, 3))
    y = (Z.sum(1) > 0).astype(int)
    clf = LogisticRegression().fit(Z, y)
    gen = WachterGenerator(clf, random_state=0).fit(Z).set_output(transform="pandas")
    cf = gen.explain(Z[:5])
    assert isinstance(cf.X_cf, pd.DataFrame)
    assert list(cf.X_cf.columns) == ["x0", "x1", "x2"]
    assert isinstance(gen.transform(Z[:5]), pd.DataFrame)


def float32_skorch_pipe(X, y, max_epochs):
    """prep -> float32 cast -> skorch MLP (16 hidden), fitted and seeded."""
    pre = prep().fit(X)
    net = NeuralNetClassifier(
        MLP,
        module__n_features=pre.transform(X[:1]).shape[1],
        module__hidden=(16,),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=max_epochs,
        lr=0.05,
        train_split=None,
        verbose=0,
    )
    to32 = FunctionTransformer(lambda A: np.asarray(A, dtype=np.float32))
    pipe = Pipeline([("prep", pre), ("f32", to32), ("net", net)])
    torch.manual_seed(0)
    pipe.fit(X, y.astype(np.int64))
    return pipe


def test_skorch_net_behind_a_float32_cast(frame):
    X, y = frame
    pipe = float32_skorch_pipe(X, y, max_epochs=30)
    q = queries(pipe, X)
    gen = ElasticNetGenerator(pipe, random_state=0, **ACTION).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    assert cf.validity >= 0.9
    check_returned(cf, q, pipe, X)


def test_imputed_missing_values_and_selectors():
    X, y = make_frame(n=300, seed=1)
    X = X.copy()
    X.loc[X.index[::7], "income"] = np.nan
    X["housing"] = X["housing"].astype(object)
    X.loc[X.index[::11], "housing"] = np.nan
    ct = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                make_column_selector(dtype_include="number"),
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(drop="first")
                ),
                ["housing", "job"],
            ),
            ("edu", OrdinalEncoder(categories=[EDUCATION]), ["education"]),
        ],
        remainder="drop",
    )
    pipe = Pipeline([("prep", ct), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)
    q = X[pipe.predict(X) == 0].head(30)
    gen = WachterGenerator(
        pipe, random_state=0, increase_only=["education"], immutable=["age"]
    ).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    assert cf.validity >= 0.9
    out = cf.X_cf
    assert_array_equal(pipe.predict(out)[cf.valid], 1)
    assert (out["education"].cat.codes >= q["education"].cat.codes).all()
    assert (out["age"] == q["age"]).all()
    # a counterfactual never invents a missing value; untouched ones stay missing
    assert not (out["income"].isna() & q["income"].notna()).any()
    j = list(X.columns).index("income")
    filled = q["income"].isna() & out["income"].notna()
    assert filled.any()
    unchanged = cf.delta[:, j] == 0
    assert out["income"][q["income"].isna() & unchanged].isna().all()
    # a filled-in missing value is a change, measured from the imputed median
    median = X["income"].median()
    np.testing.assert_allclose(
        cf.delta[filled.to_numpy(), j], out["income"][filled] - median
    )
    assert (cf.l0[filled.to_numpy()] >= 1).all()
    assert (out["has_car"] == q["has_car"]).all()  # dropped by the pipeline


def test_german_credit_validity_judged_by_the_users_pipeline():
    bunch = load_german_credit(as_frame=True)
    X, y = bunch.data, bunch.target
    ct = ColumnTransformer(
        [
            ("num", StandardScaler(), bunch.numeric_features),
            ("cat", OneHotEncoder(handle_unknown="ignore"), bunch.categorical_features),
        ]
    )
    pipe = Pipeline([("prep", ct), ("clf", LogisticRegression(max_iter=1000))])
    pipe.fit(X, y)
    q = X[pipe.predict(X) == 0]
    gen = ElasticNetGenerator(pipe, random_state=0, **bunch.actionability).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    assert cf.validity >= 0.95
    assert (pipe.predict(cf.X_cf)[cf.valid] == 1).all()
    assert (cf.violations == 0).all()
    for col in bunch.actionability["immutable"]:
        assert (cf.X_cf[col] == q[col]).all()
    for col in bunch.actionability["increase_only"]:
        if isinstance(q[col].dtype, pd.CategoricalDtype):
            assert (cf.X_cf[col].cat.codes >= q[col].cat.codes).all()
        else:
            assert (cf.X_cf[col] >= q[col]).all()
    for col in bunch.actionability["integer"]:
        assert cf.X_cf[col].dtype == q[col].dtype


def test_sampler_adds_raw_rows_in_original_units(frame):
    from skcf.sampling import CounterfactualSampler

    X, y = frame
    y = y.copy()
    y[np.flatnonzero(y)[:120]] = 0  # 320 : 80
    pipe = Pipeline([("prep", prep()), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(X, y)
    gen = ElasticNetGenerator(pipe, random_state=0, max_iter=60, **ACTION)
    sampler = CounterfactualSampler(generator=gen, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert isinstance(X_res, pd.DataFrame)
    pd.testing.assert_series_equal(X_res.dtypes, X.dtypes)
    assert np.bincount(y_res).tolist() == [320, 320]
    new = X_res.iloc[len(X) :]
    assert_array_equal(pipe.predict(new), 1)  # judged by the user's pipeline
    seeds = X.iloc[sampler.seed_indices_]
    assert (new["job"].to_numpy() == seeds["job"].to_numpy()).all()
    assert set(new["housing"]) <= {"own", "rent", "free"}


def test_compiled_map_folded_into_the_first_layer(frame, mlp_pipe):
    """One linear layer on the search space, same logits as map then network."""
    from skcf.models._space import fold_into_first_layer

    X, _ = frame
    gen = WachterGenerator(mlp_pipe).fit(X)
    model = gen.model_
    assert model.preprocess == []  # folded: the map is the first layer now
    first = model.module.net[0]
    assert first.weight.shape[1] == gen.space_.n_search
    Z = gen.space_.encode(X)
    proba = model.predict_proba(Z)
    np.testing.assert_allclose(proba, mlp_pipe.predict_proba(X), atol=1e-9)
    # the user's network is untouched
    assert mlp_pipe.named_steps["clf"].coefs_[0].shape[0] != gen.space_.n_search

    class Custom(torch.nn.Module):  # unknown forward: never folded
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)

        def forward(self, x):
            return self.lin(x * 2)

    from skcf.models import DifferentiableModel
    from skcf.models._space import _LinearMap

    m = DifferentiableModel(
        Custom(), preprocess=[_LinearMap(np.eye(3), np.zeros(3)).float()]
    )
    assert fold_into_first_layer(m, np.zeros((2, 3))) is m

    class Own(torch.nn.Module):  # a user's plain stack: forward is self.net(x)
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)
            )

        def forward(self, x):
            return self.net(x)

    own = Own().double()
    m = DifferentiableModel(own, preprocess=[_LinearMap(2 * np.eye(3), np.ones(3))])
    folded = fold_into_first_layer(m, np.random.default_rng(0).normal(size=(5, 3)))
    assert folded.preprocess == [] and isinstance(folded.module, torch.nn.Sequential)
    z = torch.randn(7, 3, dtype=torch.float64)
    torch.testing.assert_close(folded.logits(z), m.logits(z))
    assert own.net[0].weight.shape == (4, 3)  # the user's module untouched
    assert folded.module[0] is not own.net[0]


# ------------------------------------------------------------------ CUDA path
# Run on a machine with a GPU (``pytest -m gpu``); skipped elsewhere.
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_raw_road_on_cuda_matches_cpu(cls, frame, mlp_pipe):
    """device="cuda" on the main road: same promises, validity as on the CPU."""
    X, y = frame
    q = queries(mlp_pipe, X)
    out = {}
    for device in ("cpu", "cuda"):
        if cls is StableNeighborSearch:
            inner = ElasticNetGenerator(
                mlp_pipe,
                random_state=0,
                device=device,
                **FAST[ElasticNetGenerator],
                **ACTION,
            )
            gen = cls(inner, steps=10, random_state=0)
        elif cls is ECCoGenerator:
            box = {"age": (18, 90), "income": (0, 2e4), "duration": (1, 72)}
            bounds = {**ACTION["bounds"], **box, "has_car": (0, 1)}
            kw = {**FAST[cls], **ACTION, "bounds": bounds}
            gen = cls(mlp_pipe, random_state=0, device=device, **kw)
        else:
            gen = cls(mlp_pipe, random_state=0, device=device, **FAST[cls], **ACTION)
        gen.fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CounterfactualWarning)
            out[device] = gen.explain(q)
        check_returned(out[device], q, mlp_pipe, X)
    assert out["cuda"].validity >= out["cpu"].validity - 0.1
    assert out["cuda"].validity >= 0.8


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sampler_on_cuda(frame):
    from skcf.sampling import CounterfactualSampler

    X, y = frame
    y = y.copy()
    y[np.flatnonzero(y)[:120]] = 0
    pipe = Pipeline([("prep", prep()), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(X, y)
    gen = ElasticNetGenerator(pipe, random_state=0, max_iter=60, device="cuda")
    X_res, y_res = CounterfactualSampler(generator=gen, random_state=0).fit_resample(
        X, y
    )
    assert np.bincount(y_res).tolist() == [320, 320]
    assert_array_equal(pipe.predict(X_res.iloc[len(X) :]), 1)


def test_category_cost_frequency_by_default_uniform_on_request(frame, lr_pipe):
    import skcf

    X, _ = frame
    freq = ElasticNetGenerator(lr_pipe).fit(X)
    with skcf.config_context(category_cost="uniform"):
        uni = ElasticNetGenerator(lr_pipe).fit(X)
    assert freq.category_cost_ == "frequency" and uni.category_cost_ == "uniform"
    assert skcf.get_config()["category_cost"] == "frequency"
    housing = next(c for c in freq.space_.columns if c.name == "housing")
    f_scale = np.asarray(freq.scale_)[housing.search]
    u_scale = np.asarray(uni.scale_)[housing.search]
    # "free" (10 %) costs more than "own" (60 %); uniform: all the same
    assert f_scale.max() / f_scale.min() > 1.3
    np.testing.assert_allclose(u_scale, u_scale[0])
    # "encoded": every slot scaled like an encoded 0/1 column (MAD, std fallback)
    with skcf.config_context(category_cost="encoded"):
        enc = ElasticNetGenerator(lr_pipe).fit(X)
    from skcf.utils._scale import robust_scale

    np.testing.assert_allclose(enc.scale_, robust_scale(enc.space_.encode(X)))
    assert not np.allclose(np.asarray(enc.scale_)[housing.search], f_scale)
    with pytest.raises(ValueError, match="category_cost must be one of"):
        skcf.set_config(category_cost="free")


@pytest.mark.parametrize(
    "cls", [ElasticNetGenerator, GrowingSpheresGenerator], ids=lambda c: c.__name__
)
def test_unseen_category_may_stay_but_is_never_a_destination(cls, frame, lr_pipe):
    """A factual's category the encoder never saw is kept unless moving helps."""
    X, _ = frame
    q = queries(lr_pipe, X, n=40).copy()
    q["housing"] = "castle"  # not a training category; the encoder ignores it
    gen = cls(lr_pipe, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    out = cf.X_cf
    assert cf.validity >= 0.9
    assert (cf.violations[cf.valid] == 0).all()
    kept = out["housing"] == "castle"
    assert kept[cf.valid].mean() > 0.5  # not forced to move any more
    # a move goes to a training category, never to another unseen one
    assert set(out.loc[~kept, "housing"]) <= set(X["housing"])
    y_cf = lr_pipe.predict(out)
    assert_array_equal(y_cf[cf.valid], cf.y_cf_pred[cf.valid])
    assert (y_cf[cf.valid] != lr_pipe.predict(q)[cf.valid]).all()


@pytest.fixture(scope="module")
def native_hgb(frame):
    """A model fitted on the raw frame itself (categories handled natively)."""
    X, y = frame
    X = X.assign(housing=X["housing"].astype("category"))
    hgb = HistGradientBoostingClassifier(
        categorical_features="from_dtype", max_iter=30, random_state=0
    )
    return X, hgb.fit(X, y)


@pytest.mark.parametrize(
    "cls", [GrowingSpheresGenerator, LatentSearchGenerator], ids=lambda c: c.__name__
)
def test_gradient_free_on_a_frame_native_model_infers_the_space(cls, native_hgb):
    X, hgb = native_hgb
    q = queries(hgb, X)
    gen = cls(hgb, random_state=0, **FAST[cls], **ACTION).fit(X)
    assert gen.space_ is not None  # inferred from the frame's dtypes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    assert cf.validity >= 0.8
    check_returned(cf, q, hgb, X)  # judged by the model itself on our frame


def test_gradient_free_falls_back_to_an_inferred_space_for_unsupported_steps(frame):
    X, y = frame
    ct = ColumnTransformer(
        [
            (
                "bins",
                KBinsDiscretizer(n_bins=3, quantile_method="averaged_inverted_cdf"),
                ["income"],
            ),
            ("num", StandardScaler(), ["age", "duration"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    pipe = Pipeline([("prep", ct), ("clf", LogisticRegression())]).fit(X, y)
    q = queries(pipe, X)
    gen = GrowingSpheresGenerator(pipe, random_state=0, **ACTION).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    assert cf.validity >= 0.8
    check_returned(cf, q, pipe, X)
    with pytest.raises(NotDifferentiableError, match="KBinsDiscretizer"):
        WachterGenerator(pipe).fit(X)  # gradients still need a compiled map


def test_growing_spheres_resets_integer_columns_the_model_ignores(frame):
    """Sparsification puts back a factual's integer value when the prediction
    allows it, although the value encodes a hair off the search space's grid."""
    X, y = frame
    pipe = Pipeline([("prep", prep()), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(X, y)
    pipe[-1].coef_[0, [0, 2]] = 0.0  # age and duration: no effect
    q = queries(pipe, X)
    gen = GrowingSpheresGenerator(pipe, n_samples=200, random_state=0, **ACTION)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.fit(X).explain(q)
    assert cf.validity >= 0.9
    check_returned(cf, q, pipe, X)
    out = cf.X_cf[cf.valid]
    assert_array_equal(out["age"], q["age"][cf.valid])
    assert_array_equal(out["duration"], q["duration"][cf.valid])


@pytest.mark.parametrize("kind", ["lr", "skorch"])
def test_growing_spheres_rows_are_their_own_in_any_chunk(kind, frame, lr_pipe):
    """Chunks whose rows can move different coordinates (an unseen category
    frees its slot) give every row the counterfactual it gets alone; a float32
    network searches in float32 and returns untouched values bit-equal."""
    X, y = frame
    pipe = lr_pipe
    if kind == "skorch":
        pipe = float32_skorch_pipe(X, y, max_epochs=20)
    q = queries(pipe, X, n=24).copy()
    q.loc[q.index[::3], "housing"] = "castle"  # every third row: unseen
    # (no bounds on housing: they would exclude the unseen factual category)
    act = dict(immutable=["job"], increase_only=["age", "education"])
    kw = dict(n_samples=200, random_state=0, **act)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        gen = GrowingSpheresGenerator(pipe, batch_size=5, **kw).fit(X)
        cf = gen.explain(q)
        whole = GrowingSpheresGenerator(pipe, batch_size=64, **kw).fit(X).explain(q)
        perm = np.random.default_rng(0).permutation(len(q))
        shuffled = gen.explain(q.iloc[perm])
    assert cf.validity >= 0.8
    out = cf.X_cf
    assert_array_equal(pipe.predict(out)[cf.valid], 1)
    assert (out["job"] == q["job"]).all() and (out["age"] >= q["age"]).all()
    assert (cf.violations[cf.valid] == 0).all()
    assert_array_equal(whole.Z_cf, cf.Z_cf)
    assert_array_equal(whole.n_iter, cf.n_iter)
    assert_array_equal(shuffled.Z_cf, cf.Z_cf[perm])
    # untouched search coordinates are the factual's own float64 values, not
    # their float32 rounding (integer ones may be put on their grid, a float64
    # unit in the last place away, by explain's final repair)
    moved = np.abs(cf.Z_cf - cf.Z)[:, ~gen.constraints_["integer"]]
    assert not ((moved > 0) & (moved < 1e-6)).any()


class _CountingProba:
    """Counts the pipeline's ``predict_proba`` calls and the rows they judge."""

    def __init__(self, pipe):
        self.pipe, self.calls = pipe, []

    def __enter__(self):
        inner = self.pipe.predict_proba

        def predict_proba(X):
            self.calls.append(len(X))
            return inner(X)

        self.pipe.predict_proba = predict_proba
        return self

    def __exit__(self, *exc):
        del self.pipe.predict_proba


def test_a_small_call_is_judged_by_the_pipeline_once(frame, mlp_pipe):
    # one pipeline call judges factuals and counterfactuals together (a
    # ColumnTransformer call costs ~10 ms however few its rows), and the
    # result is the one of the two-call road
    X, _ = frame
    q = queries(mlp_pipe, X, n=12)
    gen = WachterGenerator(mlp_pipe, random_state=0, **FAST[WachterGenerator])
    gen.fit(X)
    with _CountingProba(gen.estimator_) as count, warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
        assert count.calls == [2 * len(q)]
        count.calls.clear()
        ref = gen._explain(q, None, judge_once=False)
        assert count.calls == [len(q), len(q)]
    pd.testing.assert_frame_equal(cf.X_cf, ref.X_cf)
    assert_array_equal(cf.valid, ref.valid)
    assert_array_equal(cf.y_pred, ref.y_pred)
    assert_array_equal(cf.y_cf_pred, ref.y_cf_pred)
    check_returned(cf, q, mlp_pipe, X)


def test_a_factual_the_pipeline_judges_otherwise_is_searched_again(frame, mlp_pipe):
    # the search starts from the compiled model's class of each factual; a
    # disagreement with the user's pipeline (float rounding at p = 0.5, here
    # forced) sends the call the long way: judged first, then searched
    X, _ = frame
    q = queries(mlp_pipe, X, n=8)
    gen = WachterGenerator(mlp_pipe, random_state=0, **FAST[WachterGenerator])
    gen.fit(X)
    right = gen._model_proba
    gen._model_proba = lambda Z: right(Z)[:, ::-1]  # every factual misjudged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
        del gen._model_proba
        ref = gen._explain(q, None, judge_once=False)
    assert_array_equal(cf.y_pred, mlp_pipe.predict(q))
    pd.testing.assert_frame_equal(cf.X_cf, ref.X_cf)
    assert_array_equal(cf.valid, ref.valid)
    check_returned(cf, q, mlp_pipe, X)
