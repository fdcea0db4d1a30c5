"""Shared fixtures: seeded RNGs and tiny models trained once per session."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from skcf.models import MLP


@pytest.fixture(autouse=True)
def seeds_fixed():
    """Seed global RNGs so stray randomness in tests is reproducible.

    Determinism of skcf itself is tested through ``random_state``.
    """
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def make_tabular(n_samples=300, n_features=6, n_classes=2, random_state=0):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        class_sep=1.2,
        random_state=random_state,
    )
    return StandardScaler().fit_transform(X).astype(np.float32), y.astype(np.int64)


def train_skorch(X, y, *, softmax=True, n_out=2, max_epochs=30, seed=0):
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    crit = torch.nn.NLLLoss if softmax else torch.nn.CrossEntropyLoss
    net = NeuralNetClassifier(
        MLP,
        module__n_features=X.shape[1],
        module__n_classes=n_out,
        module__hidden=(16,),
        module__softmax=softmax,
        criterion=crit,
        max_epochs=max_epochs,
        lr=0.05,
        batch_size=64,
        optimizer=torch.optim.Adam,
        train_split=None,
        verbose=0,
    )
    return net.fit(X, y)


@pytest.fixture(scope="session")
def tabular():
    return make_tabular()


@pytest.fixture(scope="session")
def skorch_softmax(tabular):
    """skorch net whose module ends in Softmax (criterion NLLLoss, skorch's default)."""
    X, y = tabular
    return train_skorch(X, y, softmax=True)


@pytest.fixture(scope="session")
def skorch_logits(tabular):
    """skorch net whose module returns logits (criterion CrossEntropyLoss)."""
    X, y = tabular
    return train_skorch(X, y, softmax=False)


@pytest.fixture(scope="session")
def multiclass():
    X, y = make_tabular(n_samples=300, n_features=6, n_classes=3, random_state=1)
    return X, y, train_skorch(X, y, softmax=False, n_out=3, max_epochs=40)
