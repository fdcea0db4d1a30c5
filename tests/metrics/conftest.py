"""Fixtures for the metric tests: one small fitted classifier and generator."""

import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="module", autouse=True)
def single_torch_thread():
    """Tiny tensors: intra-op threads only add overhead (and stall on busy hosts)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def data():
    X, y = make_classification(
        n_samples=80,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        class_sep=1.5,
        random_state=0,
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def clf(data):
    X, y = data
    return LogisticRegression().fit(X, y)


@pytest.fixture(scope="session")
def generator(data, clf):
    from skcf.generators import WachterGenerator

    X, _ = data
    return WachterGenerator(clf, max_iter=50, random_state=0).fit(X)
