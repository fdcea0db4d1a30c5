"""Adversarial training (Madry et al.; seed 003): PGD, FGSM as one step."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch

from ..generators import PGDGenerator
from ..utils._sklearn_compat import Interval, StrOptions
from ._base import BaseTrainingClassifier

__all__ = ["AdversarialTrainingClassifier"]


class AdversarialTrainingClassifier(BaseTrainingClassifier):
    """skorch classifier trained on PGD adversarial examples (Madry et al.).

    Each batch, a random ``adv_fraction`` of its rows is replaced by adversarial
    examples of the current network (seed 003 perturbs 50 %): projected gradient
    ascent of the cross-entropy of the *true* label inside the ``norm`` ball of
    radius ``eps`` (``steps`` steps of ``step_size · eps``, from a random start
    when ``random_start``). The perturbations come from skcf's one engine
    (:class:`~skcf.generators.PGDGenerator`'s configuration, run against the
    module in eval mode with its parameters frozen, so no ``.grad`` leaks into
    training); the network is then trained on the mixed batch with the true
    labels. By default a row stops as soon as it is misclassified (rows that
    resist keep their last PGD iterate); ``full_inner_max=True`` is Madry et
    al.'s inner maximisation as written: every row takes all ``steps`` and
    its final iterate is the training example.
    ``steps=1, step_size=1.0, random_start=False`` is FGSM (ℓ∞) / FGM (ℓ2).

    Actionability holds for the perturbations: immutable columns are never
    perturbed, one-directional ones move only their way, everything stays in
    ``bounds`` (``"infer"`` learns seed 002's box from the training data).

    A divergence guard watches every step (see ``on_divergence``): a
    non-finite loss, a loss or weight grown ``divergence_factor``-fold (an
    ``lr`` too large blows weights up within a few steps) or a network whose
    outputs no longer depend on its inputs restores the last healthy weights
    and raises a :class:`~skcf.training.TrainingDivergedError` naming the
    settings to change, or warns and stops.

    Everything else is skorch's ``NeuralNetClassifier`` (``module``,
    ``max_epochs``, ``lr``, callbacks, ``module__...`` parameters), except that
    the criterion defaults to ``CrossEntropyLoss`` (the module returns logits),
    ``X`` may be float64 or a DataFrame and ``y`` any class labels.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network; returns logits (or probabilities with ``criterion=NLLLoss``).
    *args, **kwargs
        Passed to ``skorch.NeuralNetClassifier`` (``max_epochs``, ``lr``,
        ``batch_size``, ``train_split``, ``module__*``, ``optimizer``...).
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
    eps : float, default=0.1
        Radius of the perturbation ball (in input units).
    steps : int, default=10
        PGD steps (1 with ``step_size=1.0`` and no random start: FGSM).
    step_size : float, default=None
        Step as a fraction of ``eps``; None means ``2 / steps``.
    norm : {"linf", "l2"}, default="linf"
    adv_fraction : float, default=0.5
        Share of each batch replaced by adversarial examples (0: plain training).
    random_start : bool, default=True
        Start PGD from a uniform random point of the ball (Madry et al.).
    full_inner_max : bool, default=False
        Run all PGD steps for every row and train on the final iterate
        (Madry et al.'s full inner maximisation; seed 003's setting), instead
        of stopping a row at its first misclassified iterate (cheaper; the
        example sits just across the boundary rather than deep in the ball).
    immutable, increase_only, decrease_only : array-like of int or str, default=None
        Actionability of the perturbations (indices, or names for DataFrames).
    bounds : "infer", dict or None, default="infer"
        Feasible box (see :class:`~skcf.generators.PGDGenerator`).
    categorical : list of array-like, default=None
        One-hot groups kept one-hot.
    integer : array-like of int or str, default=None
        Integer features, rounded.
    max_grad_norm : float, default=None
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
        Seeds the choice of perturbed rows and the random starts (module
        initialisation and batch shuffling use torch's global generator, as
        in skorch).
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
    generator_ : PGDGenerator
        The fitted attack configuration (bounds, actionability).
    label_encoder_ : LabelEncoder
        Maps class labels to output indices.
    classes_ : ndarray
        Class labels in the order of the outputs.
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
    CounterfactualTrainingClassifier : training on counterfactuals (seed 002).
    skcf.metrics.susceptibility : share of rows attackable within a radius.

    References
    ----------
    Madry, Makelov, Schmidt, Tsipras, Vladu (2018). Towards deep learning models
    resistant to adversarial attacks. Seed 003, §3.

    Examples
    --------
    >>> import torch
    >>> from skcf.datasets import make_moons
    >>> from skcf.metrics import susceptibility
    >>> from skcf.models import MLP
    >>> from skcf.training import AdversarialTrainingClassifier
    >>> X, y = make_moons(n_samples=300, random_state=0)
    >>> _ = torch.manual_seed(0)
    >>> net = AdversarialTrainingClassifier(
    ...     MLP, module__n_features=2, module__hidden=(16,), eps=0.1, steps=5,
    ...     max_epochs=5, lr=0.1, train_split=None, verbose=0, random_state=0,
    ... ).fit(X, y)
    >>> net.predict(X[:3]).shape
    (3,)
    >>> 0.0 <= susceptibility(net, X, y, radius=0.1) <= 1.0
    True
    """

    _parameter_constraints: dict = {
        **BaseTrainingClassifier._parameter_constraints,
        "eps": [Interval(Real, 0, None, closed="neither")],
        "steps": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither"), None],
        "norm": [StrOptions({"linf", "l2"})],
        "adv_fraction": [Interval(Real, 0, 1, closed="both")],
        "random_start": ["boolean"],
        "full_inner_max": ["boolean"],
    }

    def __init__(
        self,
        module,
        *args,
        criterion=torch.nn.CrossEntropyLoss,
        eps=0.1,
        steps=10,
        step_size=None,
        norm="linf",
        adv_fraction=0.5,
        random_start=True,
        full_inner_max=False,
        immutable=None,
        increase_only=None,
        decrease_only=None,
        bounds="infer",
        categorical=None,
        integer=None,
        max_grad_norm=None,
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
        self.eps = eps
        self.steps = steps
        self.step_size = step_size
        self.norm = norm
        self.adv_fraction = adv_fraction
        self.random_start = random_start
        self.full_inner_max = full_inner_max

    def _build_generator(self):
        return PGDGenerator(
            self._engine_model(),
            target="other",
            norm=self.norm,
            eps=float(self.eps),
            min_eps=False,
            steps=int(self.steps),
            step_size=self.step_size,
            loss="ce",
            random_start=bool(self.random_start),
            all_steps=bool(self.full_inner_max),
            **self._actionability_params(),
        )

    def _perturb(self, x, y):
        """Adversarial examples (tensors) of rows ``x`` with true classes ``y``."""
        with self._frozen():
            res = self.generator_._search(
                self._engine_model(),
                x,
                y,
                untargeted=torch.ones_like(y, dtype=torch.bool),
                y0=y,
                seed=self._seed(),
                keep_last=True,
            )
        return res.x_cf.detach()

    def _train_loss(self, Xi, yi, **fit_params):
        n = Xi.shape[0]
        k = int(round(float(self.adv_fraction) * n))
        X_mix = Xi
        if k:
            idx = torch.as_tensor(self.rng_.permutation(n)[:k], device=Xi.device)
            X_mix = Xi.clone()
            X_mix[idx] = self._perturb(Xi[idx], yi[idx]).to(Xi.dtype)
        y_pred = self.infer(X_mix, **fit_params)
        loss = self.get_loss(y_pred, yi, X=X_mix, training=True)
        return loss, y_pred

    def perturb(self, X, y):
        """Adversarial examples of the fitted network (the training attack).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to attack.
        y : array-like of shape (n_samples,)
            Their true labels.

        Returns
        -------
        X_adv : ndarray of shape (n_samples, n_features), dtype float32
            Perturbed rows (within ``eps`` of ``X`` and the constraints). With
            a ``preprocessor``: raw rows like ``X`` (``eps`` is then measured
            in the compiled search space, where the net was attacked).
        """
        self.check_is_fitted(["generator_"])
        X_raw = X
        X = self._validate_X(X, reset=False)
        y = self.label_encoder_.transform(np.asarray(y))
        device = torch.device(self.device)
        x = torch.as_tensor(X, device=device)
        adv = self._perturb(x, torch.as_tensor(y, device=device, dtype=torch.long))
        adv = adv.cpu().numpy()
        if self.preprocessor is not None:
            return self.space_.decode(adv, X_raw, X)
        return adv
