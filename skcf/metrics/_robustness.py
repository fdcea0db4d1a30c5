"""Robustness metrics: susceptibility to adversarial examples (seed 003 §3.1)."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np

from ..exceptions import CounterfactualWarning
from ..utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["susceptibility"]


@validate_params(
    {
        "model": "no_validation",
        "X": ["array-like"],
        "y": ["array-like", None],
        "radius": [Interval(Real, 0, None, closed="neither")],
        "norm": [StrOptions({"linf", "l2"})],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither"), None],
        "random_start": ["boolean"],
        "bounds": [StrOptions({"infer"}), dict, None],
        "immutable": ["array-like", None],
        "categorical": [list, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def susceptibility(
    model,
    X,
    y=None,
    *,
    radius,
    norm="linf",
    steps=20,
    step_size=None,
    random_start=False,
    bounds=None,
    immutable=None,
    categorical=None,
    random_state=None,
):
    """Share of rows with an adversarial example within ``radius`` (lower is better).

    Seed 003 (§3.1) reports it for natural and adversarially trained networks:
    "the percentage of test points for which we were able to find an adversarial
    example within the associated radius". The attack is PGD (skcf's engine,
    :class:`~skcf.generators.PGDGenerator` at the fixed radius) on the
    cross-entropy of the predicted class, so it applies to any differentiable
    model (skorch net, torch module, sklearn linear model or MLP, pipeline of
    scalers). A row counts when a point of the ``norm`` ball around it gets
    another prediction. With ``y``, only the rows the model classifies
    correctly are attacked and counted (an error needs no attack); seed 003's
    figures (0.7 % susceptible at 98.9 % accuracy) imply this reading.

    Parameters
    ----------
    model : object
        A fitted differentiable classifier (see
        :func:`~skcf.models.as_differentiable`).
    X : array-like of shape (n_samples, n_features)
        Test rows.
    y : array-like of shape (n_samples,), default=None
        True labels; None attacks every row's prediction.
    radius : float
        Radius r of the ball, in input units.
    norm : {"linf", "l2"}, default="linf"
    steps : int, default=20
        PGD steps.
    step_size : float, default=None
        Step as a fraction of ``radius``; None means ``2 / steps``.
    random_start : bool, default=False
        Start from a random point of the ball.
    bounds : "infer", dict or None, default=None
        Feasible box for the attack (None: unbounded).
    immutable : array-like of int or str, default=None
        Indices of features the attack may not change.
    categorical : list of array-like, default=None
        One-hot groups (as in the generators): the attack keeps every group a
        valid one-hot, as adversarial training does. Without it, one-hot
        columns move by fractions and susceptibility on one-hot encoded data
        (e.g. Adult) is overstated.
    random_state : int, RandomState instance or None, default=None
        Seeds the random start.

    Returns
    -------
    score : float
        In ``[0, 1]``: attacked rows that flipped over attacked rows (0.0 when
        no row is attacked).

    See Also
    --------
    skcf.training.AdversarialTrainingClassifier : training that lowers it.
    skcf.generators.PGDGenerator : the attack.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.datasets import make_moons
    >>> from skcf.metrics import susceptibility
    >>> X, y = make_moons(n_samples=200, random_state=0)
    >>> clf = LogisticRegression().fit(X, y)
    >>> small = susceptibility(clf, X, y, radius=0.05)
    >>> large = susceptibility(clf, X, y, radius=1.0)
    >>> bool(small < large), large
    (True, 1.0)
    """
    from ..generators import PGDGenerator  # generators import metrics' siblings

    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}.")
    gen = PGDGenerator(
        model,
        target="other",
        norm=norm,
        eps=float(radius),
        min_eps=False,
        steps=steps,
        step_size=step_size,
        random_start=random_start,
        bounds=bounds,
        immutable=immutable,
        categorical=categorical,
        random_state=random_state,
    ).fit(X)
    rows = np.ones(len(X), dtype=bool)
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(
                f"y must have shape ({len(X)},) to match X, got {y.shape}."
            )
        pred = gen.classes_[gen.model_.predict(X)]
        rows = pred == y
    if not rows.any():
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(X[rows])
    return float(np.mean(cf.valid))
