"""Small synthetic data sets for counterfactual explanations.

Each generator follows the ``sklearn.datasets.make_*`` surface: it returns
``(X, y)`` with ``X`` a float64 array of shape ``(n_samples, n_features)`` and
``y`` an int64 array of class labels, and it is deterministic under
``random_state``.
"""

from numbers import Integral, Real

import numpy as np
from sklearn import datasets as _sk_datasets
from sklearn.utils import check_random_state
from sklearn.utils import shuffle as _shuffle

from ..utils._optional import import_optional
from ..utils._sklearn_compat import Interval, validate_params

__all__ = [
    "make_circles",
    "make_credit_toy",
    "make_linearly_separable",
    "make_moons",
]

# Class-conditional means of the credit toy, row = label (0 = default,
# 1 = no default / credit granted), columns = (age in years, debt in thousands).
_CREDIT_TOY_MEANS = np.array([[35.0, 40.0], [50.0, 20.0]])
# Common diagonal standard deviation (years, thousands) at ``noise=1``.
_CREDIT_TOY_STD = np.array([8.0, 8.0])


def _split_balanced(n_samples):
    """Return the sizes of class 0 and class 1 for a balanced data set."""
    n_0 = n_samples // 2
    return n_0, n_samples - n_0


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_linearly_separable(
    n_samples=100, *, noise=1.0, shuffle=True, random_state=None
):
    """Generate two Gaussian blobs that a line separates exactly.

    Class 0 is centred at ``(-2, -2)`` and class 1 at ``(2, 2)``; both have an
    isotropic standard deviation of ``noise``. Points that fall on the wrong
    side of the line ``x0 + x1 = 0`` are drawn again, so the two classes are
    always linearly separable (the true boundary is that line), whatever the
    noise level.

    Parameters
    ----------
    n_samples : int, default=100
        Total number of points. Class 0 gets ``n_samples // 2`` points and
        class 1 the rest.

    noise : float, default=1.0
        Standard deviation of each blob. Must be non-negative.

    shuffle : bool, default=True
        Whether to shuffle the samples. If False, class 0 comes first.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the data set. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The generated samples, float64.

    y : ndarray of shape (n_samples,)
        The integer labels (0 or 1) of each sample.

    See Also
    --------
    make_moons : Two interleaving half circles.
    make_circles : A large circle containing a smaller one.
    make_credit_toy : The age/debt credit toy of Example 3.1 (seed 002).

    Notes
    -----
    This is the "Linearly Separable" synthetic set used for the grid searches of
    the counterfactual-training paper (seed 002, Appendix C.2.1.1).

    Examples
    --------
    >>> from skcf.datasets import make_linearly_separable
    >>> X, y = make_linearly_separable(n_samples=6, random_state=0)
    >>> X.shape, y.tolist()
    ((6, 2), [1, 0, 1, 1, 0, 0])
    >>> bool(((X.sum(axis=1) > 0) == (y == 1)).all())
    True
    """
    rng = check_random_state(random_state)
    n_0, n_1 = _split_balanced(n_samples)
    centers = np.array([[-2.0, -2.0], [2.0, 2.0]])
    y = np.concatenate([np.zeros(n_0, dtype=np.int64), np.ones(n_1, dtype=np.int64)])
    X = centers[y] + noise * rng.standard_normal(size=(n_samples, 2))
    # Redraw the points on the wrong side of (or exactly on) the boundary
    # x0 + x1 = 0. Each round keeps at least half of the redrawn points in
    # expectation, so the loop ends quickly for any noise level.
    sign = 2 * y - 1
    wrong = sign * X.sum(axis=1) <= 0
    while wrong.any():
        n_wrong = int(wrong.sum())
        X[wrong] = centers[y[wrong]] + noise * rng.standard_normal(size=(n_wrong, 2))
        wrong = sign * X.sum(axis=1) <= 0
    if shuffle:
        X, y = _shuffle(X, y, random_state=rng)
    return X.astype(np.float64, copy=False), y


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_moons(n_samples=100, *, noise=0.1, shuffle=True, random_state=None):
    """Generate two interleaving half circles.

    A thin wrapper over :func:`sklearn.datasets.make_moons` with a non-zero
    default noise (scikit-learn's default, no noise, gives two exact curves).

    Parameters
    ----------
    n_samples : int, default=100
        Total number of points. The outer moon (class 0) gets
        ``n_samples // 2`` points and the inner moon (class 1) the rest.

    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to the data.

    shuffle : bool, default=True
        Whether to shuffle the samples.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the data set. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The generated samples, float64.

    y : ndarray of shape (n_samples,)
        The integer labels (0 or 1) for the moon membership of each sample.

    See Also
    --------
    sklearn.datasets.make_moons : The generator wrapped here.
    make_circles : A large circle containing a smaller one.

    Notes
    -----
    "Moons" is one of the synthetic sets of seed 002, Appendix C.2.1.2.

    Examples
    --------
    >>> from skcf.datasets import make_moons
    >>> X, y = make_moons(n_samples=10, random_state=0)
    >>> X.shape, X.dtype, int(y.sum())
    ((10, 2), dtype('float64'), 5)
    """
    X, y = _sk_datasets.make_moons(
        n_samples=n_samples, shuffle=shuffle, noise=noise, random_state=random_state
    )
    return X.astype(np.float64, copy=False), y.astype(np.int64, copy=False)


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "factor": [Interval(Real, 0, 1, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_circles(
    n_samples=100, *, noise=0.1, factor=0.5, shuffle=True, random_state=None
):
    """Generate a large circle containing a smaller circle in 2-D.

    A thin wrapper over :func:`sklearn.datasets.make_circles` with a non-zero
    default noise.

    Parameters
    ----------
    n_samples : int, default=100
        Total number of points. The outer circle (class 0) gets
        ``n_samples // 2`` points and the inner circle (class 1) the rest.

    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to the data.

    factor : float, default=0.5
        Scale factor between inner and outer circle, in the range ``[0, 1)``.

    shuffle : bool, default=True
        Whether to shuffle the samples.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the data set. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The generated samples, float64.

    y : ndarray of shape (n_samples,)
        The integer labels (0 = outer, 1 = inner circle) of each sample.

    See Also
    --------
    sklearn.datasets.make_circles : The generator wrapped here.
    make_moons : Two interleaving half circles.

    Notes
    -----
    "Circles" is one of the synthetic sets of seed 002, Appendix C.2.1.3.

    Examples
    --------
    >>> from skcf.datasets import make_circles
    >>> X, y = make_circles(n_samples=10, random_state=0)
    >>> X.shape, X.dtype, int(y.sum())
    ((10, 2), dtype('float64'), 5)
    """
    X, y = _sk_datasets.make_circles(
        n_samples=n_samples,
        shuffle=shuffle,
        noise=noise,
        random_state=random_state,
        factor=factor,
    )
    return X.astype(np.float64, copy=False), y.astype(np.int64, copy=False)


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "as_frame": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_credit_toy(
    n_samples=100, *, noise=1.0, shuffle=True, as_frame=False, random_state=None
):
    """Generate the age/debt consumer-credit toy of seed 002, Example 3.1.

    Two features, ``age`` (column 0, in years, **immutable**) and ``debt``
    (column 1, existing debt in thousands, **mutable**), drawn independently
    from Gaussian class-conditional densities with a common diagonal
    covariance. Label 1 is the favourable class (no default, credit granted),
    label 0 is default. Older applicants and applicants with less debt are more
    likely to be in class 1:

    ========  ===============  ===============
    label     mean age         mean debt
    ========  ===============  ===============
    0         35               40
    1         50               20
    ========  ===============  ===============

    Both features have standard deviation ``8 * noise`` in each class.

    Parameters
    ----------
    n_samples : int, default=100
        Total number of points. Class 0 gets ``n_samples // 2`` points and
        class 1 the rest.

    noise : float, default=1.0
        Multiplier of the class-conditional standard deviations (8 years and
        8 thousand at ``noise=1``). Larger values make the classes overlap
        more. Must be non-negative.

    shuffle : bool, default=True
        Whether to shuffle the samples. If False, class 0 comes first.

    as_frame : bool, default=False
        If True, return ``X`` as a pandas DataFrame with columns
        ``["age", "debt"]`` and ``y`` as a Series named ``"target"``
        (requires pandas).

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for the data set. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    X : {ndarray, DataFrame} of shape (n_samples, 2)
        Columns ``age`` and ``debt``, float64.

    y : {ndarray, Series} of shape (n_samples,)
        Integer labels: 1 = no default (favourable), 0 = default.

    See Also
    --------
    make_linearly_separable : Two separable Gaussian blobs.

    Notes
    -----
    Seed 002 (Example 3.1, Figure 1 and the proof of Proposition 3.1, Appendix)
    only says: a binary outcome (default / no default), two independent features
    with Gaussian class-conditional densities and a common diagonal covariance,
    ``age`` immutable and ``debt`` mutable, the immutable feature taking lower
    values in the non-target class (default) and the mutable one higher values.
    It gives no numbers, so the means and spreads above are our choice: they
    keep the features in realistic units and the classes overlapping (Bayes
    error about 6 % at ``noise=1``). The paper codes the labels 1 = default and
    2 = no default (target class); here they are 0 and 1, so the target class of
    a counterfactual is 1. The samples are not clipped: for large ``noise`` a
    few ages below 18 or negative debts can occur.

    Pass ``immutable=[0]`` (or ``immutable=["age"]`` with ``as_frame=True``) to a
    generator to reproduce the mutability constraint of the example.

    References
    ----------
    Seed 002 (counterfactual training), Section 3.3, Example 3.1 and Figure 1.

    Examples
    --------
    >>> from skcf.datasets import make_credit_toy
    >>> X, y = make_credit_toy(n_samples=200, random_state=0)
    >>> X.shape, int(y.sum())
    ((200, 2), 100)
    >>> bool(X[y == 1, 0].mean() > X[y == 0, 0].mean())  # older -> granted
    True
    >>> X, y = make_credit_toy(n_samples=4, as_frame=True, random_state=0)
    >>> list(X.columns), y.name
    (['age', 'debt'], 'target')
    """
    rng = check_random_state(random_state)
    n_0, n_1 = _split_balanced(n_samples)
    y = np.concatenate([np.zeros(n_0, dtype=np.int64), np.ones(n_1, dtype=np.int64)])
    X = _CREDIT_TOY_MEANS[y] + noise * _CREDIT_TOY_STD * rng.standard_normal(
        size=(n_samples, 2)
    )
    if shuffle:
        X, y = _shuffle(X, y, random_state=rng)
    X = X.astype(np.float64, copy=False)
    if as_frame:
        pd = import_optional("pandas")
        X = pd.DataFrame(X, columns=["age", "debt"])
        y = pd.Series(y, name="target")
    return X, y
