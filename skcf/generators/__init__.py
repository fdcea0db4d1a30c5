"""Counterfactual generators: sklearn transformers on the shared engine."""

from ..base import CounterfactualSet
from ._actionable_recourse import ActionableRecourseGenerator
from ._cem import CEMGenerator
from ._dcfe import DCFEGenerator
from ._ead import ElasticNetGenerator
from ._ecco import ECCoGenerator
from ._growing_spheres import GrowingSpheresGenerator
from ._gse import GroupSparseGenerator
from ._latent_search import LatentSearchGenerator
from ._pgd import PGDGenerator
from ._proto import ProtoGenerator
from ._revise import REVISEGenerator
from ._scfe import SCFEGenerator
from ._sns import StableNeighborSearch
from ._wachter import WachterGenerator

__all__ = [
    "ActionableRecourseGenerator",
    "CEMGenerator",
    "CounterfactualSet",
    "DCFEGenerator",
    "ECCoGenerator",
    "ElasticNetGenerator",
    "GroupSparseGenerator",
    "GrowingSpheresGenerator",
    "LatentSearchGenerator",
    "PGDGenerator",
    "ProtoGenerator",
    "REVISEGenerator",
    "SCFEGenerator",
    "StableNeighborSearch",
    "WachterGenerator",
]
