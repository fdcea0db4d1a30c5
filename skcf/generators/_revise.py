"""REVISE: gradient search in a variational autoencoder's latent space."""

from numbers import Integral, Real

import torch

from .._engine import Adam, CSearch, L1Distance, L2Distance
from ..base import BaseGenerator
from ..utils._docstring import generator_docstring
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions
from ._common import (
    RetryMissingMixin,
    loss_constraint,
    max_iter_constraint,
    prediction_term,
)
from ._proto import _fit_autoencoder, _torch_autoencoder


class _LatentParam:
    """Engine parametrisation ``x = decode(z)``, ``z0 = encode(x0)``."""

    def __init__(self, encode, decode):
        self.encode = encode
        self._decode = decode

    def decode(self, z):
        return self._decode(z)

    def init(self, x0):
        return self.encode(x0)


class _SnappedLatentParam(_LatentParam):
    """``x = decode(z)`` snapped straight-through (one-hots, integers).

    The forward pass gives the model the decoded point projected onto the
    global bounds and snapped, the point whose validity counts; the backward
    pass is that of the unsnapped projection (straight-through estimator).
    """

    def __init__(self, encode, decode, cons):
        super().__init__(encode, decode)
        self.cons = cons

    def decode(self, z):  # noqa: D102 - see the class
        x = self._decode(z)
        lo = self.cons.lower.expand_as(x)
        hi = self.cons.upper.expand_as(x)
        plan = self.cons.box_plan(lo, hi)  # one plan for both
        x = self.cons.project(x, lo, hi, plan)
        return x + (self.cons.snap(x, lo, hi, plan) - x).detach()


@generator_docstring
class REVISEGenerator(RetryMissingMixin, BaseGenerator):
    """Counterfactuals searched in a VAE's latent space (REVISE, Joshi et al.).

    Minimises ``c·L_pred(G(z), t) + lam·d(G(z), x0)`` over the latent code ``z``
    with Adam, starting from the factual's code, where ``G`` is the decoder; the
    distance is measured in input space. Every decoded point is projected onto
    the actionability constraints (immutable features reset, bounds, one-hot
    groups, integers) before the model sees it, so the search moves along the
    data manifold *and* stays actionable. The weight ``c`` is searched per row;
    the valid candidate closest to the factual wins. With
    ``straight_through="retry"`` (default) the rows left without a
    counterfactual are searched once more with the decoded point snapped
    (one-hots, integers) straight-through.

    Parameters
    ----------
    %(estimator)s

    %(target)s

    vae : "auto" or autoencoder, default="auto"
        ``"auto"`` fits a :class:`~skcf.density.VariationalAutoencoder` in
        ``fit``; an instance is used as is when fitted, else cloned and fitted.
        Any autoencoder with ``module_.encode``/``module_.decode`` works.

    lam : float, default=0.5
        Weight of the input-space distance.

    distance : {"l1", "l2"}, default="l1"
        Input-space distance.

    loss : {"ce", "hinge"}, default="ce"
        Prediction loss.

    lr : float, default=0.2
        Adam learning rate (latent space).

    max_iter : int, default=100
        Iterations per search round.

    n_search_steps : int, default=2
        Rounds of the per-row search on ``c``.

    straight_through : bool or "retry", default="retry"
        How the decoded point meets one-hot groups and integer features. The
        search moves the relaxed point (one-hot groups on their simplex) and
        judges it snapped; a relaxed point can be valid while its snapped
        one is not. ``False``: gradients of the relaxed point (the search as
        Joshi et al. state it). ``True``: the model sees the snapped point and
        gradients pass through the snap unchanged (straight-through), with no
        stall rule (the snapped loss is piecewise constant). ``"retry"``:
        ``False``, then ``True`` for the rows left without a counterfactual.

    %(actionability)s

    %(engine)s

    Attributes
    ----------
    autoencoder_ : VariationalAutoencoder
        The fitted (V)AE in use.
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
    Joshi, Koyejo, Vijitbenjaronk, Kim, Ghosh (2019). Towards realistic
    individual recourse and actionable explanations in black-box decision making
    systems. Seed 002 uses REVISE as one of its generators.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.density import VariationalAutoencoder
    >>> from skcf.generators import REVISEGenerator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegression().fit(X, y)
    >>> vae = VariationalAutoencoder(hidden=(32,), latent_dim=8, max_epochs=20,
    ...                              random_state=0)
    >>> gen = REVISEGenerator(clf, vae=vae, random_state=0).fit(X)
    >>> cf = gen.explain(X[:10])
    >>> bool(cf.validity >= 0.9)
    True
    """

    _parameter_constraints: dict = {
        **BaseGenerator._parameter_constraints,
        "vae": [StrOptions({"auto"}), HasMethods(["fit", "encode"])],
        "lam": [Interval(Real, 0, None, closed="left")],
        "distance": [StrOptions({"l1", "l2"})],
        "loss": loss_constraint,
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_iter": max_iter_constraint,
        "n_search_steps": [Interval(Integral, 1, None, closed="left")],
        "straight_through": ["boolean", StrOptions({"retry"})],
    }

    def __init__(
        self,
        estimator,
        *,
        target="opposite",
        vae="auto",
        lam=0.5,
        distance="l1",
        loss="ce",
        lr=0.2,
        max_iter=100,
        n_search_steps=2,
        straight_through="retry",
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
        self.vae = vae
        self.lam = lam
        self.distance = distance
        self.loss = loss
        self.lr = lr
        self.max_iter = max_iter
        self.n_search_steps = n_search_steps
        self.straight_through = straight_through
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
        self.autoencoder_ = _fit_autoencoder(self, X, attr="vae", variational=True)

    def _engine_config(self, scale, straight_through=None):
        if straight_through is None:
            straight_through = self.straight_through is True
        module = _torch_autoencoder(self.autoencoder_, scale)
        dist = (L1Distance if self.distance == "l1" else L2Distance)(self.lam)

        def cost(ctx):  # the closest valid point to the factual
            return dist(ctx)

        if straight_through:
            cons = self._engine_constraints(scale.device, scale.dtype)
            param = _SnappedLatentParam(module.encode, module.decode, cons)
        else:
            param = _LatentParam(module.encode, module.decode)
        return dict(
            terms=[prediction_term(self.loss), dist],
            solver=Adam(self.lr),
            search=CSearch(1.0, self.n_search_steps),
            max_iter=self.max_iter,
            early_stop=False,
            # a snapped point's loss is piecewise constant: no stall rule
            patience=None if straight_through else max(self.max_iter // 10, 10),
            cost_fn=cost,
            param=param,
        )

    def _retries(self):
        if self.straight_through != "retry":
            return False
        # nothing to snap: the second search would be the first one again
        return self._engine_constraints("cpu", torch.float64).needs_snapping

    def _retry_config(self, scale):
        """The second search of :class:`RetryMissingMixin`: with
        ``straight_through="retry"`` the rows it leaves without a
        counterfactual run again with straight-through snapping."""
        return self._engine_config(scale, straight_through=True)
