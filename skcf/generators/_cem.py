"""CEM: pertinent negatives and positives (Dhurandhar et al. 2018)."""

from numbers import Integral, Real

import numpy as np
import torch

from .._engine import (
    FISTA,
    CSearch,
    HingeLoss,
    L1Distance,
    L2Distance,
    ReconstructionTerm,
)
from .._engine._cem_terms import (
    AnchoredFISTA,
    AnchoredL1Distance,
    AnchoredL2Distance,
    BaseRelativeConstraints,
)
from ..base import BaseGenerator
from ..utils._docstring import generator_docstring
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions
from ._common import max_iter_constraint
from ._proto import _fit_autoencoder, _torch_autoencoder


@generator_docstring
class CEMGenerator(BaseGenerator):
    """Contrastive explanations: pertinent negatives and positives (CEM).

    The Contrastive Explanations Method of Dhurandhar et al. (2018) explains a
    prediction ``t0 = argmax f(x0)`` in two ways, chosen by ``mode``:

    * ``"pn"``, the **pertinent negative**: what must be *added* to ``x0`` to
      change the class. It solves
      ``min c·max(z_{t0}(x) - max_{i≠t0} z_i(x), -κ) + β‖δ‖₁ + ‖δ‖₂² +
      γ‖x - AE(x)‖₂²`` over ``x = x0 + δ``, where every feature may only move
      away from the base value ``b`` ("absent" is the base: with ``b`` the
      feature minimum, features can only increase). This is a
      counterfactual.
    * ``"pp"``, the **pertinent positive**: the minimal part of ``x0`` that is
      by itself enough to keep the class. It solves
      ``min c·max(max_{i≠t0} z_i(x) - z_{t0}(x), -κ) + β‖x - b‖₁ +
      ‖x - b‖₂² + γ‖x - AE(x)‖₂²`` over the points ``x`` lying between ``b``
      and ``x0`` coordinate by coordinate, starting from ``b`` (nothing
      kept). ``x - b`` is what is kept of ``x0``; the returned row ``x`` is
      ``x0`` with the other features set back to the base.

    Both are solved as in the paper (an extension of EAD): FISTA with the ℓ1
    term handled by shrinkage-thresholding (threshold ``β`` per step, the
    authors' code) towards ``x0`` (PN) or ``b`` (PP), the step size decaying
    as ``lr·(1 - k/K)^{1/2}``, projection onto the feasible set after each
    step, and a per-row binary search on ``c`` (×10 until a solution is
    found, then bisection). Every iterate is a candidate; the valid one
    (logit margin at least κ for the new class, PN, or for ``t0``, PP) with
    the lowest elastic-net cost ``‖·‖₂² + β‖·‖₁`` is returned. The
    autoencoder term (optional, ``autoencoder``) keeps the answer where the
    autoencoder reconstructs well, i.e. close to the data.

    Parameters
    ----------
    %(estimator)s

    target : {"other", "opposite"} or int or str, default="other"
        Class a pertinent negative must reach: ``"other"`` (any class but the
        predicted one, the paper's untargeted loss), ``"opposite"`` (binary
        models) or a class label; ``explain`` also accepts per-row targets.
        Ignored with ``mode="pp"``: a pertinent positive keeps the predicted
        class.

    mode : {"pn", "pp"}, default="pn"
        Pertinent negative (a counterfactual) or pertinent positive.

    base : "min", float or array-like of shape (n_features,), default="min"
        Value at which a feature counts as absent. ``"min"``: each feature's
        minimum over the training data, the paper's 0 after scaling features
        to [0, 1] (the background of an image). A float applies to every
        feature (e.g. 0.0, the mean of standardised data).

    autoencoder : None, "auto" or autoencoder, default=None
        ``None``: no reconstruction term. ``"auto"``: fit a
        :class:`~skcf.density.Autoencoder` in ``fit``. An
        :class:`~skcf.density.Autoencoder` instance is used as is when fitted,
        else cloned and fitted.

    beta : float, default=0.1
        Weight β of the ℓ1 term (the paper's 0.1).

    gamma : float, default=100.0
        Weight γ of the reconstruction term (the paper's 100 on MNIST); used
        only with an autoencoder.

    confidence : float, default=0.1
        Logit margin κ (the paper's 0.1).

    initial_c : float, default=10.0
        Initial weight ``c`` of the hinge (the paper's 10).

    n_search_steps : int, default=5
        Rounds of the binary search on ``c`` (the paper: 9).

    lr : float, default=0.01
        Initial FISTA step size (the paper's 0.01).

    max_iter : int, default=200
        Iterations per search round (the paper: 1000); a round also ends for
        a row after ``max_iter // 10`` iterations without progress.

    shrinkage : {"ead", "prox"}, default="ead"
        ℓ1 soft-threshold per step: ``"ead"`` shrinks by β at every step, as
        the authors' code (built on EAD's); ``"prox"`` by ``lr_k·β``, the
        exact proximal step of ``β‖·‖₁``.

    %(actionability)s

    %(engine)s

    Attributes
    ----------
    base_ : ndarray of shape (n_features,)
        Base value of each feature. Features of one-hot groups are exempt
        from the base rule (they move as categories).
    autoencoder_ : Autoencoder or None
        Fitted autoencoder in use.
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
    ElasticNetGenerator : EAD, the same solver without the base rule.
    ProtoGenerator : CFProto, CEM's loss plus a prototype term.

    Notes
    -----
    The other actionability constraints hold on top of the base rule, and
    relative to the factual ``x0`` in both modes: an immutable feature of a
    pertinent positive keeps its value (it cannot be removed). A row whose
    search finds no pertinent positive returns ``x0`` itself, which keeps its
    class trivially (``explain(X).valid`` is then True with no feature
    removed); :attr:`CounterfactualSet.l0` counts the *removed* features of a
    pertinent positive. The hinge is written on logits, as in the paper's
    code (``Pred`` = the logits before the softmax).

    References
    ----------
    Dhurandhar, Chen, Luss, Tu, Ting, Shanmugam, Das (2018). Explanations based
    on the missing: towards contrastive explanations with pertinent negatives.
    NeurIPS. Seed 004 (Table 3, "CEM") compares with it.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.generators import CEMGenerator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegression().fit(X, y)
    >>> pn = CEMGenerator(clf, random_state=0).fit(X)
    >>> cf = pn.explain(X[1:11])
    >>> cf.validity
    1.0
    >>> bool((cf.X_cf >= X[1:11]).all())  # base = feature minimum: only additions
    True
    >>> pp = CEMGenerator(clf, mode="pp", random_state=0).fit(X)
    >>> kept = pp.transform(X[:10]) - pp.base_  # the part of x0 that is kept
    >>> bool((clf.predict(pp.transform(X[:10])) == clf.predict(X[:10])).all())
    True
    >>> bool(((kept != 0).sum(axis=1) < X.shape[1]).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseGenerator._parameter_constraints,
        "mode": [StrOptions({"pn", "pp"})],
        "base": [StrOptions({"min"}), Real, "array-like"],
        "autoencoder": [None, StrOptions({"auto"}), HasMethods(["fit", "encode"])],
        "beta": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "confidence": [Interval(Real, 0, None, closed="left")],
        "initial_c": [Interval(Real, 0, None, closed="neither")],
        "n_search_steps": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_iter": max_iter_constraint,
        "shrinkage": [StrOptions({"ead", "prox"})],
    }

    def __init__(
        self,
        estimator,
        *,
        target="other",
        mode="pn",
        base="min",
        autoencoder=None,
        beta=0.1,
        gamma=100.0,
        confidence=0.1,
        initial_c=10.0,
        n_search_steps=5,
        lr=0.01,
        max_iter=200,
        shrinkage="ead",
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
        self.mode = mode
        self.base = base
        self.autoencoder = autoencoder
        self.beta = beta
        self.gamma = gamma
        self.confidence = confidence
        self.initial_c = initial_c
        self.n_search_steps = n_search_steps
        self.lr = lr
        self.max_iter = max_iter
        self.shrinkage = shrinkage
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
        d = X.shape[1]
        if isinstance(self.base, str):  # "min"
            base = np.asarray(X, dtype=np.float64).min(axis=0)
        else:
            base = np.asarray(self.base, dtype=np.float64)
            if base.ndim == 0:
                base = np.full(d, float(base))
            if base.shape != (d,) or not np.all(np.isfinite(base)):
                raise ValueError(
                    f"The 'base' parameter of {type(self).__name__} must be 'min', "
                    f"a finite float or {d} finite values (one per feature). Got "
                    f"shape {base.shape} instead."
                )
        self.base_ = base
        self.autoencoder_ = _fit_autoencoder(self, X)

    def _resolve_targets(self, target, y0, n):
        if self.mode == "pp":
            if target is not None:
                raise ValueError(
                    "CEMGenerator(mode='pp') explains the predicted class (a "
                    "pertinent positive keeps it), so explain() takes no target; "
                    f"got target={target!r}. Use mode='pn' for a target class."
                )
            return y0.copy(), np.zeros(n, dtype=bool)
        return super()._resolve_targets(target, y0, n)

    def _engine_constraints(self, device, dtype):
        cons = super()._engine_constraints(device, dtype)
        based = np.ones(len(self.base_), dtype=bool)
        for g in self.constraints_["groups"]:
            based[np.asarray(g)] = False  # categories switch, they are not "added"
        return BaseRelativeConstraints.wrap(
            cons,
            torch.as_tensor(self.base_, device=device, dtype=dtype),
            self.mode,
            torch.as_tensor(based, device=device),
        )

    def _engine_config(self, scale):
        device, dtype = scale.device, scale.dtype
        if self.mode == "pn":
            l2, l1 = L2Distance(1.0), L1Distance(self.beta)
            solver = FISTA(self.lr, decay="sqrt", shrinkage=self.shrinkage)
        else:
            base = torch.as_tensor(self.base_, device=device, dtype=dtype)
            cons = self._engine_constraints(device, dtype)

            def start(x0):  # nothing kept: the base, inside each row's box
                lo, hi = cons.row_bounds(x0)
                return cons.project(base.expand_as(x0), lo, hi)

            l2 = AnchoredL2Distance(base, 1.0)
            l1 = AnchoredL1Distance(base, self.beta)
            solver = AnchoredFISTA(
                self.lr,
                decay="sqrt",
                shrinkage=self.shrinkage,
                anchor=base,
                start=start,
            )
        terms = [HingeLoss(confidence=self.confidence), l2]
        if self.beta > 0:
            terms.append(l1)
        module = _torch_autoencoder(self.autoencoder_, scale)
        if module is not None and self.gamma > 0:

            def autoencode(x):
                return module.decode(module.encode(x))

            terms.append(ReconstructionTerm(autoencode, self.gamma))
        beta = self.beta

        def elastic_net(ctx):  # ranks valid iterates, as the paper's code
            cost = l2(ctx)
            return cost + l1(ctx) if beta > 0 else cost

        return dict(
            terms=terms,
            solver=solver,
            search=CSearch(self.initial_c, self.n_search_steps),
            max_iter=self.max_iter,
            early_stop=False,
            margin=self.confidence,
            patience=max(self.max_iter // 10, 5),
            cost_fn=elastic_net,
        )
