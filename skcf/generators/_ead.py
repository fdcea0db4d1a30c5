"""EAD: elastic-net attack (Chen et al. 2018) as a counterfactual generator."""

from numbers import Integral, Real

from .._engine import FISTA, CSearch, L1Distance, L2Distance
from ..base import BaseGenerator
from ..utils._docstring import generator_docstring
from ..utils._sklearn_compat import Interval, StrOptions
from ._common import (
    confidence_constraint,
    feature_weights,
    feature_weights_constraint,
    max_iter_constraint,
    prediction_term,
)


@generator_docstring
class ElasticNetGenerator(BaseGenerator):
    """Elastic-net counterfactuals (EAD; "Min ℓ1" / "Min ℓ2" of seed 001).

    Minimises ``c · max(max_{j≠t} z_j - z_t, -κ) + ‖δ‖₂² + β‖δ‖₁`` with FISTA,
    the ℓ1 term handled exactly by its shrinkage-thresholding prox, the step
    size decaying as ``lr·(1 - k/K)^{1/2}``, and a per-row binary search on
    ``c``. Every iterate is a candidate; the one with the lowest elastic-net
    cost (``decision_rule``) among those predicted as the target with a logit
    margin of at least κ is returned. ``beta=1`` gives seed 001's "Min ℓ1",
    ``beta=0`` its "Min ℓ2" (with ``confidence=0.5``).

    Parameters
    ----------
    %(estimator)s

    %(target)s

    beta : float, default=0.1
        Weight of the ℓ1 term.

    confidence : float, default=0.0
        Logit margin κ the counterfactual must reach.

    initial_c : float, default=1.0
        Initial weight of the prediction loss.

    n_search_steps : int, default=5
        Rounds of the binary search on ``c``.

    lr : float, default=0.05
        Initial FISTA step size.

    max_iter : int, default=100
        Iterations per search round.

    decision_rule : {"EN", "L1", "L2"}, default="EN"
        Cost that ranks valid iterates.

    shrinkage : {"ead", "prox"}, default="ead"
        ℓ1 soft-threshold per step: ``"ead"`` shrinks by ``beta`` at every step,
        as Chen et al.'s EAD code and ART's ``ElasticNet`` (the implementation
        behind seed 001's Min-ℓ1 / Min-ℓ2); ``"prox"`` shrinks by
        ``lr_k · beta``, the exact proximal step of ``beta·‖δ‖₁`` (less sparse
        for the same ``beta``).

    feature_weights : "mad", array-like of shape (n_features,) or None, default=None
        Per-feature weights of both norms (None: unweighted, as in EAD).

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
        Median absolute deviation per feature.
    constraints_ : dict
        Resolved actionability constraints.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    WachterGenerator : Adam on a λ-weighted objective, stopping at validity.

    References
    ----------
    Chen, Sharma, Zhang, Yi, Hsieh (2018). EAD: Elastic-net attacks to deep
    neural networks via adversarial examples. Seed 001, App. B.3.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.generators import ElasticNetGenerator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegression().fit(X, y)
    >>> gen = ElasticNetGenerator(clf, beta=1.0, random_state=0).fit(X)
    >>> cf = gen.explain(X[:20])
    >>> cf.validity
    1.0
    >>> bool(cf.l0.mean() < X.shape[1])  # the ℓ1 prox makes changes sparse
    True
    """

    _parameter_constraints: dict = {
        **BaseGenerator._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
        "confidence": confidence_constraint,
        "initial_c": [Interval(Real, 0, None, closed="neither")],
        "n_search_steps": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_iter": max_iter_constraint,
        "decision_rule": [StrOptions({"EN", "L1", "L2"})],
        "shrinkage": [StrOptions({"ead", "prox"})],
        "feature_weights": feature_weights_constraint,
    }

    def __init__(
        self,
        estimator,
        *,
        target="opposite",
        beta=0.1,
        confidence=0.0,
        initial_c=1.0,
        n_search_steps=5,
        lr=0.05,
        max_iter=100,
        decision_rule="EN",
        shrinkage="ead",
        feature_weights=None,
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
        self.beta = beta
        self.confidence = confidence
        self.initial_c = initial_c
        self.n_search_steps = n_search_steps
        self.lr = lr
        self.max_iter = max_iter
        self.decision_rule = decision_rule
        self.shrinkage = shrinkage
        self.feature_weights = feature_weights
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

    def _engine_config(self, scale):
        w = feature_weights(self.feature_weights, scale, self.n_features_in_)
        l2 = L2Distance(1.0, w)
        terms = [prediction_term("hinge", self.confidence), l2]
        l1 = L1Distance(self.beta, w)
        if self.beta > 0:
            terms.append(l1)
        rule = {"EN": None, "L1": L1Distance(1.0, w), "L2": l2}[self.decision_rule]
        return dict(
            terms=terms,
            solver=FISTA(self.lr, decay="sqrt", shrinkage=self.shrinkage),
            search=CSearch(self.initial_c, self.n_search_steps),
            max_iter=self.max_iter,
            early_stop=False,
            margin=self.confidence,
            patience=max(self.max_iter // 10, 5),
            cost_fn=None if rule is None else rule,
        )
