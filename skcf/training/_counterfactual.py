"""Counterfactual training (seed 002, Altmeyer, van Deursen, Liem)."""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import clone

from ..base import BaseGenerator
from ..utils._sklearn_compat import Interval
from ._base import BaseTrainingClassifier, _fmt

__all__ = ["CounterfactualTrainingClassifier"]


def _default_generator():
    from ..generators import WachterGenerator

    # seed 002's "Generic" generator; one fixed weight (no search) per batch
    return WachterGenerator(
        None, lam=10.0, n_search_steps=1, lr=0.1, max_iter=30, tau=0.75
    )


class CounterfactualTrainingClassifier(BaseTrainingClassifier):
    """skorch classifier trained with counterfactuals (seed 002, Eq. 1–3).

    The training objective per batch is

    ``CE(M(x), y) + lambda_div · [E(x⁺, y⁺) − E(x'_T, y⁺)]
    + lambda_energy_reg · [E(x⁺, y⁺)² + E(x'_T, y⁺)²]
    + lambda_adv · CE(M(x'_{t_ε}), y)``

    with energy ``E(x, y⁺) = −M(x)[y⁺]`` (the negative target logit). For every
    row of the batch a target ``y⁺ ~ p(y)`` (the training class frequencies)
    is drawn; rows whose label already is ``y⁺`` are skipped. The inner
    ``generator`` searches a counterfactual ``x'`` of the row for ``y⁺``
    against the current network (eval mode, parameters frozen, through skcf's
    one engine) until ``p(y⁺) ≥ tau`` or ``max_iter`` steps; the last iterate
    ``x'_T`` is the negative sample, a random batch row of class ``y⁺`` the
    positive sample ``x⁺``. Contrastive divergence lowers the energy of real
    ``y⁺`` data and raises that of counterfactuals, so the network learns to
    accept only plausible ones. The last nascent counterfactual whose
    perturbation stays inside ``‖x' − x‖∞ < eps`` is an adversarial example
    trained on with the true label. Counterfactuals are detached: no gradient
    flows through the search.

    Actionability: the generator runs under the net's ``immutable`` /
    ``increase_only`` / ``decrease_only`` / ``bounds`` (``"infer"``: seed 002
    App. B.3). With ``protect=True`` (seed 002 §3.2) the divergence term
    copies ``x⁺[d] := x'[d]`` for immutable features, for increase-only ones
    where ``x⁺[d] < x'[d]`` and for decrease-only ones where ``x⁺[d] > x'[d]``,
    so the network is not pushed to rely on features a user cannot change
    (Proposition 3.1).

    Numerics: energy-based training diverges without care (seed 002's grid
    search reached losses of 1e30). Three knobs keep it finite: the
    squared-energy penalty ``lambda_energy_reg`` (as in JEM / Du & Mordatch),
    gradient-norm clipping ``max_grad_norm`` and the bounded search box. With
    ``lambda_energy_reg > 0`` the objective is bounded below by
    ``−lambda_div² / (2 · lambda_energy_reg)`` (the cross-entropies are
    non-negative); without it the divergence term is unbounded below. A
    divergence guard watches every step (see ``on_divergence``): a
    non-finite loss (caught before the step), a loss below that bound, a loss
    or weight grown ``divergence_factor``-fold, or a network whose outputs no
    longer depend on its inputs (dead after too large a step) restores the
    last healthy weights and raises a
    :class:`~skcf.training.TrainingDivergedError` (a ``FloatingPointError``)
    naming the settings to change, or warns and stops.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network; returns logits (the energies are logits).
    *args, **kwargs
        Passed to ``skorch.NeuralNetClassifier``; ``generator__<param>`` sets a
        parameter of the inner generator (e.g. in ``GridSearchCV``).
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
    generator : skcf gradient generator or None, default=None
        Unfitted counterfactual generator whose configuration (terms, solver,
        ``max_iter``, ``tau``) runs every batch; its ``estimator`` and
        actionability parameters are replaced by the net's. None means
        ``WachterGenerator(lam=10, n_search_steps=1, lr=0.1, max_iter=30,
        tau=0.75)`` (seed 002's "Generic"); ``ECCoGenerator`` and
        ``REVISEGenerator`` work too.
    lambda_div : float, default=0.5
        Weight of the contrastive divergence.
    lambda_adv : float, default=0.25
        Weight of the adversarial loss on nascent counterfactuals.
    lambda_energy_reg : float, default=0.1
        Weight of the squared-energy penalty.
    eps : float, default=0.1
        ℓ∞ radius within which a nascent counterfactual is adversarial.
    protect : bool, default=True
        Protect immutable and one-directional features in the divergence.
    immutable, increase_only, decrease_only : array-like of int or str, default=None
        Actionability (indices, or names for DataFrames).
    bounds : "infer", dict or None, default="infer"
    categorical : list of array-like, default=None
    integer : array-like of int or str, default=None
    max_grad_norm : float or None, default=1.0
        Clip the gradient norm of the parameters before each optimiser step.
    on_divergence : {"raise", "warn"}, default="raise"
        What the divergence guard does once training diverges (a non-finite
        or exploding loss or weight, a loss below the objective's lower bound,
        or a dead network whose outputs no longer depend on its inputs): it
        restores the last healthy weights, then raises
        :class:`~skcf.training.TrainingDivergedError` naming the settings to
        change, or issues :class:`~skcf.training.TrainingDivergedWarning` and
        stops training.
    divergence_factor : float > 1 or None, default=1000.0
        Growth that counts as exploding: a batch loss
        ``|L| > divergence_factor · max(1, |L| of the first batch)`` or a
        weight ``|w| > divergence_factor · max(1, max |w| at the start)``.
        None turns these two checks off (non-finite values, the lower bound
        and dead networks are still caught).
    random_state : int, RandomState instance or None, default=None
        Seeds targets, positive samples, module initialisation and shuffling.
    preprocessor : sklearn transformer or None, default=None
        The raw-data road: an (unfitted) preprocessing such as a
        ``ColumnTransformer`` of scalers and encoders. ``fit`` then takes the
        raw DataFrame, fits and compiles the preprocessing
        (:class:`~skcf.models.TabularSpace`, attributes ``preprocessor_`` and
        ``space_``), and trains the module — which reads the preprocessed
        features — on the compiled search space, so the actionability
        parameters name original columns and the inner generator keeps
        categories one-hot and integers integral; ``predict`` /
        ``predict_proba`` take raw rows, and skcf's generators explain the
        fitted net on raw rows too.

    Attributes
    ----------
    module_, criterion_, optimizer_, history_ :
        As in skorch.
    generator_ : BaseGenerator
        The fitted inner generator (bounds, scales, actionability).
    class_prior_ : ndarray of shape (n_classes,)
        Training class frequencies, from which targets are drawn.
    label_encoder_ : LabelEncoder
    classes_ : ndarray
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.
    diverged_ : bool
        Whether the last ``fit`` / ``partial_fit`` call diverged; the weights
        are then those after epoch ``divergence_["restored_epoch"]`` (0: from
        before training).
    divergence_ : dict or None
        ``{"reason", "epoch", "restored_epoch"}`` of that divergence, None
        without one. ``"reason"`` is one of ``"non-finite loss"``,
        ``"non-finite weights"``, ``"loss below its lower bound"``,
        ``"exploding loss"``, ``"exploding weights"``, ``"dead network"``;
        the history row of ``"epoch"`` has ``"diverged": reason``.

    See Also
    --------
    AdversarialTrainingClassifier : PGD adversarial training.
    skcf.generators.ECCoGenerator : energy-constrained counterfactuals.

    References
    ----------
    Altmeyer, van Deursen, Liem. Counterfactual training: teaching models
    plausible and actionable explanations. Seed 002, §3 and App. B.

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.datasets import make_credit_toy
    >>> from skcf.models import MLP
    >>> from skcf.training import CounterfactualTrainingClassifier
    >>> X, y = make_credit_toy(n_samples=200, random_state=0)
    >>> X = (X - X.mean(0)) / X.std(0)
    >>> net = CounterfactualTrainingClassifier(
    ...     MLP, module__hidden=(16,), immutable=[0], max_epochs=3, lr=0.05,
    ...     train_split=None, verbose=0, random_state=0,
    ... ).fit(X, y)
    >>> bool(np.isfinite(net.history[:, "train_loss"]).all()), net.diverged_
    (True, False)
    >>> net.predict(X[:2]).shape
    (2,)
    """

    prefixes_ = [*BaseTrainingClassifier.prefixes_, "generator"]

    _parameter_constraints: dict = {
        **BaseTrainingClassifier._parameter_constraints,
        "lambda_div": [Interval(Real, 0, None, closed="left")],
        "lambda_adv": [Interval(Real, 0, None, closed="left")],
        "lambda_energy_reg": [Interval(Real, 0, None, closed="left")],
        "eps": [Interval(Real, 0, None, closed="neither")],
        "protect": ["boolean"],
    }

    def __init__(
        self,
        module,
        *args,
        criterion=torch.nn.CrossEntropyLoss,
        generator=None,
        lambda_div=0.5,
        lambda_adv=0.25,
        lambda_energy_reg=0.1,
        eps=0.1,
        protect=True,
        immutable=None,
        increase_only=None,
        decrease_only=None,
        bounds="infer",
        categorical=None,
        integer=None,
        max_grad_norm=1.0,
        on_divergence="raise",
        divergence_factor=1000.0,
        random_state=None,
        preprocessor=None,
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            criterion=criterion,
            immutable=immutable,
            increase_only=increase_only,
            decrease_only=decrease_only,
            bounds=bounds,
            categorical=categorical,
            integer=integer,
            max_grad_norm=max_grad_norm,
            on_divergence=on_divergence,
            divergence_factor=divergence_factor,
            random_state=random_state,
            preprocessor=preprocessor,
            **kwargs,
        )
        self.generator = generator
        self.lambda_div = lambda_div
        self.lambda_adv = lambda_adv
        self.lambda_energy_reg = lambda_energy_reg
        self.eps = eps
        self.protect = protect

    def get_params(self, deep=True, **kwargs):
        """Parameters; ``generator__*`` values set on the net win over the
        generator's own (they are applied to a clone in ``fit``)."""
        params = super().get_params(deep=deep, **kwargs)
        params.update(
            {k: v for k, v in vars(self).items() if k.startswith("generator__")}
        )
        return params

    def _check_params(self):
        super()._check_params()
        gen = self.generator
        if gen is not None and not (
            isinstance(gen, BaseGenerator) and gen._requires_gradients
        ):
            raise TypeError(
                "The 'generator' parameter must be an skcf gradient generator "
                f"(e.g. WachterGenerator(None)) or None; got {gen!r}."
            )

    def _build_generator(self):
        gen = _default_generator() if self.generator is None else clone(self.generator)
        gen.set_params(**self.get_params_for("generator"))
        gen.set_params(
            estimator=self._engine_model(),
            target="other",  # targets y⁺ are given per row
            **self._actionability_params(),
        )
        return gen

    # ------------------------------------------------------------ guard
    def _loss_lower_bound(self):
        """The smallest value the objective can take (-inf if unbounded).

        The cross-entropies are non-negative; per row, ``λ_div·(e⁺ − e') +
        λ_reg·(e⁺² + e'²) ≥ −λ_div² / (2·λ_reg)`` (each square completed), so
        the batch mean is bounded by the same value when ``λ_reg > 0``. Without
        the energy penalty the divergence is unbounded below.
        """
        bound = super()._loss_lower_bound()
        if self.lambda_div == 0:
            return bound
        if self.lambda_energy_reg == 0:
            return -np.inf
        return bound - self.lambda_div**2 / (2 * self.lambda_energy_reg)

    def _divergence_advice(self, reason):
        advice = super()._divergence_advice(reason)
        weights = (
            f"lower lambda_div (now {_fmt(self.lambda_div)}) or lambda_adv (now "
            f"{_fmt(self.lambda_adv)})"
        )
        if self.lambda_div > 0 and self.lambda_energy_reg == 0:
            return (
                "set lambda_energy_reg > 0 (now 0; without it the divergence "
                f"term is unbounded below, e.g. 0.1), {advice}, or {weights}"
            )
        return (
            f"{advice}, {weights}, or raise lambda_energy_reg (now "
            f"{_fmt(self.lambda_energy_reg)})"
        )

    # ------------------------------------------------------------- batch
    def _divergence_batch(self, Xi, yi):
        """Targets, positive samples, counterfactuals and adversarial examples.

        Returns a dict of tensors over the rows used this batch: ``rows``
        (indices into the batch), ``target`` (y⁺), ``x_pos`` (protected
        positive samples), ``x_cf`` (``x'_T``), ``x_adv`` (``x'_{t_ε}``).
        """
        n = Xi.shape[0]
        y_np = yi.detach().cpu().numpy()
        k = len(self.class_prior_)
        target = self.rng_.choice(k, size=n, p=self.class_prior_)
        # a random batch row of class y⁺ as the positive sample
        pos = np.full(n, -1)
        for c in np.unique(target):  # loop over classes, not rows
            members = np.flatnonzero(y_np == c)
            want = np.flatnonzero(target == c)
            if members.size:
                pos[want] = members[self.rng_.randint(members.size, size=want.size)]
        rows = np.flatnonzero((target != y_np) & (pos >= 0))
        device = Xi.device
        out = {"rows": torch.as_tensor(rows, device=device, dtype=torch.long)}
        if rows.size == 0:
            return out
        x = Xi[out["rows"]].detach()
        tgt = torch.as_tensor(target[rows], device=device, dtype=torch.long)
        with self._frozen():
            res = self.generator_._search(
                self._engine_model(),
                x,
                tgt,
                untargeted=torch.zeros_like(tgt, dtype=torch.bool),
                seed=self._seed(),
                keep_last=True,
                within_linf=float(self.eps),
            )
        x_cf = res.x_cf.detach().to(Xi.dtype)
        x_adv = res.x_within.detach().to(Xi.dtype)
        x_pos = Xi[torch.as_tensor(pos[rows], device=device)].detach().clone()
        if self.protect:
            c = self.generator_.constraints_
            t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
            mask = (
                ~t(c["mutable"])
                | (t(c["increase_only"]) & (x_pos < x_cf))
                | (t(c["decrease_only"]) & (x_pos > x_cf))
            )
            x_pos = torch.where(mask, x_cf, x_pos)
        out.update(target=tgt, x_pos=x_pos, x_cf=x_cf, x_adv=x_adv)
        return out

    def _train_loss(self, Xi, yi, **fit_params):
        need = self.lambda_div > 0 or self.lambda_adv > 0 or self.lambda_energy_reg > 0
        batch = self._divergence_batch(Xi, yi) if need else {"rows": ()}
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        if len(batch["rows"]) == 0:
            return loss, y_pred
        tgt = batch["target"].view(-1, 1)
        e_pos = -self._logits(self.infer(batch["x_pos"], **fit_params)).gather(1, tgt)
        e_cf = -self._logits(self.infer(batch["x_cf"], **fit_params)).gather(1, tgt)
        div = (e_pos - e_cf).mean()
        reg = (e_pos.pow(2) + e_cf.pow(2)).mean()
        z_adv = self._logits(self.infer(batch["x_adv"], **fit_params))
        adv = F.cross_entropy(z_adv, yi[batch["rows"]])
        loss = (
            loss
            + self.lambda_div * div
            + self.lambda_energy_reg * reg
            + self.lambda_adv * adv
        )
        for name, value in (("div", div), ("energy_reg", reg), ("adv_loss", adv)):
            self.history.record_batch(name, float(value.detach()))
        return loss, y_pred
