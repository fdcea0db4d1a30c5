"""The raw road of the loaders: ``as_frame=True`` gives the original units.

German credit ships with skcf; the other data sets are read from the shared
data folder and their tests are skipped when it is missing. Every frame is
loaded once per module.
"""

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skcf.datasets import (
    load_adult,
    load_ctg,
    load_german_credit,
    load_heloc,
    load_taiwan_credit,
)
from skcf.datasets._loaders import _natural_key

pd = pytest.importorskip("pandas")
compose = pytest.importorskip("sklearn.compose")

# /work/shared/data when the repository is /work/main.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ENV = "SKCF_DATA_HOME"

LOADERS = {
    "german": load_german_credit,
    "adult": load_adult,
    "heloc": load_heloc,
    "taiwan": load_taiwan_credit,
    "ctg": load_ctg,
}

GERMAN_NUMERIC = [
    "duration",
    "credit_amount",
    "installment_rate",
    "residence_since",
    "age",
    "existing_credits",
    "num_dependents",
]
ADULT_NUMERIC = ["age", "education-num", "capital-gain", "capital-loss"]
ADULT_NUMERIC += ["hours-per-week"]
HELOC_INCREASE_ONLY = [
    "MSinceOldestTradeOpen",
    "AverageMInFile",
    "NumTrades60Ever2DerogPubRec",
    "NumTrades90Ever2DerogPubRec",
    "MaxDelqEver",
    "NumTotalTrades",
]
TAIWAN_INTEGER = ["LIMIT_BAL", "AGE", "PAY_0", *(f"PAY_{i}" for i in range(2, 7))]
TAIWAN_INTEGER += [f"BILL_AMT{i}" for i in range(1, 7)]
TAIWAN_INTEGER += [f"PAY_AMT{i}" for i in range(1, 7)]
CTG_FLOAT = ["AC", "FM", "UC", "DL", "DS", "DP", "MSTV", "MLTV"]
CTG_INTEGER = ["LB", "ASTV", "ALTV", "Width", "Min", "Max", "Nmax", "Nzeros"]
CTG_INTEGER += ["Mode", "Mean", "Median", "Variance"]

# shape, categorical columns, ordered categorical columns, label counts,
# exact actionability and shape of the encoded road, per data set (defaults).
EXPECTED = {
    "german": dict(
        shape=(1000, 20),
        categorical=[
            "checking_status",
            "credit_history",
            "purpose",
            "savings_status",
            "employment",
            "personal_status",
            "other_parties",
            "property_magnitude",
            "other_payment_plans",
            "housing",
            "job",
            "own_telephone",
            "foreign_worker",
        ],
        ordered=["employment"],
        counts=[300, 700],
        actionability={
            "immutable": ["personal_status", "foreign_worker"],
            "increase_only": ["employment", "residence_since", "age"],
            "decrease_only": [],
            "integer": GERMAN_NUMERIC,
        },
        encoded_shape=(1000, 61),
    ),
    "adult": dict(
        shape=(30162, 13),
        categorical=[
            "workclass",
            "education",
            "marital-status",
            "occupation",
            "relationship",
            "race",
            "sex",
            "native-country",
        ],
        ordered=["education"],
        links=[("education", "education-num")],
        counts=[22654, 7508],
        actionability={
            "immutable": [
                "marital-status",
                "relationship",
                "race",
                "sex",
                "native-country",
            ],
            "increase_only": ["age", "education", "education-num"],
            "decrease_only": [],
            "integer": ADULT_NUMERIC,
        },
        encoded_shape=(30162, 103),
    ),
    "heloc": dict(
        shape=(9871, 23),
        categorical=[],
        ordered=[],
        counts=[5136, 4735],
        actionability={
            "immutable": ["ExternalRiskEstimate"],
            "increase_only": HELOC_INCREASE_ONLY,
            "decrease_only": [],
            "integer": None,  # all 23 columns, checked below
        },
        encoded_shape=(9871, 23),
    ),
    "taiwan": dict(
        shape=(30000, 23),
        categorical=["SEX", "EDUCATION", "MARRIAGE"],
        ordered=[],
        counts=[6636, 23364],
        actionability={
            "immutable": ["SEX", "MARRIAGE"],
            "increase_only": ["AGE"],
            "decrease_only": [],
            "integer": TAIWAN_INTEGER,
        },
        encoded_shape=(30000, 33),
    ),
    "ctg": dict(
        shape=(2126, 21),
        categorical=["Tendency"],
        ordered=[],
        counts=[471, 1655],
        actionability={
            "immutable": [],
            "increase_only": [],
            "decrease_only": [],
            "integer": CTG_INTEGER,
        },
        encoded_shape=(2126, 23),
    ),
}


@pytest.fixture(scope="module")
def load():
    """Cached loader call, isolated from a SKCF_DATA_HOME set by the user."""
    cache = {}

    def _load(name, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            if name != "german":
                if not SHARED_DATA.is_dir():
                    pytest.skip(f"shared data folder {SHARED_DATA} not available")
                kwargs = {"data_home": SHARED_DATA, **kwargs}
            cache[key] = LOADERS[name](**kwargs)
        return cache[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ENV, raising=False)
        yield _load


@pytest.fixture(scope="module", params=list(LOADERS))
def name(request):
    return request.param


# ----------------------------------------------------------------------------
# Every loader
# ----------------------------------------------------------------------------


def test_frame_layout_and_dtypes(name, load):
    bunch = load(name, as_frame=True)
    expected = EXPECTED[name]
    X, y = bunch.data, bunch.target
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert X.shape == expected["shape"]
    assert list(X.columns) == bunch.feature_names
    # No encoded columns: one column per original feature.
    assert not any("=" in c for c in X.columns)
    assert bunch.categorical_features == expected["categorical"]
    numeric = [c for c in X.columns if c not in expected["categorical"]]
    assert bunch.numeric_features == numeric
    for col in bunch.categorical_features:
        assert isinstance(X[col].dtype, pd.CategoricalDtype), col
        assert X[col].cat.ordered == (col in expected["ordered"]), col
    for col in numeric:
        assert X[col].dtype in (np.int64, np.float64), col
    assert set(X.dtypes.astype(str)) <= {"category", "int64", "float64"}
    # Target: int64, favourable = 1, as on the encoded road.
    assert y.dtype == np.int64 and y.index.equals(X.index)
    assert np.bincount(y).tolist() == expected["counts"]
    assert bunch.frame.shape == (X.shape[0], X.shape[1] + 1)
    assert bunch.frame.iloc[:, :-1].equals(X)
    assert bunch.frame[y.name].equals(y)
    assert bunch.raw_frame is not None and len(bunch.raw_frame) == len(X)
    assert bunch.feature_mean is None and bunch.feature_scale is None


def test_categories_are_observed_values(name, load):
    bunch = load(name, as_frame=True)
    for col in bunch.categorical_features:
        series = bunch.data[col]
        categories = series.cat.categories.tolist()
        observed = set(series.dropna().tolist())
        assert not series.isna().any(), col
        if name == "adult":
            # The values of either Adult file, so train and test share dtypes.
            assert observed <= set(categories), col
        else:
            assert observed == set(categories), col
        if not series.cat.ordered:
            assert categories == sorted(categories, key=_natural_key), col


def test_values_are_the_original_units(name, load):
    bunch = load(name, as_frame=True)
    X, raw = bunch.data, bunch.raw_frame
    for col in bunch.numeric_features:
        assert_array_equal(X[col].to_numpy(), raw[col].to_numpy(), err_msg=col)
        if X[col].dtype == np.int64:
            assert raw[col].dtype == np.int64, col
    for col in bunch.categorical_features:
        assert_array_equal(
            X[col].astype(object).to_numpy(), raw[col].to_numpy(), err_msg=col
        )


def test_actionability_by_column_name(name, load):
    bunch = load(name, as_frame=True)
    expected = dict(EXPECTED[name]["actionability"])
    if expected["integer"] is None:
        expected["integer"] = bunch.numeric_features
    act = dict(bunch.actionability)
    links = act.pop("categorical", [])
    assert links == EXPECTED[name].get("links", [])
    assert act == expected
    columns = set(bunch.data.columns)
    for key, value in act.items():
        assert set(value) <= columns, key
    # Integer columns are the int64 numeric columns.
    assert act["integer"] == [
        c for c in bunch.numeric_features if bunch.data[c].dtype == np.int64
    ]
    # A one-directional categorical must have an order.
    for col in act["increase_only"] + act["decrease_only"]:
        if col in bunch.categorical_features:
            assert bunch.data[col].cat.ordered, col


def test_return_X_y(name, load):
    bunch = load(name, as_frame=True)
    X, y = load(name, as_frame=True, return_X_y=True)
    assert X.equals(bunch.data) and y.equals(bunch.target)


@pytest.mark.parametrize("name", ["german", "ctg"])
def test_standardize_is_ignored(name, load):
    frame = load(name, as_frame=True)
    raw = load(name, as_frame=True, standardize=False)
    assert frame.data.equals(raw.data)


def test_encoded_road_unchanged(name, load):
    encoded = load(name)
    expected = EXPECTED[name]
    assert isinstance(encoded.data, np.ndarray) and encoded.data.dtype == np.float64
    assert encoded.data.shape == expected["encoded_shape"]
    assert encoded.frame is None and encoded.raw_frame is None
    assert encoded.categorical_features is None
    assert encoded.numeric_features is None
    assert set(encoded.actionability) == {
        "immutable",
        "increase_only",
        "decrease_only",
        "categorical",
        "integer",
    }
    assert all(isinstance(i, int) for i in encoded.actionability["immutable"])
    # The unstandardised encoding is the one-hot image of the raw frame.
    unscaled = load(name, standardize=False)
    frame = load(name, as_frame=True)
    X, names = unscaled.data, unscaled.feature_names
    assert_array_equal(unscaled.target, frame.target.to_numpy())
    assert_array_equal(encoded.target, frame.target.to_numpy())
    for col in frame.numeric_features:
        assert_array_equal(X[:, names.index(col)], frame.data[col].to_numpy())
    for col in frame.categorical_features:
        for cat in frame.data[col].cat.categories:
            j = names.index(f"{col}={cat}")
            assert_array_equal(X[:, j], (frame.data[col] == cat).to_numpy())


def test_column_transformer_pipeline_fits(name, load):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    bunch = load(name, as_frame=True)
    encoder = compose.ColumnTransformer(
        [
            ("num", StandardScaler(), bunch.numeric_features),
            ("cat", OneHotEncoder(handle_unknown="ignore"), bunch.categorical_features),
        ]
    )
    model = make_pipeline(encoder, LogisticRegression(max_iter=1000))
    model.fit(bunch.data, bunch.target)
    n_encoded = EXPECTED[name]["encoded_shape"][1]
    assert model[0].transform(bunch.data.head()).shape == (5, n_encoded)
    majority = np.bincount(bunch.target).max() / len(bunch.target)
    assert model.score(bunch.data, bunch.target) > majority


# ----------------------------------------------------------------------------
# Per data set
# ----------------------------------------------------------------------------


def test_german_values_and_order(load):
    bunch = load("german", as_frame=True)
    X = bunch.data
    assert X.loc[0, "checking_status"] == "A11"
    assert X.loc[0, "age"] == 67 and X["age"].dtype == np.int64
    assert (X["age"].min(), X["age"].max()) == (19, 75)
    assert X["employment"].cat.categories.tolist() == [f"A7{i}" for i in range(1, 6)]
    # A65 ("unknown / no savings account") has no place in the amount order.
    assert X["savings_status"].cat.categories.tolist() == [
        f"A6{i}" for i in range(1, 6)
    ]
    assert not X["savings_status"].cat.ordered
    # Natural order of the UCI codes (A47 does not occur in the file).
    assert X["purpose"].cat.categories.tolist()[-3:] == ["A48", "A49", "A410"]
    assert (X["employment"] >= "A73").sum() == (
        X["employment"].isin(["A73", "A74", "A75"]).sum()
    )
    assert bunch.target_names.tolist() == ["bad", "good"]


def test_adult_education_follows_education_num(load):
    X = load("adult", as_frame=True).data
    assert_array_equal(X["education"].cat.codes + 1, X["education-num"])
    assert X["education"].cat.categories[[0, 8, -1]].tolist() == [
        "Preschool",
        "HS-grad",
        "Doctorate",
    ]
    assert "fnlwgt" not in X.columns
    for col in load("adult", as_frame=True).categorical_features:
        categories = X[col].cat.categories.tolist()
        assert "?" not in categories
        assert all(c == c.strip() for c in categories), col


def test_adult_missing_values_kept_as_nan(load):
    bunch = load("adult", as_frame=True, dropna=False, drop_fnlwgt=False)
    X = bunch.data
    assert X.shape == (32561, 14)
    assert X["fnlwgt"].dtype == np.int64
    assert "fnlwgt" in bunch.actionability["integer"]
    assert X.isna().sum()[lambda s: s > 0].to_dict() == {
        "workclass": 1836,
        "occupation": 1843,
        "native-country": 583,
    }
    assert int(X.isna().any(axis=1).sum()) == 2399
    assert "?" not in X["workclass"].cat.categories
    assert np.bincount(bunch.target).tolist() == [24720, 7841]
    # The raw table keeps the file's '?'.
    assert int((bunch.raw_frame["workclass"] == "?").sum()) == 1836


def test_adult_subsets_share_dtypes(load):
    train = load("adult", as_frame=True)
    test = load("adult", as_frame=True, subset="test")
    assert test.data.shape == (15060, 13)
    assert np.bincount(test.target).tolist() == [11360, 3700]
    assert (train.data.dtypes == test.data.dtypes).all()
    both = pd.concat([train.data, test.data], ignore_index=True)
    assert both["education"].dtype == train.data["education"].dtype


def test_heloc_special_codes_kept(load):
    X = load("heloc", as_frame=True).data
    values = X.to_numpy()
    for code in (-7, -8, -9):
        assert (values == code).any(), code
    assert (X.dtypes == np.int64).all()
    full = load("heloc", as_frame=True, dropna=False)
    assert full.data.shape == (10459, 23)
    assert int((full.data == -9).all(axis=1).sum()) == 588


def test_taiwan_codes(load):
    bunch = load("taiwan", as_frame=True)
    X = bunch.data
    assert X["SEX"].cat.categories.tolist() == [1, 2]
    assert X["EDUCATION"].cat.categories.tolist() == list(range(7))
    assert X["MARRIAGE"].cat.categories.tolist() == list(range(4))
    # EDUCATION has no usable order, so it is not one-directional here.
    assert "EDUCATION" not in bunch.actionability["increase_only"]
    assert "ID" not in X.columns


def test_ctg_multiclass(load):
    bunch = load("ctg", as_frame=True, binary=False)
    X, y = bunch.data, bunch.target
    assert [c for c in X.columns if X[c].dtype == np.float64] == CTG_FLOAT
    assert X["Tendency"].cat.categories.tolist() == [-1, 0, 1]
    assert y.name == "fetal_state" and y.dtype == np.int64
    assert np.bincount(y).tolist() == [1655, 295, 176]
    assert "CLASS" not in X.columns and "NSP" not in X.columns
