"""Synthetic data sets and loaders for real tabular benchmarks.

The ``make_*`` functions generate small 2-D sets (linearly separable blobs,
moons, circles and the age/debt credit toy of seed 002, Example 3.1). The
``load_*`` functions read local, sha256-verified copies of German credit
(shipped with skcf), Adult, HELOC, Taiwan credit and CTG, and return their
actionability metadata alongside the data: by default the one-hot encoded,
standardised array; with ``as_frame=True`` the features in their original
units as a DataFrame (categorical columns of ``category`` dtype), for a
pipeline that does its own encoding.
"""

from ._loaders import (
    load_adult,
    load_ctg,
    load_fashion_mnist_tshirt_trouser,
    load_german_credit,
    load_heloc,
    load_taiwan_credit,
)
from ._synthetic import (
    make_circles,
    make_credit_toy,
    make_linearly_separable,
    make_moons,
)

__all__ = [
    "load_adult",
    "load_ctg",
    "load_fashion_mnist_tshirt_trouser",
    "load_german_credit",
    "load_heloc",
    "load_taiwan_credit",
    "make_circles",
    "make_credit_toy",
    "make_linearly_separable",
    "make_moons",
]
