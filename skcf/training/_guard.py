"""Divergence guard of the skcf training nets.

Counterfactual and adversarial training can blow up, or kill a network, within
a few optimiser steps at an aggressive setting. The guard watches every
training step and epoch of ``fit`` / ``partial_fit``, keeps a copy of the last
healthy weights and, on the first sign of divergence, restores them and stops
with a message naming the settings to change.

The last healthy weights: the module and optimiser state are copied at the
start of training and after every healthy epoch; a copy counts once the first
batch of the next epoch has shown that the network it holds is alive (outputs
that depend on the inputs), so a net that dies at an epoch's end is never
restored.

Signs of divergence (``factor`` is the net's ``divergence_factor``):

- ``"non-finite loss"``: the batch loss is NaN or ±inf (checked before the
  backward pass, so the step is never taken);
- ``"non-finite weights"``: a parameter is NaN or ±inf after a step;
- ``"loss below its lower bound"``: the loss is below the smallest value the
  objective can take (``_loss_lower_bound``: 0 for cross-entropy, seed 002's
  energy objective has a closed-form bound when ``lambda_energy_reg > 0``),
  which only rounding blow-ups reach;
- ``"exploding loss"``: ``|loss| > factor · max(1, |first batch loss|)``;
- ``"exploding weights"``: ``max |w| > factor · max(1, max |w| at the start)``;
- ``"dead network"``: over a whole training epoch the network's outputs did
  not depend on its inputs (every batch with distinct rows got identical
  output rows): every hidden unit is switched off or saturated, no gradient
  reaches them any more, and the net can only predict one class.
"""

from __future__ import annotations

import copy
import math

import torch

from ..exceptions import SkcfException, SkcfWarning

__all__ = ["TrainingDivergedError", "TrainingDivergedWarning"]

#: relative tolerance under which two output rows count as identical
_DEAD_RTOL = 1e-6


class TrainingDivergedError(SkcfException, FloatingPointError):
    """Training diverged; the last healthy weights were restored.

    Raised by the training nets of :mod:`skcf.training` with
    ``on_divergence="raise"``. The message names the sign of divergence, the
    epoch and the settings to change (``lr``, ``max_grad_norm``, the auxiliary
    loss weights). Subclasses :class:`FloatingPointError`, so existing
    ``except FloatingPointError`` clauses keep working.

    Examples
    --------
    >>> from skcf.datasets import make_moons
    >>> from skcf.models import MLP
    >>> from skcf.training import (
    ...     AdversarialTrainingClassifier, TrainingDivergedError,
    ... )
    >>> X, y = make_moons(n_samples=200, random_state=0)
    >>> net = AdversarialTrainingClassifier(
    ...     MLP, lr=100.0, steps=3, max_epochs=5, train_split=None, verbose=0,
    ...     random_state=0,
    ... )
    >>> try:
    ...     net.fit(X, y)
    ... except TrainingDivergedError as err:
    ...     print("lower lr (now 100)" in str(err), net.divergence_["restored_epoch"])
    True 0
    """


class TrainingDivergedWarning(SkcfWarning):
    """Training diverged and stopped; the last healthy weights were restored.

    Issued by the training nets of :mod:`skcf.training` with
    ``on_divergence="warn"``, with the same message as
    :class:`TrainingDivergedError`.

    Examples
    --------
    >>> import warnings
    >>> from skcf.datasets import make_moons
    >>> from skcf.models import MLP
    >>> from skcf.training import (
    ...     AdversarialTrainingClassifier, TrainingDivergedWarning,
    ... )
    >>> X, y = make_moons(n_samples=200, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     net = AdversarialTrainingClassifier(
    ...         MLP, lr=100.0, steps=3, max_epochs=5, train_split=None,
    ...         verbose=0, random_state=0, on_divergence="warn",
    ...     ).fit(X, y)
    >>> any(w.category is TrainingDivergedWarning for w in caught)
    True
    >>> net.diverged_, net.predict(X[:2]).shape
    (True, (2,))
    """


class _Guard:
    """Per-call state of the divergence guard of one net (never pickled)."""

    def __init__(self, net):
        self.net = net
        self.factor = net.divergence_factor
        self.ref_loss = None
        self.ref_weight = self._max_abs_weight()
        self.snapshot()
        self.good = self.pending  # the starting weights, even if dead

    # ---------------------------------------------------------- weights
    def _params(self):
        return [p for _, p in self.net.get_all_learnable_params()]

    def _max_abs_weight(self):
        params = self._params()
        if not params:
            return 0.0
        return float(torch.stack([p.detach().abs().max() for p in params]).max())

    def snapshot(self):
        """Copy the weights and optimiser state, pending the next batch's check."""
        net = self.net
        modules = {
            name: {
                k: v.detach().clone()
                for k, v in getattr(net, name + "_").state_dict().items()
            }
            for name in net._modules
        }
        optimizers = {
            name: copy.deepcopy(getattr(net, name + "_").state_dict())
            for name in net._optimizers
        }
        self.pending = (modules, optimizers, len(net.history))
        self.start_epoch()

    def restore(self):
        """Load the last healthy weights and optimiser state back.

        Returns
        -------
        epoch : int
            The epoch after which they were taken (0: before training).
        """
        net = self.net
        modules, optimizers, epoch = self.good
        for name, state in modules.items():
            getattr(net, name + "_").load_state_dict(state)
        for name, state in optimizers.items():
            getattr(net, name + "_").load_state_dict(copy.deepcopy(state))
        return epoch

    # ------------------------------------------------------------ checks
    def start_epoch(self):
        self.alive = None  # tensor: some batch had distinct output rows
        self.informative = None  # tensor: some batch had distinct input rows

    def check_loss(self, loss):
        """Before the backward pass: a non-finite loss is never stepped on."""
        if not torch.isfinite(loss):
            return "non-finite loss", f"the training loss became {loss.item()}"
        return None

    def observe(self, X, y_pred):
        """Record whether this batch's outputs depend on its inputs (no sync)."""
        if X.shape[0] < 2:
            return
        z = y_pred.detach().reshape(y_pred.shape[0], -1)
        spread = (z.amax(0) - z.amin(0)).max()
        alive = spread > _DEAD_RTOL * (1.0 + z.abs().max())
        x = X.detach().reshape(X.shape[0], -1)
        varies = (x.amax(0) > x.amin(0)).any()
        alive = alive & varies
        if self.pending is not None:  # the first batch on the copied weights
            if bool(alive) or not bool(varies):
                self.good = self.pending
            self.pending = None
        self.alive = alive if self.alive is None else self.alive | alive
        self.informative = (
            varies if self.informative is None else self.informative | varies
        )

    def check_step(self, loss):
        """After an optimiser step: the loss it started from and the weights."""
        loss = float(loss)
        if self.ref_loss is None:
            self.ref_loss = loss
        bound = self.net._loss_lower_bound()
        if loss < bound - 1e-3 * max(1.0, abs(bound)):
            return (
                "loss below its lower bound",
                f"the training loss reached {loss:.4g}, below {bound:.4g}, the "
                "smallest value the objective can take",
            )
        if self.factor is not None:
            scale = max(1.0, abs(self.ref_loss))
            if abs(loss) > self.factor * scale:
                return (
                    "exploding loss",
                    f"the training loss reached {loss:.4g}, over "
                    f"divergence_factor={self.factor:g} times its starting "
                    f"scale {scale:.4g}",
                )
        w = self._max_abs_weight()
        if not math.isfinite(w):
            return "non-finite weights", "a weight became NaN or infinite"
        if self.factor is not None:
            scale = max(1.0, self.ref_weight)
            if w > self.factor * scale:
                return (
                    "exploding weights",
                    f"the largest weight reached {w:.4g}, over "
                    f"divergence_factor={self.factor:g} times its starting "
                    f"scale {scale:.4g}",
                )
        return None

    def check_epoch(self):
        """After a training epoch: snapshot if healthy, else the sign found."""
        dead = (
            self.informative is not None
            and bool(self.informative)
            and not bool(self.alive)
        )
        if dead:
            return (
                "dead network",
                "over a whole epoch the network's outputs did not depend on "
                "its inputs (every hidden unit switched off or saturated), so "
                "it predicts one class and cannot recover",
            )
        self.snapshot()
        return None
