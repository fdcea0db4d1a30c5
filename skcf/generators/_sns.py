"""Stable Neighbor Search (Black, Wang, Datta, Fredrikson; seed 001 §4.3, Def. 5)."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state, get_tags

from .._engine import ProjectedGradient, RadiusSearch, StabilityTerm, solve
from ..base import BaseGenerator, reaches_target
from ..exceptions import CounterfactualWarning
from ..models._space import is_raw_pipeline
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context
from ._pgd import PGDGenerator

# Parameters of the inner generator that the min-ε PGD run of radius="auto"
# shares, so the radius is measured under the same actionability constraints.
_SHARED_PARAMS = (
    "target",
    "immutable",
    "increase_only",
    "decrease_only",
    "bounds",
    "categorical",
    "integer",
    "tau",
    "batch_size",
    "device",
)


class StableNeighborSearch(BaseGenerator):
    """Refine any generator's counterfactuals into stable neighbours (SNS).

    A meta-generator, like sklearn's ``BaggingClassifier(estimator=...)``: it
    clones and fits ``generator``, runs it, then moves each valid counterfactual
    ``x`` to the point ``x'`` of the ℓ2 ball ``B(x, radius)`` that maximises the
    stability objective of seed 001, Def. 5,

    ``∫₀¹ p_c(s·x') ds``  (mean over the grid ``s = 1/G, ..., 1``, ``G = n_grid``),

    where ``p_c`` is the probability of the class ``c`` that ``x`` reached (the
    sigmoid output for a binary model; the target probability for a multi-class
    one) and the path ``s·x'`` runs from the zero vector, as in the paper (the
    mean of standardised data). High values mean a confident prediction with a
    flat, low-Lipschitz path, which the paper shows is what keeps a
    counterfactual valid when the model is retrained.

    The refinement runs on the shared engine: a :class:`StabilityTerm` (one
    forward pass of ``n·G`` rows per step), the ℓ2 projected-gradient solver
    with step ``step_size · radius`` (``2·radius/steps`` by default, App. B.3),
    ``steps`` iterations, and the generator's actionability constraints
    projected after every step. Among the iterates that keep the class ``c``
    (and ``tau``) the one with the largest objective is kept. A refined row is
    only accepted if it still reaches the target and breaks no constraint
    relative to the factual; otherwise the generator's counterfactual is
    returned, so validity never drops. Rows the generator failed on stay failed.

    Constraints are enforced relative to the starting counterfactual (bounds
    and immutable features as usual; an ``increase_only`` feature may not move
    back below its counterfactual value), a subset of the factual's feasible set.

    Parameters
    ----------
    generator : skcf generator
        The generator producing the starting counterfactuals (e.g.
        ``ElasticNetGenerator(clf, beta=0.0, confidence=0.5)`` for seed 001's
        "Min ℓ2"). It is cloned and fitted in ``fit`` as ``generator_``; its
        parameters are tunable through ``generator__<name>``. The target,
        ``tau`` and actionability constraints are the generator's.

    radius : "auto" or float, default="auto"
        Radius of the ℓ2 ball around each starting counterfactual. ``"auto"``
        (seed 001, App. B.3): ``radius_scale`` times the largest radius that a
        min-ε :class:`PGDGenerator` needed on (up to ``n_auto_samples`` rows of)
        the training data given to ``fit``, under the generator's target and
        constraints; if PGD finds nothing, ``radius_scale`` times its largest
        radius (the median ℓ2 norm of the training rows).

    radius_scale : float, default=0.8
        Factor applied to the PGD radius when ``radius="auto"``.

    n_grid : int, default=10
        Grid points approximating the integral (seed 001 §5.1 uses 10).

    steps : int, default=200
        Projected-gradient steps (seed 001, App. B.3).

    step_size : float, default=None
        Step as a fraction of the radius; None means ``2 / steps``.

    n_auto_samples : int, default=256
        Training rows (drawn with ``random_state``) on which the min-ε PGD of
        ``radius="auto"`` runs.

    batch_size : int or None, default=1024
        Rows refined together (the engine evaluates ``n_grid`` times as many);
        bounds memory. Results do not depend on it.

    random_state : int, RandomState instance or None, default=None
        Seeds the row subsample of ``radius="auto"``. The refinement itself is
        deterministic; the inner generator has its own ``random_state``.

    verbose : int, default=0
        0: silent; 1: one summary line per call; 2: a progress bar over chunks.

    Attributes
    ----------
    generator_ : skcf generator
        The fitted clone of ``generator``.
    radius_ : float
        Radius of the SNS ball.
    estimator_ : object
        The model explained (the generator's).
    model_ : DifferentiableModel
        Differentiable view of ``estimator_``.
    classes_ : ndarray
        Class labels in the order of the model's outputs.
    scale_ : ndarray of shape (n_features,)
        Median absolute deviation per feature.
    constraints_ : dict
        The generator's resolved actionability constraints.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    PGDGenerator : min-ε PGD, the source of ``radius="auto"``.
    ElasticNetGenerator : seed 001's Min-ℓ1 / Min-ℓ2 starting points.

    References
    ----------
    Black, Wang, Datta, Fredrikson (2022). Consistent counterfactuals for deep
    models. ICLR. Seed 001, §4.3 (Def. 5) and App. B.3.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.generators import ElasticNetGenerator, StableNeighborSearch
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegression().fit(X, y)
    >>> base = ElasticNetGenerator(clf, beta=0.0, max_iter=30, n_search_steps=3)
    >>> sns = StableNeighborSearch(base, radius=1.0, steps=30).fit(X)
    >>> cf_base, cf = base.fit(X).explain(X[:10]), sns.explain(X[:10])
    >>> cf.validity
    1.0
    >>> p = lambda Z: clf.predict_proba(Z).max(axis=1)  # confidence of the new class
    >>> bool((p(cf.X_cf) > p(cf_base.X_cf)).all())
    True
    """

    _parameter_constraints: dict = {
        "generator": [HasMethods(["fit", "explain"])],
        "radius": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "radius_scale": [Interval(Real, 0, None, closed="neither")],
        "n_grid": [Interval(Integral, 1, None, closed="left")],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither"), None],
        "n_auto_samples": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        generator,
        *,
        radius="auto",
        radius_scale=0.8,
        n_grid=10,
        steps=200,
        step_size=None,
        n_auto_samples=256,
        batch_size=1024,
        random_state=None,
        verbose=0,
    ):
        self.generator = generator
        self.radius = radius
        self.radius_scale = radius_scale
        self.n_grid = n_grid
        self.steps = steps
        self.step_size = step_size
        self.n_auto_samples = n_auto_samples
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    # The target and tau are the inner generator's; BaseGenerator.explain reads
    # them from ``self``.
    @property
    def target(self):
        return getattr(self.generator, "target", "opposite")

    @property
    def tau(self):
        return getattr(self.generator, "tau", 0.0)

    def _raw_road(self):
        return is_raw_pipeline(getattr(self.generator, "estimator", None))

    def __sklearn_clone__(self):
        # plain parameter cloning; clone(generator) keeps a fitted model shared
        return BaseEstimator.__sklearn_clone__(self)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the inner generator and set the SNS radius.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (passed to the generator's ``fit``).
        y : array-like of shape (n_samples,), default=None
            Labels; only needed when the generator's estimator is not fitted.

        Returns
        -------
        self : object
            Fitted meta-generator.
        """
        if not isinstance(self.generator, BaseGenerator):
            raise TypeError(
                "The 'generator' parameter of StableNeighborSearch must be an skcf "
                f"generator (e.g. ElasticNetGenerator), got {self.generator!r}."
            )
        Xv, _ = self._validate_fit_data(X, y)
        gen = clone(self.generator).fit(X, y)
        self.generator_ = gen
        self.estimator_ = gen.estimator_
        self.space_ = gen.space_
        model = gen.model_
        if not hasattr(model, "logits"):  # gradient-free inner generator
            model = gen._adapt_model(gen.estimator_, gradients=True)
            model.classes = getattr(gen.model_, "classes", None)
        self.model_ = model
        self.classes_ = gen.classes_
        self.scale_ = gen.scale_
        self.constraints_ = gen.constraints_
        if isinstance(self.radius, str):
            self.radius_ = self._auto_radius(X, Xv)
        else:
            self.radius_ = float(self.radius)
        return self

    def _auto_radius(self, X, Xv):
        gen = self.generator_
        params = gen.get_params(deep=False)
        shared = {k: params[k] for k in _SHARED_PARAMS if k in params}
        rng = check_random_state(self.random_state)
        n = Xv.shape[0]
        rows = np.sort(rng.permutation(n)[: min(n, self.n_auto_samples)])
        pgd = PGDGenerator(gen.estimator_, **shared, random_state=0).fit(X)
        sub = X.iloc[rows] if hasattr(X, "iloc") else Xv[rows]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CounterfactualWarning)
            cf = pgd.explain(sub)
        unit = pgd.eps_ / pgd.n_radii
        if cf.valid.any():
            # the radius of the ball that produced each counterfactual
            l2 = np.linalg.norm(cf.Z_cf - cf.Z, axis=1)  # the search space's
            k = np.ceil(l2[cf.valid] / unit - 1e-6).clip(1, pgd.n_radii)
            eps = float(k.max() * unit)
        else:
            eps = float(pgd.eps_)
        return self.radius_scale * eps

    def _generate(self, X, y0, tgt, untargeted):
        X_cf, n_iter = self.generator_._generate(X, y0, tgt, untargeted)
        X_cf = self._exact(X, np.asarray(X_cf).astype(X.dtype, copy=True))
        n_iter = np.asarray(n_iter).copy()
        ok, cls = self._judge(X, X_cf, y0, tgt, untargeted)
        rows = np.flatnonzero(ok)
        if rows.size == 0:
            return X_cf, n_iter
        refined, found, extra_iter = self._refine(X_cf[rows], cls[rows], y0[rows])
        refined = self._exact(X[rows], refined)  # judged as explain will
        ok2, cls2 = self._judge(X[rows], refined, y0[rows], tgt[rows], untargeted[rows])
        accept = found & ok2 & (cls2 == cls[rows])
        X_cf[rows[accept]] = refined[accept]
        n_iter[rows] += extra_iter
        return X_cf, n_iter

    def _judge(self, X, X_cf, y0, tgt, untargeted):
        """BaseGenerator.explain's validity rule; returns (valid, reached class)."""
        reached, cls, _ = reaches_target(
            self.model_.predict_proba(X_cf), y0, tgt, untargeted, self.tau
        )
        return reached & (self._violations(X, X_cf) == 0), cls

    def _refine(self, X_start, cls, y0):
        model = self.model_
        device, dtype = model.device, model.dtype
        x0 = torch.tensor(X_start, device=device, dtype=dtype)
        term = StabilityTerm(model, n_grid=self.n_grid)
        step = 2.0 / self.steps if self.step_size is None else self.step_size
        progress = None
        if self.verbose >= 2:
            from tqdm.auto import tqdm

            progress = lambda it: tqdm(it, desc=type(self).__name__)  # noqa: E731
        res = solve(
            model,
            x0,
            torch.as_tensor(cls, device=device),
            terms=[term],
            solver=ProjectedGradient("l2", step_scale=step),
            search=RadiusSearch(self.radius_, n_radii=1),
            constraints=self._engine_constraints(device, dtype),
            max_iter=self.steps,
            y0=torch.as_tensor(y0, device=device),
            early_stop=False,
            tau=self.tau,
            cost_fn=lambda ctx: -term.integral(ctx.x, ctx.target),
            batch_size=self.batch_size,
            progress=progress,
        )
        delta = (res.x_cf - x0).detach().cpu().numpy().astype(np.float64)
        refined = (X_start.astype(np.float64) + delta).astype(X_start.dtype)
        return refined, res.found.cpu().numpy(), res.n_iter.cpu().numpy()

    def __sklearn_tags__(self):
        tags = super(BaseGenerator, self).__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.target_tags.required = get_tags(self.generator).target_tags.required
        tags.non_deterministic = False
        return tags
