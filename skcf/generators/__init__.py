"""Counterfactual generators: sklearn transformers on the shared engine."""

from ..base import CounterfactualSet
from ._ead import ElasticNetGenerator
from ._ecco import ECCoGenerator
from ._pgd import PGDGenerator
from ._wachter import WachterGenerator

__all__ = [
    "CounterfactualSet",
    "ECCoGenerator",
    "ElasticNetGenerator",
    "PGDGenerator",
    "WachterGenerator",
]
