"""skcf: scikit-learn compatible counterfactual explanations and adversarial examples.

Subpackages are imported lazily, so ``import skcf`` stays light (it does not
import matplotlib, and loads torch only when a subpackage that needs it is used).
"""

import importlib

from ._config import config_context, get_config, set_config

__version__ = "0.1.0.dev0"

_SUBMODULES = [
    "base",
    "datasets",
    "density",
    "evaluation",
    "exceptions",
    "generators",
    "metrics",
    "models",
    "plotting",
    "sampling",
    "training",
    "utils",
]

__all__ = [
    *_SUBMODULES,
    "config_context",
    "get_config",
    "set_config",
    "show_versions",
    "__version__",
]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"skcf.{name}")
    raise AttributeError(f"module 'skcf' has no attribute {name!r}")


def __dir__():
    return __all__


def show_versions():
    """Print the versions of skcf and its main dependencies.

    Examples
    --------
    >>> import skcf
    >>> skcf.show_versions()  # doctest: +SKIP
    """
    import platform

    print(f"python: {platform.python_version()}")
    print(f"skcf: {__version__}")
    for mod in ["numpy", "scipy", "sklearn", "torch", "skorch", "imblearn", "pandas"]:
        try:
            version = importlib.import_module(mod).__version__
        except ImportError:
            version = "not installed"
        print(f"{mod}: {version}")
