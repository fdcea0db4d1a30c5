"""Autoencoders as skorch nets: data-manifold models for latent-space search
(seed 001, Pawelczyk et al.) and the reconstruction / prototype terms of CFProto
(seed 000)."""

from __future__ import annotations

import contextlib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import DensityMixin
from sklearn.utils import check_array, check_random_state
from skorch import NeuralNet
from skorch.utils import to_numpy
from torch import Tensor, nn

from ..utils._sklearn_compat import validate_data

__all__ = [
    "Autoencoder",
    "AutoencoderModule",
    "VariationalAutoencoder",
    "VariationalAutoencoderModule",
]

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}

# Rows per forward pass in encode / decode / reconstruct / score_samples.
_INFERENCE_BATCH = 4096


def _check_architecture(owner, n_features, hidden, latent_dim, activation):
    """Raise a readable error for a bad architecture (called at build time)."""
    if not isinstance(n_features, Integral) or n_features < 1:
        raise ValueError(
            f"{owner} needs a positive input width n_features; got {n_features!r}. "
            "Call fit(X) or pass module__n_features."
        )
    if not isinstance(hidden, tuple | list) or not all(
        isinstance(h, Integral) and h >= 1 for h in hidden
    ):
        raise ValueError(
            f"The 'hidden' parameter of {owner} must be a tuple of positive ints "
            f"(layer widths from the input to the code). Got {hidden!r} instead."
        )
    if not isinstance(latent_dim, Integral) or latent_dim < 1:
        raise ValueError(
            f"The 'latent_dim' parameter of {owner} must be an int in the range "
            f"[1, inf). Got {latent_dim!r} instead."
        )
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"The 'activation' parameter of {owner} must be one of "
            f"{sorted(_ACTIVATIONS)}. Got {activation!r} instead."
        )


def _stack(sizes, activation, *, last_activation=False):
    """``Linear`` layers through ``sizes`` with ``activation`` between them."""
    layers: list[nn.Module] = []
    n_layers = len(sizes) - 1
    for i in range(n_layers):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if last_activation or i < n_layers - 1:
            layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class AutoencoderModule(nn.Module):
    """Symmetric fully connected autoencoder (the torch module of `Autoencoder`).

    Parameters
    ----------
    n_features : int
        Input (and output) width.
    hidden : tuple of int, default=(1024, 128)
        Encoder hidden widths; the decoder mirrors them.
    latent_dim : int, default=32
        Code width.
    activation : {"relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid"}, \
default="relu"
        Non-linearity after every hidden layer. The code and the output are
        linear.

    Examples
    --------
    >>> import torch
    >>> from skcf.density._autoencoder import AutoencoderModule
    >>> m = AutoencoderModule(5, hidden=(8,), latent_dim=2)
    >>> m.encode(torch.zeros(3, 5)).shape, m(torch.zeros(3, 5)).shape
    (torch.Size([3, 2]), torch.Size([3, 5]))
    """

    def __init__(
        self,
        n_features: int,
        hidden=(1024, 128),
        latent_dim: int = 32,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        _check_architecture(
            type(self).__name__, n_features, hidden, latent_dim, activation
        )
        self.encoder = _stack((n_features, *hidden, latent_dim), activation)
        self.decoder = _stack((latent_dim, *reversed(hidden), n_features), activation)

    def encode(self, x: Tensor) -> Tensor:
        """Code of ``x`` (differentiable)."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Reconstruction from the code ``z`` (differentiable)."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


class VariationalAutoencoderModule(nn.Module):
    """Gaussian VAE with the same layout (the torch module of
    `VariationalAutoencoder`).

    The encoder ends in two linear heads, the mean and the log-variance of
    ``q(z | x)``. ``encode`` returns the mean, so codes are deterministic.

    Parameters
    ----------
    n_features : int
        Input (and output) width.
    hidden : tuple of int, default=(1024, 128)
        Encoder hidden widths; the decoder mirrors them.
    latent_dim : int, default=32
        Code width.
    activation : {"relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid"}, \
default="relu"
        Non-linearity after every hidden layer.

    Examples
    --------
    >>> import torch
    >>> from skcf.density._autoencoder import VariationalAutoencoderModule
    >>> m = VariationalAutoencoderModule(5, hidden=(8,), latent_dim=2).eval()
    >>> recon, mu, logvar = m(torch.zeros(3, 5))
    >>> recon.shape, mu.shape, bool(torch.equal(m.encode(torch.zeros(3, 5)), mu))
    (torch.Size([3, 5]), torch.Size([3, 2]), True)
    """

    def __init__(
        self,
        n_features: int,
        hidden=(1024, 128),
        latent_dim: int = 32,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        _check_architecture(
            type(self).__name__, n_features, hidden, latent_dim, activation
        )
        self.encoder = _stack((n_features, *hidden), activation, last_activation=True)
        width = hidden[-1] if len(hidden) else n_features
        self.mu = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)
        self.decoder = _stack((latent_dim, *reversed(hidden), n_features), activation)

    def encode_dist(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of ``q(z | x)`` (differentiable)."""
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def encode(self, x: Tensor) -> Tensor:
        """Mean code of ``x`` (differentiable, deterministic)."""
        return self.encode_dist(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        """Reconstruction from the code ``z`` (differentiable)."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(reconstruction, mu, logvar)``; in training mode the code is drawn
        by the reparameterisation trick, in eval mode it is the mean."""
        mu, logvar = self.encode_dist(x)
        z = mu
        if self.training:
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decode(z), mu, logvar


class Autoencoder(DensityMixin, NeuralNet):
    """Fully connected autoencoder trained on reconstruction, as a skorch net.

    The encoder maps ``n_features -> hidden[0] -> ... -> latent_dim`` and the
    decoder mirrors it back to ``n_features`` (ReLU between layers, linear code and
    output, so standardised data is fine). The defaults ``hidden=(1024, 128)``,
    ``latent_dim=32`` give seed 001's 1024-128-32-128-1024 network (their
    "Pawelczyk et al." latent-search baseline); smaller nets fit tabular data as
    well and faster. ``fit(X)`` minimises the mean squared reconstruction error
    with Adam; ``y`` is ignored.

    The input width is not a parameter: ``fit`` records ``n_features_in_`` and
    the overridden ``initialize_module`` builds the module for it (skorch's
    customisation hook, so ``module__*`` parameters and re-initialisation on
    ``set_params(module__...)`` keep working). To build the net before seeing data
    (``initialize()``), pass ``module__n_features``.

    The engine differentiates through the fitted torch module:
    ``ae.module_.encode(x)`` and ``ae.module_.decode(z)`` map tensors to tensors.
    The numpy methods `encode`, `decode` and `reconstruct` run without gradients.
    `score_samples` is the negative squared reconstruction error of each row
    (CFProto's ``L_AE``), usable as a plausibility score (higher is better).

    Parameters
    ----------
    hidden : tuple of int, default=(1024, 128)
        Widths of the encoder's hidden layers, from the input towards the code;
        the decoder uses them in reverse order.

    latent_dim : int, default=32
        Width of the code.

    activation : {"relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid"}, \
default="relu"
        Non-linearity after every hidden layer.

    max_epochs : int, default=50
        Training epochs (seed 001 does not state its AE's training schedule).

    lr : float, default=1e-3
        Learning rate.

    batch_size : int, default=64
        Rows per training step.

    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimiser; its options go through ``optimizer__*``.

    device : str, default="cpu"
        Torch device for training and inference, e.g. ``"cuda"``.

    verbose : int, default=0
        skorch's verbosity: 0 is silent, 1 prints a table of epoch losses.

    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation and the shuffling of ``fit`` (and the
        latent noise of the VAE). The global torch RNG state is saved before and
        restored after ``fit``, so seeding leaks nowhere. None uses the global
        torch RNG, as plain skorch does.

    **kwargs
        Other `skorch.NeuralNet` parameters: ``module`` (default
        `AutoencoderModule`, which receives ``n_features``, ``hidden``,
        ``latent_dim`` and ``activation``), ``criterion`` (default
        ``torch.nn.MSELoss``), ``train_split`` (default None: all rows train),
        ``callbacks``, ``warm_start``, and any ``module__*``, ``optimizer__*``,
        ``iterator_train__*`` parameter. skorch rejects unknown names.

    Attributes
    ----------
    module_ : AutoencoderModule
        The fitted network, with ``encode`` and ``decode`` on tensors.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.
    history_ : skorch.History
        Training losses per epoch and batch.
    initialized_ : bool
        Whether the module has been built (True after ``fit``); sklearn's
        ``check_is_fitted`` uses it.

    See Also
    --------
    VariationalAutoencoder : the Gaussian variational variant.
    PrototypeIndex : class prototypes in the code space of a fitted autoencoder.

    Notes
    -----
    Changing ``hidden``, ``latent_dim`` or ``activation`` with ``set_params``
    takes effect at the next ``fit`` (or ``initialize``), which rebuilds the
    module unless ``warm_start=True``.

    References
    ----------
    Black, Wang, Datta, Fredrikson. Consistent counterfactuals for deep models.
    Seed 001, App. B.3 ("Pawelczyk et al.": AE 1024-128-32-128-1024).

    Van Looveren, Klaise (2019). Interpretable counterfactual explanations guided
    by prototypes. Seed 000, App. A.1 (``L_AE`` and ``L_proto``).

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.density import Autoencoder
    >>> X = StandardScaler().fit_transform(load_wine().data)
    >>> ae = Autoencoder((32,), 4, max_epochs=30, lr=1e-2, random_state=0).fit(X)
    >>> ae.encode(X[:5]).shape
    (5, 4)
    >>> ae.decode(ae.encode(X[:5])).shape
    (5, 13)
    >>> err = -ae.score_samples(X).mean()  # squared error per row
    >>> bool(err < 0.5 * X.var(axis=0).sum())  # well below the data variance
    True
    """

    def __init__(
        self,
        hidden=(1024, 128),
        latent_dim=32,
        *,
        activation="relu",
        max_epochs=50,
        lr=1e-3,
        batch_size=64,
        optimizer=torch.optim.Adam,
        device="cpu",
        verbose=0,
        random_state=None,
        **kwargs,
    ):
        kwargs.setdefault("module", AutoencoderModule)
        kwargs.setdefault("criterion", nn.MSELoss)
        kwargs.setdefault("train_split", None)
        super().__init__(
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            device=device,
            verbose=verbose,
            **kwargs,
        )
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.activation = activation
        self.random_state = random_state

    # ------------------------------------------------------------------ skorch
    def initialize_module(self):
        """Build the module for ``n_features_in_`` (or ``module__n_features``)."""
        params = self.get_params_for("module")
        if isinstance(self.module, nn.Module):  # a ready instance: skorch's rules
            self.module_ = self.initialized_instance(self.module, params)
            return self
        kwargs = {
            "hidden": tuple(self.hidden)
            if isinstance(self.hidden, list)
            else self.hidden,
            "latent_dim": self.latent_dim,
            "activation": self.activation,
            **params,
        }
        if getattr(self, "n_features_in_", None) is not None:
            kwargs["n_features"] = self.n_features_in_
        name = type(self).__name__
        _check_architecture(
            name,
            kwargs.get("n_features"),
            kwargs["hidden"],
            kwargs["latent_dim"],
            kwargs["activation"],
        )
        self.module_ = self.module(**kwargs)
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Reconstruction loss ``criterion(reconstruction, X)``; ``y_true`` is
        ignored (skorch passes a placeholder when ``y`` is None)."""
        return super().get_loss(y_pred, X, X=X, training=training)

    def fit(self, X, y=None, **fit_params):
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, converted to float32.
        y : None
            Ignored.
        **fit_params : dict
            Passed to skorch's ``fit`` (e.g. to the module's ``forward``).

        Returns
        -------
        self : object
            The fitted autoencoder.
        """
        warm = self.warm_start and self.initialized_
        X = self._check_train_data(X, reset=not warm)
        with self._seeded():
            return super().fit(X, None, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue training on ``X`` (builds the module on first use).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, converted to float32.
        y : None
            Ignored.
        classes : None
            Ignored.
        **fit_params : dict
            Passed to skorch's ``partial_fit``.

        Returns
        -------
        self : object
            The autoencoder.
        """
        X = self._check_train_data(X, reset=not self.initialized_)
        with self._seeded():
            return super().partial_fit(X, None, classes=classes, **fit_params)

    def _check_train_data(self, X, reset):
        X = validate_data(self, X, reset=reset, dtype=np.float32)
        # read-only arrays (e.g. from pandas) would make torch warn in the loader
        return np.require(X, requirements="W")

    def predict_proba(self, X):
        """skorch's prediction, i.e. the reconstructions (see `reconstruct`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows, converted to float32.

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features)
            The module's output (the first one for a VAE) in eval mode.
        """
        self.check_is_fitted()
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return super().predict_proba(X)

    @contextlib.contextmanager
    def _seeded(self):
        """Seed torch's RNGs from ``random_state`` and restore them afterwards."""
        if self.random_state is None:
            yield
            return
        if isinstance(self.random_state, Integral):
            seed = int(self.random_state)
        else:
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        device = torch.device(self.device or "cpu")
        cuda = device.type == "cuda" and torch.cuda.is_available()
        index = None
        if cuda:
            index = device.index
            if index is None:
                index = torch.cuda.current_device()
        with torch.random.fork_rng(devices=[index] if cuda else []):
            torch.default_generator.manual_seed(seed)
            if cuda:
                torch.cuda.default_generators[index].manual_seed(seed)
            yield

    # ------------------------------------------------------------------ numpy API
    def _latent_width(self):
        decoder = getattr(self.module_, "decoder", None)
        first = decoder[0] if isinstance(decoder, nn.Sequential) else None
        return getattr(first, "in_features", self.latent_dim)

    def _map(self, fn, X, *, codes=False):
        """``fn(module, x)`` on chunks of ``X`` as tensors, without gradients."""
        self.check_is_fitted()
        if codes:
            X = check_array(X, dtype=np.float32)
            width = self._latent_width()
            if X.shape[1] != width:
                raise ValueError(
                    f"{type(self).__name__}.decode expects codes of shape "
                    f"(n_samples, {width}); got shape {X.shape}."
                )
        else:
            X = validate_data(self, X, reset=False, dtype=np.float32)
        X = np.require(X, requirements="W")  # torch warns on read-only arrays
        module = self.module_
        device = next(module.parameters()).device
        out = []
        with torch.no_grad():
            for start in range(0, len(X), _INFERENCE_BATCH):
                x = torch.as_tensor(X[start : start + _INFERENCE_BATCH], device=device)
                out.append(to_numpy(fn(module, x)))
        return np.concatenate(out)

    def encode(self, X):
        """Codes of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to encode.

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim)
            The codes (float32; the posterior mean for a VAE).
        """
        return self._map(lambda m, x: m.encode(x), X)

    def decode(self, Z):
        """Reconstructions from codes.

        Parameters
        ----------
        Z : array-like of shape (n_samples, latent_dim)
            Codes.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            Decoded rows (float32).
        """
        return self._map(lambda m, z: m.decode(z), Z, codes=True)

    def reconstruct(self, X):
        """``decode(encode(X))``, in one pass.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to reconstruct.

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features)
            Reconstructions (float32; through the mean code for a VAE).
        """
        return self._map(lambda m, x: m.decode(m.encode(x)), X)

    def score_samples(self, X):
        """Negative squared reconstruction error of each row (higher = more
        typical of the training data).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-||x - decode(encode(x))||_2^2`` per row.
        """
        return self._map(lambda m, x: -((x - m.decode(m.encode(x))) ** 2).sum(dim=1), X)

    def score(self, X, y=None):
        """Total score of ``X``: the sum of `score_samples`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Negative total squared reconstruction error.
        """
        return float(np.sum(self.score_samples(X), dtype=np.float64))


class VariationalAutoencoder(Autoencoder):
    """Gaussian variational autoencoder (beta-VAE), as a skorch net.

    Same layout as `Autoencoder`, but the encoder outputs the mean and the
    log-variance of a diagonal Gaussian ``q(z | x)``. Training minimises the
    criterion (mean squared error over entries) plus ``beta`` times the KL
    divergence to ``N(0, I)`` per row, divided by ``n_features``; with the default
    criterion this is ``mean_rows(||x - x_rec||^2 + beta * KL) / n_features``, the
    negative ELBO of a Gaussian decoder up to constants. `encode` (and
    ``module_.encode``) return the mean, so codes are deterministic, as seed 001
    requires of latent representations ("we can only use the mean");
    ``module_.encode_dist(x)`` returns ``(mu, logvar)``. `sample` decodes draws
    from the prior.

    Parameters
    ----------
    hidden : tuple of int, default=(1024, 128)
        Widths of the encoder's hidden layers; the decoder uses them reversed.

    latent_dim : int, default=32
        Width of the code.

    activation : {"relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid"}, \
default="relu"
        Non-linearity after every hidden layer.

    beta : float, default=1.0
        Weight of the KL term (1 is the standard VAE).

    max_epochs : int, default=50
        Training epochs.

    lr : float, default=1e-3
        Learning rate.

    batch_size : int, default=64
        Rows per training step.

    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimiser; its options go through ``optimizer__*``.

    device : str, default="cpu"
        Torch device for training and inference.

    verbose : int, default=0
        skorch's verbosity.

    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the shuffling and the latent noise of ``fit``;
        the global torch RNG state is restored afterwards.

    **kwargs
        Other `skorch.NeuralNet` parameters (``module`` defaults to
        `VariationalAutoencoderModule`, ``criterion`` to ``torch.nn.MSELoss``,
        ``train_split`` to None).

    Attributes
    ----------
    module_ : VariationalAutoencoderModule
        The fitted network (``encode``, ``encode_dist``, ``decode`` on tensors).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.
    history_ : skorch.History
        Training losses.
    initialized_ : bool
        Whether the module has been built.

    See Also
    --------
    Autoencoder : the deterministic autoencoder (seed 001's choice).

    References
    ----------
    Kingma, Welling (2014). Auto-encoding variational Bayes.

    Pawelczyk, Broelemann, Kasneci (2020). Learning model-agnostic counterfactual
    explanations for tabular data (C-CHVAE). Seed 001, App. B.3 explains why it
    uses the mean code only.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.density import VariationalAutoencoder
    >>> X = StandardScaler().fit_transform(load_wine().data)
    >>> vae = VariationalAutoencoder((32,), 2, max_epochs=5, random_state=0).fit(X)
    >>> Z = vae.encode(X[:4])
    >>> Z.shape, bool(np.array_equal(Z, vae.encode(X[:4])))  # the mean: repeatable
    ((4, 2), True)
    >>> vae.sample(3, random_state=0).shape
    (3, 13)
    """

    def __init__(
        self,
        hidden=(1024, 128),
        latent_dim=32,
        *,
        activation="relu",
        beta=1.0,
        max_epochs=50,
        lr=1e-3,
        batch_size=64,
        optimizer=torch.optim.Adam,
        device="cpu",
        verbose=0,
        random_state=None,
        **kwargs,
    ):
        kwargs.setdefault("module", VariationalAutoencoderModule)
        super().__init__(
            hidden,
            latent_dim,
            activation=activation,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            optimizer=optimizer,
            device=device,
            verbose=verbose,
            random_state=random_state,
            **kwargs,
        )
        self.beta = beta

    def initialize_module(self):
        """Check ``beta``, then build the module as `Autoencoder` does."""
        if not isinstance(self.beta, Real) or not self.beta >= 0:
            raise ValueError(
                f"The 'beta' parameter of {type(self).__name__} must be a float in "
                f"the range [0, inf). Got {self.beta!r} instead."
            )
        return super().initialize_module()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``criterion(reconstruction, X) + beta * KL / n_features``, with the KL
        divergence of ``q(z | x)`` from ``N(0, I)`` summed over the code and
        averaged over rows. ``y_pred`` is the module's ``(recon, mu, logvar)``."""
        if not isinstance(y_pred, tuple):  # a module returning only x_rec
            return super().get_loss(y_pred, y_true, X=X, training=training)
        recon, mu, logvar = y_pred
        loss = super().get_loss(recon, y_true, X=X, training=training)
        kl = -0.5 * torch.sum(1.0 + logvar - mu**2 - logvar.exp(), dim=1).mean()
        return loss + self.beta * kl / recon.shape[1]

    def sample(self, n_samples=1, random_state=None):
        """Decode codes drawn from the prior ``N(0, I)``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the prior draws (numpy; torch's RNG is not used).

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            Generated rows.
        """
        self.check_is_fitted()
        rng = check_random_state(random_state)
        return self.decode(rng.standard_normal((n_samples, self._latent_width())))
