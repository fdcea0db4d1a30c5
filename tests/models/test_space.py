"""TabularSpace: a fitted preprocessing compiled into a search space.

Round trips for every supported step, property tests of the constraint
translation through the engine's own projection, the error paths, ordered
categories and the category cost scale.
"""

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)

from skcf.base import BaseGenerator
from skcf.exceptions import ConstraintError, NotDifferentiableError
from skcf.models import TabularSpace

N = 150
LEVELS = ["low", "mid", "high"]
FILL = "none"  # SimpleImputer(strategy="constant")'s category
NUMERIC = ["age", "income", "hours", "kids"]


def _frame(n=N, seed=0, missing=False):
    """Every supported input dtype, on a shuffled non-default index."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 70, n),
            "income": rng.normal(50.0, 12.0, n).round(2),
            "hours": rng.normal(38.0, 6.0, n).astype(np.float32),
            "kids": pd.array(rng.integers(0, 4, n), dtype="Int64"),
            "flag": rng.random(n) < 0.4,
            "job": pd.array(
                rng.choice(
                    ["clerk", "nurse", "chef", "pilot"], n, p=[0.5, 0.3, 0.15, 0.05]
                ),
                dtype="str",
            ),
            "city": np.array(rng.choice(["Oslo", "Rome", "Lima"], n), dtype=object),
            "edu": pd.Categorical(
                rng.choice(["basic", "school", "degree"], n),
                categories=["basic", "school", "degree"],
                ordered=True,
            ),
            "color": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
            "level": np.array(rng.choice(LEVELS, n), dtype=object),
        },
        index=pd.Index(rng.permutation(10 * n)[:n] + 1000, name="id"),
    )
    if missing:
        X.loc[X.index[::7], "income"] = np.nan
        X.loc[X.index[3::11], "kids"] = pd.NA
        X.loc[X.index[5::9], "job"] = None
        X.loc[X.index[2::13], "city"] = None
    return X


def _labels(X, seed=0):
    rng = np.random.default_rng(seed)
    age = X["age"].to_numpy(dtype=float)
    y = (age + 8.0 * rng.normal(size=len(X)) > np.median(age)).astype(int)
    y[:2] = [0, 1]
    return y


@pytest.fixture(scope="module")
def frame():
    return _frame()


@pytest.fixture(scope="module")
def frame_nan():
    return _frame(missing=True)


def _fit(prep, X, y=None):
    pipe = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=300))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infrequent categories, convergence
        return pipe.fit(X, _labels(X) if y is None else y)


def _dense(A):
    A = A.toarray() if hasattr(A, "toarray") else A
    return np.asarray(A, dtype=np.float64)


def _column(X, j):
    return X.iloc[:, j] if hasattr(X, "iloc") else X[:, j]


def _upcast(X):
    if hasattr(X, "iloc"):
        return X.astype({c: np.float64 for c in X.select_dtypes(np.float32).columns})
    return X.astype(np.float64) if X.dtype == np.float32 else X


def _dense_dtype(A):
    return np.asarray(A.toarray() if hasattr(A, "toarray") else A).dtype


def _engine(c):
    """The engine's Constraints, built by the generators' own code."""
    fake = SimpleNamespace(constraints_=c)
    return BaseGenerator._engine_constraints(fake, "cpu", torch.float64)


def _project(space, c, Z0, Z):
    """A search-space point made feasible the way the engine does it."""
    cons = _engine(c)
    z0 = torch.as_tensor(Z0)
    lo, hi = cons.row_bounds(z0)
    z = cons.project(torch.as_tensor(Z), lo, hi)
    return cons.snap(z, lo, hi).numpy()


# ----------------------------------------------------------- round trips
def _f32(a):
    return np.asarray(a, dtype=np.float32)


ENC = ["job", "city", "color", "flag"]
CASES = {
    # scalers (numeric columns of every dtype)
    "standard": lambda: ColumnTransformer([("num", StandardScaler(), NUMERIC)]),
    "standard-no-mean": lambda: ColumnTransformer(
        [("num", StandardScaler(with_mean=False), NUMERIC)]
    ),
    "standard-no-std": lambda: ColumnTransformer(
        [("num", StandardScaler(with_std=False), NUMERIC)]
    ),
    "minmax": lambda: ColumnTransformer([("num", MinMaxScaler((-1, 2)), NUMERIC)]),
    "robust": lambda: ColumnTransformer([("num", RobustScaler(), NUMERIC)]),
    "robust-no-center": lambda: ColumnTransformer(
        [("num", RobustScaler(with_centering=False), NUMERIC)]
    ),
    "robust-no-scale": lambda: ColumnTransformer(
        [("num", RobustScaler(with_scaling=False), NUMERIC)]
    ),
    "maxabs": lambda: ColumnTransformer([("num", MaxAbsScaler(), NUMERIC)]),
    "bool-scaled": lambda: ColumnTransformer(
        [("num", StandardScaler(), ["flag", "age"])]
    ),
    "function-none": lambda: ColumnTransformer(
        [("num", FunctionTransformer(), NUMERIC)], remainder="drop"
    ),
    "float32-cast": lambda: Pipeline(
        [
            ("ct", ColumnTransformer([("num", StandardScaler(), NUMERIC)])),
            ("cast", FunctionTransformer(_f32)),
        ]
    ),
    "float32-cast-validated": lambda: ColumnTransformer(
        [("num", FunctionTransformer(_f32, validate=True), NUMERIC[:3])]
    ),
    "float32-cast-raw": lambda: ColumnTransformer(
        [("num", make_pipeline(FunctionTransformer(_f32), StandardScaler()), NUMERIC)]
    ),
    # one-hot encoders
    "onehot": lambda: ColumnTransformer([("cat", OneHotEncoder(), ENC + ["edu"])]),
    "onehot-dense": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(sparse_output=False), ENC)]
    ),
    "onehot-drop-first": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(drop="first"), ENC)]
    ),
    "onehot-if-binary": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(drop="if_binary"), ENC)]
    ),
    "onehot-drop-array": lambda: ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(
                    drop=np.array(["nurse", "Rome", "red", True], dtype=object)
                ),
                ENC,
            )
        ]
    ),
    "onehot-ignore": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ENC + ["edu"])]
    ),
    "onehot-ignore-drop": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore", drop="first"), ENC)]
    ),
    "onehot-warn": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="warn"), ENC)]
    ),
    "onehot-infrequent": lambda: ColumnTransformer(
        [
            (
                "cat",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=12),
                ENC,
            )
        ]
    ),
    "onehot-min-frequency": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(min_frequency=0.1), ENC)]
    ),
    "onehot-max-categories": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(max_categories=2, sparse_output=False), ENC)]
    ),
    "onehot-ints": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["kids", "age"])]
    ),
    # ordinal encoders
    "ordinal": lambda: ColumnTransformer([("ord", OrdinalEncoder(), ENC + ["edu"])]),
    "ordinal-given-order": lambda: ColumnTransformer(
        [("ord", OrdinalEncoder(categories=[LEVELS]), ["level"])],
        remainder="drop",
    ),
    "ordinal-unknown": lambda: ColumnTransformer(
        [
            (
                "ord",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ["job", "city"],
            )
        ]
    ),
    "ordinal-infrequent": lambda: ColumnTransformer(
        [("ord", OrdinalEncoder(min_frequency=12), ["job"])]
    ),
    "ordinal-then-scaled": lambda: ColumnTransformer(
        [("ord", make_pipeline(OrdinalEncoder(), StandardScaler()), ["city", "edu"])]
    ),
    # column specifications and remainders
    "int-indices": lambda: ColumnTransformer(
        [("num", StandardScaler(), [0, 1]), ("cat", OneHotEncoder(), [-1])]
    ),
    "bool-mask": lambda: ColumnTransformer(
        [
            ("num", StandardScaler(), [True, True, True, False] + [False] * 6),
            ("cat", OneHotEncoder(), [False] * 5 + [True, True, False, False, False]),
        ]
    ),
    "slices": lambda: ColumnTransformer(
        [
            ("num", StandardScaler(), slice(0, 3)),
            ("cat", OneHotEncoder(), slice("job", "color")),
        ]
    ),
    "selectors": lambda: ColumnTransformer(
        [
            ("num", MinMaxScaler(), make_column_selector(dtype_include=np.number)),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore"),
                make_column_selector(dtype_include=["category", "object", "string"]),
            ),
        ]
    ),
    "passthrough-drop": lambda: ColumnTransformer(
        [
            ("num", "passthrough", ["age", "income"]),
            ("gone", "drop", ["hours"]),
            ("cat", OneHotEncoder(), ["job"]),
        ]
    ),
    "remainder-passthrough": lambda: ColumnTransformer(
        [("cat", OneHotEncoder(), ENC + ["edu", "level"])], remainder="passthrough"
    ),
    "remainder-estimator": lambda: ColumnTransformer(
        [("cat", OrdinalEncoder(), ENC + ["edu", "level"])],
        remainder=RobustScaler(),
    ),
    "scalar-column": lambda: ColumnTransformer(
        [("num", StandardScaler(), ["age"]), ("cat", OneHotEncoder(), ["job"])]
    ),
    # nesting
    "nested": lambda: Pipeline(
        [
            (
                "ct",
                ColumnTransformer(
                    [
                        (
                            "num",
                            make_pipeline(MinMaxScaler(), StandardScaler()),
                            ["age", "income", "kids"],
                        ),
                        ("cat", OneHotEncoder(), ["job", "edu"]),
                        ("ord", OrdinalEncoder(categories=[LEVELS]), ["level"]),
                    ],
                    sparse_threshold=0,
                ),
            ),
            ("scale", MaxAbsScaler()),
        ]
    ),
    "nested-ct-pandas": lambda: Pipeline(
        [
            (
                "ct",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["age", "income"]),
                        ("cat", OneHotEncoder(sparse_output=False), ["city"]),
                    ]
                ).set_output(transform="pandas"),
            ),
            (
                "ct2",
                ColumnTransformer(
                    [("mm", MinMaxScaler(), ["num__age"])], remainder="passthrough"
                ),
            ),
        ]
    ),
    "ct-in-ct": lambda: ColumnTransformer(
        [
            (
                "inner",
                make_pipeline(
                    ColumnTransformer(
                        [("a", StandardScaler(), ["age"]), ("b", OneHotEncoder(), [1])],
                        remainder=MinMaxScaler(),
                    ),
                    StandardScaler(with_mean=False),
                ),
                ["age", "job", "income"],
            ),
            ("hours", "passthrough", slice(2, 3)),
        ]
    ),
    "same-column-twice": lambda: ColumnTransformer(
        [
            ("a", StandardScaler(), ["age", "income"]),
            ("b", MinMaxScaler(), ["age"]),
            ("c", OneHotEncoder(), ["job"]),
            ("d", OneHotEncoder(handle_unknown="ignore"), ["job"]),
        ]
    ),
    "mixed": lambda: ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ENC + ["edu"]),
            ("ord", OrdinalEncoder(categories=[LEVELS]), ["level"]),
        ]
    ),
}

IMPUTED = {
    "imputer-mean": lambda: ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(), StandardScaler()),
                ["income", "kids"],
            ),
            (
                "cat",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
                ["job", "city"],
            ),
        ]
    ),
    "imputer-median-constant": lambda: ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), RobustScaler()),
                ["income", "kids", "age"],
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=FILL),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["job", "city"],
            ),
        ]
    ),
    "imputer-after-scaler": lambda: ColumnTransformer(
        [
            ("num", make_pipeline(StandardScaler(), SimpleImputer()), ["income"]),
            (
                "ord",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OrdinalEncoder()
                ),
                ["city"],
            ),
        ]
    ),
    "nan-category": lambda: ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(), StandardScaler()),
                ["income", "kids"],
            ),
            ("cat", OneHotEncoder(), ["job", "city"]),
        ]
    ),
}


def _perturb(space, X, Z, rng, columns):
    """Move the given columns of ``Z`` to other values their dtypes can hold."""
    Z = Z.copy()
    n = len(Z)
    for j in columns:
        info = space.columns[j]
        s = info.search
        if info.kind == "numeric":
            x = info.center + info.scale * Z[:, s[0]] + rng.normal(0, 2, n) * info.scale
            dtype = X.dtypes.iloc[j] if hasattr(X, "dtypes") else X.dtype
            if pd.api.types.is_bool_dtype(dtype):
                x = np.clip(x, 0, 1)
            if info.integer:
                x = np.round(x)
            Z[:, s[0]] = (x - info.center) / info.scale
        elif info.kind == "ordinal":
            Z[:, s[0]] = rng.choice(info.codes, n)
        elif info.kind == "categorical":
            k = rng.integers(0, len(info.categories), n)
            Z[:, s] = 0.0
            Z[np.arange(n), s[k]] = 1.0
    return Z


def _check_round_trip(pipe, X, **kwargs):
    space = TabularSpace.from_pipeline(pipe, X, **kwargs)
    Z = space.encode(X)
    back = space.decode(Z, X)
    if hasattr(X, "iloc"):
        pd.testing.assert_frame_equal(back, X, check_exact=True)
    else:
        np.testing.assert_array_equal(back, X)
        assert back.dtype == X.dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # float32 columns in float64: sklearn would scale them in float32
        want = pipe[:-1].transform(_upcast(X))
    # exact to 1e-9, or to float32 rounding where the pipeline casts to it
    tol = 1e-9 if _dense_dtype(want) == np.float64 else 1e-6
    np.testing.assert_allclose(space.model_input(Z), _dense(want), rtol=tol, atol=tol)

    # a modified Z: half the used columns move, the others stay bit for bit
    rng = np.random.default_rng(1)
    used = [j for j, c in enumerate(space.columns) if c.kind != "unused"]
    moved = used[::2]
    Z2 = _perturb(space, X, Z, rng, moved)
    out = space.decode(Z2, X, Z)
    assert type(out) is type(X)
    # the same point back, up to the rounding of the column's own dtype
    tol = np.full(space.n_search, 1e-9)
    for j, info in enumerate(space.columns):
        if info.kind == "numeric" and _column(X, j).dtype == np.float32:
            top = np.abs(np.asarray(_column(out, j), dtype=float)).max()
            tol[info.search] += 2 * np.spacing(np.float32(top)) / info.scale
    err = np.abs(space.encode(out) - Z2)
    assert (err <= tol).all(), np.asarray(space.search_names)[(err > tol).any(axis=0)]
    if not hasattr(X, "iloc"):
        assert out.dtype == X.dtype
        return space
    pd.testing.assert_index_equal(out.index, X.index)
    pd.testing.assert_index_equal(out.columns, X.columns)
    pd.testing.assert_series_equal(out.dtypes, X.dtypes)
    for j, info in enumerate(space.columns):
        a, b = X.iloc[:, j], out.iloc[:, j]
        if j not in moved:
            pd.testing.assert_series_equal(b, a, check_exact=True)
            continue
        if isinstance(a.dtype, pd.CategoricalDtype):
            pd.testing.assert_index_equal(b.cat.categories, a.cat.categories)
            assert b.cat.ordered == a.cat.ordered
        new = b[~(a.isna() & b.isna())]  # a missing factual kept as is
        if info.kind in ("categorical", "ordinal"):  # values seen in fit
            seen = pd.Index([*a.astype(object).unique(), FILL])
            assert pd.Index(new.astype(object)).isin(seen).all(), info.name
        if pd.api.types.is_bool_dtype(a.dtype):
            assert set(b.unique()) <= {True, False}
        elif pd.api.types.is_integer_dtype(a.dtype):
            x = new.astype("float64")
            assert (x == x.round()).all(), info.name
    return space


@pytest.mark.parametrize("case", list(CASES))
def test_round_trip(case, frame):
    pipe = _fit(CASES[case](), frame)
    space = _check_round_trip(pipe, frame)
    assert space.n_search == len(space.search_names)


@pytest.mark.parametrize("case", list(IMPUTED))
def test_round_trip_with_missing_values(case, frame_nan):
    pipe = _fit(IMPUTED[case](), frame_nan)
    space = _check_round_trip(pipe, frame_nan)
    # rows without missing values: imputation is the identity
    full = frame_nan.dropna()
    np.testing.assert_allclose(
        space.model_input(space.encode(full)),
        _dense(pipe[:-1].transform(full)),
        atol=1e-9,
    )


@pytest.mark.parametrize("case", list(IMPUTED))
def test_missing_factuals_through_the_engine(case, frame_nan):
    """Imputed factuals: projected, decoded, valid; no new missing values."""
    X = frame_nan
    pipe = _fit(IMPUTED[case](), X)
    space = TabularSpace.from_pipeline(pipe, X)
    c = space.constraints(
        immutable=["income"], bounds={"kids": (0, 2), "age": (20, 60)}
    )
    Z0 = space.encode(X)
    Z = _project(space, c, Z0, Z0 + np.random.default_rng(0).normal(size=Z0.shape))
    X_cf = space.decode(Z, X, Z0)
    np.testing.assert_array_equal(space.violations(X, X_cf, c["columns"]), 0)
    pd.testing.assert_series_equal(X_cf["income"], X["income"], check_exact=True)
    # a new missing value only where the encoder knows it as a category
    knows = [any(pd.isna(c) for c in info.categories or []) for info in space.columns]
    assert not (X_cf.isna() & X.notna()).loc[:, ~np.array(knows)].any().any()
    np.testing.assert_allclose(
        space.model_input(Z), _dense(pipe[:-1].transform(X_cf)), atol=1e-9
    )


def test_unseen_factual_category_through_the_engine(frame):
    """An immutable unseen category stays; a mutable one may stay or move to a
    seen category, never to another unseen one."""
    space = TabularSpace.from_pipeline(_fit(CASES["onehot-ignore"](), frame), frame)
    X = frame.iloc[:20].copy()
    X["city"] = np.array(["Paris"] * 20, dtype=object)
    for immutable in (["city"], []):
        c = space.constraints(immutable=immutable, increase_only=["edu"])
        Z0 = space.encode(X)
        Z = _project(space, c, Z0, Z0 + np.random.default_rng(0).normal(size=Z0.shape))
        X_cf = space.decode(Z, X, Z0)
        np.testing.assert_array_equal(space.violations(X, X_cf, c["columns"]), 0)
        if immutable:
            assert (X_cf["city"] == "Paris").all()
        else:
            assert X_cf["city"].isin(["Oslo", "Rome", "Lima", "Paris"]).all()
            push = np.zeros(Z0.shape[1])  # towards the first seen city
            push[space.columns[space.index("city", "test")].search[0]] = 5.0
            moved = space.decode(_project(space, c, Z0, Z0 + push), X, Z0)
            assert moved["city"].isin(["Oslo", "Rome", "Lima"]).all()
        assert (X_cf["edu"].cat.codes >= X["edu"].cat.codes).all()


def test_constraints_on_a_column_the_model_never_sees(frame):
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["age"]), ("cat", OneHotEncoder(), ["job"])]
    )
    space = TabularSpace.from_pipeline(_fit(prep, frame), frame)
    assert space.columns[space.index("city", "test")].kind == "unused"
    c = space.constraints(
        immutable=["city"],
        increase_only=["hours"],
        bounds={"city": ["Oslo"], "income": (0, 1)},
    )
    assert c["mutable"].all() and not c["increase_only"].any()
    X_cf = frame.iloc[:5]
    np.testing.assert_array_equal(space.violations(X_cf, X_cf, c["columns"]), 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_round_trip_ndarray_with_int_columns(frame, dtype):
    X = frame[["age", "income", "hours", "kids"]].to_numpy(dtype=dtype)
    prep = ColumnTransformer(
        [("num", StandardScaler(), [0, 1]), ("mm", MinMaxScaler(), [-2])],
        remainder=MaxAbsScaler(),
    )
    space = _check_round_trip(_fit(prep, X, _labels(frame)), X)
    assert space.feature_names == ["x0", "x1", "x2", "x3"]
    assert [c.integer for c in space.columns] == [dtype is np.int64] * 4


def test_ndarray_with_object_columns(frame):
    X = frame[["age", "job", "city"]].to_numpy(dtype=object)
    prep = ColumnTransformer(
        [("num", StandardScaler(), [0]), ("cat", OneHotEncoder(), [1, 2])]
    )
    _check_round_trip(_fit(prep, X, _labels(frame)), X)


@pytest.mark.parametrize("unknown_value", [-1, np.nan])
def test_ordinal_codes_searched_as_categories(frame, unknown_value):
    enc = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=unknown_value
    )
    prep = ColumnTransformer(
        [("ord", enc, ["job", "level"]), ("num", "passthrough", ["age"])]
    )
    space = _check_round_trip(_fit(prep, frame), frame, categorical=["job"])
    job, level = (space.columns[space.index(c, "test")] for c in ("job", "level"))
    assert job.kind == "categorical" and level.kind == "ordinal"
    X = frame.iloc[:2].copy()
    X["job"] = pd.array(["astronaut", "chef"], dtype="str")
    if np.isnan(unknown_value):  # no affine image of an unseen category
        assert not job.unknown
        with pytest.raises(
            ValueError, match=r"Column 'job' holds categories .*astronaut"
        ):
            space.encode(X)
    else:
        assert job.unknown and space.search_names[job.search[-1]] == "job=<unknown>"
        np.testing.assert_allclose(
            space.model_input(space.encode(X)), _dense(space.preprocessing.transform(X))
        )
    with pytest.raises(ConstraintError, match="only ordinal-encoded columns"):
        TabularSpace.from_pipeline(_fit(prep, frame), frame, categorical=["age"])


def test_ordinal_codes_against_an_ordered_categorical(frame):
    """OrdinalEncoder() sorts an ordered Categorical's categories: no direction."""
    lexical = ColumnTransformer([("ord", OrdinalEncoder(), ["edu"])], remainder="drop")
    space = TabularSpace.from_pipeline(_fit(lexical, frame), frame)
    assert space.columns[space.index("edu", "test")].categories == [
        "basic",
        "degree",
        "school",
    ]
    with pytest.raises(
        ConstraintError, match=r"codes follow \['basic', 'degree', 'school'\]"
    ):
        space.constraints(increase_only=["edu"])
    space.constraints(bounds={"edu": ["basic", "degree"]})

    order = list(frame["edu"].cat.categories)
    given = ColumnTransformer([("ord", OrdinalEncoder(categories=[order]), ["edu"])])
    space = TabularSpace.from_pipeline(_fit(given, frame), frame)
    c = space.constraints(increase_only=["edu"])
    assert c["increase_only"][space.columns[space.index("edu", "test")].search].all()


@pytest.mark.parametrize(
    "encoder", [OneHotEncoder(handle_unknown="ignore"), OrdinalEncoder()]
)
def test_number_categories_keep_their_order_and_ranges(frame, encoder):
    """An int column means the same bounds and directions, scaled or encoded."""
    prep = ColumnTransformer(
        [("enc", encoder, ["kids", "flag"]), ("num", StandardScaler(), ["age"])]
    )
    space = TabularSpace.from_pipeline(_fit(prep, frame), frame)
    kids = space.columns[space.index("kids", "test")]
    assert kids.ordered and list(kids.categories) == [0, 1, 2, 3]
    c = space.constraints(
        increase_only=["kids"], decrease_only=["flag"], bounds={"kids": (1, 2)}
    )
    j = space.index("kids", "test")
    np.testing.assert_array_equal(c["columns"]["bounds"][("cats", j)], [1, 2])
    if space.columns[j].kind == "categorical":
        c = space.constraints(bounds={"kids": [1, 3]})  # a list is a set
        np.testing.assert_array_equal(c["columns"]["bounds"][("cats", j)], [1, 3])
    else:  # an integer code can not skip 2
        with pytest.raises(ConstraintError, match=r"code can not skip \[2\.0\]"):
            space.constraints(bounds={"kids": [1, 3]})
    with pytest.raises(
        ConstraintError, match=r"holds none of the categories of 'kids'"
    ):
        space.constraints(bounds={"kids": (1.2, 1.8)})

    rules = space.constraints(increase_only=["kids"], decrease_only=["flag"])["columns"]
    X = frame.iloc[:6]
    X_cf = X.assign(kids=pd.array([0] * 6, dtype="Int64"), flag=True)
    want = (X["kids"] > 0).to_numpy().astype(int) + (~X["flag"]).to_numpy()
    np.testing.assert_array_equal(space.violations(X, X_cf, rules), want)


def test_decode_keeps_an_unseen_category(frame):
    """The unknown slot stands for the factual's own unseen category."""
    pipe = _fit(CASES["onehot-ignore"](), frame)
    space = TabularSpace.from_pipeline(pipe, frame)
    X = frame.iloc[:4].copy()
    X["job"] = pd.array(["astronaut", "clerk", "astronaut", "chef"], dtype="str")
    Z = space.encode(X)
    job = space.columns[space.index("job", "test")]
    assert (Z[[0, 2]][:, job.search[-1]] == 1).all()  # '<unknown>' slot
    Z2 = Z.copy()
    Z2[:, job.search] *= 0.9  # still the unknown slot for rows 0 and 2
    Z2[1, job.search] = 0.0
    Z2[1, job.search[-1]] = 1.0  # the unknown slot on a known factual
    out = space.decode(Z2, X, Z)
    assert list(out["job"]) == ["astronaut", "clerk", "astronaut", "chef"]
    assert not out["job"].isna().any()


def test_decode_stays_in_the_dtype_range():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "small": rng.integers(0, 4, 80).astype(np.uint8),
            "flag": rng.random(80) < 0.5,
        }
    )
    prep = ColumnTransformer([("num", StandardScaler(), ["small", "flag"])])
    pipe = _fit(prep, X, np.arange(80) % 2)
    space = TabularSpace.from_pipeline(pipe, X)
    Z = space.encode(X)
    out = space.decode(Z - 50.0, X, Z)  # far below zero
    assert (out["small"] == 0).all()
    assert not out["flag"].any()
    c = space.constraints()
    small, flag = (space.columns[j] for j in (0, 1))
    assert c["lower"][small.search[0]] == pytest.approx(-small.center / small.scale)
    assert c["upper"][flag.search[0]] == pytest.approx((1 - flag.center) / flag.scale)


# ------------------------------------------------------ property tests
NUMBERS = ["int", "float", "float_int", "f32", "nullable"]
KINDS = NUMBERS + ["bool", "str", "ordered", "level"]


@st.composite
def layouts(draw):
    """A random frame, ColumnTransformer layout and constraint set."""
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=2, max_size=6))
    seed = draw(st.integers(0, 2**16))
    n = draw(st.integers(60, 120))
    rng = np.random.default_rng(seed)
    data, steps, spec_style = {}, {}, draw(st.sampled_from(["names", "ints", "mask"]))
    remainder = draw(st.sampled_from(["drop", "passthrough", "scaler"]))
    first = None
    for i, kind in enumerate(kinds):
        name = f"{kind}{i}"
        if kind == "int":
            data[name] = rng.integers(-5, 40, n)
        elif kind == "float":
            data[name] = rng.normal(draw(st.sampled_from([0.0, 1e3])), 5.0, n)
        elif kind == "float_int":
            data[name] = rng.integers(0, 9, n).astype(np.float64)
        elif kind == "f32":
            data[name] = rng.normal(draw(st.sampled_from([0.0, 77.7])), 3.3, n).astype(
                np.float32
            )
        elif kind == "nullable":
            data[name] = pd.array(rng.integers(0, 12, n), dtype="Int64")
        elif kind == "bool":
            data[name] = rng.random(n) < 0.3
        elif kind == "str":
            cats = ["a", "b", "c", "d"][: draw(st.integers(2, 4))]
            data[name] = pd.array(rng.choice(cats, n), dtype="str")
        elif kind == "ordered":
            data[name] = pd.Categorical(
                rng.choice(["s", "m", "l", "xl"], n),
                categories=["xl", "s", "m", "l"][::-1]
                if i % 2
                else ["s", "m", "l", "xl"],
                ordered=True,
            )
        else:
            data[name] = np.array(rng.choice(LEVELS, n), dtype=object)
        if kind in NUMBERS:
            options = ["std", "minmax", "robust", "maxabs", "pass", "imputed"]
            if kind in ("int", "nullable"):  # numbers encoded as categories
                options += ["onehot", "onehot_ignore", "ordinal"]
        elif kind == "bool":
            options = ["std", "pass", "onehot"]
        elif kind == "level":
            options = ["ordinal_levels", "onehot"]
        elif kind == "ordered":
            options = ["onehot", "onehot_ignore", "onehot_first"]
        else:
            options = ["onehot", "onehot_ignore", "onehot_first", "ordinal"]
        first = first or options[0]
        if remainder == "drop" or kind in NUMBERS + ["bool"]:
            options = options + ["rest"]  # left to the remainder
        steps.setdefault(draw(st.sampled_from(options)), []).append(i)
    if list(steps) == ["rest"]:  # the model sees at least one column
        steps = {first: [0], "rest": steps["rest"][1:]}
    X = pd.DataFrame(data, index=pd.RangeIndex(5, 5 + 3 * n, 3))
    makers = {
        "std": StandardScaler,
        "minmax": MinMaxScaler,
        "robust": RobustScaler,
        "maxabs": MaxAbsScaler,
        "pass": lambda: "passthrough",
        "imputed": lambda: make_pipeline(SimpleImputer(), StandardScaler()),
        "onehot": OneHotEncoder,
        "onehot_ignore": lambda: OneHotEncoder(handle_unknown="ignore"),
        "onehot_first": lambda: OneHotEncoder(drop="first", sparse_output=False),
        "ordinal": OrdinalEncoder,
    }
    transformers = []
    for key, cols in sorted(steps.items()):
        if key == "rest":
            continue
        if key == "ordinal_levels":
            step = OrdinalEncoder(categories=[LEVELS] * len(cols))
        else:
            step = makers[key]()
        if spec_style == "names":
            spec = [X.columns[i] for i in cols]
        elif spec_style == "ints":
            spec = list(cols)
        else:
            spec = [i in cols for i in range(len(kinds))]
        transformers.append((key, step, spec))
    rest = {"drop": "drop", "passthrough": "passthrough", "scaler": RobustScaler()}
    prep = ColumnTransformer(
        transformers, remainder=rest[remainder], sparse_threshold=0
    )
    if draw(st.booleans()):
        prep = Pipeline([("ct", prep), ("scale", StandardScaler())])
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]

    # constraints by column
    immutable, inc, dec, bounds = [], [], [], {}
    for i, kind in enumerate(kinds):
        name = X.columns[i]
        ordinal = i in steps.get("ordinal_levels", []) + steps.get("ordinal", [])
        directed = kind in NUMBERS + ["ordered", "bool"] or ordinal
        role = draw(
            st.sampled_from(
                ["free", "immutable"] + (["inc", "dec"] if directed else [])
            )
        )
        {"immutable": immutable, "inc": inc, "dec": dec}.get(role, []).append(name)
        if not draw(st.booleans()):
            continue
        if kind in NUMBERS:
            q = np.quantile(
                X[name].astype(float),
                draw(st.sampled_from([(0, 1), (0.1, 0.9), (0.3, 0.6)])),
            )
            if kind in ("int", "nullable"):  # holds some value when encoded
                q = np.floor(q[0]), np.ceil(q[1])
            bounds[name] = (float(q[0]), float(q[1]))
        elif ordinal:  # a contiguous range of the codes
            order = LEVELS if kind == "level" else sorted(set(X[name]))
            a = draw(st.integers(0, len(order) - 1))
            bounds[name] = order[a : draw(st.integers(a + 1, len(order)))]
        elif kind in ("str", "ordered", "level"):
            cats = sorted(set(X[name].astype(object)))
            bounds[name] = draw(
                st.lists(
                    st.sampled_from(cats), min_size=1, max_size=len(cats), unique=True
                )
            )
    dropped = steps.get("rest", []) if remainder == "drop" else []
    used = [X.columns[i] for i in range(len(kinds)) if i not in dropped]
    if set(used) <= set(immutable):  # something may move
        immutable.remove(used[0])
    integer = [X.columns[i] for i, k in enumerate(kinds) if k == "float_int"]
    rules = dict(
        immutable=immutable, increase_only=inc, decrease_only=dec, bounds=bounds
    )
    return X, y, prep, integer, rules, draw(st.floats(0.1, 5.0))


def _feasible(space, X, rules, integer):
    """Rows for which some value of every column meets every constraint."""
    ok = np.ones(len(X), dtype=bool)
    for info in space.columns:
        name = info.name
        if info.kind == "unused" or name in rules["immutable"]:
            continue
        inc, dec = name in rules["increase_only"], name in rules["decrease_only"]
        if info.kind == "numeric":
            x = X[name].to_numpy(dtype=float)
            lo, hi = rules["bounds"].get(name, (-np.inf, np.inf))
            lo = np.maximum(lo, x) if inc else np.full_like(x, lo)
            hi = np.minimum(hi, x) if dec else np.full_like(x, hi)
            if name in integer or not pd.api.types.is_float_dtype(X[name].dtype):
                lo, hi = np.ceil(lo - 1e-9), np.floor(hi + 1e-9)  # int, bool
            ok &= lo <= hi
            continue
        if not (inc or dec):
            continue  # some allowed category always exists
        col = X[name]
        order = _order(info, col)
        allowed = [order.index(c) for c in _allowed(info, rules)]
        for r, value in enumerate(col.astype(object)):
            rank = order.index(value)
            ok[r] &= any(
                (not inc or a >= rank) and (not dec or a <= rank) for a in allowed
            )
    return ok


def _order(info, col):
    """The category order of a directed column, from the data's own terms."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return list(col.cat.categories)  # an ordered pandas Categorical
    if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(
        col.dtype
    ):
        return sorted(info.categories)  # numbers and bools: by value
    return list(info.categories)  # OrdinalEncoder codes: categories_ order


def _allowed(info, rules):
    """The categories ``bounds`` allow: a list, or a (low, high) range of numbers."""
    bound = rules["bounds"].get(info.name, info.categories)
    if isinstance(bound, tuple):
        return [c for c in info.categories if bound[0] <= c <= bound[1]]
    return list(bound)


def _independent_checks(space, X, X_cf, rules, feasible, integer):
    """What the returned frame must satisfy, judged without TabularSpace."""
    pd.testing.assert_index_equal(X_cf.index, X.index)
    pd.testing.assert_series_equal(X_cf.dtypes, X.dtypes)
    for name in rules["immutable"]:
        pd.testing.assert_series_equal(X_cf[name], X[name], check_exact=True)
    for info in space.columns:
        name = info.name
        a, b = X[name][feasible], X_cf[name][feasible]
        if info.kind == "unused":
            pd.testing.assert_series_equal(X_cf[name], X[name], check_exact=True)
        elif info.kind == "numeric":
            xa, xb = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
            tol = 1e-9 * info.scale  # and a float32 column's own rounding:
            if b.dtype == np.float32:
                tol = tol + np.spacing(np.abs(b.to_numpy())).astype(float)
            lo, hi = rules["bounds"].get(name, (-np.inf, np.inf))
            if name not in rules["immutable"]:
                assert (xb >= lo - tol).all() and (xb <= hi + tol).all(), name
            if name in rules["increase_only"]:
                assert (xb >= xa - tol).all(), name
            if name in rules["decrease_only"]:
                assert (xb <= xa + tol).all(), name
            if name in integer or pd.api.types.is_integer_dtype(a.dtype):
                assert (xb == np.round(xb)).all(), name
        else:
            seen = set(X[name].astype(object))  # all training rows
            assert set(b.astype(object)) <= seen, name
            allowed = set(_allowed(info, rules))
            if name not in rules["immutable"]:
                assert set(b.astype(object)) <= allowed, name
            if name in rules["increase_only"] or name in rules["decrease_only"]:
                order = _order(info, a)
                ra = a.astype(object).map(order.index).to_numpy()
                rb = b.astype(object).map(order.index).to_numpy()
            if name in rules["increase_only"]:
                assert (rb >= ra).all(), name
            if name in rules["decrease_only"]:
                assert (rb <= ra).all(), name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layouts())
def test_projected_perturbations_decode_to_valid_rows(layout):
    X, y, prep, integer, rules, sigma = layout
    pipe = _fit(prep, X, y)
    space = TabularSpace.from_pipeline(pipe, X, integer=integer)
    c = space.constraints(**rules)
    rng = np.random.default_rng(len(X))
    Z0 = space.encode(X)
    Z = Z0 + sigma * rng.normal(size=Z0.shape)
    Z_cf = _project(space, c, Z0, Z)
    X_cf = space.decode(Z_cf, X, Z0)

    violations = space.violations(X, X_cf, c["columns"])
    feasible = _feasible(space, X, rules, integer)
    np.testing.assert_array_equal(violations == 0, feasible)
    _independent_checks(space, X, X_cf, rules, feasible, integer)
    # what comes back is a valid pipeline input on the same point (up to the
    # float32 rounding of float32 columns)
    np.testing.assert_allclose(space.encode(X_cf)[feasible], Z_cf[feasible], atol=1e-5)
    np.testing.assert_allclose(
        space.model_input(Z_cf[feasible]),
        _dense(pipe[:-1].transform(X_cf[feasible])),
        atol=1e-5,
    )


# ------------------------------------------------------------ error paths
@pytest.mark.parametrize(
    "step, why",
    [
        (
            KBinsDiscretizer(n_bins=3, quantile_method="averaged_inverted_cdf"),
            "KBinsDiscretizer",
        ),
        (PolynomialFeatures(), "PolynomialFeatures"),
        (FunctionTransformer(np.log1p), "identity func"),
        (FunctionTransformer(np.nan_to_num), "identity func"),  # fills NaN
        (MinMaxScaler(clip=True), "clip=True"),
        (SimpleImputer(add_indicator=True), "add_indicator"),
        (SimpleImputer(missing_values=0.0), "missing_values=0.0"),
    ],
)
def test_unsupported_step_names_the_step(frame, step, why):
    prep = ColumnTransformer(
        [("num", make_pipeline(MinMaxScaler(), step), ["age", "income"])]
    )
    pipe = _fit(prep, frame)
    with pytest.raises(NotDifferentiableError, match=rf"'prep>num>[\w-]+'.*{why}"):
        TabularSpace.from_pipeline(pipe, frame)


def test_unsupported_encoder_names_the_step(frame):
    prep = ColumnTransformer([("cat", TargetEncoder(), ["job"])], remainder="drop")
    pipe = _fit(prep, frame)
    with pytest.raises(NotDifferentiableError, match=r"'prep>cat' \(TargetEncoder\)"):
        TabularSpace.from_pipeline(pipe, frame)


def test_column_used_as_numeric_and_categorical(frame):
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["age"]), ("cat", OneHotEncoder(), ["age"])]
    )
    pipe = _fit(prep, frame)
    with pytest.raises(NotDifferentiableError, match="'age' is used both as numeric"):
        TabularSpace.from_pipeline(pipe, frame)


@pytest.fixture(scope="module")
def mixed_space(frame):
    return TabularSpace.from_pipeline(_fit(CASES["mixed"](), frame), frame)


@pytest.mark.parametrize(
    "param", ["immutable", "increase_only", "decrease_only", "bounds"]
)
def test_wrong_column_name_lists_the_valid_ones(mixed_space, param):
    value = {"salary": (0, 1)} if param == "bounds" else ["age", "salary"]
    with pytest.raises(
        ConstraintError, match=r"unknown column 'salary'.*'age', 'income'"
    ):
        mixed_space.constraints(**{param: value})
    assert issubclass(ConstraintError, ValueError)


@pytest.mark.parametrize("param", ["increase_only", "decrease_only"])
def test_direction_on_an_unordered_categorical(mixed_space, param):
    with pytest.raises(ConstraintError, match=rf"{param} lists 'color', an unordered"):
        mixed_space.constraints(**{param: ["color"]})


def test_contradictory_constraints(mixed_space):
    with pytest.raises(ConstraintError, match="both increase_only and decrease_only"):
        mixed_space.constraints(increase_only=["age"], decrease_only=["age"])
    with pytest.raises(ConstraintError, match="allowed categories of 'job'"):
        mixed_space.constraints(bounds={"job": ["clerk", "farmer"]})
    with pytest.raises(ConstraintError, match="Empty bounds"):
        mixed_space.constraints(bounds={"age": (50, 20)})
    with pytest.raises(ConstraintError, match="code can not skip \\['mid'\\]"):
        mixed_space.constraints(bounds={"level": ["low", "high"]})


def test_unseen_category_with_handle_unknown_error(frame):
    space = TabularSpace.from_pipeline(_fit(CASES["onehot"](), frame), frame)
    X = frame.iloc[:3].copy()
    X["city"] = np.array(["Oslo", "Paris", "Lima"], dtype=object)
    with pytest.raises(ValueError, match=r"Column 'city' holds categories .*'Paris'"):
        space.encode(X)


def test_missing_value_without_imputer(frame):
    space = TabularSpace.from_pipeline(_fit(CASES["mixed"](), frame), frame)
    X = frame.iloc[:3].copy()
    X.loc[X.index[1], "income"] = np.nan
    with pytest.raises(ValueError, match=r"Column 'income' has 1 missing value"):
        space.encode(X)


# ------------------------------------------------------- ordered categories
def test_ordered_categorical_one_hot_with_increase_only(frame):
    prep = ColumnTransformer([("cat", OneHotEncoder(), ["edu", "job"])])
    space = TabularSpace.from_pipeline(_fit(prep, frame), frame)
    edu = space.columns[space.index("edu", "test")]
    assert edu.kind == "categorical" and edu.ordered
    order = list(frame["edu"].cat.categories)  # basic < school < degree
    np.testing.assert_array_equal(edu.rank, [order.index(c) for c in edu.categories])

    c = space.constraints(increase_only=["edu"])
    assert c["rank"] is not None and c["rank_dir"] is not None
    np.testing.assert_array_equal(c["rank"][edu.search], edu.rank)
    assert (c["rank_dir"][edu.search] == 1).all()
    assert (np.delete(c["rank_dir"], edu.search) == 0).all()

    Z0 = space.encode(frame)
    _, hi = _engine(c).row_bounds(torch.as_tensor(Z0))
    hi = hi.numpy()[:, edu.search]
    rank0 = frame["edu"].cat.codes.to_numpy()
    for k, cat in enumerate(edu.categories):  # lower categories closed per row
        assert ((hi[:, k] > 0) == (order.index(cat) >= rank0)).all()

    c = space.constraints(decrease_only=["edu"])
    assert (c["rank_dir"][edu.search] == -1).all()
    _, hi = _engine(c).row_bounds(torch.as_tensor(Z0))
    hi = hi.numpy()[:, edu.search]
    for k, cat in enumerate(edu.categories):
        assert ((hi[:, k] > 0) == (order.index(cat) <= rank0)).all()


def test_ordinal_encoder_with_given_order(frame):
    prep = ColumnTransformer(
        [
            ("ord", OrdinalEncoder(categories=[LEVELS]), ["level"]),
            ("num", StandardScaler(), ["age"]),
        ]
    )
    space = TabularSpace.from_pipeline(_fit(prep, frame), frame)
    level = space.columns[space.index("level", "test")]
    assert level.kind == "ordinal" and level.integer and level.ordered
    (s,) = level.search
    np.testing.assert_array_equal(
        space.encode(frame)[:, s], frame["level"].map(LEVELS.index).to_numpy()
    )
    c = space.constraints(increase_only=["level"])
    assert (c["lower"][s], c["upper"][s]) == (0.0, 2.0)
    assert c["integer"][s] and c["increase_only"][s] and not c["decrease_only"][s]
    c = space.constraints(decrease_only=["level"], bounds={"level": ["mid", "high"]})
    assert (c["lower"][s], c["upper"][s]) == (1.0, 2.0)
    assert c["decrease_only"][s] and not c["increase_only"][s]

    # a direction breach in original units is counted
    X_cf = frame.iloc[:4].copy()
    X_cf["level"] = np.array(["low"] * 4, dtype=object)
    rules = space.constraints(increase_only=["level"])["columns"]
    broke = frame["level"].iloc[:4].to_numpy() != "low"
    np.testing.assert_array_equal(space.violations(frame.iloc[:4], X_cf, rules), broke)


def test_direction_kept_factual_outside_bounds_is_a_violation(mixed_space, frame):
    """A value a direction keeps outside its bounds never passes as valid."""
    rules = mixed_space.constraints(increase_only=["age"], bounds={"age": (0, 30)})
    X = frame.iloc[:20]
    v = mixed_space.violations(X, X, rules["columns"])
    np.testing.assert_array_equal(v, (X["age"] > 30).to_numpy())


# ------------------------------------------------------------- search_scale
def test_rare_categories_cost_more(frame):
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["job"]),
        ]
    )
    space = TabularSpace.from_pipeline(_fit(prep, frame), frame)
    scale = space.search_scale(space.encode(frame))
    job = space.columns[space.index("job", "test")]
    counts = frame["job"].value_counts()
    known = scale[job.search[: len(job.categories)]]
    by_count = [counts[c] for c in job.categories]
    # fewer rows, smaller scale: a larger cost per unit of change
    order = np.argsort(by_count)
    assert (np.diff(known[order]) >= 0).all()
    assert known[order[0]] < known[order[-1]]
    assert scale[job.search[-1]] <= known.min()  # '<unknown>' as rare as the rarest
    assert (scale > 0).all() and np.isfinite(scale).all()


def test_float32_rounding_is_not_a_modelling_error():
    """sklearn scales a float32 column in float32; the check compares in float64."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(
        {
            "temp": (1000.0 + rng.normal(0.0, 1.0, 120)).astype(np.float32),
            "age": rng.integers(18, 70, 120),
        }
    )
    prep = Pipeline(
        [
            (
                "ct",
                ColumnTransformer(
                    [
                        ("mm", MinMaxScaler(), ["temp"]),
                        ("sc", StandardScaler(), ["age"]),
                    ]
                ),
            ),
            ("scale", StandardScaler()),
        ]
    )
    pipe = _fit(prep, X, np.arange(120) % 2)
    space = _check_round_trip(pipe, X)
    assert space.columns[0].dtype == np.float32


# ------------------------------------------------------------------- links
EDU_NUM = {"basic": 6, "school": 9, "college": 12, "degree": 13, "doctor": 16}


def _edu_frame(n=120, seed=0):
    """``education`` (strings) and ``education_num``, a function of it."""
    rng = np.random.default_rng(seed)
    edu = rng.choice(list(EDU_NUM), n, p=[0.2, 0.35, 0.2, 0.2, 0.05])
    return pd.DataFrame(
        {
            "age": rng.integers(18, 70, n),
            "education": np.array(edu, dtype=object),
            "education_num": np.array([EDU_NUM[e] for e in edu], dtype=np.int64),
            "hours": rng.normal(38.0, 6.0, n).round(1),
        },
        index=pd.Index(rng.permutation(10 * n)[:n], name="id"),
    )


def _edu_pipe(X, encoder="onehot"):
    enc = OneHotEncoder() if encoder == "onehot" else OrdinalEncoder()
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "education_num", "hours"]),
            ("cat", enc, ["education"]),
        ]
    )
    y = (X["education_num"] + 0.1 * X["hours"] > 14).astype(int).to_numpy()
    return _fit(prep, X, y)


LINK = [("education", "education_num")]


@pytest.fixture(scope="module")
def edu():
    return _edu_frame()


@pytest.fixture(scope="module")
def edu_space(edu):
    return TabularSpace.from_pipeline(_edu_pipe(edu), edu, categorical=LINK)


def _slot(space, Z, column, category):
    """``Z`` with every row moved to ``category`` of ``column``."""
    info = space.columns[space.index(column, "test")]
    Z = Z.copy()
    Z[:, info.search] = 0.0
    Z[:, info.search[info.categories.index(category)]] = 1.0
    return Z


@pytest.mark.parametrize("encoder", ["onehot", "ordinal"])
def test_linked_column_map_and_round_trip(edu, encoder):
    pipe = _edu_pipe(edu, encoder)
    space = TabularSpace.from_pipeline(pipe, edu, categorical=LINK)
    driver, num = space.columns[1], space.columns[2]
    assert driver.kind == "categorical"  # an ordinal driver is searched as one too
    assert num.kind == "numeric" and num.link == 1 and not len(num.search)
    assert "education_num" not in space.search_names
    assert space.n_search == len(space.search_names) == 2 + len(EDU_NUM)
    want = [EDU_NUM[c] for c in driver.categories]
    np.testing.assert_array_equal(num.link_values, want)
    # the map is the pipeline's own transform on training rows
    Z = space.encode(edu)
    np.testing.assert_allclose(
        space.model_input(Z), _dense(pipe[:-1].transform(edu)), rtol=1e-9, atol=1e-9
    )
    pd.testing.assert_frame_equal(space.decode(Z, edu), edu, check_exact=True)


def test_decode_writes_the_linked_value(edu, edu_space):
    pipe = _edu_pipe(edu)
    X = edu.iloc[:30]
    Z = edu_space.encode(X)
    Z2 = _slot(edu_space, Z, "education", "college")
    out = edu_space.decode(Z2, X, Z)
    assert (out["education"] == "college").all()
    assert (out["education_num"] == EDU_NUM["college"]).all()
    assert out["education_num"].dtype == np.int64
    pd.testing.assert_frame_equal(out[["age", "hours"]], X[["age", "hours"]])
    # the search space still models what the pipeline sees
    np.testing.assert_allclose(
        edu_space.model_input(Z2), _dense(pipe[:-1].transform(out)), atol=1e-9
    )
    assert (edu_space.violations(X, out, edu_space.constraints()["columns"]) == 0).all()
    # relaxed slots that keep the factual's category leave the column alone
    Z3 = Z + 0.01 * np.isin(np.arange(Z.shape[1]), edu_space.columns[1].search)
    pd.testing.assert_frame_equal(edu_space.decode(Z3, X, Z), X, check_exact=True)


def test_constraints_by_linked_column_act_on_the_category(edu, edu_space):
    driver = edu_space.columns[1]
    s = driver.search
    rank = np.argsort(np.argsort([EDU_NUM[c] for c in driver.categories]))

    c = edu_space.constraints(increase_only=["education_num"])
    np.testing.assert_array_equal(c["rank"][s], rank)  # education's order
    assert (c["rank_dir"][s] == 1).all() and (np.delete(c["rank_dir"], s) == 0).all()
    Z0 = edu_space.encode(edu)
    _, hi = _engine(c).row_bounds(torch.as_tensor(Z0))
    hi = hi.numpy()[:, s]
    num0 = edu["education_num"].to_numpy()
    for k, cat in enumerate(driver.categories):  # lower levels closed per row
        assert ((hi[:, k] > 0) == (EDU_NUM[cat] >= num0)).all()
    c = edu_space.constraints(decrease_only=["education_num"])
    assert (c["rank_dir"][s] == -1).all()

    c = edu_space.constraints(immutable=["education_num"])
    assert not c["mutable"][s].any() and c["mutable"][np.r_[0, s[-1] + 1]].all()
    assert c["columns"]["immutable"] == [1, 2]  # judged on both columns

    c = edu_space.constraints(bounds={"education_num": (9, 13)})
    open_ = [9 <= EDU_NUM[cat] <= 13 for cat in driver.categories]
    np.testing.assert_array_equal(c["upper"][s] > 0, open_)
    assert c["columns"]["bounds"][2] == (9.0, 13.0)
    with pytest.raises(ConstraintError, match=r"bounds\['education_num'\].*leave no"):
        edu_space.constraints(bounds={"education_num": (10, 11)})
    # bounds="infer" span the observed values: every category stays open
    c = edu_space.constraints(bounds="infer")
    assert (c["upper"][s] == 1.0).all()


def test_linked_direction_and_an_ordered_driver(edu):
    order = list(EDU_NUM)
    X = edu.assign(education=pd.Categorical(edu["education"], order, ordered=True))
    space = TabularSpace.from_pipeline(_edu_pipe(X), X, categorical=LINK)
    s = space.columns[1].search
    c = space.constraints(increase_only=["education", "education_num"])
    assert (c["rank_dir"][s] == 1).all()  # the same order twice: fine
    with pytest.raises(ConstraintError, match="conflicting ways"):
        space.constraints(increase_only=["education"], decrease_only=["education_num"])
    # a coarser order (ties) under a finer one: the finer one rules
    X2 = X.assign(education_num=X["education_num"].clip(upper=12))
    space = TabularSpace.from_pipeline(_edu_pipe(X2), X2, categorical=LINK)
    c = space.constraints(increase_only=["education", "education_num"])
    np.testing.assert_array_equal(c["rank"][s], space.columns[1].rank)
    c = space.constraints(increase_only=["education_num"])
    tied = [{"basic": 0, "school": 1}.get(c, 2) for c in space.columns[1].categories]
    np.testing.assert_array_equal(c["rank"][s], tied)  # ties share a rank


def test_category_without_training_rows_is_closed(edu):
    cats = [[*EDU_NUM, "phd"]]
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "education_num", "hours"]),
            ("cat", OneHotEncoder(categories=cats), ["education"]),
        ]
    )
    pipe = _fit(prep, edu)
    space = TabularSpace.from_pipeline(pipe, edu, categorical=LINK)
    assert np.isnan(space.columns[2].link_values[-1])
    c = space.constraints(increase_only=["education_num"])
    assert c["upper"][space.columns[1].search[-1]] == 0.0
    X = edu.iloc[:2].copy()
    X["education"] = np.array(["phd", "basic"], dtype=object)
    with pytest.raises(ValueError, match=r"category without training rows.*'phd'"):
        space.encode(X)


def test_violations_flag_a_broken_link(edu, edu_space):
    X = edu.iloc[:6]
    rules = edu_space.constraints(increase_only=["education_num"])["columns"]
    X_cf = X.copy()
    X_cf["education_num"] = X["education_num"] + 1  # alone: disagrees
    assert (edu_space.violations(X, X_cf, rules) == 1).all()
    X_cf = X.copy()
    X_cf["education"] = np.array(["doctor"] * 6, dtype=object)  # alone: disagrees
    assert (edu_space.violations(X, X_cf, rules) == (X["education"] != "doctor")).all()
    X_cf["education_num"] = EDU_NUM["doctor"]  # both, upwards: fine
    assert (edu_space.violations(X, X_cf, rules) == 0).all()
    X_cf = X.copy()
    X_cf["education"] = np.array(["basic"] * 6, dtype=object)
    X_cf["education_num"] = EDU_NUM["basic"]  # consistent, but downwards
    down = (X["education"] != "basic").to_numpy()
    np.testing.assert_array_equal(edu_space.violations(X, X_cf, rules), down)


def test_link_that_is_not_a_function(edu):
    X = edu.copy()
    X.loc[X.index[X["education"] == "school"][0], "education_num"] = 10
    with pytest.raises(
        ConstraintError,
        match=r"'education_num' is not a function of 'education'.*"
        r"education='school' hold education_num values \[9, 10\]",
    ):
        TabularSpace.from_pipeline(_edu_pipe(X), X, categorical=LINK)


def test_inconsistent_factual_is_refused(edu, edu_space):
    X = edu.iloc[:4].copy()
    X["education_num"] = X["education_num"].to_numpy() + np.array([0, 2, 0, 0])
    with pytest.raises(
        ValueError,
        match=r"'education_num' is linked to 'education'.*1 row\(s\) disagree.*"
        r"education_num=\d+ where education='\w+' \(training rows hold \d+\)",
    ):
        edu_space.encode(X)


@pytest.mark.parametrize(
    "entry, match",
    [
        (("education",), "links 'education' to nothing"),
        (("education", "education"), "'education', which the pipeline encodes"),
        (("education", "education_num", "education_num"), "links overlap"),
        (("education", "hours", "age", "hours"), "links overlap"),
        (("education", "extra"), "'extra', which the pipeline never uses"),
        (("education_num", "education"), "holds columns the pipeline encodes"),
    ],
)
def test_bad_links(edu, entry, match):
    X = edu.assign(extra=1.0)
    with pytest.raises(ConstraintError, match=match):
        TabularSpace.from_pipeline(_edu_pipe(X), X, categorical=[entry])


@pytest.mark.parametrize(
    "categories",
    [
        ["a", "b", None, "c"],
        [1, 2.5, "x", "True"],  # mixed types: Python equality, as pandas
        [0.0, -1.0, np.nan],
        ["only"],
        [],
    ],
    ids=repr,
)
def test_small_lookup_of_category_slots_matches_the_pandas_index(categories):
    """Few values are looked up in a dict, many in a pandas index: the same
    slots (missing values of any kind match a missing category)."""
    from skcf.models._space import _DICT_LOOKUP_BELOW, ColumnInfo, _slots

    info = ColumnInfo("c", "categorical", np.zeros(0, dtype=np.int64))
    info.categories = categories
    values = [
        "a", "b", "c", "z", None, np.nan, pd.NA, float("nan"), 1, 1.0,
        np.int64(1), True, 2.5, np.float32(2.5), "x", np.str_("x"), 0.0, -0.0,
        -1, "only", "ONLY", 3,
    ]  # fmt: skip
    small = _slots(info, np.array(values, dtype=object))
    many = np.array(values * (_DICT_LOOKUP_BELOW // len(values) + 1), dtype=object)
    assert len(many) >= _DICT_LOOKUP_BELOW
    big = _slots(info, many)
    assert small.dtype == big.dtype
    np.testing.assert_array_equal(small, big[: len(values)])
