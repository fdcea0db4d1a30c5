"""Autoencoder and VariationalAutoencoder: training, torch access, determinism,
sklearn/skorch conventions (clone, pickle, fitted detection)."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from skcf.density import Autoencoder, VariationalAutoencoder

SMALL = dict(hidden=(32,), latent_dim=4, lr=1e-2, batch_size=32)


@pytest.fixture(scope="module")
def wine():
    X = load_wine().data
    return StandardScaler().fit_transform(X).astype(np.float32)


@pytest.fixture(scope="module")
def ae(wine):
    return Autoencoder(**SMALL, max_epochs=60, random_state=0).fit(wine)


@pytest.fixture(scope="module")
def vae(wine):
    return VariationalAutoencoder(**SMALL, max_epochs=20, random_state=0).fit(wine)


def test_default_architecture_is_seed_001():
    net = Autoencoder(module__n_features=13).initialize()
    enc = [m.out_features for m in net.module_.encoder if hasattr(m, "out_features")]
    dec = [m.out_features for m in net.module_.decoder if hasattr(m, "out_features")]
    assert enc == [1024, 128, 32]
    assert dec == [128, 1024, 13]
    assert net.train_split is None
    assert net.optimizer is torch.optim.Adam


def test_reconstruction_beats_untrained_net_and_variance(ae, wine):
    untrained = Autoencoder(**SMALL, random_state=0, module__n_features=13)
    untrained.initialize()
    err_untrained = -untrained.score_samples(wine).mean()
    err = -ae.score_samples(wine).mean()
    total_variance = wine.var(axis=0).sum()  # error of predicting the mean
    assert err < 0.5 * err_untrained
    assert err < 0.5 * total_variance
    assert ae.history[-1]["train_loss"] < ae.history[0]["train_loss"]


def test_shapes_and_consistency(ae, wine):
    Z = ae.encode(wine)
    assert Z.shape == (178, 4) and Z.dtype == np.float32
    X_rec = ae.decode(Z)
    assert X_rec.shape == (178, 13)
    assert_allclose(ae.reconstruct(wine), X_rec, rtol=1e-5, atol=1e-6)
    assert_allclose(ae.predict(wine.astype(np.float64)), X_rec, rtol=1e-5, atol=1e-6)
    scores = ae.score_samples(wine)
    assert scores.shape == (178,)
    assert_allclose(scores, -((wine - X_rec) ** 2).sum(axis=1), rtol=1e-4)
    assert ae.score(wine) == pytest.approx(scores.sum(), rel=1e-5)


def test_torch_access_is_differentiable(ae, wine):
    grads = [
        None if p.grad is None else p.grad.clone() for p in ae.module_.parameters()
    ]
    x = torch.tensor(wine[:5], requires_grad=True)
    z = ae.module_.encode(x)
    assert z.shape == (5, 4)
    loss = ((ae.module_.decode(z) - x) ** 2).sum()
    (grad,) = torch.autograd.grad(loss, x)
    assert grad.shape == (5, 13) and torch.count_nonzero(grad) > 0
    for p, g in zip(ae.module_.parameters(), grads):  # parameters untouched
        assert (p.grad is None) if g is None else torch.equal(p.grad, g)
    assert_allclose(z.detach().numpy(), ae.encode(wine[:5]), rtol=1e-5, atol=1e-6)


def test_vae_encode_is_the_deterministic_mean(vae, wine):
    Z1, Z2 = vae.encode(wine), vae.encode(wine)
    assert_array_equal(Z1, Z2)
    mu, logvar = vae.module_.encode_dist(torch.as_tensor(wine))
    assert_allclose(Z1, mu.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert logvar.shape == (178, 4)
    assert vae.decode(Z1).shape == (178, 13)
    assert vae.sample(7, random_state=0).shape == (7, 13)
    assert_array_equal(vae.sample(3, random_state=1), vae.sample(3, random_state=1))


@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_vae_loss_has_kl_term(vae, wine, beta):
    vae = clone(vae).set_params(beta=beta, module__n_features=13).initialize()
    x = torch.as_tensor(wine[:10])
    recon = torch.zeros_like(x)
    mu, logvar = torch.full((10, 4), 0.5), torch.full((10, 4), -1.0)
    loss = vae.get_loss((recon, mu, logvar), None, X=x, training=True)
    mse = ((recon - x) ** 2).mean()
    kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1).mean()
    assert kl > 0
    assert loss.item() == pytest.approx((mse + beta * kl / 13).item(), rel=1e-6)


def test_random_state_makes_fit_deterministic_and_does_not_leak(wine):
    state = torch.get_rng_state()
    a = Autoencoder(**SMALL, max_epochs=3, random_state=3).fit(wine)
    assert torch.equal(torch.get_rng_state(), state)
    b = Autoencoder(**SMALL, max_epochs=3, random_state=3).fit(wine)
    c = Autoencoder(**SMALL, max_epochs=3, random_state=4).fit(wine)
    assert_array_equal(a.encode(wine), b.encode(wine))
    assert not np.allclose(a.encode(wine), c.encode(wine))
    v1 = VariationalAutoencoder(**SMALL, max_epochs=2, random_state=0).fit(wine)
    v2 = VariationalAutoencoder(**SMALL, max_epochs=2, random_state=0).fit(wine)
    assert_array_equal(v1.encode(wine), v2.encode(wine))


def test_clone_unfitted():
    est = VariationalAutoencoder((16,), 3, beta=0.5, max_epochs=7, random_state=0)
    cloned = clone(est)
    assert cloned is not est
    params, cloned_params = est.get_params(deep=False), cloned.get_params(deep=False)
    for name in ("hidden", "latent_dim", "beta", "max_epochs", "random_state"):
        assert cloned_params[name] == params[name]
    assert cloned.module is est.module
    assert not cloned.initialized_
    with pytest.raises(NotFittedError):
        check_is_fitted(cloned)


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_fitted_clone_and_pickle_round_trip(name, wine, request):
    net = request.getfixturevalue(name)
    check_is_fitted(net)
    restored = pickle.loads(pickle.dumps(net))
    check_is_fitted(restored)
    assert_array_equal(restored.encode(wine), net.encode(wine))
    assert_array_equal(restored.reconstruct(wine), net.reconstruct(wine))
    cloned = clone(net)
    assert not cloned.initialized_
    assert cloned.get_params()["hidden"] == net.hidden
    refit = cloned.fit(wine)  # same random_state: the same net again
    assert_array_equal(refit.encode(wine), net.encode(wine))


def test_unfitted_raises():
    ae = Autoencoder(**SMALL)
    with pytest.raises(NotFittedError):
        check_is_fitted(ae)
    with pytest.raises(NotFittedError):
        ae.encode(np.zeros((2, 3)))


def test_input_checks(ae, wine):
    with pytest.raises(ValueError, match="13 features"):
        ae.encode(wine[:, :5])
    with pytest.raises(ValueError, match=r"codes of shape \(n_samples, 4\)"):
        ae.decode(np.zeros((2, 3)))


def test_parameter_errors_at_fit(wine):
    Autoencoder(activation="nope", hiden=1)  # never raises in __init__
    with pytest.raises(ValueError, match="'activation' parameter of Autoencoder"):
        Autoencoder(**SMALL, activation="nope").fit(wine)
    with pytest.raises(ValueError, match="'latent_dim' parameter"):
        Autoencoder(hidden=(4,), latent_dim=0).fit(wine)
    with pytest.raises(ValueError, match="'beta' parameter of VariationalAutoencoder"):
        VariationalAutoencoder(**SMALL, beta=-1.0).fit(wine)
    with pytest.raises(ValueError, match="unexpected argument"):
        Autoencoder(**SMALL, hiden=(3,)).fit(wine)
    with pytest.raises(ValueError, match="module__n_features"):
        Autoencoder(**SMALL).initialize()


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_dataframe_input_and_feature_names(wine):
    df = pd.DataFrame(wine, columns=[f"f{i}" for i in range(13)])
    ae = Autoencoder(**SMALL, max_epochs=1, random_state=0).fit(df)
    assert list(ae.feature_names_in_) == list(df.columns)
    assert_allclose(ae.encode(df), ae.encode(wine), rtol=1e-6)
    with pytest.raises(ValueError, match="feature names"):
        ae.encode(df[df.columns[::-1]])


def test_set_params_on_module_and_warm_start(wine):
    ae = Autoencoder(**SMALL, max_epochs=2, random_state=0, warm_start=True)
    ae.fit(wine)
    before = ae.encode(wine)
    ae.partial_fit(wine)
    assert not np.array_equal(before, ae.encode(wine))
    assert len(ae.history) == 4  # 2 epochs per call
    ae.set_params(module__hidden=(8, 8))  # skorch re-builds the module
    assert ae.module_.encoder[0].out_features == 8
