"""Class prototypes for CFProto (seed 000): the mean code of the K nearest
training rows of each class, found with one k-d tree per class; and S-CFE's
"density gravity" point (seed 004): their mean weighted by local density."""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KDTree
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    validate_data,
)

__all__ = ["PrototypeIndex"]


def _fitted_encoder(encoder, X):
    """``encoder`` itself if fitted (or not an estimator), else a fitted clone."""
    if encoder is None:
        return None
    try:
        check_is_fitted(encoder)
    except NotFittedError:
        return clone(encoder).fit(X)
    except TypeError:  # no ``fit``: a plain object with ``encode``, used as is
        pass
    return encoder


class PrototypeIndex(BaseEstimator):
    """Per-class prototypes: the mean code of the K nearest rows of each class.

    CFProto (Van Looveren & Klaise) pulls a counterfactual towards a prototype of
    the target class: the mean encoding of the ``n_neighbors`` training rows of
    that class nearest to the factual in the latent space of an autoencoder.
    ``fit(X, y)`` encodes the training rows (with ``encoder``, or not at all: input
    space, as seed 001 did with k-d trees and k = 20 when no autoencoder is used)
    and builds one `sklearn.neighbors.KDTree` per class. `query` returns, for each
    row and each class, the prototype and its ℓ2 distance to the row's code, with
    one tree query per class for all rows.

    Parameters
    ----------
    n_neighbors : int, default=5
        K, the number of nearest same-class rows averaged into a prototype. A
        class with fewer training rows uses all of them (see
        ``n_neighbors_``).

    kind : {"mean", "kth", "density"}, default="mean"
        ``"mean"``: the prototype is the mean code of the ``n_neighbors``
        nearest rows (seed 000's ``L_proto``). ``"kth"``: the code of the
        ``n_neighbors``-th nearest row itself, as the reference
        implementation's k-d tree mode does (``n_neighbors=1``: the nearest).
        ``"density"``: the mean of the ``n_neighbors`` nearest rows weighted
        by their local density ``ρ_j = K / Σ_{l ≤ K} ‖c_j - c_(l)‖₂`` over the
        ``K`` rows of the class nearest to row ``j`` (itself included, at
        distance 0): the "density gravity" point of the S-CFE authors' kNN
        variant (seed 004, ``S-CFE_kNN``; their code uses ``K = 3``).

    encoder : object with an ``encode`` method or None, default=None
        Maps rows to codes, e.g. a fitted :class:`~skcf.density.Autoencoder` or
        :class:`~skcf.density.VariationalAutoencoder` (its mean code). An unfitted
        sklearn-style estimator is cloned and fitted on ``X`` in ``fit``; a fitted
        one, or an object without ``fit``, is used as is and never modified. None
        works in input space.

    Attributes
    ----------
    encoder_ : object or None
        The encoder used (``encoder`` itself, or its fitted clone).
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    codes_ : list of ndarray of shape (n_rows_in_class, n_dims)
        Codes (float64) of the training rows of each class, in ``classes_`` order.
    trees_ : list of KDTree
        One k-d tree over each entry of ``codes_``.
    n_neighbors_ : ndarray of shape (n_classes,)
        Rows averaged per class: ``min(n_neighbors, n_rows_in_class)``.
    local_density_ : list of ndarray of shape (n_rows_in_class,)
        Local density ``ρ`` of each training row, per class. Only with
        ``kind="density"``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    Autoencoder : a code space for the prototypes.

    Notes
    -----
    Ties between equidistant neighbours are broken by the k-d tree, so the
    prototype is then one of the equally valid means.

    References
    ----------
    Van Looveren, Klaise (2019). Interpretable counterfactual explanations guided
    by prototypes. Seed 000, App. A.1 (``L_proto``).

    Black, Wang, Datta, Fredrikson. Consistent counterfactuals for deep models.
    Seed 001, App. B.3 (k-d trees with k = 20 in input space).

    Sadiku, Wagner, Nagarajan, Pokutta (2025). S-CFE: Simple counterfactual
    explanations. Seed 004, Table 3 (``S-CFE_kNN``; ``kind="density"``).

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.density import PrototypeIndex
    >>> X, y = load_wine(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> index = PrototypeIndex(n_neighbors=20).fit(X, y)
    >>> prototypes, distances = index.query(X[:2])
    >>> prototypes.shape, distances.shape
    ((2, 3, 13), (2, 3))
    >>> distances.argmin(axis=1)  # the own class's prototype is the nearest
    array([0, 0])
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "kind": [StrOptions({"mean", "kth", "density"})],
        "encoder": [HasMethods(["encode"]), None],
    }

    def __init__(self, n_neighbors=5, *, kind="mean", encoder=None):
        self.n_neighbors = n_neighbors
        self.kind = kind
        self.encoder = encoder

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Encode the training rows and build one k-d tree per class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : object
            The fitted index.
        """
        X_checked, y = validate_data(self, X, y, reset=True)
        check_classification_targets(y)
        self.encoder_ = _fitted_encoder(self.encoder, X)
        codes = self._encode(X, X_checked)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        self.codes_ = [codes[y_idx == c] for c in range(len(self.classes_))]
        self.trees_ = [KDTree(c) for c in self.codes_]
        self.n_neighbors_ = np.array(
            [min(self.n_neighbors, len(c)) for c in self.codes_], dtype=np.intp
        )
        if self.kind == "density":
            self.local_density_ = [
                _local_density(tree, c, int(k))
                for tree, c, k in zip(self.trees_, self.codes_, self.n_neighbors_)
            ]
        return self

    def _encode(self, X, X_checked):
        if self.encoder_ is None:
            return np.asarray(X_checked, dtype=np.float64)
        codes = np.asarray(self.encoder_.encode(X), dtype=np.float64)
        if codes.ndim != 2 or codes.shape[0] != X_checked.shape[0]:
            raise ValueError(
                f"The encoder of PrototypeIndex must return codes of shape "
                f"(n_samples, n_dims); {type(self.encoder_).__name__}.encode "
                f"returned shape {codes.shape} for {X_checked.shape[0]} rows."
            )
        return codes

    def encode(self, X):
        """Codes of the rows of ``X`` (``X`` itself without an encoder).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to encode.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_dims)
            Codes as float64.
        """
        check_is_fitted(self)
        X_checked = validate_data(self, X, reset=False)
        return self._encode(X, X_checked)

    def query(self, X):
        """Prototype of every class for every row, and its distance to the row.

        The prototype of class ``c`` for a row is the mean code (weighted by
        ``local_density_`` with ``kind="density"``) of the ``n_neighbors_[c]``
        training rows of class ``c`` nearest to the row's code.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Factual rows.

        Returns
        -------
        prototypes : ndarray of shape (n_samples, n_classes, n_dims)
            ``prototypes[i, c]`` is class ``classes_[c]``'s prototype for row i.
        distances : ndarray of shape (n_samples, n_classes)
            ℓ2 distance between each row's code and each prototype.
        """
        codes = self.encode(X)
        prototypes = np.empty((codes.shape[0], len(self.classes_), codes.shape[1]))
        for c, (tree, class_codes, k) in enumerate(
            zip(self.trees_, self.codes_, self.n_neighbors_)
        ):
            ind = tree.query(codes, k=int(k), return_distance=False)  # (n, k)
            if self.kind == "kth":  # sorted by distance: the k-th nearest row
                prototypes[:, c] = class_codes[ind[:, -1]]
            elif self.kind == "density":
                rho = self.local_density_[c][ind]  # (n, k)
                a = rho / rho.sum(axis=1, keepdims=True)
                prototypes[:, c] = np.einsum("nk,nkd->nd", a, class_codes[ind])
            else:
                prototypes[:, c] = class_codes[ind].mean(axis=1)
        distances = np.linalg.norm(codes[:, None, :] - prototypes, axis=2)
        return prototypes, distances


def _local_density(tree, codes, k):
    """``k / Σ`` of each row's distances to its ``k`` nearest rows (itself included).

    A row with ``k`` exact duplicates (zero sum) gets the largest finite
    density of the class times 1e6, or 1 when every row is such a row, so that
    weights stay finite and it still dominates its neighbours.
    """
    dist, _ = tree.query(codes, k=k)
    total = dist.sum(axis=1)
    rho = np.full(len(codes), np.inf)
    pos = total > 0
    rho[pos] = k / total[pos]
    finite = rho[pos]
    rho[~pos] = 1e6 * finite.max() if finite.size else 1.0
    return rho
