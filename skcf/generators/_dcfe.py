"""DCFE: Wachter et al.'s (2017) counterfactuals as written in their paper."""

from numbers import Integral, Real

import torch

from .._engine import Adam, CSearch, L1Distance
from .._engine._cem_terms import SquaredProbabilityLoss
from ..base import BaseGenerator
from ..utils._docstring import generator_docstring
from ..utils._sklearn_compat import Interval
from ._common import (
    RetryMissingMixin,
    feature_weights,
    feature_weights_constraint,
    max_iter_constraint,
)

_RETRY_FACTOR = 1e3
_MAX_LAM = {torch.float64: 1e150, torch.float32: 1e18}


@generator_docstring
class DCFEGenerator(RetryMissingMixin, BaseGenerator):
    """Wachter et al.'s counterfactuals, with their loss (seed 004's "DCFE").

    Solves Wachter, Mittelstadt and Russell's
    ``argmin_x max_λ λ·(f_t(x) - y')² + d(x, x0)``, where ``f_t`` is the
    model's probability of the target class, ``y'`` the desired output
    (``target_proba``) and ``d(x, x0) = Σ_j |x_j - x0_j| / MAD_j`` the ℓ1
    distance weighted by the inverse median absolute deviation. For each λ
    the objective is minimised with Adam (the ℓ1 term orthant-wise, so
    unchanged features stay exactly unchanged); λ grows ten-fold until the
    counterfactual is valid, then is bisected towards the smallest λ that
    still gives one (Wachter et al. increase λ "until a sufficiently close
    solution is found"). Among the valid iterates the one with the smallest
    ``d`` is returned. A counterfactual is valid when the target class is
    predicted with probability at least ``tau``: Wachter et al.'s tolerance
    ``|f_t(x) - y'| ≤ ε`` with ``y' = 1`` is ``tau = 1 - ε``.

    Where the model is saturated (``f_t(x0)`` of 1e-10 and below, as an
    overconfident scikit-learn ``MLPClassifier`` gives) the loss
    ``λ·(f_t - 1)²`` is flat to within ``f_t`` of ``λ``: its gradient only
    beats the ℓ1 cost for a huge λ, and no iterate lowers the loss visibly,
    so the stall rule (``max_iter // 10`` iterations without progress) stops
    every round. With ``retry=True`` (default) the rows left without a
    counterfactual are searched again, λ starting where the first search
    stopped and growing 1000-fold per round, with no stall rule.

    Parameters
    ----------
    %(estimator)s

    %(target)s

    lam : float, default=1.0
        Initial weight λ of the prediction loss.

    n_search_steps : int, default=10
        Rounds of the search on λ. Where the model is saturated (``f_t`` near 0)
        the loss's gradient vanishes and only a large λ moves the point, so
        the search needs room to grow: ten rounds reach ``1e9·lam``.

    target_proba : float, default=1.0
        Desired model output ``y'`` for the target class.

    feature_weights : "mad", array-like of shape (n_features,) or None, \
default="mad"
        Weights of the ℓ1 distance: ``"mad"`` = 1 / median absolute deviation
        learned in ``fit`` (Wachter et al.), an array, or None (plain ℓ1).

    lr : float, default=0.05
        Adam learning rate.

    max_iter : int, default=100
        Iterations per value of λ; a row also stops after ``max_iter // 10``
        iterations without progress.

    retry : bool, default=True
        Search the rows left without a counterfactual once more:
        ``n_search_steps`` rounds from ``λ = lam·10**n_search_steps``, λ
        growing 1000-fold per round until valid (then bisected), every round
        running ``max_iter`` iterations. The rows found the first time keep
        their counterfactuals. ``False``: the single search as Wachter et al.
        state it.

    %(actionability)s

    %(engine)s

    Attributes
    ----------
    estimator_ : object
        The model explained (the given one if fitted, else a fitted clone).
    model_ : DifferentiableModel
        Differentiable view of ``estimator_``.
    classes_ : ndarray
        Class labels in the order of the model's outputs.
    scale_ : ndarray of shape (n_features,)
        Median absolute deviation per feature (std, then 1, where it is zero).
    constraints_ : dict
        Resolved actionability constraints.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    WachterGenerator : the same distance with a cross-entropy or hinge loss,
        stopping at the first valid iterate (seed 002's "Generic").
    CEMGenerator : the other baseline of seed 004's Table 3.

    Notes
    -----
    Seed 004 (Table 3) compares S-CFE with "DCFE" and CEM but does not define
    DCFE. Its figures (every row valid, ℓ2 close to S-CFE's, about half of the
    features changed) are those of a dense gradient method with Wachter et
    al.'s MAD-weighted ℓ1 cost, and Wachter et al. is the canonical
    differentiable counterfactual explanation the S-CFE paper builds on;
    this class is that method as their paper states it, which
    :class:`WachterGenerator` (other losses, stops at validity) is not.

    References
    ----------
    Wachter, Mittelstadt, Russell (2017). Counterfactual explanations without
    opening the black box: automated decisions and the GDPR. Harvard Journal
    of Law & Technology 31(2), Eq. (4). Seed 004, Table 3 ("DCFE").

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.generators import DCFEGenerator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegression(C=0.05).fit(X, y)
    >>> gen = DCFEGenerator(clf, tau=0.6, random_state=0).fit(X)
    >>> cf = gen.explain(X[:20])
    >>> cf.validity
    1.0
    >>> bool((clf.predict_proba(cf.X_cf).max(axis=1) >= 0.6).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseGenerator._parameter_constraints,
        "lam": [Interval(Real, 0, None, closed="neither")],
        "n_search_steps": [Interval(Integral, 1, None, closed="left")],
        "target_proba": [Interval(Real, 0, 1, closed="both")],
        "feature_weights": feature_weights_constraint,
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_iter": max_iter_constraint,
        "retry": ["boolean"],
    }

    def __init__(
        self,
        estimator,
        *,
        target="opposite",
        lam=1.0,
        n_search_steps=10,
        target_proba=1.0,
        feature_weights="mad",
        lr=0.05,
        max_iter=100,
        retry=True,
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
        self.lam = lam
        self.n_search_steps = n_search_steps
        self.target_proba = target_proba
        self.feature_weights = feature_weights
        self.lr = lr
        self.max_iter = max_iter
        self.retry = retry
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

    def _engine_config(self, scale, search=None, patience=True):
        w = feature_weights(self.feature_weights, scale, self.n_features_in_)
        dist = L1Distance(1.0, w)
        cons = self._engine_constraints(scale.device, scale.dtype)
        snap = cons.snap if cons.needs_snapping else None
        return dict(
            terms=[SquaredProbabilityLoss(target_proba=self.target_proba), dist],
            solver=Adam(self.lr, snap=snap),
            search=search or CSearch(self.lam, self.n_search_steps),
            max_iter=self.max_iter,
            early_stop=False,
            patience=max(self.max_iter // 10, 5) if patience else None,
            cost_fn=dist,
        )

    def _retries(self):
        return self.retry

    def _retry_config(self, scale):
        """The second search of :class:`RetryMissingMixin` (``retry=True``)."""
        # lam·factor**n: the first search's λ after its last (failed) round
        start = self.lam * 10.0**self.n_search_steps
        top = _MAX_LAM[scale.dtype] if scale.dtype in _MAX_LAM else 1e18
        n = self.n_search_steps
        factor = max(10.0, min(_RETRY_FACTOR, (top / start) ** (1.0 / max(n - 1, 1))))
        return self._engine_config(scale, CSearch(start, n, factor), patience=False)
