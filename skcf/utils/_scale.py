"""Per-feature cost scales shared by the generators and the search spaces."""

import numpy as np


def robust_scale(X):
    """Median absolute deviation per feature, falling back to std, then 1."""
    X = np.asarray(X, dtype=np.float64)
    mad = np.median(np.abs(X - np.median(X, axis=0)), axis=0)
    std = X.std(axis=0)
    scale = np.where(mad > 1e-12, mad, std)
    return np.where(scale > 1e-12, scale, 1.0)
