"""One density per class: ``q̂(x | y)`` for class-conditional plausibility terms."""

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..exceptions import NotDifferentiableError
from ..utils._sklearn_compat import HasMethods, _fit_context, validate_data
from ._kde import KDEDensity

# Below this many (query row, training point) pairs, the torch closure scores a
# batch with one class closure when all rows share a class, else with every
# class closure on every row, picking each row's own (no per-class masks and
# their host syncs); larger batches go class by class.
_ALL_CLASSES_BELOW = 1_000_000


class ClassConditionalDensity(DensityMixin, BaseEstimator):
    """One density estimator per class, ``q̂(x | y)``.

    Fits a clone of ``density`` on the rows of each class: the target-class
    density ``q̂(y | t)`` of S-CFE (seed 004). :meth:`torch_log_density`
    returns a closure ``f(x, cls_index)`` that evaluates, for each row, the
    density of the class ``classes_[cls_index[i]]``, which is what the
    engine's density term calls with the target class of each row.

    Parameters
    ----------
    density : estimator or None, default=None
        Density estimator cloned and fitted per class; it needs ``fit``,
        ``score_samples`` and, for :meth:`torch_log_density`, its own
        ``torch_log_density``. None means ``KDEDensity()``.

    classes : array-like of shape (n_classes,), default=None
        Class labels, in the order that ``cls_index`` refers to (pass the
        explained model's ``classes_`` so that indices match its outputs).
        None means the sorted unique labels of ``y``. Every class needs at
        least one training row, and every label of ``y`` must be listed.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; ``cls_index`` indexes into this array.

    densities_ : dict
        Maps each class label to its fitted density.

    class_prior_ : ndarray of shape (n_classes,)
        Fraction of training rows per class (used by :meth:`sample`).

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    KDEDensity : the default per-class density.
    GMMDensity : Gaussian mixture density.
    KNNDensity : k-nearest-neighbour distance surrogate.

    References
    ----------
    Sadiku, Wagner, Nagarajan, Pokutta. S-CFE: sparse and plausible
    counterfactual explanations (seed 004, §4, ``q(x, t) := ψ(x | t)``).

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.density import ClassConditionalDensity, KDEDensity
    >>> X, y = load_wine(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> cond = ClassConditionalDensity(KDEDensity(bandwidth=1.0)).fit(X, y)
    >>> cond.classes_
    array([0, 1, 2])
    >>> log_q = cond.torch_log_density(dtype=torch.float64)
    >>> x = torch.tensor(X[:4])
    >>> cls_index = torch.tensor([0, 1, 2, 0])
    >>> expected = cond.score_samples(X[:4], cond.classes_[cls_index.numpy()])
    >>> bool(torch.allclose(log_q(x, cls_index), torch.from_numpy(expected)))
    True
    """

    _parameter_constraints: dict = {
        "density": [HasMethods(["fit", "score_samples"]), None],
        "classes": ["array-like", None],
    }

    def __init__(self, density=None, *, classes=None):
        self.density = density
        self.classes = classes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _resolve_classes(self, y):
        present = np.unique(y)
        if self.classes is None:
            return present
        classes = column_or_1d(np.asarray(self.classes))
        if classes.size == 0 or np.unique(classes).size != classes.size:
            raise ValueError(
                "The 'classes' parameter of ClassConditionalDensity must list "
                f"distinct labels. Got {self.classes!r} instead."
            )
        unknown = np.setdiff1d(present, classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()!r} that are not in the "
                f"'classes' parameter of ClassConditionalDensity "
                f"({classes.tolist()!r}). Add them to 'classes' or drop those rows."
            )
        missing = np.setdiff1d(classes, present)
        if missing.size:
            raise ValueError(
                f"Classes {missing.tolist()!r} of the 'classes' parameter of "
                "ClassConditionalDensity have no training sample in y; every "
                "class needs at least one row to fit its density."
            )
        return classes

    @_fit_context(
        # density is validated when its clones are fitted
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Fit one clone of ``density`` per class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,)
            Class labels (required).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = self._resolve_classes(y)
        base = KDEDensity() if self.density is None else self.density
        self.densities_ = {}
        prior = []
        for label in self.classes_.tolist():
            rows = y == label
            self.densities_[label] = clone(base).fit(X[rows])
            prior.append(rows.mean())
        self.class_prior_ = np.asarray(prior)
        return self

    def _check_y(self, y, n_samples, rows="X has"):
        if y is None:
            raise ValueError(
                "ClassConditionalDensity.score_samples requires y, the class of "
                "each row whose conditional density q(x | y) is wanted. Got None."
            )
        y = column_or_1d(np.asarray(y), warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(
                f"y has {y.shape[0]} labels but {rows} {n_samples} rows; pass one "
                "class label per row."
            )
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()!r} unknown to this "
                f"ClassConditionalDensity (classes_={self.classes_.tolist()!r})."
            )
        return y

    def score_samples(self, X, y=None):
        """Log density of each row of ``X`` under the density of its class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.

        y : array-like of shape (n_samples,)
            Class of each row (required; the default only mirrors sklearn's
            signature and raises).

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            ``log q̂(x_i | y_i)`` (float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        y = self._check_y(y, X.shape[0])
        out = np.empty(X.shape[0], dtype=np.float64)
        for label in self.classes_.tolist():
            rows = y == label
            if rows.any():
                out[rows] = self.densities_[label].score_samples(X[rows])
        return out

    def score(self, X, y=None):
        """Total class-conditional log density of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.

        y : array-like of shape (n_samples,)
            Class of each row (required).

        Returns
        -------
        log_likelihood : float
            Sum of :meth:`score_samples`.
        """
        return float(np.sum(self.score_samples(X, y)))

    def sample(self, n_samples=1, random_state=None, *, y=None):
        """Draw samples from the class densities.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        random_state : int, RandomState instance or None, default=None
            Seed of the draw; pass an int for reproducible output.

        y : label or array-like of shape (n_samples,), default=None
            Class of each sample (a single label means all). None draws the
            classes from ``class_prior_``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples.

        y : ndarray of shape (n_samples,)
            Class of each sample (as ``GaussianMixture.sample`` returns the
            component).
        """
        check_is_fitted(self)
        rng = check_random_state(random_state)
        if y is None:
            y = self.classes_[
                rng.choice(len(self.classes_), size=n_samples, p=self.class_prior_)
            ]
        elif np.ndim(y) == 0:
            y = np.full(n_samples, y, dtype=self.classes_.dtype)
        y = self._check_y(y, n_samples, rows="n_samples asks for")
        X = np.empty((n_samples, self.n_features_in_), dtype=np.float64)
        for label in self.classes_.tolist():
            rows = y == label
            if rows.any():
                density = self.densities_[label]
                X[rows] = density.sample(int(rows.sum()), random_state=rng)
        return X, y

    def torch_log_density(self, device="cpu", dtype=torch.float32):
        """Differentiable class-conditional log density ``f(x, cls_index)``.

        Each class's closure is built once, here (see the per-class
        ``torch_log_density``); the returned closure keeps no reference to the
        estimator.

        Parameters
        ----------
        device : str or torch.device, default="cpu"
            Device of the query tensors.

        dtype : torch.dtype, default=torch.float32
            Floating dtype of the computation; queries are cast to it.

        Returns
        -------
        log_density : callable
            ``f(x, cls_index) -> Tensor of shape (n,)`` for ``x`` of shape
            ``(n, n_features_in_)`` and an integer tensor ``cls_index`` of
            shape ``(n,)`` (or a scalar, for all rows) of indices into
            ``classes_``. Row ``i`` gets ``log q̂(x_i | classes_[cls_index[i]])``;
            classes are evaluated in one batch each (small batches: every
            class on every row, then each row's own picked). When every class
            closure has a ``value_and_grad`` attribute (KDE), so does this one:
            ``f.value_and_grad(x, cls_index) -> (f(x, cls_index), ∇ₓ)``.
        """
        check_is_fitted(self)
        device = torch.device(device)
        closures = []
        for label in self.classes_.tolist():
            density = self.densities_[label]
            if not hasattr(density, "torch_log_density"):
                raise NotDifferentiableError(
                    f"The density of class {label!r} ({type(density).__name__}) "
                    "has no torch_log_density method; pass a 'density' such as "
                    "KDEDensity, GMMDensity or KNNDensity to ClassConditionalDensity."
                )
            closures.append(density.torch_log_density(device=device, dtype=dtype))
        n_classes = len(closures)
        n_features = self.n_features_in_

        sizes = [getattr(f, "cost_per_row", None) for f in closures]

        def check(x, cls_index):
            if not isinstance(x, torch.Tensor) or x.ndim != 2:
                raise ValueError(
                    "The log density of ClassConditionalDensity expects x, a "
                    f"tensor of shape (n, {n_features}). Got "
                    f"{getattr(x, 'shape', type(x).__name__)} instead."
                )
            n = x.shape[0]
            x = x.to(device)
            cls_index = torch.as_tensor(cls_index, device=device)
            if cls_index.dtype.is_floating_point or cls_index.dtype in (
                torch.bool,
                torch.complex64,
                torch.complex128,
            ):
                raise TypeError(
                    "cls_index must be an integer tensor of indices into "
                    f"classes_. Got dtype {cls_index.dtype} instead."
                )
            if cls_index.ndim == 0:
                cls_index = cls_index.expand(n)
            if cls_index.shape != (n,):
                raise ValueError(
                    f"cls_index must have shape ({n},), one class index per row "
                    f"of x. Got shape {tuple(cls_index.shape)} instead."
                )
            return x, cls_index

        def one_class(cls_index):
            """The class index all (>= 1) rows share, or None; checks the range.

            One operation and one host sync (this runs at every step of a search).
            """
            low, high = (int(v) for v in torch.aminmax(cls_index))
            if low < 0 or high >= n_classes:
                raise ValueError(
                    f"cls_index must hold indices in [0, {n_classes}) into "
                    f"classes_. Got values in [{low}, {high}] instead."
                )
            return low if low == high else None

        def small(n):
            return None not in sizes and n * sum(sizes) <= _ALL_CLASSES_BELOW

        def by_class(x, cls_index, call):
            """``call(closure, rows)`` (a tuple of per-row tensors), row by class."""
            x, cls_index = check(x, cls_index)
            n = x.shape[0]
            k = one_class(cls_index) if n else None
            if k is not None:  # every row wants the same class
                return call(closures[k], x)
            if n and small(n):
                parts = [call(f, x) for f in closures]
                return tuple(
                    _pick(torch.stack([p[i] for p in parts], 1), cls_index)
                    for i in range(len(parts[0]))
                )
            if not n:
                return call(closures[0], x)
            out = None
            for k, closure in enumerate(closures):
                rows = (cls_index == k).nonzero(as_tuple=True)[0]
                if rows.numel():
                    res = call(closure, x[rows])
                    if out is None:
                        out = [r.new_zeros((n, *r.shape[1:])) for r in res]
                    out = [o.index_put((rows,), r) for o, r in zip(out, res)]
            return tuple(out)

        def log_density(x, cls_index):
            return by_class(x, cls_index, lambda f, rows: (f(rows),))[0]

        def value_and_grad(x, cls_index):
            """``(log q̂(x | c), ∇ log q̂(x | c))`` without autograd."""
            return by_class(x, cls_index, lambda f, rows: f.value_and_grad(rows))

        if all(hasattr(f, "value_and_grad") for f in closures):
            log_density.value_and_grad = value_and_grad
        return log_density


def _pick(stacked, cls_index):
    """``stacked[i, cls_index[i]]`` for ``stacked`` of shape ``(n, K, ...)``."""
    shape = (-1, 1, *stacked.shape[2:])
    index = cls_index.view(-1, *([1] * (stacked.dim() - 1))).expand(shape)
    return stacked.gather(1, index).squeeze(1)
