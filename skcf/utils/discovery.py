"""Discovery of skcf's public estimators (like ``sklearn.utils.all_estimators``)."""

import inspect
from importlib import import_module

_PUBLIC_MODULES = ["skcf.generators"]


def all_estimators(type_filter=None):
    """List the public estimators of skcf.

    Parameters
    ----------
    type_filter : {"generator"} or None, default=None
        Keep only counterfactual generators.

    Returns
    -------
    estimators : list of (name, class)
        Sorted by name; abstract ``Base*`` classes are excluded.

    Examples
    --------
    >>> from skcf.utils import all_estimators
    >>> "WachterGenerator" in [name for name, _ in all_estimators("generator")]
    True
    """
    from sklearn.base import BaseEstimator

    from ..base import BaseGenerator

    found = {}
    for mod_name in _PUBLIC_MODULES:
        mod = import_module(mod_name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and not name.startswith("Base")
                and not inspect.isabstract(obj)
            ):
                if type_filter == "generator" and not issubclass(obj, BaseGenerator):
                    continue
                found[name] = obj
    return sorted(found.items())
