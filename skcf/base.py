"""Base classes: :class:`BaseGenerator` and :class:`CounterfactualSet`.

The public ``fit`` / ``transform`` / ``explain`` / ``score`` are written once,
here. Generators fill private hooks: ``_fit`` (learn what the method needs) and
``_engine_config`` (which terms, solver, search and stopping rule).
"""

from __future__ import annotations

import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._config import get_config
from ._engine import Constraints, inward_bounds, solve
from ._engine._threads import engine_threads, model_cost
from .exceptions import (
    ConstraintError,
    CounterfactualWarning,
    NotDifferentiableError,
)
from .models import as_differentiable, as_model
from .models._adapters import BlackBoxModel, _is_fitted, _is_skorch
from .models._space import (
    MappedEstimator,
    TabularSpace,
    _columns,
    check_group_columns,
    check_onehot_values,
    fold_into_first_layer,
    is_raw_pipeline,
    unfrozen,
)
from .utils._scale import robust_scale
from .utils._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
    _wrap_data_with_container,
    validate_data,
)
from .utils._stack import user_stacklevel

__all__ = ["BaseGenerator", "CounterfactualSet", "is_generator"]


def is_generator(estimator) -> bool:
    """Whether ``estimator`` is an skcf counterfactual generator.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.base import is_generator
    >>> is_generator(StandardScaler())
    False
    """
    return isinstance(estimator, BaseGenerator)


class CounterfactualSet:
    """Counterfactuals with everything needed to judge them, as returned by ``explain``.

    Each parameter is stored as an attribute of the same name. On the raw-data
    road (the generator's estimator is the user's preprocessing pipeline),
    ``X`` and ``X_cf`` are in the input's own type and units (a DataFrame with
    strings and categories, say), costs are computed in original units and
    ``Z`` / ``Z_cf`` hold the search-space rows the engine worked on.

    Parameters
    ----------
    X : ndarray or DataFrame of shape (n_samples, n_features)
        Factual rows.
    X_cf : ndarray or DataFrame of shape (n_samples, n_features)
        Counterfactuals; the factual row where none was found (see ``valid``).
    y_pred : ndarray of shape (n_samples,)
        Model prediction (class label) for ``X``.
    y_cf_pred : ndarray of shape (n_samples,)
        Model prediction for ``X_cf``.
    target : ndarray of shape (n_samples,), dtype=object
        Requested class per row (``"other"`` for untargeted rows).
    valid : ndarray of shape (n_samples,), dtype=bool
        The counterfactual reaches the target and breaks no constraint.
    violations : ndarray of shape (n_samples,)
        Number of violated constraints of the returned row.
    n_iter : ndarray of shape (n_samples,)
        Solver iterations spent on each row.
    feature_names : ndarray of str
    elapsed : float
        Wall time of the call in seconds.
    Z, Z_cf : ndarray of shape (n_samples, n_search), default=None
        Search-space rows of ``X`` and ``X_cf`` (``X`` and ``X_cf`` themselves
        when None).
    space : TabularSpace, default=None
        The compiled preprocessing of the raw-data road.

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.base import CounterfactualSet
    >>> cs = CounterfactualSet(X=np.zeros((2, 2)), X_cf=np.array([[0., 1.], [0., 0.]]),
    ...     y_pred=np.array([0, 0]), y_cf_pred=np.array([1, 0]),
    ...     target=np.array([1, 1], dtype=object), valid=np.array([True, False]),
    ...     violations=np.zeros(2, int), n_iter=np.array([3, 10]),
    ...     feature_names=np.array(["a", "b"]), elapsed=0.1)
    >>> cs.validity, cs.l1.tolist()
    (0.5, [1.0, 0.0])
    >>> cs.to_text()
    ['Increase b from 0 to 1.', 'No valid counterfactual found.']
    """

    def __init__(
        self,
        *,
        X,
        X_cf,
        y_pred,
        y_cf_pred,
        target,
        valid,
        violations,
        n_iter,
        feature_names,
        elapsed,
        Z=None,
        Z_cf=None,
        space=None,
    ):
        self.X = X
        self.X_cf = X_cf
        self.y_pred = y_pred
        self.y_cf_pred = y_cf_pred
        self.target = target
        self.valid = valid
        self.violations = violations
        self.n_iter = n_iter
        self.feature_names = feature_names
        self.elapsed = elapsed
        self.Z = X if Z is None else Z
        self.Z_cf = X_cf if Z_cf is None else Z_cf
        self.space = space

    def __len__(self) -> int:
        return len(self.X)

    @property
    def delta(self) -> np.ndarray:
        """``X_cf - X`` per feature, float64.

        On the raw-data road: the change in original units for numeric
        columns and 1.0 for a changed category.
        """
        if self.space is not None:
            return self.space.column_changes(self.X, self.X_cf)
        return np.asarray(self.X_cf, dtype=np.float64) - np.asarray(
            self.X, dtype=np.float64
        )

    @property
    def _cost(self) -> np.ndarray:
        """``delta`` in cost units (MAD of the column on the raw road)."""
        if self.space is None:
            return self.delta
        return self.delta / self.space.column_scale

    @property
    def l0(self) -> np.ndarray:
        """Number of changed features (original columns on the raw road) per row."""
        return (np.abs(self.delta) > 0).sum(axis=1)

    @property
    def l1(self) -> np.ndarray:
        """ℓ1 distance per row.

        On the raw-data road each numeric change is divided by the column's
        median absolute deviation and a changed category counts 1.
        """
        return np.abs(self._cost).sum(axis=1)

    @property
    def l2(self) -> np.ndarray:
        """ℓ2 distance per row (same units as :attr:`l1`)."""
        return np.sqrt((self._cost**2).sum(axis=1))

    @property
    def linf(self) -> np.ndarray:
        """ℓ∞ distance per row (same units as :attr:`l1`)."""
        return np.abs(self._cost).max(axis=1, initial=0.0)

    @property
    def validity(self) -> float:
        """Fraction of rows with a valid counterfactual."""
        return float(np.mean(self.valid)) if len(self) else 0.0

    def _meta(self, frame):
        for name in (
            "y_pred",
            "y_cf_pred",
            "target",
            "valid",
            "violations",
            "n_iter",
            "l0",
            "l1",
            "l2",
        ):
            frame[name] = np.asarray(getattr(self, name))
        return frame

    def _changes(self):
        """Per row, the changed columns as ``(name, old, new, numeric)``."""
        names = [str(n) for n in self.feature_names]
        changed = np.abs(self.delta) > 0
        numeric = (
            np.ones(len(names), dtype=bool)
            if self.space is None
            else np.array([c.kind == "numeric" for c in self.space.columns])
        )
        old, new = _as_rows(self.X), _as_rows(self.X_cf)
        return [
            [
                (names[j], old[i][j], new[i][j], bool(numeric[j]))
                for j in np.flatnonzero(row)
            ]
            for i, row in enumerate(changed)
        ]

    def to_frame(self, kind="counterfactual"):
        """Per-row table (needs pandas).

        Parameters
        ----------
        kind : {"counterfactual", "delta", "changes"}, default="counterfactual"
            ``"counterfactual"``: feature columns hold the counterfactual
            values (original units and dtypes on the raw-data road).
            ``"delta"``: the changes; on the raw-data road each changed cell
            reads ``"24 → 12"`` or ``"'A11' → 'A14'"`` and unchanged cells are
            empty. ``"changes"``: one line per changed feature of each row
            (``row``, ``feature``, ``from``, ``to``).

        Returns
        -------
        frame : pandas.DataFrame
            Feature columns then ``y_pred``, ``y_cf_pred``, ``target``, ``valid``,
            ``violations``, ``n_iter``, ``l0``, ``l1``, ``l2`` (not for
            ``"changes"``). The index is the input's when it had one.
        """
        from .utils._optional import import_optional

        pd = import_optional("pandas")
        if kind not in ("counterfactual", "delta", "changes"):
            raise ValueError(
                f"kind must be 'counterfactual', 'delta' or 'changes', got {kind!r}"
            )
        index = self.X.index if hasattr(self.X, "index") else None
        columns = [str(n) for n in self.feature_names]
        if kind == "changes":
            rows = [
                {
                    "row": index[i] if index is not None else i,
                    "feature": name,
                    "from": a,
                    "to": b,
                }
                for i, items in enumerate(self._changes())
                for name, a, b, _ in items
            ]
            return pd.DataFrame(rows, columns=["row", "feature", "from", "to"])
        if kind == "counterfactual":
            if hasattr(self.X_cf, "iloc"):
                frame = self.X_cf.copy()
                frame.columns = columns
            else:
                frame = pd.DataFrame(
                    np.asarray(self.X_cf), columns=columns, index=index
                )
        elif self.space is None:
            frame = pd.DataFrame(self.delta, columns=columns, index=index)
        else:
            cells = np.full((len(self), len(columns)), "", dtype=object)
            position = {name: j for j, name in enumerate(columns)}
            for i, items in enumerate(self._changes()):
                for name, a, b, _ in items:
                    cells[i, position[name]] = f"{_fmt(a)} → {_fmt(b)}"
            frame = pd.DataFrame(cells, columns=columns, index=index)
        return self._meta(frame)

    def to_text(self):
        """One readable recourse sentence per row.

        Returns
        -------
        text : list of str
            E.g. ``"Reduce duration from 24 to 12; change checking_status
            from 'A11' to 'A14'."``; ``"No valid counterfactual found."`` for
            rows without one.
        """
        out = []
        for i, items in enumerate(self._changes()):
            if not self.valid[i]:
                out.append("No valid counterfactual found.")
                continue
            if not items:
                out.append(f"No change needed: predicted {self.y_pred[i]!r} already.")
                continue
            parts = []
            for name, a, b, numeric in items:
                if numeric:
                    verb = "increase" if float(b) > float(a) else "reduce"
                    parts.append(f"{verb} {name} from {_fmt(a)} to {_fmt(b)}")
                else:
                    parts.append(f"change {name} from {_fmt(a)} to {_fmt(b)}")
            text = "; ".join(parts)
            out.append(text[0].upper() + text[1:] + ".")
        return out

    def __repr__(self) -> str:
        return (
            f"CounterfactualSet(n={len(self)}, validity={self.validity:.3f}, "
            f"mean_l1={float(np.mean(self.l1)) if len(self) else 0:.3f})"
        )


def _as_rows(X):
    """Rows of a DataFrame or array as lists of Python values."""
    if hasattr(X, "iloc"):
        return X.astype(object).to_numpy().tolist()
    return np.asarray(X).tolist()


def _fmt(value):
    """A value as a person reads it: 24, 0.25, 'A11'."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (Integral, np.integer)):
        return str(int(value))
    if isinstance(value, (Real, np.floating)):
        v = float(value)
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.6g}"
    return repr(value)


def _raw_training_net(estimator):
    """A fitted skcf training net with a ``preprocessor`` (raw rows in), else None."""
    from .training._base import BaseTrainingClassifier

    net = unfrozen(estimator)
    if (
        isinstance(net, BaseTrainingClassifier)
        and net.preprocessor is not None
        and getattr(net, "space_", None) is not None
    ):
        return net
    return None


class BaseGenerator(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Base class of counterfactual generators (not for direct use).

    Subclasses set their own ``__init__`` (storing parameters only) and implement
    ``_engine_config(scale)``; they may implement ``_fit(X, y)``.
    """

    #: gradient generators need a differentiable model
    _requires_gradients = True

    _parameter_constraints: dict = {
        "estimator": "no_validation",
        "target": "no_validation",
        "immutable": ["array-like", None],
        "increase_only": ["array-like", None],
        "decrease_only": ["array-like", None],
        "bounds": [StrOptions({"infer"}), dict, None],
        "categorical": [list, tuple, None],
        "integer": ["array-like", None],
        "tau": [Interval(Real, 0, 1, closed="both")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __sklearn_clone__(self):
        # A fitted model is the thing being explained, not a hyper-parameter to
        # refit: clones (GridSearchCV, cross_validate, Pipeline) share it, as
        # sklearn.frozen.FrozenEstimator would. Never mutated, so sharing is safe.
        # An unfitted model is cloned as usual and fitted in ``fit(X, y)``.
        estimator = self.estimator
        if not (_is_fitted(estimator) or hasattr(estimator, "logits")):
            return super().__sklearn_clone__()
        params = {
            k: clone(v, safe=False)
            for k, v in self.get_params(deep=False).items()
            if k != "estimator"
        }
        new = type(self)(estimator, **params)
        if hasattr(self, "_sklearn_output_config"):
            new._sklearn_output_config = dict(self._sklearn_output_config)
        return new

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Learn bounds, feature scales and what the method needs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (the domain the counterfactuals should live in).
        y : array-like of shape (n_samples,), default=None
            Labels; only needed when ``estimator`` is not fitted yet.

        Returns
        -------
        self : object
            Fitted generator.
        """
        self._inferred_road = self._wants_inferred_space(X)
        X, y = self._validate_fit_data(X, y)
        if isinstance(self.bounds, str) and X.shape[0] < 2:
            raise ValueError(
                f"bounds='infer' learns each feature's range from the spread of "
                f"X, but X has {X.shape[0]} sample(s): every feature would be "
                "frozen at its value. Fit on more rows, or pass bounds=None or a "
                "dict of (low, high) per feature."
            )
        self.estimator_ = self._fit_estimator(X, y)
        self.space_ = self._compile_space(self.estimator_, X)
        if self.space_ is not None:  # the raw road: search the compiled space
            X = self.space_.encode(X)
        self.model_ = self._adapt_model(self.estimator_, sample=X)
        proba = self._probe_model(X)
        n_out = proba.shape[1]
        classes = getattr(self.model_, "classes", None)
        self.classes_ = np.arange(n_out) if classes is None else np.asarray(classes)
        if len(self.classes_) != n_out:
            raise ValueError(
                f"The model has {n_out} outputs but {len(self.classes_)} classes "
                f"{self.classes_!r}; check the estimator's classes_."
            )
        self._check_target_param()
        if self.space_ is None:
            self.scale_ = robust_scale(X)
            self.constraints_ = self._build_constraints(X)
        else:
            self.category_cost_ = get_config()["category_cost"]
            self.scale_ = self.space_.search_scale(X, self.category_cost_)
            self.constraints_ = self.space_.constraints(
                immutable=self.immutable,
                increase_only=self.increase_only,
                decrease_only=self.decrease_only,
                bounds=self.bounds,
            )
        self._fit(X, y)
        return self

    def _probe_model(self, X):
        """The model's probabilities on one row of ``X``, or a clear error when
        the model cannot take the rows (a wrong feature count, mostly)."""
        d = X.shape[1]
        expected = getattr(unfrozen(self.estimator_), "n_features_in_", None)
        if self.space_ is None and isinstance(expected, Integral) and expected != d:
            raise ValueError(
                f"X has {d} features, but the model {type(self.estimator).__name__} "
                f"takes {expected}; fit {type(self).__name__} on the features the "
                "model was trained on (same columns, same encoding)."
            )
        try:
            return self.model_.predict_proba(X[:1])
        except (RuntimeError, ValueError) as exc:
            expected = _expected_features(self.estimator_, self.model_)
            takes = "" if expected is None else f"; it takes {expected}"
            raise ValueError(
                f"The model {type(self.estimator).__name__} could not score a row "
                f"of X ({d} features{takes}): {exc}. Fit {type(self).__name__} on "
                "the features the model was trained on."
            ) from exc

    def _raw_road(self):
        """Whether the search runs in a compiled space: ``estimator`` is a
        pipeline whose preprocessing skcf compiles, or (gradient-free
        generators) a model fitted on a raw frame, whose space is inferred
        from the data."""
        return (
            is_raw_pipeline(self.estimator)
            or _raw_training_net(self.estimator) is not None
            or bool(getattr(self, "_inferred_road", False))
        )

    def _wants_inferred_space(self, X):
        """A gradient-free search of a raw frame with string / category / bool
        columns for a model that is not a compilable pipeline."""
        from .models._inferred import has_non_numeric_columns

        return (
            not self._requires_gradients
            and not is_raw_pipeline(self.estimator)
            and has_non_numeric_columns(X)
        )

    def _validate_raw(self, X, reset):
        """Check a raw input (DataFrame or array) without converting it."""
        if not hasattr(X, "iloc"):
            if sp.issparse(X):
                raise TypeError(
                    f"Sparse data was passed to {type(self).__name__}, but the "
                    "raw-data road needs the rows the pipeline takes: a DataFrame "
                    "or a dense array. Use X.toarray() to convert."
                )
            X = np.asarray(X)
            if X.ndim != 2:
                raise ValueError(
                    f"Expected a 2D DataFrame or array, got shape {X.shape}. "
                    "Reshape your data either using array.reshape(-1, 1) if your "
                    "data has a single feature or array.reshape(1, -1) if it "
                    "contains a single sample."
                )
            if not X.flags.writeable or X.strides[0] < 0 or X.strides[1] < 0:
                X = X.copy()
        validate_data(self, X, reset=reset, skip_check_array=True)
        return X

    def _compile_space(self, estimator, X):
        self._inferred_pipeline = None
        if not self._raw_road():
            return None
        net = _raw_training_net(estimator)
        if net is not None:  # a training net compiled its preprocessing itself
            return net.space_
        if not getattr(self, "_inferred_road", False):
            try:
                return TabularSpace.from_pipeline(
                    unfrozen(estimator),
                    X,
                    categorical=self.categorical,
                    integer=self.integer,
                )
            except NotDifferentiableError:
                # a step skcf cannot compile: a gradient-free search can still
                # ask the whole pipeline on raw frames from an inferred space
                if self._requires_gradients or not hasattr(X, "dtypes"):
                    raise
        from .models._inferred import infer_pipeline

        self._inferred_pipeline = infer_pipeline(unfrozen(estimator), X)
        return TabularSpace.from_pipeline(
            self._inferred_pipeline,
            X,
            categorical=self.categorical,
            integer=self.integer,
        )

    def _final_estimator(self):
        inferred = getattr(self, "_inferred_pipeline", None)
        if inferred is not None:
            return inferred.steps[-1][1]
        net = _raw_training_net(self.estimator_)
        if net is not None:  # the user's module, reading the preprocessed rows
            model = net._engine_model(net.module_.net)
            model.classes = np.asarray(net.classes_)
            return model
        return unfrozen(self.estimator_).steps[-1][1]

    def _validate_fit_data(self, X, y):
        if self._raw_road():
            X = self._validate_raw(X, reset=True)
            if X.shape[0] < 1:
                raise ValueError("fit needs at least one sample")
            return X, y
        if y is None:
            X = validate_data(self, X, reset=True, dtype=[np.float64, np.float32])
        else:
            X, y = validate_data(self, X, y, reset=True, dtype=[np.float64, np.float32])
        if X.shape[0] < 1:
            raise ValueError("fit needs at least one sample")
        return _own_memory(X), y

    def _fit_estimator(self, X, y):
        est = self.estimator
        if _is_fitted(est) or hasattr(est, "logits"):
            return est
        if y is None:
            raise ValueError(
                f"The estimator {type(est).__name__} is not fitted, so "
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None; pass a fitted model or call fit(X, y)."
            )
        est = clone(est)
        if _is_skorch(est):
            labels = LabelEncoder().fit(y)
            est.fit(X.astype(np.float32), labels.transform(y).astype(np.int64))
            if hasattr(est, "classes"):
                est.classes = labels.classes_
            est.classes_override_ = labels.classes_
        else:
            est.fit(X, y)
        return est

    def _adapt_model(self, estimator, gradients=None, sample=None):
        """The model the engine runs: differentiable when ``gradients`` (default:
        the generator's need), else possibly a black box. On the raw road,
        ``sample`` (search-space rows) checks the compiled map folded into the
        network's first layer."""
        gradients = self._requires_gradients if gradients is None else gradients
        space = getattr(self, "space_", None)
        if space is not None:  # the model sees the compiled preprocessing's output
            final = self._final_estimator()
            if gradients:
                model = as_differentiable(final, device=self.device)
            else:
                model = as_model(final, device=self.device)
            if isinstance(model, BlackBoxModel):
                return BlackBoxModel(MappedEstimator(final, space))
            step = space.torch_map().to(device=model.device, dtype=model.dtype)
            model.preprocess = [step, *model.preprocess]
            if sample is not None:
                model = fold_into_first_layer(model, sample)
            return model
        if gradients:
            model = as_differentiable(estimator, device=self.device)
        else:
            model = as_model(estimator, device=self.device)
        override = getattr(estimator, "classes_override_", None)
        if override is not None:
            model.classes = np.asarray(override)
        return model

    def _fit(self, X, y):
        """Hook: learn method-specific state (attributes ending in ``_``)."""

    def _check_target_param(self):
        t = self.target
        if isinstance(t, str) and t in ("opposite", "other"):
            if t == "opposite" and len(self.classes_) != 2:
                raise ValueError(
                    f"target='opposite' needs a binary model, but the model has "
                    f"{len(self.classes_)} classes {self.classes_.tolist()}; pass a "
                    "class label or target='other'."
                )
            return
        self._label_to_index(np.asarray([t], dtype=object), "target")

    def _label_to_index(self, labels, name):
        lookup = {c: j for j, c in enumerate(self.classes_.tolist())}
        idx = np.empty(len(labels), dtype=np.int64)
        for i, lab in enumerate(labels):  # a dict lookup per label, O(n)
            j = lookup.get(lab.item() if isinstance(lab, np.generic) else lab)
            if j is None:
                raise ValueError(
                    f"Unknown {name} {lab!r} for {type(self).__name__}: the model's "
                    f"classes are {self.classes_.tolist()}; use one of them, "
                    "'opposite' (binary) or 'other'."
                )
            idx[i] = j
        return idx

    # -------------------------------------------------------- constraints
    def _feature_indices(self, spec, name):
        if spec is None:
            return np.array([], dtype=np.int64)
        if isinstance(spec, (str, Integral)):
            spec = [spec]
        n = self.n_features_in_
        names = list(getattr(self, "feature_names_in_", []))
        out = []
        for f in spec:
            if isinstance(f, (Integral, np.integer)) and not isinstance(f, bool):
                if not -n <= int(f) < n:
                    raise ConstraintError(
                        f"{name} refers to feature index {int(f)}, but X has {n} "
                        "features."
                    )
                out.append(int(f) % n)
            elif isinstance(f, str):
                if f not in names:
                    hint = (
                        "X has no column names; pass a DataFrame or use indices"
                        if not names
                        else f"known names: {names[:10]}..."
                    )
                    raise ConstraintError(
                        f"{name} refers to unknown feature {f!r} ({hint})."
                    )
                out.append(names.index(f))
            else:
                raise ConstraintError(
                    f"{name} must hold feature indices or column names, got {f!r}."
                )
        return np.unique(np.asarray(out, dtype=np.int64))

    def _build_constraints(self, X):
        d = self.n_features_in_
        immutable = self._feature_indices(self.immutable, "immutable")
        inc = self._feature_indices(self.increase_only, "increase_only")
        dec = self._feature_indices(self.decrease_only, "decrease_only")
        both = np.intersect1d(inc, dec)
        if both.size:
            raise ConstraintError(
                f"Features {both.tolist()} are in both increase_only and "
                "decrease_only; list them in immutable instead."
            )
        groups = []
        seen = set()
        for g in self.categorical or []:
            idx = self._feature_indices(g, "categorical")
            check_group_columns(idx, g, seen)
            check_onehot_values(X[:, idx], g)
            groups.append(idx)
        integer = self._feature_indices(self.integer, "integer")
        lower, upper = self._bounds(X)
        for idx in groups:
            lower[idx] = np.maximum(lower[idx], 0.0)
            upper[idx] = np.minimum(upper[idx], 1.0)
        bad = np.flatnonzero(lower > upper)
        if bad.size:
            raise ConstraintError(
                f"Empty bounds for features {bad.tolist()}: lower "
                f"{lower[bad].tolist()} > upper {upper[bad].tolist()}."
            )
        mutable = np.ones(d, dtype=bool)
        mutable[immutable] = False
        for idx in groups:  # a category is one choice: all of it moves or none
            part = np.intersect1d(idx, immutable)
            if 0 < part.size < idx.size:
                raise ConstraintError(
                    f"immutable lists columns {part.tolist()} of the categorical "
                    f"group {idx.tolist()}, but not the whole group: one column "
                    "of a one-hot block cannot stay fixed while the others move. "
                    "List all of the group's columns in immutable, or none."
                )
        if not mutable.any():
            raise ConstraintError(
                "Every feature is immutable: no counterfactual can exist. Remove "
                "some features from immutable."
            )
        mask = np.zeros(d, dtype=bool)
        return {
            "lower": lower,
            "upper": upper,
            "mutable": mutable,
            "increase_only": _mask(d, inc),
            "decrease_only": _mask(d, dec),
            "groups": groups,
            "integer": _mask(d, integer) if integer.size else mask,
        }

    def _bounds(self, X):
        d = self.n_features_in_
        lower = np.full(d, -np.inf)
        upper = np.full(d, np.inf)
        if isinstance(self.bounds, str):  # "infer": seed 002 App. B.3
            mu, sigma = X.mean(axis=0), X.std(axis=0)
            lower = np.minimum(mu - 3 * sigma, X.min(axis=0)).astype(np.float64)
            upper = np.maximum(mu + 3 * sigma, X.max(axis=0)).astype(np.float64)
        elif isinstance(self.bounds, dict):
            for key, value in self.bounds.items():
                (j,) = self._feature_indices([key], "bounds")
                try:
                    lo, hi = value
                except (TypeError, ValueError) as exc:
                    raise ConstraintError(
                        f"bounds[{key!r}] must be a (low, high) pair, got {value!r}."
                    ) from exc
                lower[j] = -np.inf if lo is None else float(lo)
                upper[j] = np.inf if hi is None else float(hi)
                if np.isnan(lower[j]) or np.isnan(upper[j]):
                    raise ConstraintError(
                        f"bounds[{key!r}] = {value!r} holds NaN; use None (or "
                        "-inf / inf) for a side without a bound."
                    )
        return lower, upper

    def _engine_constraints(self, device, dtype):
        c = self.constraints_
        t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        lower, upper = inward_bounds(c["lower"], c["upper"], np_dtype)
        return Constraints(
            t(lower).to(dtype),
            t(upper).to(dtype),
            t(c["mutable"]),
            t(c["increase_only"]),
            t(c["decrease_only"]),
            [t(g) for g in c["groups"]],
            t(c["integer"]),
            None if c.get("step") is None else t(c["step"]).to(dtype),
            None if c.get("origin") is None else t(c["origin"]).to(dtype),
            None if c.get("rank") is None else t(c["rank"]).to(dtype),
            None if c.get("rank_dir") is None else t(c["rank_dir"]),
            None if c.get("stay") is None else t(c["stay"]),
        )

    # ---------------------------------------------------------- transform
    def transform(self, X):
        """Counterfactuals of ``X`` for the ``target`` given at construction.

        Rows for which no valid counterfactual was found are returned unchanged
        (the factual), and one :class:`~skcf.exceptions.CounterfactualWarning`
        gives their count; :meth:`explain` tells which.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Factual rows.

        Returns
        -------
        X_cf : ndarray of shape (n_samples, n_features)
            Counterfactuals (a DataFrame with ``set_output(transform="pandas")``).
        """
        return self.explain(X).X_cf

    def explain(self, X, target=None):
        """Counterfactuals of ``X`` with validity, costs and predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Factual rows.
        target : array-like of shape (n_samples,) or scalar, default=None
            Per-row target classes (labels, or ``"other"``); defaults to the
            ``target`` parameter.

        Returns
        -------
        cf : CounterfactualSet
        """
        check_is_fitted(self)
        n = _num_rows(X)
        rows = min(n, int(getattr(self, "batch_size", None) or n or 1))
        d = len(self.scale_)
        # gradients are the method: a caller's torch.inference_mode() (a
        # serving framework's habit) would make every tensor of the call an
        # inference tensor that autograd refuses; the engine enters inference
        # mode itself where no gradient needs autograd
        with (
            torch.inference_mode(False),
            engine_threads(rows * model_cost(self.model_, d)),
        ):
            return self._explain(X, target)

    def _explain(self, X, target, judge_once=True):
        space = self.space_
        X_in = X
        if space is None:
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
            X = _own_memory(X)
            self._check_factual_groups(X)
            Z = X
        else:
            X = self._validate_raw(X, reset=False)
        start = time.perf_counter()
        X_cols = X
        if space is not None:
            # the factual's columns, converted once for encoding and checking
            X_cols = _columns(X)
            Z = space.encode(X_cols)
        n = X.shape[0]
        # raw road, rows of one judging chunk: the search starts from the
        # compiled model's verdict on the factuals and the user's pipeline
        # judges factuals and counterfactuals in one call (a pipeline call
        # costs ~10 ms whatever its rows); should it disagree on a factual,
        # the rows run again the long way (judged first)
        once = judge_once and space is not None and 0 < n <= self._chunk_rows()
        proba0 = self._model_proba(Z) if once else self._judge_proba(X, Z)
        finite0 = np.isfinite(proba0).all(axis=1)
        # a row the model cannot score is never searched nor valid; its class
        # index is a placeholder that no label is ever made from
        y0 = np.where(finite0, np.nan_to_num(proba0, nan=0.0).argmax(axis=1), 0)
        tgt, untargeted = self._resolve_targets(target, y0, n)
        Z_cf, n_iter = Z.copy(), np.zeros(n, dtype=np.int64)
        rows = np.flatnonzero(finite0)
        if rows.size == n and n:
            Z_cf, n_iter = self._generate(Z, y0, tgt, untargeted)
        elif rows.size:
            Z_cf[rows], n_iter[rows] = self._generate(
                Z[rows], y0[rows], tgt[rows], untargeted[rows]
            )
        Z_cf = self._exact(Z, Z_cf)  # judge exactly what is returned
        X_cf = Z_cf if space is None else space.decode(Z_cf, X, Z)
        if once:
            proba0_user, proba = self._judge_pair(X, X_cf)
            finite_user = np.isfinite(proba0_user).all(axis=1)
            y0_user = np.nan_to_num(proba0_user, nan=0.0).argmax(axis=1)
            if not (
                np.array_equal(finite_user, finite0)
                and np.array_equal(y0_user[finite0], y0[finite0])
            ):
                return self._explain(X_in, target, judge_once=False)
            proba0 = proba0_user
        else:
            proba = self._judge_proba(X_cf, Z_cf)
        finite = np.isfinite(proba).all(axis=1)
        reached, _, y_cf = reaches_target(
            np.nan_to_num(proba, nan=-1.0), y0, tgt, untargeted, self.tau
        )
        reached &= finite & finite0
        violations = self._returned_violations(X, X_cf, X_cols)
        valid = reached & (violations == 0)
        if not valid.all():  # describe the rows actually returned (the factuals)
            bad = np.flatnonzero(~valid)
            Z_cf[bad] = Z[bad]
            X_cf = Z_cf if space is None else space.decode(Z_cf, X, Z)
            y_cf = np.where(valid, y_cf, y0)
            X_bad = X.iloc[bad] if hasattr(X, "iloc") else X[bad]
            violations[bad] = self._returned_violations(X_bad, X_bad)
        elapsed = time.perf_counter() - start
        n_bad = int(n - valid.sum())
        if n_bad:
            why = ""
            n_nan0 = int(n - finite0.sum())
            n_nan = int((finite0 & ~finite).sum())
            if n_nan0 or n_nan:
                why = (
                    f" The model's prediction was not finite (NaN/inf) on "
                    f"{n_nan0} factual row(s) and {n_nan} counterfactual row(s): "
                    "such rows are never valid, and explain(X).y_pred is None "
                    "where the factual's prediction is not finite; check those "
                    "inputs (values beyond the model's range?) and the model."
                )
            warnings.warn(
                f"{type(self).__name__}: {n_bad} of {n} rows got no valid "
                "counterfactual; they are returned unchanged and flagged in "
                "explain(X).valid. Try a longer search (max_iter, steps, "
                f"max_layers...), looser constraints or another target.{why}",
                CounterfactualWarning,
                stacklevel=user_stacklevel(),
            )
        if self.verbose:
            print(f"[{type(self).__name__}] {n - n_bad}/{n} valid in {elapsed:.2f}s")
        target_labels = np.where(untargeted, "other", self.classes_[tgt].astype(object))
        return CounterfactualSet(
            X=X,
            X_cf=_wrap_data_with_container("transform", X_cf, X_in, self),
            y_pred=_labels(self.classes_, y0, finite0),
            y_cf_pred=_labels(self.classes_, y_cf, finite0),
            target=target_labels,
            valid=valid,
            violations=violations,
            n_iter=n_iter,
            feature_names=self.get_feature_names_out(),
            elapsed=elapsed,
            Z=Z,
            Z_cf=Z_cf,
            space=space,
        )

    def _exact(self, Z, Z_cf):
        """``Z_cf`` exactly inside the constraints, in ``Z``'s dtype.

        The last step before the rows are judged (:meth:`Constraints.exact`):
        the engine may run in a lower precision than the data (a float32
        network on float64 rows), so a value it left on a bound or an integer
        can come back a rounding error off it. Only such rounding errors are
        repaired (a move of a few units in the last place of the engine's
        dtype); a value further off is left as it is and judged, so a real
        breach is reported, never hidden. Only rows that moved are touched (a
        factual returned as is stays bit-equal); chunked by ``batch_size``
        rows.
        """
        Z_cf = np.asarray(Z_cf).astype(Z.dtype, copy=False)
        if not Z_cf.flags.writeable or not Z_cf.flags.c_contiguous:
            Z_cf = np.array(Z_cf, order="C", copy=True)
        if Z.dtype not in (np.float32, np.float64) or not len(Z):
            return Z_cf
        cons = self._engine_constraints("cpu", torch.from_numpy(Z[:0]).dtype)
        step = self._chunk_rows()
        # the float error the engine can leave: a few units in the last place
        # of the lower of the engine's and the data's precision
        engine = getattr(self.model_, "dtype", torch.float64)
        eps = 16 * max(torch.finfo(engine).eps, np.finfo(Z.dtype).eps)
        tiny = np.finfo(Z.dtype).tiny
        for s in range(0, len(Z), step):
            z0, z = Z[s : s + step], Z_cf[s : s + step]
            moved = np.flatnonzero((z != z0).any(axis=1))
            if moved.size:
                a, a0 = z[moved], z0[moved]
                fixed = cons.exact(
                    torch.from_numpy(np.ascontiguousarray(a)),
                    torch.from_numpy(np.ascontiguousarray(a0)),
                ).numpy()
                # repair rounding only: a real breach stays and is judged
                ok = np.abs(fixed - a) <= eps * (np.abs(a) + np.abs(a0) + tiny)
                z[moved] = np.where(ok, fixed, a)
        return Z_cf

    def _check_factual_groups(self, X):
        """Refuse factuals whose mutable one-hot groups are not one-hot."""
        for g in self.constraints_["groups"]:
            if not self.constraints_["mutable"][g].any():
                continue
            block = X[:, g]
            ok = np.isin(block, (0.0, 1.0)).all(axis=1) & (block.sum(axis=1) == 1)
            if not ok.all():
                bad = np.flatnonzero(~ok)
                raise ValueError(
                    f"{len(bad)} row(s) of X (first: {bad[:5].tolist()}) are not "
                    f"one-hot in the categorical group {g.tolist()} (values "
                    f"{block[bad[0]].tolist()}): a category unseen by the encoder "
                    "(all zeros) or a row encoded differently from the training "
                    "data. Encode X with the encoder the model was trained with; "
                    "for unseen categories pass the raw DataFrame and the fitted "
                    "Pipeline (the raw-data road handles them)."
                )

    def _judge_proba(self, X, Z):
        """Probabilities the validity of ``X`` (search rows ``Z``) is judged on.

        On the raw road the user's own pipeline judges the returned values;
        otherwise the adapted model does.
        """
        if not len(X):
            return np.zeros((0, len(self.classes_)))
        if self.space_ is None:
            return _by_rows(
                lambda z: _user_proba(self.estimator_, self.model_, z),
                self._chunk_rows(),
                Z,
            )
        return _by_rows(
            lambda x: np.asarray(self.estimator_.predict_proba(x), dtype=np.float64),
            self._chunk_rows(),
            X,
        )

    def _model_proba(self, Z):
        """The adapted model's probabilities on search-space rows ``Z``."""
        return _by_rows(
            lambda z: np.asarray(self.model_.predict_proba(z), dtype=np.float64),
            self._chunk_rows(),
            Z,
        )

    def _judge_pair(self, X, X_cf):
        """The user's pipeline on ``X`` and ``X_cf`` in one call (raw road)."""
        n = _num_rows(X)
        if hasattr(X, "iloc"):
            import pandas as pd

            with warnings.catch_warnings():  # pandas 2.x: all-NA columns
                warnings.simplefilter("ignore", FutureWarning)
                both = pd.concat([X, X_cf], ignore_index=True)
        else:
            both = np.concatenate([np.asarray(X), np.asarray(X_cf)])
        proba = np.asarray(self.estimator_.predict_proba(both), dtype=np.float64)
        return proba[:n], proba[n:]

    def _returned_violations(self, X, X_cf, X_cols=None):
        """Broken constraints of the returned rows (original units on the raw road).

        ``X_cols``: ``X``'s columns already read (:func:`_columns`), used when
        the rows make one chunk.
        """
        if self.space_ is None:
            return self._violations(X, X_cf)
        rules = self.constraints_["columns"]
        if X_cols is not None and _num_rows(X) <= self._chunk_rows():
            return self.space_.violations(X_cols, X_cf, rules)
        return _by_rows(
            lambda x, x_cf: self.space_.violations(x, x_cf, rules),
            self._chunk_rows(),
            X,
            X_cf,
        )

    def _chunk_rows(self):
        """Rows per chunk of the post-processing (``batch_size``, at least 4096)."""
        return max(int(getattr(self, "batch_size", None) or 0), 4096)

    def _resolve_targets(self, target, y0, n):
        spec = self.target if target is None else target
        if isinstance(spec, str) and spec == "opposite":
            if len(self.classes_) != 2:
                raise ValueError("target='opposite' needs a binary model.")
            return 1 - y0, np.zeros(n, dtype=bool)
        if isinstance(spec, str) and spec == "other":
            return y0.copy(), np.ones(n, dtype=bool)
        arr = np.asarray(spec, dtype=object)
        if arr.ndim == 0:
            return np.full(
                n, self._label_to_index(arr.reshape(1), "target")[0]
            ), np.zeros(n, dtype=bool)
        if arr.shape != (n,):
            raise ValueError(
                f"target must be a scalar or have shape ({n},), got shape {arr.shape}."
            )
        untargeted = np.array([isinstance(a, str) and a == "other" for a in arr])
        tgt = y0.copy()
        if (~untargeted).any():
            tgt[~untargeted] = self._label_to_index(arr[~untargeted], "target")
        return tgt, untargeted

    def _generate(self, X, y0, tgt, untargeted):
        """Run the engine; return counterfactuals (factual where none) and n_iter.

        Rows go through in chunks of ``batch_size`` from the per-row inputs
        (``_prepare``) to the returned values, so memory is bounded by the
        chunk, not by ``len(X)``.
        """
        model = self.model_
        device, dtype = model.device, model.dtype
        n = len(X)
        step = max(int(self.batch_size or n), 1)
        chunks = range(0, n, step)
        if self.verbose >= 2:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc=type(self).__name__)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        X_cf = np.empty_like(X)
        n_iter = np.zeros(n, dtype=np.int64)
        for s in chunks:
            sl = slice(s, min(s + step, n))
            Xc = X[sl]
            x0 = torch.tensor(Xc, device=device, dtype=dtype)  # a copy
            t, u, extra = self._prepare(
                Xc, y0[sl], tgt[sl], untargeted[sl], device, dtype
            )
            res = self._search(
                model,
                x0,
                torch.as_tensor(t, device=device),
                untargeted=torch.as_tensor(u, device=device),
                y0=torch.as_tensor(y0[sl], device=device),
                extra=extra,
                seed=int(seed),
            )
            # keep untouched features bit-identical to the input
            delta = (res.x_cf - x0).detach().cpu().numpy().astype(np.float64)
            out = (Xc.astype(np.float64) + delta).astype(X.dtype)
            found = res.found.cpu().numpy()
            out[~found] = Xc[~found]
            X_cf[sl] = out
            n_iter[sl] = res.n_iter.cpu().numpy()
        return X_cf, n_iter

    def _search(
        self,
        model,
        x0,
        target,
        *,
        untargeted=None,
        y0=None,
        extra=None,
        seed=None,
        progress=None,
        max_iter=None,
        keep_last=False,
        within_linf=None,
        engine_config=None,
    ):
        """This generator's engine run on tensors, against any ``model``.

        ``model`` maps ``(n, d)`` tensors to logits; it may differ from
        ``model_`` (counterfactual and adversarial training run the fitted
        generator's configuration against a network that changes every batch).
        ``engine_config(scale)`` replaces :meth:`_engine_config` (a second
        search with other settings). Returns the engine's
        :class:`~skcf._engine.SearchResult`.
        """
        device, dtype = x0.device, x0.dtype
        scale = torch.as_tensor(self.scale_, device=device, dtype=dtype)
        config = (engine_config or self._engine_config)(scale)
        if extra:
            config = {**config, "extra": extra}
        if max_iter is not None:
            config = {**config, "max_iter": int(max_iter)}
        return solve(
            model,
            x0,
            target,
            constraints=self._engine_constraints(device, dtype),
            untargeted=untargeted,
            y0=y0,
            tau=self.tau,
            batch_size=self.batch_size,
            seed=seed,
            progress=progress,
            keep_last=keep_last,
            within_linf=within_linf,
            **config,
        )

    def _violations(self, X, X_cf):
        if not len(X):
            return np.zeros(0, dtype=np.int64)
        cons = self._engine_constraints("cpu", torch.float64)
        return _by_rows(
            lambda x, x_cf: cons.violations(
                torch.tensor(np.asarray(x_cf, dtype=np.float64)),
                torch.tensor(np.asarray(x, dtype=np.float64)),
            ).numpy(),
            self._chunk_rows(),
            X,
            X_cf,
        )

    def _prepare(self, X, y0, tgt, untargeted, device, dtype):
        """Hook: per-call targets and per-row tensors for the terms.

        Returns ``(tgt, untargeted, extra)``; ``extra`` maps names to tensors of
        first dimension ``n`` (e.g. CFProto's prototypes). It may turn untargeted
        rows into targeted ones (CFProto picks the nearest prototype's class).
        """
        return tgt, untargeted, {}

    def _engine_config(self, scale):  # pragma: no cover - abstract
        raise NotImplementedError

    # -------------------------------------------------------------- score
    def score(self, X, y=None):
        """Default quality: mean over rows of ``valid / (1 + cost)``.

        ``cost`` is the mean absolute change per feature in units of the feature's
        median absolute deviation (learned in ``fit``). A perfect score of 1 needs
        every row valid at negligible cost; invalid rows score 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Factual rows.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        cf = self.explain(X)
        if self.space_ is None:
            cost = np.abs(cf.delta / self.scale_).mean(axis=1)
        else:  # original columns: numeric changes in MADs, a category switch 1
            cost = np.abs(cf._cost).mean(axis=1)
        return float(np.mean(cf.valid / (1.0 + cost)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.target_tags.required = not (
            _is_fitted(self.estimator) or hasattr(self.estimator, "logits")
        )
        tags.non_deterministic = False
        return tags


def reaches_target(proba, y0, tgt, untargeted, tau=0.0):
    """The validity rule of :meth:`BaseGenerator.explain`, on probabilities.

    A row reaches its target when its predicted class is the target (targeted
    rows) or differs from the factual's prediction ``y0`` (untargeted rows),
    with probability at least ``tau``. Returns ``(reached, cls, pred)``: the
    boolean mask, the class each row is judged on and the predicted class.
    """
    pred = proba.argmax(axis=1)
    cls = np.where(untargeted, pred, tgt)
    p_cls = proba[np.arange(len(pred)), cls]
    reached = np.where(untargeted, pred != y0, pred == tgt) & (p_cls >= tau)
    return reached, cls, pred


def _expected_features(estimator, model):
    """How many input features the model seems to take (for messages only:
    the first linear layer of a module need not be its input layer)."""
    n = getattr(unfrozen(estimator), "n_features_in_", None)
    if isinstance(n, Integral):
        return int(n)
    module = getattr(model, "module", None)
    steps = getattr(model, "preprocess", None)
    if isinstance(module, torch.nn.Module) and not steps:
        for layer in module.modules():
            if isinstance(layer, torch.nn.Linear):
                return int(layer.in_features)
            if isinstance(layer, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
                return None  # images: the width is not one layer's
    return None


def _by_rows(func, step, *arrays):
    """``func`` over row chunks of ``arrays`` (arrays or DataFrames), concatenated."""
    n = _num_rows(arrays[0])
    if n <= step:
        return func(*arrays)
    take = lambda a, sl: a.iloc[sl] if hasattr(a, "iloc") else a[sl]  # noqa: E731
    parts = [
        func(*(take(a, slice(s, s + step)) for a in arrays)) for s in range(0, n, step)
    ]
    return np.concatenate(parts)


def _num_rows(X):
    """Rows of an array-like without converting it (0 when unknown)."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape):
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        return 0


def _labels(classes, idx, known):
    """Class labels of ``idx``; None where the prediction is not finite."""
    labels = classes[idx]
    if known.all():
        return labels
    labels = labels.astype(object)
    labels[~known] = None
    return labels


def _own_memory(X):
    """``X`` itself, or a copy where torch cannot view it (negative strides,
    read-only memory)."""
    if not X.flags.writeable or any(st < 0 for st in X.strides):
        return np.array(X, order="C", copy=True)
    return X


def _user_proba(estimator, model, X):
    """Probabilities from the user's own model, in its own dtype.

    A fitted sklearn classifier judges with its own ``predict_proba`` (or,
    without one, the logistic / softmax of its ``decision_function``, as the
    adapter does); torch modules and skorch nets are their own model, run by
    ``model``.
    """
    est = unfrozen(estimator)
    if (
        _is_skorch(est)
        or isinstance(est, torch.nn.Module)
        or not hasattr(est, "classes_")
        or not len(X)
    ):
        return model.predict_proba(X)
    if hasattr(est, "predict_proba"):
        return BlackBoxModel(est).predict_proba(X)
    if hasattr(est, "decision_function"):
        names = getattr(est, "feature_names_in_", None)
        if names is not None:
            import pandas as pd

            X = pd.DataFrame(np.asarray(X), columns=names)
        d = np.asarray(est.decision_function(X), dtype=np.float64)
        d = np.column_stack([np.zeros_like(d), d]) if d.ndim == 1 else d
        d = d - d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return e / e.sum(axis=1, keepdims=True)
    return model.predict_proba(X)


def _mask(d, idx):
    m = np.zeros(d, dtype=bool)
    m[idx] = True
    return m
