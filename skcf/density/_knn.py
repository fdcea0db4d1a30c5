"""k-nearest-neighbour distance as an unnormalised log-density surrogate."""

import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..exceptions import SkcfWarning
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context, validate_data
from ._base import BaseDensity, _check_query, _rowwise

# Standard deviation of the noise added by ``sample``, relative to each
# feature's standard deviation in the training data.
_SAMPLE_NOISE = 0.1


class KNNDensity(BaseDensity):
    """k-nearest-neighbour distance as an unnormalised log-density surrogate.

    ``score(x) = -mean_{j ≤ k} ‖x - x_(j)‖₂`` over the ``k = n_neighbors``
    training points nearest to ``x`` (or ``-‖x - x_(k)‖₂`` with
    ``aggregate="kth"``): seed 004's "kNN" plausibility term. It is **not** a
    normalised log density, only a surrogate that is larger in dense regions;
    compare its values between points, not with :class:`KDEDensity` or
    :class:`GMMDensity`. Training points count as their own neighbours.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours ``k``. If it exceeds the number of training
        points, :meth:`fit` uses all of them and warns (``n_neighbors_``).

    aggregate : {"mean", "kth"}, default="mean"
        Use the mean distance to the ``k`` neighbours (smoother) or the
        distance to the ``k``-th one.

    Attributes
    ----------
    n_neighbors_ : int
        Neighbours actually used, ``min(n_neighbors, n_samples)``.

    X_train_ : ndarray of shape (n_samples, n_features)
        Training points (float64).

    nn_ : sklearn.neighbors.NearestNeighbors
        Index over ``X_train_`` used by :meth:`score_samples`.

    noise_scale_ : ndarray of shape (n_features,)
        Per-feature standard deviation of the noise :meth:`sample` adds:
        0.1 times the training standard deviation of the feature.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    KDEDensity : normalised kernel density estimate.
    GMMDensity : Gaussian mixture density.
    ClassConditionalDensity : one density per class, ``q̂(x | y)``.
    sklearn.neighbors.NearestNeighbors : the neighbour search used here.

    Notes
    -----
    The torch closure computes all distances with ``torch.cdist`` and keeps the
    ``k`` smallest with ``topk``, chunked over queries to at most 5e7
    (query, training point) pairs at a time. Its gradient is piecewise smooth:
    it changes abruptly where the set of nearest neighbours changes.

    References
    ----------
    Sadiku, Wagner, Nagarajan, Pokutta. S-CFE: sparse and plausible
    counterfactual explanations (seed 004, §4 and Table 3, "S-CFE_kNN").

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.density import KNNDensity
    >>> X = StandardScaler().fit_transform(load_wine().data)
    >>> knn = KNNDensity(n_neighbors=5).fit(X)
    >>> knn.score_samples(X[:3]).round(2)
    array([-1.37, -1.72, -1.61])
    >>> log_q = knn.torch_log_density(dtype=torch.float64)
    >>> log_q(torch.tensor(X[:3])).numpy().round(2)
    array([-1.37, -1.72, -1.61])
    >>> knn.sample(4, random_state=0).shape
    (4, 13)
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "aggregate": [StrOptions({"mean", "kth"})],
    }

    def __init__(self, n_neighbors=5, *, aggregate="mean"):
        self.n_neighbors = n_neighbors
        self.aggregate = aggregate

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the training points and build the neighbour index.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = validate_data(self, X, dtype=np.float64, order="C")
        n_samples = X.shape[0]
        if self.n_neighbors > n_samples:
            warnings.warn(
                f"The 'n_neighbors' parameter of KNNDensity ({self.n_neighbors}) "
                f"exceeds the number of training samples ({n_samples}); using "
                f"n_neighbors_={n_samples}. Pass n_neighbors <= {n_samples} to "
                "silence this warning.",
                SkcfWarning,
            )
        self.n_neighbors_ = int(min(self.n_neighbors, n_samples))
        self.X_train_ = X
        self.nn_ = NearestNeighbors(n_neighbors=self.n_neighbors_).fit(X)
        self.noise_scale_ = _SAMPLE_NOISE * X.std(axis=0)
        return self

    def score_samples(self, X):
        """Negative mean (or k-th) neighbour distance of each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.

        Returns
        -------
        score : ndarray of shape (n_samples,)
            Unnormalised log-density surrogate (float64, always <= 0).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, order="C", reset=False)
        dist, _ = self.nn_.kneighbors(X, n_neighbors=self.n_neighbors_)
        if self.aggregate == "mean":
            return -dist.mean(axis=1)
        return -dist[:, -1]

    def sample(self, n_samples=1, random_state=None):
        """Draw training points uniformly and add small Gaussian noise.

        The noise has per-feature standard deviation ``noise_scale_`` (0.1
        times the training standard deviation): the surrogate defines no
        distribution of its own, so this is a smoothed bootstrap.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        random_state : int, RandomState instance or None, default=None
            Seed of the draw; pass an int for reproducible output.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples.
        """
        check_is_fitted(self)
        rng = check_random_state(random_state)
        idx = rng.randint(self.X_train_.shape[0], size=n_samples)
        noise = rng.standard_normal((n_samples, self.X_train_.shape[1]))
        return self.X_train_[idx] + noise * self.noise_scale_

    def torch_log_density(self, device="cpu", dtype=torch.float32):
        """Differentiable torch version of :meth:`score_samples`.

        The training points are copied to ``device`` once, here; the returned
        closure keeps no reference to the estimator.

        Parameters
        ----------
        device : str or torch.device, default="cpu"
            Device of the query tensors.

        dtype : torch.dtype, default=torch.float32
            Floating dtype of the computation; queries are cast to it.

        Returns
        -------
        log_density : callable
            ``f(x) -> Tensor of shape (n,)`` for ``x`` of shape
            ``(n, n_features_in_)``, differentiable in ``x`` (the gradient of a
            zero distance is taken as zero).
        """
        check_is_fitted(self)
        device = torch.device(device)
        n_train, n_features = self.X_train_.shape
        centre = self.X_train_.mean(axis=0)
        train = torch.tensor(self.X_train_ - centre, dtype=dtype, device=device)
        centre = torch.tensor(centre, dtype=dtype, device=device)
        k = self.n_neighbors_
        kth = self.aggregate == "kth"
        owner = type(self).__name__

        def block(x):
            dist = torch.cdist(x - centre, train)
            nearest = dist.topk(k, dim=1, largest=False, sorted=True).values
            return -(nearest[:, -1] if kth else nearest.mean(dim=1))

        def log_density(x):
            x = _check_query(x, n_features, device, dtype, owner)
            return _rowwise(block, x, n_train)

        log_density.cost_per_row = n_train
        return log_density
