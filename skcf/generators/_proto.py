"""CFProto: counterfactuals guided by class prototypes (Van Looveren & Klaise)."""

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import clone

from .._engine import (
    FISTA,
    CSearch,
    HingeLoss,
    L1Distance,
    L2Distance,
    PrototypeTerm,
    ReconstructionTerm,
)
from .._engine._terms import ProbabilityHingeLoss
from ..base import BaseGenerator
from ..utils._docstring import generator_docstring
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions
from ._common import max_iter_constraint
from ._scfe import _class_indices


@generator_docstring
class ProtoGenerator(BaseGenerator):
    """Counterfactuals guided by prototypes (CFProto; seed 000).

    Minimises seed 000's loss ``c·L_pred + β‖δ‖₁ + ‖δ‖₂² + γ‖x - AE(x)‖₂² +
    θ‖ENC(x) - proto_t‖₂²`` with FISTA (ℓ1 by shrinkage-thresholding, as EAD),
    where ``L_pred = max(p_{t0}(x) - max_{i≠t0} p_i(x), -κ)`` is the hinge on
    the original class — written on logits here, as for EAD — and ``proto_t``
    is the mean encoding of the ``n_neighbors`` training rows of class ``t``
    nearest to the factual's encoding. For an untargeted search (``"other"``),
    ``t`` is the class whose prototype is nearest, as in CFProto. Without an
    autoencoder, prototypes live in input space (k-d trees; seed 001 App. B.3) and
    ``γ`` is unused.

    Parameters
    ----------
    %(estimator)s

    %(target)s

    autoencoder : None, "auto" or autoencoder, default=None
        ``None``: prototypes in input space. ``"auto"``: fit a
        :class:`~skcf.density.Autoencoder` in ``fit``. An
        :class:`~skcf.density.Autoencoder` instance is used as is when fitted,
        else cloned and fitted.

    beta : float, default=0.1
        ℓ1 weight (EAD shrinkage per step).

    gamma : float, default=100.0
        Weight of the autoencoder reconstruction term (with an autoencoder).

    theta : float, default=100.0
        Weight of the prototype term (seed 001 App. B.3 used 100).

    confidence : float, default=0.0
        Hinge margin κ.

    n_neighbors : int, default=5
        Training rows averaged into each prototype (seed 001 used 20 with k-d
        trees).

    initial_c : float, default=1.0
        Initial weight of the prediction loss.

    n_search_steps : int, default=5
        Rounds of the binary search on ``c``.

    lr : float, default=0.01
        Initial FISTA step size, capped at ``1 / (2 (1 + theta))`` (the inverse
        curvature of the distance and prototype terms) so that a large ``theta``
        cannot make the iterates oscillate.

    max_iter : int, default=100
        Iterations per search round (seed 001: 100).

    reference : bool, default=False
        The reference implementation's choices (alibi's CFProto; seed 000)
        instead of ours: ``L_pred`` on the *probabilities* of the original
        class, ``max(p_{t0} - max_{i≠t0} p_i, -κ)``, instead of logits; the
        prototype is the ``n_neighbors``-th nearest encoding of the target
        class (its k-d tree mode) instead of the mean of the ``n_neighbors``
        nearest; valid iterates ranked by the elastic-net distance
        ``β‖δ‖₁ + ‖δ‖₂²`` instead of the loss without ``L_pred``. With
        ``n_neighbors=1`` the prototype is the nearest encoding either way.

    %(actionability)s

    %(engine)s

    Attributes
    ----------
    autoencoder_ : Autoencoder or None
        Fitted autoencoder in use.
    prototypes_ : PrototypeIndex
        Per-class index of (encoded) training rows.
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
    Van Looveren, Klaise (2021). Interpretable counterfactual explanations guided
    by prototypes. ECML PKDD. Seed 000; seed 001 App. B.3.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.generators import ProtoGenerator
    >>> X, y = load_wine(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = MLPClassifier((32,), max_iter=500, random_state=0).fit(X, y)
    >>> gen = ProtoGenerator(clf, target="other", random_state=0).fit(X, y)
    >>> cf = gen.explain(X[:10])
    >>> cf.validity
    1.0
    """

    _parameter_constraints: dict = {
        **BaseGenerator._parameter_constraints,
        "autoencoder": [None, StrOptions({"auto"}), HasMethods(["fit", "encode"])],
        "beta": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "theta": [Interval(Real, 0, None, closed="left")],
        "confidence": [Interval(Real, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "initial_c": [Interval(Real, 0, None, closed="neither")],
        "n_search_steps": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_iter": max_iter_constraint,
        "reference": ["boolean"],
    }

    def __init__(
        self,
        estimator,
        *,
        target="opposite",
        autoencoder=None,
        beta=0.1,
        gamma=100.0,
        theta=100.0,
        confidence=0.0,
        n_neighbors=5,
        initial_c=1.0,
        n_search_steps=5,
        lr=0.01,
        max_iter=100,
        reference=False,
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
        self.autoencoder = autoencoder
        self.beta = beta
        self.gamma = gamma
        self.theta = theta
        self.confidence = confidence
        self.n_neighbors = n_neighbors
        self.initial_c = initial_c
        self.n_search_steps = n_search_steps
        self.lr = lr
        self.max_iter = max_iter
        self.reference = reference
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
        from ..density import PrototypeIndex

        self.autoencoder_ = _fit_autoencoder(self, X)
        kind = "kth" if self.reference else "mean"
        self.prototypes_ = PrototypeIndex(
            self.n_neighbors, kind=kind, encoder=self.autoencoder_
        )
        self.prototypes_.fit(X, _class_indices(self, X, y))

    def _prepare(self, X, y0, tgt, untargeted, device, dtype):
        protos, dist = self.prototypes_.query(X)  # (n, k, dim), (n, k)
        dist = np.array(dist, dtype=np.float64)
        dist[np.arange(len(X)), y0] = np.inf  # never the class it already has
        nearest = dist.argmin(axis=1)
        tgt = np.where(untargeted, nearest, tgt)
        untargeted = np.zeros_like(untargeted)
        proto = protos[np.arange(len(X)), tgt]
        return (
            tgt,
            untargeted,
            {"prototype": torch.as_tensor(proto, device=device, dtype=dtype)},
        )

    def _engine_config(self, scale):
        module = _torch_autoencoder(self.autoencoder_, scale)
        encode = None if module is None else module.encode

        def autoencode(x):
            return module.decode(module.encode(x))

        l2, l1 = L2Distance(1.0), L1Distance(self.beta)
        pred = (
            ProbabilityHingeLoss(confidence=self.confidence)
            if self.reference
            else HingeLoss(confidence=self.confidence)
        )
        terms = [pred, l2, l1]
        if module is not None and self.gamma > 0:
            terms.append(ReconstructionTerm(autoencode, self.gamma))
        if self.theta > 0:
            terms.append(PrototypeTerm(encode, self.theta))

        return dict(
            terms=terms,
            # the quadratic terms have curvature 2(1 + θ): a larger step oscillates
            solver=FISTA(
                min(self.lr, 1.0 / (2.0 * (1.0 + self.theta))),
                decay="sqrt",
                shrinkage="ead",
            ),
            search=CSearch(self.initial_c, self.n_search_steps),
            max_iter=self.max_iter,
            early_stop=False,
            # κ is a probability margin in the reference mode: validity is the
            # target class winning (the hinge pushes it κ clear)
            margin=0.0 if self.reference else self.confidence,
            patience=max(self.max_iter // 10, 5),
            cost_fn=(lambda ctx: l1(ctx) + l2(ctx)) if self.reference else None,
            # valid iterates are ranked by the whole loss without L_pred, so the
            # prototype and autoencoder terms shape the answer, not just the path
        )


def _fit_autoencoder(gen, X, attr="autoencoder", variational=False):
    """The autoencoder a generator uses: None, fitted in ``fit``, or the user's."""
    from ..density import Autoencoder, VariationalAutoencoder
    from ..models._adapters import _is_fitted

    ae = getattr(gen, attr)
    if ae is None:
        return None
    if isinstance(ae, str):  # "auto"
        cls = VariationalAutoencoder if variational else Autoencoder
        rng = np.random.RandomState(gen.random_state)
        seed = None if gen.random_state is None else int(rng.randint(2**31 - 1))
        # next to the model; a black box (gradient-free search) has no device
        device = getattr(gen.model_, "device", None) or gen.device or "cpu"
        return cls(device=str(device), random_state=seed).fit(X)
    if _is_fitted(ae):
        return ae
    return clone(ae).fit(X)


def _torch_autoencoder(ae, like):
    """The fitted autoencoder's torch module (``encode``/``decode``) on ``like``'s
    device and dtype, in eval mode; None without an autoencoder."""
    if ae is None:
        return None
    module = ae.module_
    param = next(module.parameters())
    if param.device != like.device or param.dtype != like.dtype or module.training:
        # a private copy: never move or flip the fitted autoencoder in place
        module = copy.deepcopy(module).to(device=like.device, dtype=like.dtype).eval()
    return module
