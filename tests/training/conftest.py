"""Tiny data and modules for the training-net tests."""

import numpy as np
import pytest
import torch
from torch import nn

from skcf.datasets import make_moons


class TinyNet(nn.Module):
    """Lazily sized linear-ReLU-linear net (any input width, ``n_classes`` out)."""

    def __init__(self, n_classes=2, hidden=8):
        super().__init__()
        self.net = nn.Sequential(
            nn.LazyLinear(hidden), nn.ReLU(), nn.Linear(hidden, n_classes)
        )

    def forward(self, X):
        return self.net(X)


@pytest.fixture
def moons():
    X, y = make_moons(n_samples=120, noise=0.1, random_state=0)
    return X.astype(np.float32), y


def tiny_kwargs(**kw):
    base = dict(
        max_epochs=1,
        lr=0.05,
        optimizer=torch.optim.Adam,
        batch_size=32,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    base.update(kw)
    return base
