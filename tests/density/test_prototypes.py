"""PrototypeIndex: per-class mean of the K nearest codes (CFProto's prototypes)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from skcf.density import Autoencoder, PrototypeIndex

# Hand-made 2-D data: distances below are all distinct, so no ties.
X_TRAIN = np.array(
    [
        [0.0, 0.0],
        [1.0, 0.0],
        [0.0, 2.0],
        [5.0, 5.0],
        [10.0, 10.0],  # class "a"
        [0.0, 1.0],
        [3.0, 3.0],
        [4.0, 3.5],
        [8.0, 1.0],  # class "b"
    ]
)
Y_TRAIN = np.array(["a"] * 5 + ["b"] * 4)
X_QUERY = np.array([[0.1, 0.2], [4.0, 4.0]])
# k = 2 nearest of each class, worked out by hand:
# (0.1, 0.2): a -> (0,0), (1,0); b -> (0,1), (3,3)
# (4, 4):     a -> (5,5), (0,2); b -> (4,3.5), (3,3)
EXPECTED = np.array(
    [
        [[0.5, 0.0], [1.5, 2.0]],
        [[2.5, 3.5], [3.5, 3.25]],
    ]
)


def _brute_force(codes_train, y, codes_query, k):
    classes = np.unique(y)
    out = np.empty((len(codes_query), len(classes), codes_train.shape[1]))
    for c, label in enumerate(classes):
        pts = codes_train[y == label]
        for i, q in enumerate(codes_query):
            order = np.argsort(((pts - q) ** 2).sum(axis=1))[: min(k, len(pts))]
            out[i, c] = pts[order].mean(axis=0)
    return out


@parametrize_with_checks(
    [PrototypeIndex(n_neighbors=3), PrototypeIndex(n_neighbors=3, kind="density")]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_input_space_matches_hand_computed_means():
    index = PrototypeIndex(n_neighbors=2).fit(X_TRAIN, Y_TRAIN)
    assert_array_equal(index.classes_, ["a", "b"])
    assert [len(c) for c in index.codes_] == [5, 4] and len(index.trees_) == 2
    assert_array_equal(index.n_neighbors_, [2, 2])
    assert index.encoder_ is None
    assert_array_equal(index.encode(X_QUERY), X_QUERY)
    prototypes, distances = index.query(X_QUERY)
    assert prototypes.shape == (2, 2, 2) and distances.shape == (2, 2)
    assert_allclose(prototypes, EXPECTED)
    assert_allclose(distances, np.linalg.norm(X_QUERY[:, None] - EXPECTED, axis=2))
    assert_allclose(distances[0], [np.hypot(0.4, 0.2), np.hypot(1.4, 1.8)])


def test_density_kind_is_the_authors_gravity_point():
    # S-CFE's kNN term (seed 004, authors' code): local density of a training
    # row = k / sum of distances to its k nearest same-class rows (itself
    # included); the point is the density-weighted mean of the query's k nearest
    k = 3
    index = PrototypeIndex(n_neighbors=k, kind="density").fit(X_TRAIN, Y_TRAIN)
    prototypes, distances = index.query(X_QUERY)
    for c, label in enumerate(["a", "b"]):
        pts = X_TRAIN[Y_TRAIN == label]
        pair = np.linalg.norm(pts[:, None] - pts[None], axis=2)
        rho = k / np.sort(pair, axis=1)[:, :k].sum(axis=1)
        assert_allclose(index.local_density_[c], rho)
        for i, q in enumerate(X_QUERY):
            near = np.argsort(np.linalg.norm(pts - q, axis=1))[:k]
            a = rho[near] / rho[near].sum()
            assert_allclose(prototypes[i, c], a @ pts[near])
    assert_allclose(distances, np.linalg.norm(X_QUERY[:, None] - prototypes, axis=2))
    # a denser neighbour pulls harder than in the plain mean
    plain, _ = PrototypeIndex(n_neighbors=k).fit(X_TRAIN, Y_TRAIN).query(X_QUERY)
    assert not np.allclose(prototypes, plain)


def test_density_kind_with_duplicate_rows_stays_finite():
    X = np.array([[0.0, 0.0]] * 3 + [[1.0, 0.0], [3.0, 0.0]])
    y = np.zeros(5, dtype=int)
    index = PrototypeIndex(n_neighbors=3, kind="density").fit(X, y)
    assert np.isfinite(index.local_density_[0]).all()
    proto, _ = index.query(np.array([[0.1, 0.0]]))
    # the three duplicates (infinitely dense) dominate the weights
    assert np.isfinite(proto).all() and abs(proto[0, 0, 0]) < 1e-5
    only_dupes = PrototypeIndex(n_neighbors=2, kind="density").fit(X[:3], y[:3])
    assert_allclose(only_dupes.local_density_[0], 1.0)


def test_fewer_rows_than_k_uses_the_whole_class():
    index = PrototypeIndex(n_neighbors=5).fit(X_TRAIN, Y_TRAIN)
    assert_array_equal(index.n_neighbors_, [5, 4])
    prototypes, _ = index.query(X_QUERY)
    for i in range(len(X_QUERY)):
        assert_allclose(prototypes[i, 0], X_TRAIN[:5].mean(axis=0))
        assert_allclose(prototypes[i, 1], X_TRAIN[5:].mean(axis=0))
    single = PrototypeIndex(n_neighbors=3).fit(X_TRAIN[3:6], [0, 0, 1])
    assert_array_equal(single.n_neighbors_, [2, 1])
    assert_allclose(single.query(X_QUERY)[0][:, 1], [[0.0, 1.0], [0.0, 1.0]])


@pytest.fixture(scope="module")
def fitted_ae():
    rng = np.random.RandomState(0)
    X = np.vstack([X_TRAIN, rng.normal(4, 3, size=(60, 2))])
    return Autoencoder((16,), 2, max_epochs=5, random_state=0).fit(X)


def test_encoder_space_matches_brute_force(fitted_ae):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(40, 2)) * 3
    y = rng.randint(3, size=40)
    index = PrototypeIndex(n_neighbors=4, encoder=fitted_ae).fit(X, y)
    assert index.encoder_ is fitted_ae  # fitted: used as is, not refitted
    codes = fitted_ae.encode(X).astype(np.float64)
    assert_allclose(
        np.vstack(index.codes_), np.vstack([codes[y == c] for c in range(3)])
    )
    Xq = rng.normal(size=(7, 2)) * 3
    prototypes, distances = index.query(Xq)
    cq = fitted_ae.encode(Xq).astype(np.float64)
    assert_allclose(index.encode(Xq), cq)
    expected = _brute_force(codes, y, cq, k=4)
    assert prototypes.shape == (7, 3, 2)
    assert_allclose(prototypes, expected, rtol=1e-6, atol=1e-7)
    assert_allclose(
        distances, np.linalg.norm(cq[:, None] - expected, axis=2), atol=1e-6
    )


def test_unfitted_encoder_is_cloned_and_fitted():
    ae = Autoencoder((8,), 1, max_epochs=2, random_state=0)
    index = PrototypeIndex(n_neighbors=2, encoder=ae).fit(X_TRAIN, Y_TRAIN)
    assert index.encoder_ is not ae and not ae.initialized_
    check_is_fitted(index.encoder_)
    assert index.query(X_QUERY)[0].shape == (2, 2, 1)


def test_plain_object_with_encode():
    class Halve:
        def encode(self, X):
            return np.asarray(X)[:, :1] / 2

    index = PrototypeIndex(n_neighbors=1, encoder=Halve()).fit(X_TRAIN, Y_TRAIN)
    prototypes, distances = index.query(X_QUERY)
    assert_allclose(prototypes[:, :, 0], [[0.0, 0.0], [2.5, 2.0]])
    assert_allclose(distances, [[0.05, 0.05], [0.5, 0.0]])


def test_one_tree_query_per_class_for_all_rows():
    index = PrototypeIndex(n_neighbors=2).fit(X_TRAIN, Y_TRAIN)
    calls = []

    class Counting:
        def __init__(self, tree):
            self.tree = tree

        def query(self, X, **kwargs):
            calls.append(len(X))
            return self.tree.query(X, **kwargs)

    index.trees_ = [Counting(t) for t in index.trees_]
    index.query(np.random.RandomState(0).normal(size=(50, 2)))
    assert calls == [50, 50]


def test_errors():
    with pytest.raises(ValueError, match="n_neighbors"):
        PrototypeIndex(n_neighbors=0).fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match="encoder"):
        PrototypeIndex(encoder=object()).fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match="Unknown label type"):
        PrototypeIndex().fit(X_TRAIN, np.linspace(0, 1, len(X_TRAIN)))
    index = PrototypeIndex(n_neighbors=2).fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError, match="2 features"):
        index.query(np.zeros((1, 3)))

    class Bad:
        def encode(self, X):
            return np.zeros(len(X))

    with pytest.raises(ValueError, match="codes of shape"):
        PrototypeIndex(encoder=Bad()).fit(X_TRAIN, Y_TRAIN)
