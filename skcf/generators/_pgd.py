"""Targeted PGD (Madry et al.) and FGSM; minimum-radius mode of seed 001."""

from numbers import Integral, Real

import numpy as np

from .._engine import ProjectedGradient, RadiusSearch
from ..base import BaseGenerator
from ..utils._docstring import generator_docstring
from ..utils._sklearn_compat import Interval, StrOptions
from ._common import loss_constraint, prediction_term


@generator_docstring
class PGDGenerator(BaseGenerator):
    """Projected gradient descent in an ℓ2 or ℓ∞ ball; FGSM with ``steps=1``.

    Each step moves ``step_size · eps`` along the normalised negative gradient
    of the prediction loss (``g/‖g‖₂`` or ``sign(g)``), then projects onto the
    ball of radius ``eps`` around the factual and onto the actionability box.
    A row stops once it is valid.

    With ``min_eps=True`` (seed 001, App. B.3) the radius grows through
    ``eps · k / n_radii`` for ``k = 1..n_radii`` and each row keeps the smallest
    radius that yields a counterfactual; ``eps="auto"`` is the median norm of the
    training rows. With ``min_eps=False`` it is a fixed-radius attack.
    ``steps=1`` (step ``2·eps``, projected back to the ball) is FGSM (ℓ∞) / FGM (ℓ2).

    Parameters
    ----------
    %(estimator)s

    %(target)s

    norm : {"l2", "linf"}, default="l2"
        Ball geometry.

    eps : "auto" or float, default="auto"
        Largest radius (``"auto"``: median ``norm`` of the training rows).

    min_eps : bool, default=True
        Search increasing radii up to ``eps``.

    n_radii : int, default=10
        Number of radii in the search.

    steps : int, default=50
        PGD steps per radius.

    step_size : float, default=None
        Step as a fraction of the radius; None means ``2 / steps``.

    loss : {"ce", "hinge"}, default="ce"
        Prediction loss being descended.

    random_start : bool, default=False
        Start from a uniformly drawn point of the ball (seeded by
        ``random_state``) instead of the factual.

    %(actionability)s

    %(engine)s

    Attributes
    ----------
    eps_ : float
        Largest radius used.
    estimator_ : object
        The model explained.
    model_ : DifferentiableModel
        Differentiable view of ``estimator_``.
    classes_ : ndarray
        Class labels in the order of the model's outputs.
    scale_ : ndarray of shape (n_features,)
        Median absolute deviation per feature.
    constraints_ : dict
        Resolved actionability constraints.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    References
    ----------
    Madry et al. (2018), Towards deep learning models resistant to adversarial
    attacks; Goodfellow et al. (2015) for FGSM. Seed 001, App. B.3 (min-ε PGD).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.generators import PGDGenerator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegression().fit(X, y)
    >>> gen = PGDGenerator(clf, random_state=0).fit(X)
    >>> cf = gen.explain(X[:20])  # two rows lie farther than eps_ from the boundary
    >>> cf.validity
    0.9
    >>> bool((cf.l2 <= gen.eps_ + 1e-6).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseGenerator._parameter_constraints,
        "norm": [StrOptions({"l2", "linf"})],
        "eps": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "min_eps": ["boolean"],
        "n_radii": [Interval(Integral, 1, None, closed="left")],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither"), None],
        "loss": loss_constraint,
        "random_start": ["boolean"],
    }

    def __init__(
        self,
        estimator,
        *,
        target="opposite",
        norm="l2",
        eps="auto",
        min_eps=True,
        n_radii=10,
        steps=50,
        step_size=None,
        loss="ce",
        random_start=False,
        immutable=None,
        increase_only=None,
        decrease_only=None,
        bounds="infer",
        categorical=None,
        integer=None,
        tau=0.0,
        batch_size=1024,
        device=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.target = target
        self.norm = norm
        self.eps = eps
        self.min_eps = min_eps
        self.n_radii = n_radii
        self.steps = steps
        self.step_size = step_size
        self.loss = loss
        self.random_start = random_start
        self.immutable = immutable
        self.increase_only = increase_only
        self.decrease_only = decrease_only
        self.bounds = bounds
        self.categorical = categorical
        self.integer = integer
        self.tau = tau
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X, y):
        if self.eps == "auto":
            ord_ = 2 if self.norm == "l2" else np.inf
            eps = float(np.median(np.linalg.norm(X, ord=ord_, axis=1)))
            self.eps_ = eps if eps > 0 else 1.0
        else:
            self.eps_ = float(self.eps)

    def _engine_config(self, scale):
        step = 2.0 / self.steps if self.step_size is None else self.step_size
        return dict(
            terms=[prediction_term(self.loss)],
            solver=ProjectedGradient(self.norm, step_scale=step),
            search=RadiusSearch(
                self.eps_,
                self.n_radii if self.min_eps else 1,
                random_start=self.random_start,
            ),
            max_iter=self.steps,
            early_stop=True,
        )
