"""Tests for the real-data loaders in skcf.datasets (offline)."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skcf.datasets import (
    _loaders,
    load_adult,
    load_ctg,
    load_german_credit,
    load_heloc,
    load_taiwan_credit,
)

pd = pytest.importorskip("pandas")

EMBEDDED_GERMAN = Path(_loaders.__file__).resolve().parent / "data" / "german.data"
# /work/shared/data when the repository is /work/main.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ENV = "SKCF_DATA_HOME"


@pytest.fixture(autouse=True)
def _no_data_home_env(monkeypatch):
    """Isolate every test from a SKCF_DATA_HOME set by the user."""
    monkeypatch.delenv(ENV, raising=False)


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} not available")
    return SHARED_DATA


def _corrupt_copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    content = bytearray(src.read_bytes())
    content[100] = ord("9") if content[100] != ord("9") else ord("8")
    dst.write_bytes(bytes(content))
    return dst


def _check_bunch(bunch, n_rows, n_classes=2):
    X, y = bunch.data, bunch.target
    n_features = len(bunch.feature_names)
    assert isinstance(X, np.ndarray) and X.dtype == np.float64
    assert X.shape == (n_rows, n_features)
    assert y.shape == (n_rows,) and y.dtype == np.int64
    assert set(np.unique(y)) <= set(range(n_classes))
    assert np.isfinite(X).all()
    assert len(bunch.target_names) == n_classes
    assert bunch.frame is None and bunch.raw_frame is None
    assert "License" in bunch.DESCR
    act = bunch.actionability
    assert set(act) == {
        "immutable",
        "increase_only",
        "decrease_only",
        "categorical",
        "integer",
    }
    flat = [i for key in act if key != "categorical" for i in act[key]]
    flat += [i for group in act["categorical"] for i in group]
    assert all(isinstance(i, int) and 0 <= i < n_features for i in flat)
    one_hot = [i for group in act["categorical"] for i in group]
    assert len(one_hot) == len(set(one_hot))
    # One-directional features are numeric, never one-hot.
    assert not set(act["increase_only"] + act["decrease_only"]) & set(one_hot)
    for group in act["categorical"]:
        block = X[:, group]
        # Standardisation never touches one-hot columns.
        assert set(np.unique(block)) <= {0.0, 1.0}
        assert_array_equal(block.sum(axis=1), 1.0)
    assert_array_equal(bunch.feature_mean[one_hot], 0.0)
    assert_array_equal(bunch.feature_scale[one_hot], 1.0)


# ----------------------------------------------------------------------------
# German credit (embedded copy)
# ----------------------------------------------------------------------------


def test_german_credit_embedded():
    bunch = load_german_credit()
    _check_bunch(bunch, 1000)
    assert bunch.data.shape == (1000, 61)
    assert np.bincount(bunch.target).tolist() == [300, 700]
    assert bunch.target_names.tolist() == ["bad", "good"]
    assert len(bunch.actionability["categorical"]) == 13
    assert bunch.actionability["integer"] == []
    names = bunch.feature_names
    assert names[:5] == [
        "checking_status=A11",
        "checking_status=A12",
        "checking_status=A13",
        "checking_status=A14",
        "duration",
    ]
    numeric = [
        "duration",
        "credit_amount",
        "installment_rate",
        "residence_since",
        "age",
        "existing_credits",
        "num_dependents",
    ]
    assert [n for n in names if "=" not in n] == numeric
    # UCI code order, not string order.
    purpose = [n for n in names if n.startswith("purpose=")]
    assert purpose[-2:] == ["purpose=A49", "purpose=A410"]
    # Numeric columns are z-scored with the population standard deviation.
    idx = [names.index(n) for n in numeric]
    assert_allclose(bunch.data[:, idx].mean(axis=0), 0.0, atol=1e-12)
    assert_allclose(bunch.data[:, idx].std(axis=0), 1.0)


def test_german_credit_actionability():
    bunch = load_german_credit()
    names = bunch.feature_names
    act = bunch.actionability
    immutable = {names[i] for i in act["immutable"]}
    expected = {
        n for n in names if n.startswith(("personal_status=", "foreign_worker="))
    }
    assert immutable == expected and len(expected) == 6
    assert [names[i] for i in act["increase_only"]] == ["residence_since", "age"]
    assert act["decrease_only"] == []
    # Employment is increase-only but one-hot, so it is only a categorical group.
    employment = [i for i, n in enumerate(names) if n.startswith("employment=")]
    assert employment in act["categorical"]


def test_german_credit_raw_values_and_round_trip():
    raw = load_german_credit(standardize=False)
    std = load_german_credit()
    assert_allclose(std.data * std.feature_scale + std.feature_mean, raw.data)
    names = raw.feature_names
    age = raw.data[:, names.index("age")]
    assert (age.min(), age.max()) == (19.0, 75.0)
    assert [names[i] for i in raw.actionability["integer"]] == [
        n for n in names if "=" not in n
    ]
    assert_array_equal(raw.feature_mean, 0.0)
    assert_array_equal(raw.feature_scale, 1.0)


def test_german_credit_as_frame():
    # as_frame=True is the raw road: original units, not the encoded matrix
    # (tests/datasets/test_raw_frames.py checks it in depth).
    bunch = load_german_credit(as_frame=True)
    X, y = bunch.data, bunch.target
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert list(X.columns) == bunch.feature_names
    assert X.shape == (1000, 20)
    assert X["checking_status"].dtype == "category"
    assert X["age"].dtype == np.int64
    assert y.name == "class"
    assert_array_equal(y.to_numpy(), load_german_credit().target)
    assert bunch.frame.shape == (1000, 21)
    # raw_frame is kept for backward compatibility: the table as read.
    assert bunch.raw_frame.shape == (1000, 21)
    assert bunch.raw_frame["checking_status"].iloc[0] == "A11"
    assert bunch.raw_frame["age"].iloc[0] == 67
    act = bunch.actionability
    assert act["immutable"] == ["personal_status", "foreign_worker"]
    assert act["increase_only"] == ["employment", "residence_since", "age"]
    assert "categorical" not in act
    assert bunch.feature_mean is None and bunch.feature_scale is None


def test_german_credit_return_X_y():
    X, y = load_german_credit(return_X_y=True)
    assert X.shape == (1000, 61) and y.shape == (1000,)
    X, y = load_german_credit(return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)


# ----------------------------------------------------------------------------
# File lookup, sha256 and error messages
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["flat", "subfolder"])
def test_sha256_mismatch_raises(tmp_path, layout):
    folder = tmp_path / "german_credit" if layout == "subfolder" else tmp_path
    bad = _corrupt_copy(EMBEDDED_GERMAN, folder / "german.data")
    expected = _loaders._FILES["german_credit"]["german.data"]
    with pytest.raises(ValueError, match="sha256") as excinfo:
        load_german_credit(data_home=tmp_path)
    message = str(excinfo.value)
    assert "german.data" in message and str(bad) in message
    assert expected in message
    assert _loaders._sha256(bad.read_bytes()) in message


def test_data_home_is_used_before_embedded_copy(tmp_path):
    shutil.copyfile(EMBEDDED_GERMAN, tmp_path / "german.data")
    X, y = load_german_credit(data_home=str(tmp_path), return_X_y=True)
    assert X.shape == (1000, 61)


def test_env_var_is_honoured(tmp_path, monkeypatch):
    _corrupt_copy(EMBEDDED_GERMAN, tmp_path / "german_credit" / "german.data")
    monkeypatch.setenv(ENV, str(tmp_path))
    # The (corrupted) copy under SKCF_DATA_HOME is found before the embedded one.
    with pytest.raises(ValueError, match="sha256"):
        load_german_credit()


def test_data_home_takes_precedence_over_env_var(tmp_path, monkeypatch):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    shutil.copyfile(EMBEDDED_GERMAN, good / "german.data")
    _corrupt_copy(EMBEDDED_GERMAN, bad / "german.data")
    monkeypatch.setenv(ENV, str(bad))
    X, _ = load_german_credit(data_home=good, return_X_y=True)
    assert X.shape == (1000, 61)


def test_missing_file_message(tmp_path):
    with pytest.raises(FileNotFoundError) as excinfo:
        load_heloc(data_home=tmp_path)
    message = str(excinfo.value)
    assert "heloc_dataset_v1.csv" in message
    assert str(tmp_path / "heloc" / "heloc_dataset_v1.csv") in message
    assert str(tmp_path / "heloc_dataset_v1.csv") in message
    assert "data_home" in message and ENV in message


def test_missing_file_lists_env_var_paths(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=ENV) as excinfo:
        load_ctg()
    assert str(tmp_path / "ctg" / "ctg.csv") in str(excinfo.value)


def test_missing_embedded_german_copy(tmp_path, monkeypatch):
    monkeypatch.setitem(
        _loaders._EMBEDDED, ("german_credit", "german.data"), tmp_path / "nope"
    )
    with pytest.raises(FileNotFoundError, match="german.data"):
        load_german_credit(data_home=tmp_path)


@pytest.mark.parametrize("loader", [load_heloc, load_ctg])
def test_no_download_source(tmp_path, loader):
    with pytest.raises(FileNotFoundError, match="No download source"):
        loader(data_home=tmp_path, download_if_missing=True)


def test_adult_download_needs_subset_all(tmp_path):
    # Raised before any network access.
    with pytest.raises(ValueError, match="subset='all'"):
        load_adult(data_home=tmp_path, subset="train", download_if_missing=True)


def test_adult_missing_file_suggests_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_if_missing=True"):
        load_adult(data_home=tmp_path)


@pytest.mark.parametrize(
    "loader, kwargs, param",
    [
        (load_adult, {"subset": "validation"}, "subset"),
        (load_german_credit, {"as_frame": "yes"}, "as_frame"),
        (load_ctg, {"data_home": 3}, "data_home"),
    ],
)
def test_invalid_parameters(loader, kwargs, param):
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        loader(**kwargs)


# ----------------------------------------------------------------------------
# Loaders reading the shared data folder
# ----------------------------------------------------------------------------


def test_adult(shared_data):
    train = load_adult(data_home=shared_data)
    # 32,561 rows minus the 2,399 with a '?' (observed; see DESCR).
    _check_bunch(train, 30162)
    assert np.bincount(train.target).tolist() == [22654, 7508]
    assert train.data.shape[1] == 103
    assert "fnlwgt" not in train.feature_names
    assert "workclass=Private" in train.feature_names
    assert "workclass=Never-worked" not in train.feature_names
    assert train.target_names.tolist() == ["<=50K", ">50K"]
    names = train.feature_names
    act = train.actionability
    assert [names[i] for i in act["increase_only"]] == ["age", "education-num"]
    immutable = {names[i].split("=")[0] for i in act["immutable"]}
    assert immutable == {
        "marital-status",
        "relationship",
        "race",
        "sex",
        "native-country",
    }
    education = [i for i, n in enumerate(names) if n.startswith("education=")]
    assert education in act["categorical"]

    test = load_adult(data_home=shared_data, subset="test")
    _check_bunch(test, 15060)
    assert np.bincount(test.target).tolist() == [11360, 3700]
    assert test.feature_names == train.feature_names

    full = load_adult(data_home=shared_data, subset="all", return_X_y=True)
    assert full[0].shape == (45222, 103)


def test_adult_options(shared_data):
    bunch = load_adult(
        data_home=shared_data,
        dropna=False,
        drop_fnlwgt=False,
        standardize=False,
    )
    assert bunch.data.shape == (32561, 108)
    assert np.bincount(bunch.target).tolist() == [24720, 7841]
    names = bunch.feature_names
    assert "workclass=?" in names
    assert names.index("fnlwgt") in bunch.actionability["integer"]
    frame = load_adult(
        data_home=shared_data, dropna=False, drop_fnlwgt=False, as_frame=True
    )
    assert frame.raw_frame.shape == (32561, 15)
    assert "fnlwgt" in frame.actionability["integer"]
    test = load_adult(data_home=shared_data, subset="test", as_frame=True)
    assert set(test.raw_frame["income"]) == {"<=50K", ">50K"}


def test_heloc(shared_data):
    bunch = load_heloc(data_home=shared_data)
    _check_bunch(bunch, 10459 - 588)
    assert bunch.data.shape[1] == 23
    assert bunch.target_names.tolist() == ["Bad", "Good"]
    assert bunch.actionability["immutable"] == [0]
    full = load_heloc(data_home=shared_data, dropna=False, standardize=False)
    _check_bunch(full, 10459)
    assert np.bincount(full.target).tolist() == [5459, 5000]
    assert len(full.actionability["integer"]) == 23


def test_taiwan_credit(shared_data):
    bunch = load_taiwan_credit(data_home=shared_data)
    _check_bunch(bunch, 30000)
    assert bunch.data.shape == (30000, 33)
    assert np.bincount(bunch.target).tolist() == [6636, 23364]
    names = bunch.feature_names
    assert "ID" not in names
    act = bunch.actionability
    assert [names[i] for i in act["increase_only"]] == ["AGE"]
    assert {names[i] for i in act["immutable"]} == {"SEX=1", "SEX=2"} | {
        f"MARRIAGE={k}" for k in range(4)
    }
    education = [names.index(f"EDUCATION={k}") for k in range(7)]
    assert education in act["categorical"]


@pytest.mark.parametrize("binary", [True, False])
def test_ctg(shared_data, binary):
    bunch = load_ctg(data_home=shared_data, binary=binary)
    _check_bunch(bunch, 2126, n_classes=2 if binary else 3)
    assert bunch.data.shape[1] == 23
    assert "CLASS" not in bunch.feature_names
    counts = np.bincount(bunch.target).tolist()
    assert counts == ([471, 1655] if binary else [1655, 295, 176])
    assert bunch.actionability["categorical"] == [[20, 21, 22]]
