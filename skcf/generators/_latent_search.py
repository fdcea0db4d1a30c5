"""Latent-space random search (Pawelczyk et al. 2020; seed 001 App. B.3)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..base import BaseGenerator
from ..utils._docstring import generator_docstring
from ..utils._random import normal, row_keys, uniform
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions
from ._proto import _fit_autoencoder, _torch_autoencoder


@generator_docstring
class LatentSearchGenerator(BaseGenerator):
    """Counterfactuals by random search in an autoencoder's latent space.

    For each factual, ``n_samples`` codes are drawn uniformly in an ℓ2 ball of
    radius ``radius`` around its encoding, decoded, projected onto the
    actionability constraints and classified; of the valid ones, the decoded
    point closest (ℓ2, input space) to the factual is returned. Rows without a
    valid sample search the next shell, out to ``radius · max_rounds``
    (growing spheres in latent space, as C-CHVAE does). Seed 001 App. B.3 used an
    autoencoder 1024-128-32-128-1024, 1280 samples and radius 1.0.

    Gradient-free: the model is only queried through ``predict_proba``, so any
    classifier works, including random forests. All rows of a chunk advance
    together: one decode and one ``predict_proba`` call per round and chunk.

    Parameters
    ----------
    %(estimator)s

    %(target)s

    autoencoder : "auto" or autoencoder, default="auto"
        ``"auto"`` fits :class:`~skcf.density.Autoencoder` (1024-128-32) in
        ``fit``; an instance is used as is when fitted, else cloned and fitted.

    n_samples : int, default=1280
        Codes drawn per row and round.

    radius : float, default=1.0
        Width of each latent shell.

    max_rounds : int, default=10
        Shells searched before a row is given up. ``max_rounds=1`` is seed
        001's setting (App. B.3): one ball of radius ``radius`` (1.0), and the
        rows without a valid sample in it get no counterfactual.

    %(actionability)s

    %(engine)s

    Attributes
    ----------
    autoencoder_ : Autoencoder
        The fitted autoencoder in use.
    estimator_ : object
        The model explained.
    model_ : DifferentiableModel or BlackBoxModel
        View of ``estimator_``.
    classes_ : ndarray
        Class labels in the order of the model's outputs.
    scale_ : ndarray of shape (n_features,)
        Median absolute deviation per feature.
    constraints_ : dict
        Resolved actionability constraints.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    References
    ----------
    Pawelczyk, Broelemann, Kasneci (2020). Learning model-agnostic
    counterfactual explanations for tabular data. WWW. Seed 001, App. B.3.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcf.density import Autoencoder
    >>> from skcf.generators import LatentSearchGenerator
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    >>> ae = Autoencoder(hidden=(32,), latent_dim=8, max_epochs=20, random_state=0)
    >>> gen = LatentSearchGenerator(forest, autoencoder=ae, random_state=0).fit(X)
    >>> cf = gen.explain(X[:10])
    >>> bool(cf.validity >= 0.9)
    True
    """

    _requires_gradients = False

    _parameter_constraints: dict = {
        **BaseGenerator._parameter_constraints,
        "autoencoder": [StrOptions({"auto"}), HasMethods(["fit", "encode"])],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "radius": [Interval(Real, 0, None, closed="neither")],
        "max_rounds": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator,
        *,
        target="opposite",
        autoencoder="auto",
        n_samples=1280,
        radius=1.0,
        max_rounds=10,
        immutable=None,
        increase_only=None,
        decrease_only=None,
        bounds="infer",
        categorical=None,
        integer=None,
        tau=0.0,
        batch_size=1024,
        device=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.target = target
        self.autoencoder = autoencoder
        self.n_samples = n_samples
        self.radius = radius
        self.max_rounds = max_rounds
        self.immutable = immutable
        self.increase_only = increase_only
        self.decrease_only = decrease_only
        self.bounds = bounds
        self.categorical = categorical
        self.integer = integer
        self.tau = tau
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X, y):
        self.autoencoder_ = _fit_autoencoder(self, X)

    def _generate(self, X, y0, tgt, untargeted):
        device = next(self.autoencoder_.module_.parameters()).device
        like = torch.zeros(1, device=device)
        module = _torch_autoencoder(self.autoencoder_, like)
        encode, decode = module.encode, module.decode
        cons = self._engine_constraints(device, torch.float32)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        n, m = len(X), self.n_samples
        X_cf = X.copy()
        n_iter = np.zeros(n, dtype=np.int64)
        step = self.batch_size or n
        # keep one predict_proba call under ~200k points
        step = max(1, min(step, 200_000 // m))
        for s in range(0, n, step):
            rows = np.arange(s, min(s + step, n))
            x0 = torch.as_tensor(X[rows], dtype=torch.float32, device=device)
            lo, hi = cons.row_bounds(x0)
            with torch.no_grad():
                z0 = encode(x0)
            todo = np.ones(len(rows), dtype=bool)
            keys = row_keys(X[rows], seed)
            for k in range(self.max_rounds):
                idx = np.flatnonzero(todo)
                if not idx.size:
                    break
                z = _shell_samples(keys[idx], k, m, z0[idx], self.radius)
                with torch.no_grad():
                    cand = decode(z.reshape(-1, z.shape[-1]))
                    cand = cand.reshape(len(idx), m, -1)
                    lo_k = (
                        lo[idx].unsqueeze(1).expand_as(cand).reshape(-1, cand.shape[-1])
                    )
                    hi_k = (
                        hi[idx].unsqueeze(1).expand_as(cand).reshape(-1, cand.shape[-1])
                    )
                    flat = cons.project(cand.reshape(-1, cand.shape[-1]), lo_k, hi_k)
                    flat = cons.snap(flat, lo_k, hi_k)
                cand = flat.reshape(len(idx), m, -1).double().cpu().numpy()
                proba = self.model_.predict_proba(cand.reshape(len(idx) * m, -1))
                pred = proba.argmax(axis=1).reshape(len(idx), m)
                p = proba.reshape(len(idx), m, -1)
                t = tgt[rows[idx]][:, None]
                p_t = np.take_along_axis(
                    p, np.broadcast_to(t, pred.shape)[..., None], axis=2
                )[..., 0]
                ok = np.where(
                    untargeted[rows[idx]][:, None],
                    pred != y0[rows[idx]][:, None],
                    (pred == t) & (p_t >= self.tau),
                )
                dist = np.linalg.norm(cand - X[rows[idx]][:, None, :], axis=2)
                dist = np.where(ok, dist, np.inf)
                best = dist.argmin(axis=1)
                found = np.isfinite(dist[np.arange(len(idx)), best])
                # keep untouched features bit-identical: add the float32 change
                win = rows[idx[found]]
                x32 = X[win].astype(np.float32).astype(np.float64)
                X_cf[win] = X[win] + (cand[found, best[found]] - x32)
                n_iter[rows[idx]] += 1
                todo[idx[found]] = False
        return X_cf, n_iter


def _shell_samples(keys, k, m, z0, radius):
    """``m`` codes per row, uniform in the shell ``[k·r, (k+1)·r]`` around ``z0``.

    Random numbers are keyed by each row's content and the round
    (:mod:`skcf.utils._random`), so a row's samples do not depend on batch size,
    row order or the other rows of the call.
    """
    dim = z0.shape[1]
    direction = normal(keys, (m, dim), stream=2 * k)
    direction /= np.linalg.norm(direction, axis=2, keepdims=True)
    u = uniform(keys, (m, 1), stream=2 * k + 1)
    inner, outer = k * radius, (k + 1) * radius
    rad = (inner**dim + u * (outer**dim - inner**dim)) ** (1.0 / dim)
    out = torch.as_tensor(direction * rad, dtype=z0.dtype, device=z0.device)
    return z0.unsqueeze(1) + out
