"""Discovery of skcf's public estimators (like ``sklearn.utils.all_estimators``)."""

import inspect
from importlib import import_module

_PUBLIC_MODULES = ["skcf.generators", "skcf.training", "skcf.sampling"]

_TYPES = ("generator", "meta-generator", "classifier", "sampler")


def all_estimators(type_filter=None):
    """List the public estimators of skcf.

    Parameters
    ----------
    type_filter : {"generator", "meta-generator", "classifier", "sampler"} or \
            None, default=None
        Keep only counterfactual generators that explain a model given as
        ``estimator`` (``"generator"``), generators that wrap another generator
        (``"meta-generator"``, e.g. ``StableNeighborSearch``), the training
        classifiers (``"classifier"``) or the resamplers (``"sampler"``).

    Returns
    -------
    estimators : list of (name, class)
        Sorted by name; abstract ``Base*`` classes are excluded.

    Examples
    --------
    >>> from skcf.utils import all_estimators
    >>> "WachterGenerator" in [name for name, _ in all_estimators("generator")]
    True
    >>> [name for name, _ in all_estimators("meta-generator")]
    ['StableNeighborSearch']
    """
    from sklearn.base import BaseEstimator

    from ..base import BaseGenerator

    if type_filter not in (None, *_TYPES):
        raise ValueError(
            f"type_filter must be one of {_TYPES} or None, got {type_filter!r}."
        )
    found = {}
    for mod_name in _PUBLIC_MODULES:
        mod = import_module(mod_name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if not (
                inspect.isclass(obj)
                and issubclass(obj, BaseEstimator)
                and not name.startswith("Base")
                and not inspect.isabstract(obj)
            ):
                continue
            if type_filter is not None and _kind(obj, BaseGenerator) != type_filter:
                continue
            found[name] = obj
    return sorted(found.items())


def _kind(cls, base_generator):
    """The ``type_filter`` an estimator class answers to."""
    from sklearn.base import ClassifierMixin
    from skorch import NeuralNetClassifier

    if issubclass(cls, base_generator):
        params = inspect.signature(cls).parameters
        return "meta-generator" if "generator" in params else "generator"
    if hasattr(cls, "fit_resample"):
        return "sampler"
    if issubclass(cls, (ClassifierMixin, NeuralNetClassifier)):
        return "classifier"
    return None
