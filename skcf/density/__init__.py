"""Differentiable densities, autoencoders and prototypes, fitted in ``fit``.

Estimators here follow ``sklearn.neighbors.KernelDensity``'s surface (``fit``,
``score_samples``, ``score``, ``sample``) and also give the engine a torch
function it can differentiate through.
"""

import importlib

_LAZY = {
    "KDEDensity": "._kde",
    "GMMDensity": "._gmm",
    "KNNDensity": "._knn",
    "ClassConditionalDensity": "._conditional",
    "Autoencoder": "._autoencoder",
    "VariationalAutoencoder": "._autoencoder",
    "PrototypeIndex": "._prototypes",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'skcf.density' has no attribute {name!r}")


def __dir__():
    return __all__
