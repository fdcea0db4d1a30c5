"""load_fashion_mnist_tshirt_trouser: sha256 check, layout, data_home lookup."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from skcf.datasets import load_fashion_mnist_tshirt_trouser

FOLDER = "fashion_mnist_tshirt_trouser"
FILE = "fmnist_t10k_tshirt_trouser.csv.gz"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(autouse=True)
def _no_data_home_env(monkeypatch):
    monkeypatch.delenv("SKCF_DATA_HOME", raising=False)


@pytest.fixture(scope="module")
def data_home():
    if not (SHARED_DATA / FOLDER / FILE).is_file():
        pytest.skip(f"Fashion-MNIST subset not available under {SHARED_DATA}")
    return SHARED_DATA


def test_layout_and_values(data_home):
    bunch = load_fashion_mnist_tshirt_trouser(data_home=data_home)
    assert bunch.data.shape == (1365, 784) and bunch.data.dtype == np.float64
    assert bunch.data.min() == 0.0 and bunch.data.max() == 1.0
    assert np.bincount(bunch.target).tolist() == [688, 677]
    assert bunch.target_names.tolist() == ["T-shirt/top", "Trouser"]
    np.testing.assert_array_equal(bunch.images.reshape(1365, -1), bunch.data)
    assert (np.diff(bunch.t10k_index) > 0).all() and bunch.t10k_index.max() < 6978
    assert len(bunch.actionability["bounds"]) == 784
    # trousers are narrower than T-shirts: fewer bright pixels on average
    bright = (bunch.data > 0.5).sum(axis=1)
    assert bright[bunch.target == 1].mean() < bright[bunch.target == 0].mean()


def test_return_X_y_and_frame(data_home):
    pd = pytest.importorskip("pandas")
    X, y = load_fashion_mnist_tshirt_trouser(data_home=data_home, return_X_y=True)
    assert X.shape == (1365, 784) and y.shape == (1365,)
    bunch = load_fashion_mnist_tshirt_trouser(data_home=data_home, as_frame=True)
    assert isinstance(bunch.data, pd.DataFrame) and bunch.data.columns[0] == "pixel0"
    assert bunch.frame.shape == (1365, 785)


def test_file_itself_in_data_home_and_env_var(data_home, tmp_path, monkeypatch):
    shutil.copy(data_home / FOLDER / FILE, tmp_path / FILE)
    X, _ = load_fashion_mnist_tshirt_trouser(data_home=tmp_path, return_X_y=True)
    assert X.shape == (1365, 784)
    monkeypatch.setenv("SKCF_DATA_HOME", str(tmp_path))
    X, _ = load_fashion_mnist_tshirt_trouser(return_X_y=True)
    assert X.shape == (1365, 784)


def test_checksum_mismatch_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="fmnist_t10k_tshirt_trouser"):
        load_fashion_mnist_tshirt_trouser(data_home=tmp_path)
    (tmp_path / FILE).write_bytes(b"not the data")
    with pytest.raises(ValueError, match="sha256"):
        load_fashion_mnist_tshirt_trouser(data_home=tmp_path)
