"""Private batched optimisation engine (torch only, no sklearn imports).

Every gradient generator of skcf declares *terms*, a *solver*, *constraints* and
an optional *search* and hands them to :func:`solve`. Nothing else in the package
owns an optimisation loop.
"""

from ._constraints import Constraints, inward_bounds
from ._prox import (
    GroupCount,
    GroupNeighbourhood,
    GroupSparseNAG,
    ImageNeighbourhood,
    LambdaSearch,
    prox_lp,
)
from ._result import SearchResult
from ._search import CSearch, RadiusSearch
from ._solve import is_valid, solve
from ._solvers import APG, FISTA, SGD, Adam, ProjectedGradient, Solver
from ._terms import (
    CrossEntropyLoss,
    DensityTerm,
    EnergyTerm,
    HingeLoss,
    L1Distance,
    L2Distance,
    PrototypeTerm,
    ReconstructionTerm,
    StabilityTerm,
    Term,
    TermContext,
)

__all__ = [
    "APG",
    "Adam",
    "CSearch",
    "Constraints",
    "CrossEntropyLoss",
    "DensityTerm",
    "EnergyTerm",
    "FISTA",
    "GroupCount",
    "GroupNeighbourhood",
    "GroupSparseNAG",
    "HingeLoss",
    "ImageNeighbourhood",
    "L1Distance",
    "L2Distance",
    "LambdaSearch",
    "PrototypeTerm",
    "ReconstructionTerm",
    "ProjectedGradient",
    "RadiusSearch",
    "SGD",
    "SearchResult",
    "StabilityTerm",
    "Solver",
    "Term",
    "TermContext",
    "inward_bounds",
    "is_valid",
    "prox_lp",
    "solve",
]
