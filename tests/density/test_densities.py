"""Density estimators: sklearn surface, torch closures, class-conditional scatter."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.neighbors import KernelDensity
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import skcf.density._base as density_base
from skcf.density import ClassConditionalDensity, GMMDensity, KDEDensity, KNNDensity
from skcf.exceptions import NotDifferentiableError, SkcfWarning

COV_TYPES = ["full", "tied", "diag", "spherical"]


def _blobs(n_per_class=60, n_features=3, random_state=0):
    """Two Gaussian blobs at x0 = -2 and x0 = +2, labels 0 and 1."""
    rng = np.random.RandomState(random_state)
    centres = np.zeros((2, n_features))
    centres[0, 0], centres[1, 0] = -2.0, 2.0
    X = np.vstack(
        [c + 0.6 * rng.standard_normal((n_per_class, n_features)) for c in centres]
    )
    y = np.repeat([0, 1], n_per_class)
    return X, y


@pytest.fixture(scope="module")
def blobs():
    return _blobs()


def _densities():
    """One fast instance per unconditional density (and GMM covariance type)."""
    yield pytest.param(KDEDensity(bandwidth=0.5), id="kde")
    for cov in COV_TYPES:
        yield pytest.param(
            GMMDensity(n_components=2, covariance_type=cov, random_state=0),
            id=f"gmm-{cov}",
        )
    yield pytest.param(KNNDensity(n_neighbors=5), id="knn-mean")
    yield pytest.param(KNNDensity(n_neighbors=5, aggregate="kth"), id="knn-kth")


def _queries(X, random_state=1):
    rng = np.random.RandomState(random_state)
    near = X[:10] + 0.3 * rng.standard_normal((10, X.shape[1]))
    wide = 4.0 * rng.standard_normal((10, X.shape[1]))
    return np.vstack([near, wide, X[:3]])  # X[:3]: training points themselves


# ---------------------------------------------------------------- agreement


@pytest.mark.parametrize("density", _densities())
def test_torch_agrees_with_score_samples_float64(density, blobs):
    X, _ = blobs
    est = clone(density).fit(X)
    Q = _queries(X)
    expected = est.score_samples(Q)
    got = est.torch_log_density(dtype=torch.float64)(torch.from_numpy(Q))
    assert got.dtype == torch.float64 and got.shape == (Q.shape[0],)
    assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("density", _densities())
def test_torch_agrees_with_score_samples_float32(density, blobs):
    X, _ = blobs
    est = clone(density).fit(X)
    Q = _queries(X)[:20]  # float32 distances at zero are noisy: skip training points
    got = est.torch_log_density()(torch.tensor(Q, dtype=torch.float32))
    assert got.dtype == torch.float32
    assert_allclose(got.numpy(), est.score_samples(Q), rtol=1e-4, atol=1e-4)


def test_kde_matches_sklearn_kernel_density(blobs):
    X, _ = blobs
    est = KDEDensity(bandwidth="silverman").fit(X)
    ref = KernelDensity(bandwidth="silverman").fit(X)
    assert est.bandwidth_ == pytest.approx(ref.bandwidth_)
    assert_allclose(est.score_samples(X[:5]), ref.score_samples(X[:5]))
    assert est.score(X[:5]) == pytest.approx(ref.score(X[:5]))
    assert KDEDensity().fit(X).bandwidth_ == pytest.approx(
        KernelDensity(bandwidth="scott").fit(X).bandwidth_
    )


def test_kde_sample_matches_kernel_density(blobs):
    X, _ = blobs
    est = KDEDensity(bandwidth=0.5).fit(X)
    ref = KernelDensity(bandwidth=0.5).fit(X)
    assert_allclose(est.sample(9, random_state=2), ref.sample(9, random_state=2))


def test_kde_exact_far_from_data():
    """Brute-force logsumexp, also where sklearn's tree KDE is off (13 features)."""
    from scipy.special import logsumexp

    rng = np.random.RandomState(0)
    X = rng.standard_normal((150, 13))
    Q = 3.0 * rng.standard_normal((20, 13))
    est = KDEDensity().fit(X)
    h = est.bandwidth_
    d2 = ((Q[:, None, :] - X[None]) ** 2).sum(axis=2)
    ref = (
        logsumexp(-0.5 * d2 / h**2, axis=1)
        - np.log(len(X))
        - 6.5 * np.log(2 * np.pi * h**2)
    )
    assert_allclose(est.score_samples(Q), ref, rtol=1e-12)
    got = est.torch_log_density(dtype=torch.float64)(torch.from_numpy(Q))
    assert_allclose(got.numpy(), ref, rtol=1e-10)


@pytest.mark.parametrize("cov", COV_TYPES)
def test_gmm_wraps_gaussian_mixture(cov, blobs):
    X, _ = blobs
    est = GMMDensity(n_components=3, covariance_type=cov, random_state=0).fit(X)
    assert_allclose(est.score_samples(X), est.gmm_.score_samples(X))
    assert est.score(X) == pytest.approx(est.gmm_.score(X) * X.shape[0])
    assert est.n_iter_ >= 1


def test_knn_score_is_negative_neighbour_distance():
    X = np.array([[0.0], [1.0], [3.0]])
    q = np.array([[0.5]])
    assert_allclose(KNNDensity(n_neighbors=2).fit(X).score_samples(q), [-0.5])
    assert_allclose(
        KNNDensity(n_neighbors=3, aggregate="kth").fit(X).score_samples(q), [-2.5]
    )


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("density", _densities())
def test_gradient_points_uphill_between_modes(density, blobs):
    X, _ = blobs
    est = clone(density).fit(X)
    log_q = est.torch_log_density(dtype=torch.float64)
    x = torch.tensor([[0.7, 0.2, -0.1]], dtype=torch.float64, requires_grad=True)
    value = log_q(x)
    (grad,) = torch.autograd.grad(value.sum(), x)
    assert torch.isfinite(grad).all() and grad.norm() > 0
    step = x.detach() + 1e-3 * grad / grad.norm()
    assert log_q(step).item() > value.item()
    assert grad[0, 0] > 0  # towards the nearer mode at x0 = +2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("density", _densities())
def test_far_away_points_are_finite(density, dtype, blobs):
    X, _ = blobs
    est = clone(density).fit(X)
    far = torch.tensor(
        [[1e3, -1e3, 0.0], [1e6, 1e6, 1e6], [-50.0, 0.0, 50.0]], dtype=dtype
    ).requires_grad_(True)
    value = est.torch_log_density(dtype=dtype)(far)
    (grad,) = torch.autograd.grad(value.sum(), far)
    assert torch.isfinite(value).all()
    assert torch.isfinite(grad).all()
    assert (grad.abs().sum(dim=1) > 0).all()


@pytest.mark.parametrize("density", _densities())
def test_gradcheck(density, blobs):
    X, _ = blobs
    log_q = clone(density).fit(X).torch_log_density(dtype=torch.float64)
    x = torch.tensor(
        [[0.7, 0.2, -0.1], [-1.3, 0.4, 0.9]], dtype=torch.float64, requires_grad=True
    )
    assert torch.autograd.gradcheck(log_q, (x,), eps=1e-6, atol=1e-5)


def test_knn_gradient_at_training_point_is_finite(blobs):
    X, _ = blobs
    log_q = KNNDensity().fit(X).torch_log_density(dtype=torch.float64)
    x = torch.tensor(X[:4], requires_grad=True)
    (grad,) = torch.autograd.grad(log_q(x).sum(), x)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("density", _densities())
def test_chunked_evaluation_matches(density, blobs, monkeypatch):
    X, _ = blobs
    est = clone(density).fit(X)
    Q = torch.tensor(_queries(X))
    log_q = est.torch_log_density(dtype=torch.float64)
    x_full = Q.clone().requires_grad_(True)
    full = log_q(x_full)
    (g_full,) = torch.autograd.grad(full.sum(), x_full)
    monkeypatch.setattr(density_base, "_MAX_PAIRS", 7 * X.shape[0])
    x_chunk = Q.clone().requires_grad_(True)
    chunked = log_q(x_chunk)
    (g_chunk,) = torch.autograd.grad(chunked.sum(), x_chunk)
    assert_allclose(chunked.detach().numpy(), full.detach().numpy(), rtol=1e-12)
    assert_allclose(g_chunk.numpy(), g_full.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("density", _densities())
def test_closure_does_not_touch_estimator(density, blobs):
    X, _ = blobs
    est = clone(density).fit(X)
    before = joblib.hash(est)
    log_q = est.torch_log_density(dtype=torch.float64)
    x = torch.tensor(X[:5], requires_grad=True)
    torch.autograd.grad(log_q(x).sum(), x)
    assert joblib.hash(est) == before


def test_closure_rejects_bad_queries(blobs):
    X, _ = blobs
    log_q = KDEDensity().fit(X).torch_log_density()
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        log_q(torch.zeros(4, 2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        log_q(np.zeros((4, 3)))


def test_unfitted_torch_log_density_raises():
    from sklearn.exceptions import NotFittedError

    for est in (KDEDensity(), GMMDensity(), KNNDensity(), ClassConditionalDensity()):
        with pytest.raises(NotFittedError):
            est.torch_log_density()


# ---------------------------------------------------------------- sampling


@pytest.mark.parametrize("density", _densities())
def test_sample_shape_and_determinism(density, blobs):
    X, _ = blobs
    est = clone(density).fit(X)
    a = est.sample(7, random_state=3)
    assert a.shape == (7, X.shape[1]) and np.isfinite(a).all()
    assert_array_equal(a, est.sample(7, random_state=3))
    assert not np.array_equal(a, est.sample(7, random_state=4))
    assert est.sample().shape == (1, X.shape[1])


def test_gmm_sample_follows_the_mixture(blobs):
    X, _ = blobs
    est = GMMDensity(n_components=2, random_state=0).fit(X)
    S = est.sample(2000, random_state=0)
    assert_allclose(S.mean(axis=0), X.mean(axis=0), atol=0.15)
    assert 0.4 < (S[:, 0] > 0).mean() < 0.6  # both modes, rows shuffled
    assert 0.3 < (S[:1000, 0] > 0).mean() < 0.7


def test_knn_sample_is_near_training_points(blobs):
    X, _ = blobs
    est = KNNDensity().fit(X)
    S = est.sample(50, random_state=0)
    assert_allclose(est.noise_scale_, 0.1 * X.std(axis=0))
    nearest = np.min(np.linalg.norm(S[:, None] - X[None], axis=2), axis=1)
    assert nearest.max() < 6 * np.linalg.norm(est.noise_scale_)


# ---------------------------------------------------------------- KDE bandwidth


def test_kde_cv_picks_from_grid(blobs):
    X, _ = blobs
    grid = [0.02, 0.4, 8.0]
    est = KDEDensity(bandwidth="cv", bandwidths=grid, cv=3).fit(X)
    assert est.bandwidth_ == pytest.approx(0.4)
    default = KDEDensity(bandwidth="cv", cv=3).fit(X)
    assert np.isclose(default.bandwidth_, np.logspace(-1, 1, 20)).any()


@pytest.mark.parametrize("bad", [[], [0.1, -1.0], [np.nan]])
def test_kde_bad_bandwidths(bad, blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="'bandwidths' parameter of KDEDensity"):
        KDEDensity(bandwidth="cv", bandwidths=bad).fit(X)


@pytest.mark.parametrize(
    "est, name",
    [
        (KDEDensity(bandwidth=-1.0), "bandwidth"),
        (KDEDensity(bandwidth="wide"), "bandwidth"),
        (KDEDensity(kernel="tophat"), "kernel"),
        (GMMDensity(covariance_type="banana"), "covariance_type"),
        (GMMDensity(n_components=0), "n_components"),
        (KNNDensity(n_neighbors=0), "n_neighbors"),
        (KNNDensity(aggregate="median"), "aggregate"),
        (ClassConditionalDensity(density="kde"), "density"),
    ],
)
def test_invalid_parameters_name_the_parameter(est, name, blobs):
    X, y = blobs
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        est.fit(X, y)


def test_knn_clips_n_neighbors():
    X = np.arange(8.0).reshape(4, 2)
    with pytest.warns(SkcfWarning, match="n_neighbors_=4"):
        est = KNNDensity(n_neighbors=10).fit(X)
    assert est.n_neighbors_ == 4
    got = est.torch_log_density(dtype=torch.float64)(torch.from_numpy(X + 0.5))
    assert_allclose(got.numpy(), est.score_samples(X + 0.5))


# ---------------------------------------------------------------- class-conditional


@pytest.mark.parametrize(
    "density",
    [
        KDEDensity(bandwidth=0.5),
        GMMDensity(n_components=1, random_state=0),
        KNNDensity(),
    ],
    ids=["kde", "gmm", "knn"],
)
def test_conditional_per_class_agreement(density, blobs):
    X, y = blobs
    cond = ClassConditionalDensity(density).fit(X, y)
    assert_array_equal(cond.classes_, [0, 1])
    assert set(cond.densities_) == {0, 1}
    assert_allclose(cond.class_prior_, [0.5, 0.5])
    Q = _queries(X)
    for label in (0, 1):
        ref = clone(density).fit(X[y == label]).score_samples(Q)
        assert_allclose(cond.score_samples(Q, np.full(len(Q), label)), ref)
        assert_allclose(cond.densities_[label].score_samples(Q), ref)


@pytest.mark.parametrize(
    "density",
    [
        KDEDensity(bandwidth=0.5),
        GMMDensity(n_components=1, random_state=0),
        KNNDensity(),
    ],
    ids=["kde", "gmm", "knn"],
)
def test_conditional_scatter_with_mixed_classes(density, blobs):
    X, y = blobs
    cond = ClassConditionalDensity(density).fit(X, y)
    Q = _queries(X)
    idx = np.random.RandomState(0).randint(2, size=len(Q))
    expected = cond.score_samples(Q, cond.classes_[idx])
    log_q = cond.torch_log_density(dtype=torch.float64)
    x = torch.tensor(Q, requires_grad=True)
    got = log_q(x, torch.from_numpy(idx))
    assert_allclose(got.detach().numpy(), expected, rtol=1e-5, atol=1e-8)
    # Each row's gradient is that of its own class's density only.
    (grad,) = torch.autograd.grad(got.sum(), x)
    for k, label in enumerate(cond.classes_):
        rows = idx == k
        per_class = cond.densities_[label].torch_log_density(dtype=torch.float64)
        xk = torch.tensor(Q[rows], requires_grad=True)
        (gk,) = torch.autograd.grad(per_class(xk).sum(), xk)
        assert_allclose(grad.numpy()[rows], gk.numpy(), rtol=1e-10, atol=1e-12)
    # A scalar index means the same class for every row.
    assert_allclose(
        log_q(x, torch.tensor(1)).detach().numpy(),
        cond.score_samples(Q, np.ones(len(Q), dtype=int)),
    )


@pytest.mark.parametrize("n_rows", [3, 400])  # every class per row; per-class rows
def test_conditional_closure_checks_class_indices(blobs, n_rows):
    X, y = blobs
    cond = ClassConditionalDensity(KDEDensity(bandwidth=0.5)).fit(X, y)
    log_q = cond.torch_log_density(dtype=torch.float64)
    x = torch.tensor(X[np.arange(n_rows) % len(X)])
    for bad in ([0] * (n_rows - 1) + [2], [-1] * n_rows, [5] * n_rows):
        with pytest.raises(ValueError, match=r"indices in \[0, 2\)"):
            log_q(x, torch.tensor(bad))
        with pytest.raises(ValueError, match=r"indices in \[0, 2\)"):
            log_q.value_and_grad(x, torch.tensor(bad))
    with pytest.raises(TypeError, match="integer tensor"):
        log_q(x, torch.zeros(n_rows))
    with pytest.raises(ValueError, match="one class index per row"):
        log_q(x, torch.zeros(n_rows + 1, dtype=torch.long))
    # rows that all want one class: the same numbers as that class alone
    ones = torch.ones(n_rows, dtype=torch.long)
    alone = cond.densities_[1].torch_log_density(dtype=torch.float64)
    torch.testing.assert_close(log_q(x, ones), alone(x), rtol=0, atol=0)
    for got, want in zip(log_q.value_and_grad(x, ones), alone.value_and_grad(x)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert log_q(x[:0], ones[:0]).shape == (0,)


def test_conditional_classes_order_and_string_labels(blobs):
    X, y = blobs
    labels = np.where(y == 0, "neg", "pos")
    cond = ClassConditionalDensity(KDEDensity(bandwidth=0.5), classes=["pos", "neg"])
    cond.fit(X, labels)
    assert_array_equal(cond.classes_, ["pos", "neg"])
    log_q = cond.torch_log_density(dtype=torch.float64)
    Q = torch.tensor(X[:3])
    assert_allclose(
        log_q(Q, torch.zeros(3, dtype=torch.long)).numpy(),
        cond.densities_["pos"].score_samples(X[:3]),
    )
    S, s_y = cond.sample(6, random_state=0, y="neg")
    assert S.shape == (6, 3) and (s_y == "neg").all()
    S2, s_y2 = cond.sample(40, random_state=0)
    assert set(s_y2) == {"pos", "neg"}
    assert_array_equal(S2, cond.sample(40, random_state=0)[0])


def test_conditional_validation_errors(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="requires y"):
        ClassConditionalDensity().fit(X, None)
    with pytest.raises(ValueError, match=r"Classes \[2\].*no training sample"):
        ClassConditionalDensity(classes=[0, 1, 2]).fit(X, y)
    with pytest.raises(ValueError, match=r"labels \[1\] that are not in the 'classes'"):
        ClassConditionalDensity(classes=[0]).fit(X, y)
    with pytest.raises(ValueError, match="distinct labels"):
        ClassConditionalDensity(classes=[0, 0, 1]).fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        ClassConditionalDensity().fit(X, X[:, 0])
    cond = ClassConditionalDensity(KDEDensity(bandwidth=0.5)).fit(X, y)
    with pytest.raises(ValueError, match="requires y"):
        cond.score_samples(X)
    with pytest.raises(ValueError, match=r"labels \[7\] unknown"):
        cond.score_samples(X[:2], [0, 7])
    with pytest.raises(ValueError, match="one class label per row"):
        cond.score_samples(X[:2], [0])
    log_q = cond.torch_log_density(dtype=torch.float64)
    x = torch.tensor(X[:3])
    with pytest.raises(ValueError, match=r"indices in \[0, 2\)"):
        log_q(x, torch.tensor([0, 2, 1]))
    with pytest.raises(ValueError, match=r"indices in \[0, 2\)"):
        log_q(x, torch.tensor([0, -1, 1]))
    with pytest.raises(TypeError, match="integer tensor"):
        log_q(x, torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        log_q(x, torch.tensor([0, 1]))


def test_conditional_needs_torch_density(blobs):
    X, y = blobs
    cond = ClassConditionalDensity(KernelDensity()).fit(X, y)
    assert cond.score_samples(X[:2], [0, 1]).shape == (2,)
    with pytest.raises(NotDifferentiableError, match="no torch_log_density"):
        cond.torch_log_density()


# ---------------------------------------------------------------- persistence


def _fitted_all(X, y):
    yield KDEDensity(bandwidth=0.5).fit(X)
    yield GMMDensity(n_components=2, random_state=0).fit(X)
    yield KNNDensity().fit(X)
    yield ClassConditionalDensity(GMMDensity(n_components=1, random_state=0)).fit(X, y)


def test_clone_and_pickle_after_fit(blobs):
    X, y = blobs
    for est in _fitted_all(X, y):
        args = (X[:7], y[:7]) if isinstance(est, ClassConditionalDensity) else (X[:7],)
        restored = pickle.loads(pickle.dumps(est))
        assert_array_equal(restored.score_samples(*args), est.score_samples(*args))
        log_q = restored.torch_log_density(dtype=torch.float64)
        torch_args = [torch.tensor(X[:7])]
        if len(args) == 2:
            torch_args.append(torch.from_numpy(y[:7]))
        assert_allclose(log_q(*torch_args).numpy(), est.score_samples(*args), rtol=1e-5)
        fresh = clone(est)
        assert repr(fresh) == repr(est)
        assert not hasattr(fresh, "n_features_in_")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(blobs):
    X, y = blobs
    Q = torch.tensor(_queries(X))
    for est in _fitted_all(X, y):
        cond = isinstance(est, ClassConditionalDensity)
        idx = torch.from_numpy(np.arange(len(Q)) % 2)
        cpu = est.torch_log_density(dtype=torch.float64)
        gpu = est.torch_log_density(device="cuda", dtype=torch.float64)
        a = cpu(Q, idx) if cond else cpu(Q)
        b = gpu(Q.cuda(), idx.cuda()) if cond else gpu(Q.cuda())
        assert b.device.type == "cuda"
        assert_allclose(b.cpu().numpy(), a.numpy(), rtol=1e-10)


# ---------------------------------------------------------------- sklearn checks

EXPECTED_FAILED = {
    "ClassConditionalDensity": {
        "check_methods_sample_order_invariance": (
            "score_samples needs y (the class of each row), which the check "
            "does not pass"
        ),
        "check_methods_subset_invariance": (
            "score_samples needs y (the class of each row), which the check "
            "does not pass"
        ),
    },
}


@parametrize_with_checks(
    [
        KDEDensity(),
        GMMDensity(n_components=2, max_iter=20, random_state=0),
        KNNDensity(),
        ClassConditionalDensity(),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED.get(type(est).__name__, {}),
)
def test_sklearn_compatible_density(estimator, check):
    check(estimator)


# ------------------------------------------------- hand-written KDE gradients
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("n_rows", [1, 7, 40])
def test_kde_value_and_grad_matches_autograd(n_rows, masked, monkeypatch):
    import torch

    from skcf.density import _conditional

    if masked:  # the class-by-class path of large batches
        monkeypatch.setattr(_conditional, "_ALL_CLASSES_BELOW", 0)

    from skcf.density import ClassConditionalDensity, KDEDensity

    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    y = (X[:, 0] > 0).astype(int)
    x = torch.tensor(rng.randn(n_rows, 4))
    kde = KDEDensity(bandwidth=0.7).fit(X)
    f = kde.torch_log_density(dtype=torch.float64)
    xg = x.clone().requires_grad_(True)
    (g_auto,) = torch.autograd.grad(f(xg).sum(), xg)
    v, g = f.value_and_grad(x)
    torch.testing.assert_close(v, f(x))
    torch.testing.assert_close(g, g_auto)

    cond = ClassConditionalDensity(KDEDensity(bandwidth=0.7)).fit(X, y)
    fc = cond.torch_log_density(dtype=torch.float64)
    for cls in (torch.zeros(n_rows, dtype=torch.long), torch.arange(n_rows) % 2):
        xg = x.clone().requires_grad_(True)
        (g_auto,) = torch.autograd.grad(fc(xg, cls).sum(), xg)
        v, g = fc.value_and_grad(x, cls)
        torch.testing.assert_close(v, fc(x, cls))
        torch.testing.assert_close(g, g_auto)
        # each row scored by its own class, on every path (one class, all
        # classes then picked, per-class masks for large batches)
        own = torch.stack(
            [
                cond.densities_[c].torch_log_density(dtype=torch.float64)(x[i : i + 1])[
                    0
                ]
                for i, c in enumerate(cls.tolist())
            ]
        )
        torch.testing.assert_close(v, own)
