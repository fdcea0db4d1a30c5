"""Shared machinery of the skcf training nets (skorch ``NeuralNetClassifier``s).

A training net holds an skcf gradient generator, fitted once on the training
data (bounds, feature scales, actionability) in ``fit``. Every batch, the
generator's engine configuration runs against the *current* module, in eval
mode and with its parameters frozen, through ``BaseGenerator._search``; the net
then trains on what it returns. The training loop itself is skorch's, watched
by the divergence guard of ``_guard.py``.
"""

from __future__ import annotations

import inspect
import warnings
from contextlib import contextmanager
from numbers import Real

import numpy as np
import torch
from sklearn.base import clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d
from skorch import NeuralNetClassifier
from skorch.dataset import unpack_data

from ..models import DifferentiableModel
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    validate_data,
    validate_parameter_constraints,
)
from ._guard import TrainingDivergedError, TrainingDivergedWarning, _Guard

_ACTIONABILITY = (
    "immutable",
    "increase_only",
    "decrease_only",
    "bounds",
    "categorical",
    "integer",
)


def _fmt(value):
    """A parameter value for a message (``1.0`` -> ``1``, ``0.001`` -> ``0.001``)."""
    return f"{value:g}" if isinstance(value, Real) else repr(value)


class BaseTrainingClassifier(NeuralNetClassifier):
    """Base class of the skcf training nets (not for direct use).

    Adds to skorch's ``NeuralNetClassifier``: sklearn-style input validation
    (float arrays or DataFrames, any hashable class labels), actionability
    parameters shared with the generators, a fitted inner generator
    (``generator_``), gradient-norm clipping and a divergence guard
    (``on_divergence``, ``divergence_factor``; see ``_guard.py``).
    Subclasses implement ``_build_generator()`` and ``_train_loss(Xi, yi)``,
    and may refine ``_loss_lower_bound()`` and ``_divergence_advice(reason)``.
    """

    def __init__(
        self,
        module,
        *args,
        criterion=torch.nn.CrossEntropyLoss,
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
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.preprocessor = preprocessor
        self.immutable = immutable
        self.increase_only = increase_only
        self.decrease_only = decrease_only
        self.bounds = bounds
        self.categorical = categorical
        self.integer = integer
        self.max_grad_norm = max_grad_norm
        self.on_divergence = on_divergence
        self.divergence_factor = divergence_factor
        self.random_state = random_state

    # ------------------------------------------------------------- data
    def _validate_X(self, X, reset):
        if self.preprocessor is not None:  # raw rows: the compiled search space
            validate_data(self, X, reset=reset, skip_check_array=True)
            return np.ascontiguousarray(self.space_.encode(X), dtype=np.float32)
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        return np.ascontiguousarray(X, dtype=np.float32)

    #: checked in ``fit`` (skorch's own parameters are skorch's business)
    _parameter_constraints: dict = {
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "on_divergence": [StrOptions({"raise", "warn"})],
        "divergence_factor": [Interval(Real, 1, None, closed="neither"), None],
    }

    def _check_params(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )

    def fit(self, X, y=None, **fit_params):
        """Initialise the module (unless ``warm_start``) and train it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows (numeric; a DataFrame's column names may be used in
            the actionability parameters).
        y : array-like of shape (n_samples,)
            Class labels (any hashable values).
        **fit_params : dict
            Passed to skorch's ``partial_fit``.

        Returns
        -------
        self : object
            The fitted net.
        """
        if not self.warm_start or not self.initialized_:
            for attr in (
                "label_encoder_",
                "generator_",
                "rng_",
                "class_prior_",
                "preprocessor_",
                "space_",
            ):
                self.__dict__.pop(attr, None)
            self.initialized_ = False
        return self.partial_fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs (fits the generator first if needed).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like, default=None
            All class labels, if ``y`` of the first call may miss some.
        **fit_params : dict
            Passed to skorch's ``partial_fit``.

        Returns
        -------
        self : object
            The fitted net.
        """
        self._check_params()
        first = not hasattr(self, "generator_")
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        if first and self.preprocessor is not None:
            self._compile_preprocessor(X, y)
        X = self._validate_X(X, reset=first)
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        check_classification_targets(y)
        if first and X.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples to train; got "
                f"n_samples={X.shape[0]}."
            )
        if not hasattr(self, "label_encoder_"):
            labels = y if classes is None else np.concatenate([np.asarray(classes), y])
            self.label_encoder_ = LabelEncoder().fit(labels)
            if len(self.label_encoder_.classes_) < 2:
                raise ValueError(
                    "The training data needs at least 2 classes; got "
                    f"{self.label_encoder_.classes_.tolist()}."
                )
        y_enc = self.label_encoder_.transform(y).astype(np.int64)
        if first:
            self.rng_ = check_random_state(self.random_state)
        with self._seeded():
            if not self.initialized_:
                self.initialize()
            if first:
                self._fit_generator(X, y_enc)
            self.diverged_, self.divergence_ = False, None
            self._guard_ = _Guard(self)
            try:
                return super().partial_fit(X, y_enc, **fit_params)
            finally:
                del self._guard_

    @contextmanager
    def _seeded(self):
        """Seed torch's global generator from ``random_state`` inside a fork.

        Module initialisation and skorch's batch shuffling draw from torch's
        global generator; forking it keeps the caller's state untouched while
        making training deterministic under ``random_state``.
        """
        if self.random_state is None:
            yield
            return
        devices = [torch.device(self.device)] if "cuda" in str(self.device) else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self._seed())
            yield

    def initialize_module(self):
        """Instantiate the module, filling ``n_features`` / ``n_classes`` from data.

        When ``module`` is a class whose ``__init__`` takes ``n_features`` or
        ``n_classes`` (as :class:`~skcf.models.MLP` does) and no
        ``module__n_features`` / ``module__n_classes`` is given, the widths seen
        in ``fit`` are used.
        """
        kwargs = self.get_params_for("module")
        names = {}
        if isinstance(self.module, type):
            names = inspect.signature(self.module).parameters
            enc = self.__dict__.get("label_encoder_")
            if "n_features" in names and hasattr(self, "n_features_in_"):
                kwargs.setdefault("n_features", int(self.n_features_in_))
            if "n_classes" in names and enc is not None:
                kwargs.setdefault("n_classes", len(enc.classes_))
        space = self.__dict__.get("space_")
        if space is not None and isinstance(self.module, type):
            if "n_features" in names:  # the module reads the preprocessed rows
                kwargs["n_features"] = int(space.weight.shape[1])
        module = self.initialized_instance(self.module, kwargs)
        if space is not None:  # trained on search-space rows through the map
            module = _MappedModule(space.torch_map().to(torch.float32), module)
        self.module_ = module
        return self

    def _compile_preprocessor(self, X, y):
        """Fit ``preprocessor`` on the raw rows and compile it (the raw road)."""
        from sklearn.pipeline import Pipeline

        from ..models import TabularSpace

        self.preprocessor_ = clone(self.preprocessor).fit(X, y)
        pipe = Pipeline([("prep", self.preprocessor_), ("net", "passthrough")])
        self.space_ = TabularSpace.from_pipeline(
            pipe, X, categorical=self.categorical, integer=self.integer
        )

    def _fit_generator(self, X, y_enc):
        self.class_prior_ = np.bincount(
            y_enc, minlength=len(self.label_encoder_.classes_)
        ) / len(y_enc)
        with torch.no_grad():  # materialise lazy modules before freezing
            self.module_.eval()
            self.module_(torch.as_tensor(X[:1], device=self.device))
        names = getattr(self, "feature_names_in_", None)
        if names is not None and self.preprocessor is None:
            import pandas as pd  # column names in the actionability parameters

            X = pd.DataFrame(X, columns=names)
        with self._frozen():
            self.generator_ = self._build_generator().fit(X)
        if self.preprocessor is not None:
            # the search space's own constraints, named by original column
            from .._config import get_config

            gen = self.generator_
            gen.constraints_ = self.space_.constraints(
                immutable=self.immutable,
                increase_only=self.increase_only,
                decrease_only=self.decrease_only,
                bounds=self.bounds,
            )
            gen.scale_ = self.space_.search_scale(
                np.asarray(X, dtype=np.float64), get_config()["category_cost"]
            )

    @property
    def classes_(self):
        """Class labels, in the order of the module's outputs."""
        enc = self.__dict__.get("label_encoder_")
        if enc is not None:
            return enc.classes_
        return super().classes_

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        self.check_is_fitted()
        # skorch's own datasets (the validation split's Subset, scored by its
        # EpochScoring callbacks) are skorch's business, like in fit
        if hasattr(self, "label_encoder_") and not isinstance(
            X, torch.utils.data.Dataset
        ):
            X = self._validate_X(X, reset=False)
        return super().predict_proba(X)

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        idx = self.predict_proba(X).argmax(axis=1)
        return np.asarray(self.classes_)[idx]

    # ------------------------------------------------------ engine access
    def _engine_model(self, module=None):
        """The live module (or ``module``) as a differentiable model."""
        out = "proba" if isinstance(self.criterion_, torch.nn.NLLLoss) else "logits"
        module = self.module_ if module is None else module
        return DifferentiableModel(module, output=out, device=self.device)

    def _logits(self, y_pred):
        if isinstance(y_pred, tuple):
            y_pred = y_pred[0]
        if isinstance(self.criterion_, torch.nn.NLLLoss):
            return torch.log(y_pred.clamp_min(1e-12))
        return y_pred

    @contextmanager
    def _frozen(self):
        """Module in eval mode with parameters frozen (no ``.grad`` is touched)."""
        was_training = self.module_.training
        flags = [p.requires_grad for p in self.module_.parameters()]
        self.module_.eval()
        for p in self.module_.parameters():
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, f in zip(self.module_.parameters(), flags, strict=True):
                p.requires_grad_(f)
            self.module_.train(was_training)

    def _actionability_params(self):
        if self.preprocessor is not None:  # resolved by the compiled space
            return {"bounds": None}
        return {k: getattr(self, k) for k in _ACTIONABILITY}

    def _seed(self):
        return int(self.rng_.randint(np.iinfo(np.int32).max))

    # ------------------------------------------------------------- train
    def train_step_single(self, batch, **fit_params):
        """One batch: build the extra inputs with the engine, then backward.

        Parameters
        ----------
        batch : tuple
            ``(X, y)`` from the data loader.
        **fit_params : dict
            Passed to the module's ``forward``.

        Returns
        -------
        step : dict
            ``{"loss": loss, "y_pred": y_pred}`` as in skorch.
        """
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        Xi = torch.as_tensor(Xi, device=self.device)
        yi = torch.as_tensor(yi, device=self.device)
        loss, y_pred = self._train_loss(Xi, yi, **fit_params)
        guard = self.__dict__.get("_guard_")
        if guard is not None:
            guard.observe(Xi, self._logits(y_pred))
        if not torch.isfinite(loss):
            if guard is None:  # a step outside fit / partial_fit
                raise TrainingDivergedError(
                    f"{type(self).__name__}: the training loss became "
                    f"{loss.item()}; {self._divergence_advice('non-finite loss')}."
                )
            self._diverge(*guard.check_loss(loss), loss=loss.item())
        loss.backward()
        if self.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(
                self.module_.parameters(), float(self.max_grad_norm)
            )
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        """skorch's training step (backward, optimiser step), then the guard.

        Parameters
        ----------
        batch : tuple
            ``(X, y)`` from the data loader.
        **fit_params : dict
            Passed to the module's ``forward``.

        Returns
        -------
        step : dict
            ``{"loss": loss, "y_pred": y_pred}`` as in skorch.
        """
        step = super().train_step(batch, **fit_params)
        guard = self.__dict__.get("_guard_")
        if guard is not None:
            loss = step["loss"].item()
            found = guard.check_step(loss)
            if found is not None:
                self._diverge(*found, loss=loss)
        return step

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch; after a training epoch, the guard's epoch check.

        A healthy training epoch becomes the guard's last good state.
        """
        guard = self.__dict__.get("_guard_") if training else None
        if guard is not None:
            guard.start_epoch()
        super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        if guard is not None and iterator is not None:
            found = guard.check_epoch()
            if found is not None:
                self._diverge(*found, at_epoch_end=True)

    def _diverge(self, reason, detail, loss=None, at_epoch_end=False):
        """Restore the last healthy state, record it, then raise or warn and stop.

        The diverging batch's ``train_loss`` (skorch records it only after a
        step returns) and ``"diverged": reason`` go into the history.
        """
        restored_epoch = self._guard_.restore()
        epoch = len(self.history)
        where = f"at the end of epoch {epoch}"
        if not at_epoch_end:
            batch = len(self.history[-1]["batches"]) if epoch else 0
            where = f"at epoch {epoch}, batch {batch}"
        self.diverged_ = True
        self.divergence_ = {
            "reason": reason,
            "epoch": epoch,
            "restored_epoch": restored_epoch,
        }
        if epoch:
            if loss is not None and self.history[-1]["batches"]:
                self.history.record_batch("train_loss", loss)
            self.history.record("diverged", reason)
        restored = (
            "the weights from before training"
            if restored_epoch == 0
            else f"the weights of epoch {restored_epoch}"
        )
        msg = (
            f"{type(self).__name__} diverged {where} ({reason}): {detail}. "
            f"Restored {restored}. To train, {self._divergence_advice(reason)}."
        )
        if self.on_divergence == "raise":
            raise TrainingDivergedError(
                msg + " (on_divergence='warn' keeps the restored net and only warns.)"
            )
        warnings.warn(msg + " Training stopped.", TrainingDivergedWarning, stacklevel=2)
        raise KeyboardInterrupt  # skorch's way to stop training (as EarlyStopping)

    def _loss_lower_bound(self):
        """The smallest value the training loss can take (-inf if unknown).

        Cross-entropy (``CrossEntropyLoss``; ``NLLLoss`` on probabilities) is
        non-negative.
        """
        known = (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)
        return 0.0 if isinstance(self.criterion_, known) else -np.inf

    def _divergence_advice(self, reason):
        """Which settings to change, for the message of a divergence."""
        lr = f"lower lr (now {_fmt(self.lr)})"
        if self.max_grad_norm is None:
            return f"{lr} or set max_grad_norm (now None; e.g. 1.0)"
        return f"{lr} or max_grad_norm (now {_fmt(self.max_grad_norm)})"

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_guard_", None)  # only lives during fit
        return state

    def _build_generator(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _train_loss(self, Xi, yi, **fit_params):  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    def _clone_generator(self, gen, **params):
        gen = clone(gen)
        return gen.set_params(**params)


class _MappedModule(torch.nn.Module):
    """The user's module behind the compiled preprocessing map (raw road).

    ``forward(z) = net(map(z))``: the net is trained on search-space rows,
    whose constraints the generators know, while the user's module reads the
    preprocessed features it was written for. The map holds buffers only, so
    the optimiser never changes it.
    """

    def __init__(self, map_: torch.nn.Module, net: torch.nn.Module) -> None:
        super().__init__()
        self.map = map_
        self.net = net

    def forward(self, z, **kwargs):
        return self.net(self.map(z.to(next(self.map.buffers()).dtype)), **kwargs)
