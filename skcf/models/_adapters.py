"""Adapters from skorch nets, torch modules, sklearn pipelines and sklearn
linear / MLP classifiers to one differentiable ``logits(x)`` on a device."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..exceptions import DeviceWarning, NotDifferentiableError

__all__ = [
    "BlackBoxModel",
    "DifferentiableModel",
    "as_differentiable",
    "as_model",
    "is_differentiable",
]

_SCALERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler")
_OUTPUTS = ("auto", "logits", "proba")


def _resolve_device(
    device: str | torch.device | None, default: str = "cpu"
) -> torch.device:
    dev = torch.device(default if device is None else device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} was requested but CUDA is not available; "
            "use device='cpu'."
        )
    return dev


class _Affine(nn.Module):
    """``z = x * scale + offset`` (a fitted sklearn scaler, differentiable).

    The parameters stay in float64 and the map is computed in float64 (then
    cast back to ``x``'s dtype): money or timestamps whose offset is large
    against their spread lose no more than ``x`` itself carries.
    """

    scale: Tensor
    offset: Tensor

    def __init__(self, scale: np.ndarray, offset: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64))
        self.register_buffer("offset", torch.as_tensor(offset, dtype=torch.float64))

    def forward(self, x: Tensor) -> Tensor:
        return (x.to(torch.float64) * self.scale + self.offset).to(x.dtype)


def _scaler_as_affine(step: Any) -> _Affine:
    name = type(step).__name__
    n = step.n_features_in_
    if name == "StandardScaler":
        scale = (
            1.0 / step.scale_
            if step.with_std and step.scale_ is not None
            else np.ones(n)
        )
        mean = step.mean_ if step.with_mean and step.mean_ is not None else np.zeros(n)
        return _Affine(scale, -mean * scale)
    if name == "MinMaxScaler":
        return _Affine(step.scale_, step.min_)
    if name == "MaxAbsScaler":
        return _Affine(1.0 / step.scale_, np.zeros(n))
    raise NotDifferentiableError(f"{name} is not a differentiable scaler")


class _SklearnLinear(nn.Module):
    """Decision function of a fitted sklearn linear classifier."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        super().__init__()
        # float64: sklearn's own precision, and row results independent of batching
        self.linear = nn.Linear(coef.shape[1], coef.shape[0], dtype=torch.float64)
        with torch.no_grad():
            self.linear.weight.copy_(torch.as_tensor(coef, dtype=torch.float64))
            self.linear.bias.copy_(
                torch.as_tensor(np.ravel(intercept), dtype=torch.float64)
            )

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)


_MLP_ACT = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
}


class _SklearnMLP(nn.Module):
    """Pre-output-activation of a fitted ``sklearn.neural_network.MLPClassifier``."""

    def __init__(self, mlp: Any) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
            lin = nn.Linear(w.shape[0], w.shape[1], dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(w.T, dtype=torch.float64))
                lin.bias.copy_(torch.as_tensor(b, dtype=torch.float64))
            layers.append(lin)
            if i < len(mlp.coefs_) - 1:
                layers.append(_MLP_ACT[mlp.activation]())
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class DifferentiableModel:
    """A differentiable classifier: ``logits(x)`` on a device, in input units.

    Build it with :func:`as_differentiable`. Scalers of a pipeline are folded in
    as affine maps, so gradients are taken with respect to the pipeline's input.

    Parameters
    ----------
    module : torch.nn.Module
        The network (in eval mode; never modified).
    output : {"logits", "proba", "binary_logit"}
        What ``module`` returns: logits, probabilities (a final softmax), or one
        logit for the positive class of a binary problem.
    preprocess : list of torch.nn.Module
        Differentiable steps applied before ``module``.
    classes : ndarray, optional
        Class labels in the order of the model's outputs.
    device : str or torch.device
        Where the computation runs.

    Examples
    --------
    >>> import torch
    >>> from skcf.models import DifferentiableModel
    >>> model = DifferentiableModel(torch.nn.Linear(3, 2), output="logits")
    >>> model.logits(torch.zeros(4, 3)).shape
    torch.Size([4, 2])
    """

    def __init__(
        self, module, *, output="logits", preprocess=(), classes=None, device="cpu"
    ) -> None:
        self.module = module
        self.output = output
        self.preprocess = list(preprocess)
        self.classes = None if classes is None else np.asarray(classes)
        self.device = torch.device(device)
        self.dtype = _module_dtype(module)

    def __call__(self, x: Tensor) -> Tensor:
        return self.logits(x)

    def logits(self, x: Tensor) -> Tensor:
        """Logits of shape ``(n, n_classes)`` for inputs ``x`` of shape ``(n, d)``."""
        for step in self.preprocess:
            x = step(x)
        out = self.module(x)
        if isinstance(out, tuple):  # modules returning (output, extra)
            out = out[0]
        if self.output == "binary_logit" or out.dim() == 1 or out.shape[-1] == 1:
            z = out.reshape(-1, 1)
            return torch.cat([torch.zeros_like(z), z], dim=1)
        if self.output == "proba":
            return torch.log(out.clamp_min(1e-12))
        return out

    @torch.no_grad()
    def predict_proba(self, X: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        """Class probabilities for a numpy array (chunked, on ``device``)."""
        X = np.asarray(X)
        if not X.flags.writeable or any(st < 0 for st in X.strides):
            X = X.copy()  # torch views neither read-only memory nor negative strides
        out: list[np.ndarray] = []
        with torch.inference_mode():  # no graph: up to 4x faster on wide batches
            for s in range(0, len(X), batch_size):
                x = torch.as_tensor(X[s : s + batch_size]).to(
                    device=self.device, dtype=self.dtype
                )
                out.append(torch.softmax(self.logits(x), dim=1).cpu().numpy())
        if not out:
            return np.empty((0, 0 if self.classes is None else len(self.classes)))
        return np.concatenate(out).astype(np.float64, copy=False)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class index (not label) for a numpy array."""
        return self.predict_proba(X).argmax(axis=1)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["device"] = str(self.device)
        if self.device.type != "cpu":  # store on CPU so any machine can unpickle
            state["module"] = copy.deepcopy(self.module).to("cpu")
            state["preprocess"] = [copy.deepcopy(p).to("cpu") for p in self.preprocess]
        return state

    def __setstate__(self, state: dict) -> None:
        device = torch.device(state["device"])
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                f"Model was saved on {device} but CUDA is not available; it was "
                "loaded on the CPU.",
                DeviceWarning,
                stacklevel=2,
            )
            device = torch.device("cpu")
        state["device"] = device
        state["module"] = state["module"].to(device)
        state["preprocess"] = [p.to(device) for p in state["preprocess"]]
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (
            f"DifferentiableModel(module={type(self.module).__name__}, "
            f"output={self.output!r}, device={str(self.device)!r})"
        )


class BlackBoxModel:
    """A model known only through ``predict_proba`` (gradient-free methods only).

    Parameters
    ----------
    estimator : object
        A fitted classifier with ``predict_proba`` (and ``classes_``).

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.datasets import make_classification
    >>> from skcf.models import as_model
    >>> X, y = make_classification(n_samples=50, random_state=0)
    >>> forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> model = as_model(forest)
    >>> type(model).__name__, model.predict_proba(X[:2]).shape
    ('BlackBoxModel', (2, 2))
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.classes = getattr(estimator, "classes_", None)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        names = getattr(self.estimator, "feature_names_in_", None)
        if names is not None and not hasattr(X, "columns"):
            import pandas as pd  # fitted on a DataFrame: keep sklearn from warning

            X = pd.DataFrame(np.asarray(X), columns=names)
        return np.asarray(self.estimator.predict_proba(X), dtype=np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    @property
    def n_classes(self) -> int:
        if self.classes is None:
            raise AttributeError(
                f"{type(self.estimator).__name__} has no classes_; n_classes is unknown"
            )
        return len(self.classes)


def _module_dtype(module: nn.Module) -> torch.dtype:
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _module_device(module: nn.Module) -> torch.device | None:
    for p in module.parameters():
        return p.device
    return None


def _ends_in_softmax(module: nn.Module) -> bool:
    last = None
    for m in module.modules():
        if not list(m.children()):
            last = m
    return isinstance(last, nn.Softmax)


def _is_skorch(estimator: Any) -> bool:
    return any(
        c.__module__.startswith("skorch") and c.__name__ == "NeuralNet"
        for c in type(estimator).__mro__
    )


def _is_fitted(estimator: Any) -> bool:
    if type(estimator).__name__ == "FrozenEstimator":
        return _is_fitted(estimator.estimator)
    if isinstance(estimator, nn.Module):
        return True
    if _is_skorch(estimator):
        return bool(getattr(estimator, "initialized_", False))
    try:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
    except Exception:
        return False
    return True


def _skorch_parts(net: Any, output: str):
    module = net.module_
    if output == "auto":
        criterion = getattr(net, "criterion_", None)
        crit = type(criterion).__name__ if criterion is not None else ""
        cls = type(net).__name__
        if "Binary" in cls or crit == "BCEWithLogitsLoss":
            output = "binary_logit"
        elif crit == "NLLLoss" and not _ends_in_logsoftmax(module):
            # skorch's NeuralNetClassifier default: the module returns
            # probabilities and skorch takes their log before NLLLoss.
            output = "proba"
        elif _ends_in_softmax(module):
            output = "proba"
        else:
            output = "logits"
    classes = getattr(net, "classes_", None)
    if classes is None:
        classes = getattr(net, "classes_inferred_", None)
    if "Binary" in type(net).__name__:
        classes = np.array([0, 1])
    return module, output, classes, torch.device(net.device)


def _ends_in_logsoftmax(module: nn.Module) -> bool:
    last = None
    for m in module.modules():
        if not list(m.children()):
            last = m
    return isinstance(last, nn.LogSoftmax)


#: the gradient-free generators, named in errors for black-box models. A
#: constant, not a discovery call: the adapters sit below the generators (base
#: -> models -> discovery -> base would be an import circle); a test checks it
#: against ``skcf.utils.all_estimators``.
GRADIENT_FREE_GENERATORS = (
    "ActionableRecourseGenerator",
    "GrowingSpheresGenerator",
    "LatentSearchGenerator",
)


def _gradient_free_names() -> str:
    return (
        "Use a gradient-free generator instead: "
        + ", ".join(GRADIENT_FREE_GENERATORS)
        + "."
    )


def _black_box_error(estimator: Any, why: str) -> NotDifferentiableError:
    return NotDifferentiableError(
        f"{type(estimator).__name__} is not differentiable ({why}), so a gradient "
        f"generator cannot explain it. {_gradient_free_names()}"
    )


def _parts(estimator: Any, output: str):
    """Return (module, output, classes, native_device, preprocess)."""
    from sklearn.pipeline import Pipeline

    if type(estimator).__name__ == "FrozenEstimator":  # sklearn.frozen
        return _parts(estimator.estimator, output)
    if isinstance(estimator, DifferentiableModel):
        return (
            estimator.module,
            estimator.output,
            estimator.classes,
            estimator.device,
            estimator.preprocess,
        )
    if isinstance(estimator, nn.Module):
        out = output
        if out == "auto":
            out = "proba" if _ends_in_softmax(estimator) else "logits"
        return estimator, out, None, _module_device(estimator), []
    if _is_skorch(estimator):
        if not getattr(estimator, "initialized_", False):
            raise _not_fitted(estimator)
        module, out, classes, dev = _skorch_parts(estimator, output)
        return module, out, classes, dev, []
    if isinstance(estimator, Pipeline):
        pre = []
        for name, step in estimator.steps[:-1]:
            if step is None or step == "passthrough":
                continue
            if type(step).__name__ not in _SCALERS:
                raise _black_box_error(
                    estimator,
                    f"pipeline step {name!r} ({type(step).__name__}) is not "
                    f"one of the differentiable scalers {', '.join(_SCALERS)}",
                )
            if not _is_fitted(step):
                raise _not_fitted(estimator)
            pre.append(_scaler_as_affine(step))
        module, out, classes, dev, inner_pre = _parts(estimator.steps[-1][1], output)
        return module, out, classes, dev, pre + inner_pre
    name = type(estimator).__name__
    if name == "MLPClassifier" and hasattr(estimator, "coefs_"):
        out = "binary_logit" if estimator.out_activation_ == "logistic" else "logits"
        if estimator.out_activation_ not in ("logistic", "softmax"):
            raise _black_box_error(estimator, "multilabel output")
        return _SklearnMLP(estimator), out, estimator.classes_, None, []
    coef = getattr(estimator, "coef_", None)
    if (
        coef is not None
        and hasattr(estimator, "decision_function")
        and hasattr(estimator, "classes_")
        and np.ndim(coef) == 2
    ):
        if not np.all(np.isfinite(coef)):
            raise ValueError(f"{name} has non-finite coefficients")
        out = "binary_logit" if coef.shape[0] == 1 else "logits"
        return (
            _SklearnLinear(np.asarray(coef), np.asarray(estimator.intercept_)),
            out,
            estimator.classes_,
            None,
            [],
        )
    if hasattr(estimator, "predict_proba") or hasattr(estimator, "predict"):
        raise _black_box_error(estimator, "it exposes only predict_proba/predict")
    raise TypeError(
        f"Cannot use an object of type {name} as a model: expected a fitted skorch "
        "net, a torch.nn.Module, an sklearn classifier, or a Pipeline of scalers "
        "ending in one of these."
    )


def _not_fitted(estimator: Any):
    from sklearn.exceptions import NotFittedError

    return NotFittedError(
        f"This {type(estimator).__name__} instance is not fitted yet. Fit it first, "
        "or pass it unfitted to a generator's fit(X, y), which fits a clone."
    )


def as_differentiable(
    estimator: Any, *, device: str | None = None, output: str = "auto"
) -> DifferentiableModel:
    """Turn a fitted model into a differentiable :class:`DifferentiableModel`.

    Accepts a fitted skorch ``NeuralNetClassifier``/``NeuralNetBinaryClassifier``
    (its ``module_`` on the net's device), a ``torch.nn.Module``, a fitted
    sklearn linear classifier (``LogisticRegression``, ``SGDClassifier``,
    ``LinearSVC``, ...) or ``MLPClassifier``, and a ``Pipeline`` whose steps
    before the model are ``StandardScaler``, ``MinMaxScaler`` or ``MaxAbsScaler``
    (the scalers are folded in, so gradients are in the pipeline's input units).
    The user's model is never modified: when another device is requested, the
    module is copied.

    Parameters
    ----------
    estimator : object
        The model.
    device : str, default=None
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; None keeps the model's own device
        (the skorch net's ``device``, the module's parameters, else CPU).
    output : {"auto", "logits", "proba"}, default="auto"
        What the network returns. ``"auto"`` reads it from the skorch criterion
        (``NLLLoss``: probabilities, skorch's default; ``CrossEntropyLoss``:
        logits) or from a final ``Softmax`` layer.

    Returns
    -------
    model : DifferentiableModel

    Raises
    ------
    NotDifferentiableError
        For black-box models (only ``predict_proba``); the message names the
        gradient-free alternatives.
    NotFittedError
        For an unfitted skorch net, scaler or sklearn classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.models import as_differentiable
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    >>> model = as_differentiable(pipe)
    >>> bool((model.predict_proba(X).argmax(1) == pipe.predict(X)).all())
    True
    """
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}")
    module, out, classes, native, pre = _parts(estimator, output)
    target = _resolve_device(device, default=str(native or "cpu"))
    dtype = _module_dtype(module)
    if _module_device(module) not in (None, target) or any(
        _buffers_device(p) not in (None, target) for p in pre
    ):  # never move the user's module in place: copy it
        module = copy.deepcopy(module).to(target)
        pre = [copy.deepcopy(p).to(target) for p in pre]
    pre = [p.to(dtype=dtype) for p in pre]
    if any(m.training for m in module.modules()):
        # evaluation needs eval mode (dropout, batch norm); don't flip the user's
        module = copy.deepcopy(module).eval()
    return DifferentiableModel(
        module, output=out, preprocess=pre, classes=classes, device=target
    )


def _buffers_device(module: nn.Module) -> torch.device | None:
    for b in module.buffers():
        return b.device
    return _module_device(module)


def is_differentiable(estimator: Any) -> bool:
    """Whether :func:`as_differentiable` accepts ``estimator``.

    Parameters
    ----------
    estimator : object
        The model.

    Returns
    -------
    differentiable : bool

    Examples
    --------
    >>> import torch
    >>> from skcf.models import is_differentiable
    >>> is_differentiable(torch.nn.Linear(2, 2))
    True
    """
    try:
        _parts(estimator, "auto")
    except NotDifferentiableError:
        return False
    except TypeError:
        return False
    return True


def as_model(estimator: Any, *, device: str | None = None, output: str = "auto"):
    """Differentiable adapter when possible, else a :class:`BlackBoxModel`.

    Used by gradient-free methods, which accept both.

    Parameters
    ----------
    estimator : object
        The model.
    device : str, default=None
        See :func:`as_differentiable`.
    output : {"auto", "logits", "proba"}, default="auto"
        See :func:`as_differentiable`.

    Returns
    -------
    model : DifferentiableModel or BlackBoxModel

    Examples
    --------
    >>> import torch
    >>> from skcf.models import as_model
    >>> type(as_model(torch.nn.Linear(2, 2))).__name__
    'DifferentiableModel'
    """
    try:
        return as_differentiable(estimator, device=device, output=output)
    except NotDifferentiableError:
        if not hasattr(estimator, "predict_proba"):
            raise
        return BlackBoxModel(estimator)
