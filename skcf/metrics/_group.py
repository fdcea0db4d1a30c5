"""Group-sparsity and interpretability metrics of GSE (seed 004).

Perturbations ``w = X_cf - X`` of images flattened channels first (``(C, H, W)``
per row) or of tabular rows whose columns fall into groups:

- :func:`group_l0_distance`: ``d_{2,0}(w)``, the number of groups (image
  patches, or a partition of the columns) with a non-zero change;
- :func:`changed_pixels`: ACP, the number of changed pixels ``‖m‖₀`` of the
  pixel mask ``m = sign(Σ_c |w_c|)``;
- :func:`cluster_count`: ANC, the number of 8-connected clusters of ``m``;
- :func:`interpretability_score`: IS, the share of the perturbation's ℓ2 norm
  inside the salient region of a saliency map, with the maps
  :func:`adversarial_saliency_map` (ASM, the paper's) and :func:`grad_cam`.

The attack success rate is :func:`~skcf.metrics.validity_score`; ℓ0 and ℓ2 are
:func:`~skcf.metrics.l0_distance` and :func:`~skcf.metrics.l2_distance`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from ..utils._sklearn_compat import Interval, StrOptions, validate_params
from ._distance import _check_pair, _check_valid, _reduce

__all__ = [
    "adversarial_saliency_map",
    "changed_pixels",
    "cluster_count",
    "grad_cam",
    "group_l0_distance",
    "interpretability_score",
]


# ----------------------------------------------------------------- helpers
def _image_shape(image_shape, n_features, owner):
    """``(C, H, W)`` from ``(H, W)`` or ``(C, H, W)``, checked against the width."""
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"The 'image_shape' parameter of {owner} must be a tuple (H, W) or "
            f"(C, H, W) of positive ints. Got {image_shape!r} instead."
        ) from exc
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"The 'image_shape' parameter of {owner} must be (H, W) or (C, H, W) "
            f"with positive sizes. Got {image_shape!r} instead."
        )
    if shape[0] * shape[1] * shape[2] != n_features:
        raise ValueError(
            f"The 'image_shape' parameter of {owner} is {image_shape!r}, which "
            f"holds {shape[0] * shape[1] * shape[2]} values per image, but the "
            f"rows have {n_features} features; images must be flattened "
            "channels first, (C, H, W) -> C*H*W columns."
        )
    return shape


def _pair(value, name, owner):
    """``(a, b)`` from an int or a pair of positive ints."""
    if isinstance(value, (Integral, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"The {name!r} parameter of {owner} must be an int or a pair of ints. "
            f"Got {value!r} instead."
        ) from exc
    if a < 1 or b < 1:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be positive. Got {value!r} "
            "instead."
        )
    return a, b


def _patch_ids(shape, patch_size, owner):
    """Group id of every column for non-overlapping patches tiling the image.

    A patch holds all channels of its ``ph × pw`` pixels; ids run row-major
    over the patch grid.
    """
    c, h, w = shape
    ph, pw = _pair(patch_size, "patch_size", owner)
    if h % ph or w % pw:
        raise ValueError(
            f"The 'patch_size' parameter of {owner} is {patch_size!r}, which does "
            f"not tile {h}x{w} images: the patch height must divide {h} and its "
            f"width {w}. Choose a divisor (e.g. {_divisor(h, ph)}), or pass "
            "'groups' for another partition."
        )
    rows = np.arange(h)[:, None] // ph
    cols = np.arange(w)[None, :] // pw
    pix = (rows * (w // pw) + cols).reshape(-1)
    return np.tile(pix, c)


def _divisor(n, near):
    divs = [k for k in range(1, n + 1) if n % k == 0]
    return min(divs, key=lambda k: (abs(k - near), k))


def _group_ids(groups, n_features, owner):
    """Group ids ``0..G-1`` from an array of labels, one per column."""
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n_features:
        raise ValueError(
            f"The 'groups' parameter of {owner} must hold one group label per "
            f"feature, shape ({n_features},). Got shape {arr.shape} instead."
        )
    try:
        _, ids = np.unique(arr, return_inverse=True)
    except TypeError as exc:
        raise TypeError(
            f"The 'groups' parameter of {owner} must hold sortable labels (ints "
            f"or strings), got {arr.dtype}."
        ) from exc
    return ids.reshape(-1).astype(np.int64)


def _pixel_mask(delta, shape, atol):
    """``m = sign(Σ_c |w_c|)`` per image, shape ``(n, H, W)``."""
    c, h, w = shape
    return (np.abs(delta) > atol).reshape(-1, c, h, w).any(axis=1)


def _prepare(X, X_cf, valid, func):
    X, X_cf = _check_pair(X, X_cf, func)
    mask = _check_valid(valid, X.shape[0], func)
    delta = X_cf.astype(np.float64) - X.astype(np.float64)
    if mask is not None:
        delta = delta[mask]
    return delta


_COMMON = {
    "X": ["array-like"],
    "X_cf": ["array-like"],
    "valid": ["array-like", None],
    "reduce": [StrOptions({"mean", "median"}), None],
    "atol": [Interval(Real, 0, None, closed="left")],
}


# ----------------------------------------------------------------- d_{2,0}
@validate_params(
    {
        **_COMMON,
        "groups": ["array-like", None],
        "image_shape": [tuple, list, None],
        "patch_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "stride": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
    },
    prefer_skip_nested_validation=True,
)
def group_l0_distance(
    X,
    X_cf,
    *,
    groups=None,
    image_shape=None,
    patch_size=None,
    stride=None,
    valid=None,
    reduce="mean",
    atol=1e-8,
):
    """Number of perturbed groups ``d_{2,0}`` per row (lower is group-sparser).

    ``d_{2,0}(w) = |{i : ‖w_{G_i}‖₂ ≠ 0}|`` for the groups ``G_1..G_k`` (seed
    004, GSE): image patches, a partition of the columns, or single columns
    (then it is the ℓ0 distance).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual rows (images flattened channels first).
    X_cf : array-like of shape (n_samples, n_features)
        Counterfactuals / adversarial examples.
    groups : array-like of shape (n_features,), default=None
        Group label of every column (e.g. one id per one-hot block); excludes
        ``image_shape``.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(C, H, W)``: the groups are ``patch_size`` patches
        spanning all channels.
    patch_size : int or tuple of int, default=None
        Patch height and width (with ``image_shape``).
    stride : int or tuple of int, default=None
        Offset between patches; None means ``patch_size`` (non-overlapping
        patches that must tile the image). ``stride=1`` gives all overlapping
        patches, the paper's definition (8x8 patches there).
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to keep (e.g. successful attacks only, as in the paper).
    reduce : {"mean", "median"} or None, default="mean"
        Aggregation over rows; None returns the per-row counts.
    atol : float, default=1e-8
        A feature counts as changed when ``|w| > atol``.

    Returns
    -------
    distance : float or ndarray of shape (n_kept,)

    See Also
    --------
    changed_pixels : ACP.
    cluster_count : ANC.

    References
    ----------
    Sadiku, Wagner, Pokutta (2025). Group-wise sparse and explainable
    adversarial attacks. ICLR. Seed 004, "Evaluation metrics".

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import group_l0_distance
    >>> X = np.zeros((1, 16))
    >>> X_cf = X.copy(); X_cf[0, [0, 1, 15]] = 1.0  # a 4x4 image
    >>> group_l0_distance(X, X_cf, image_shape=(4, 4), patch_size=2)
    2.0
    >>> group_l0_distance(X, X_cf, image_shape=(4, 4), patch_size=2, stride=1)
    3.0
    >>> group_l0_distance(X, X_cf, groups=[0] * 8 + [1] * 8)
    2.0
    """
    func = "group_l0_distance"
    delta = _prepare(X, X_cf, valid, func)
    d = delta.shape[1]
    changed = np.abs(delta) > atol
    if groups is not None and image_shape is not None:
        raise ValueError(
            f"{func} takes either 'groups' or 'image_shape' (patches), not both."
        )
    if image_shape is None:
        if patch_size is not None or stride is not None:
            raise ValueError(
                f"The 'patch_size' and 'stride' parameters of {func} need "
                "'image_shape'."
            )
        if groups is None:
            return _reduce(changed.sum(axis=1), reduce)
        ids = _group_ids(groups, d, func)
        counts = np.zeros((len(delta), ids.max() + 1 if d else 0), dtype=np.int64)
        np.add.at(counts, (slice(None), ids), changed.astype(np.int64))
        return _reduce((counts > 0).sum(axis=1), reduce)
    shape = _image_shape(image_shape, d, func)
    if patch_size is None:
        raise ValueError(f"{func} with 'image_shape' needs 'patch_size'.")
    if stride is None:
        ids = _patch_ids(shape, patch_size, func)
        return group_l0_distance(
            np.zeros_like(delta), delta, groups=ids, reduce=reduce, atol=atol
        )
    ph, pw = _pair(patch_size, "patch_size", func)
    sh, sw = _pair(stride, "stride", func)
    _, h, w = shape
    if ph > h or pw > w:
        raise ValueError(
            f"The 'patch_size' parameter of {func} ({patch_size!r}) is larger "
            f"than the {h}x{w} images."
        )
    mask = _pixel_mask(delta, shape, atol).astype(np.int64)
    # patch sums from a 2-D cumulative sum: every window in O(1)
    cs = np.zeros((len(mask), h + 1, w + 1), dtype=np.int64)
    cs[:, 1:, 1:] = mask.cumsum(axis=1).cumsum(axis=2)
    top = np.arange(0, h - ph + 1, sh)
    left = np.arange(0, w - pw + 1, sw)
    t, lft = top[:, None], left[None, :]
    sums = (
        cs[:, t + ph, lft + pw]
        - cs[:, t, lft + pw]
        - cs[:, t + ph, lft]
        + cs[:, t, lft]
    )
    return _reduce((sums > 0).sum(axis=(1, 2)), reduce)


# ----------------------------------------------------------------- ACP / ANC
@validate_params(
    {**_COMMON, "image_shape": [tuple, list], "normalize": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def changed_pixels(
    X, X_cf, *, image_shape, normalize=False, valid=None, reduce="mean", atol=1e-8
):
    """ACP: number of changed pixels ``‖m‖₀`` per image (lower is sparser).

    ``m = sign(Σ_c |w_c|) ∈ {0, 1}^{H×W}`` is the pixel mask of the
    perturbation (a pixel counts once whatever its channels); averaged over
    the kept rows it is seed 004's ACP (its tables report counts, e.g. 41.7
    of CIFAR-10's 1024 pixels).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual images flattened channels first.
    X_cf : array-like of shape (n_samples, n_features)
        Perturbed images.
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)``.
    normalize : bool, default=False
        Divide by ``H·W`` (the fraction of pixels changed, as the slides'
        formula ``ACP = Σ‖m‖₀ / (m_s·M·N)`` writes it).
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to keep (successful attacks: the paper's ``m_s``).
    reduce : {"mean", "median"} or None, default="mean"
    atol : float, default=1e-8
        A value counts as changed when ``|w| > atol``.

    Returns
    -------
    acp : float or ndarray of shape (n_kept,)

    References
    ----------
    Seed 004, GSE "Evaluation metrics" (ACP).

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import changed_pixels
    >>> X = np.zeros((2, 2 * 3 * 3))  # two RGB-like 3x3 images, 2 channels
    >>> X_cf = X.copy(); X_cf[0, [0, 9]] = 1.0; X_cf[1, [1, 2, 4]] = 1.0
    >>> changed_pixels(X, X_cf, image_shape=(2, 3, 3), reduce=None).tolist()
    [1, 3]
    """
    func = "changed_pixels"
    delta = _prepare(X, X_cf, valid, func)
    shape = _image_shape(image_shape, delta.shape[1], func)
    counts = _pixel_mask(delta, shape, atol).sum(axis=(1, 2))
    if normalize:
        counts = counts / float(shape[1] * shape[2])
    return _reduce(counts, reduce)


@validate_params(
    {
        **_COMMON,
        "image_shape": [tuple, list],
        "connectivity": [Interval(Integral, 4, 8, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def cluster_count(
    X, X_cf, *, image_shape, connectivity=8, valid=None, reduce="mean", atol=1e-8
):
    """ANC: number of connected clusters of changed pixels per image.

    The connected components of the pixel mask ``m`` (8-connectivity: the
    paper's depth-first search from each undiscovered pixel, neighbours
    including diagonals). Images without a change have 0 clusters.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual images flattened channels first.
    X_cf : array-like of shape (n_samples, n_features)
        Perturbed images.
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)``.
    connectivity : {4, 8}, default=8
        Pixel neighbourhood.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to keep.
    reduce : {"mean", "median"} or None, default="mean"
    atol : float, default=1e-8

    Returns
    -------
    anc : float or ndarray of shape (n_kept,)

    References
    ----------
    Seed 004, GSE "Evaluation metrics" (ANC).

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import cluster_count
    >>> m = np.array([[1, 0, 0, 1],
    ...               [0, 1, 0, 1],
    ...               [0, 0, 0, 0],
    ...               [1, 1, 0, 0]], dtype=float).reshape(1, -1)
    >>> cluster_count(np.zeros_like(m), m, image_shape=(4, 4))
    3.0
    >>> cluster_count(np.zeros_like(m), m, image_shape=(4, 4), connectivity=4)
    4.0
    """
    from scipy import ndimage

    func = "cluster_count"
    conn = int(connectivity)
    if conn not in (4, 8):
        raise ValueError(
            f"The 'connectivity' parameter of {func} must be 4 or 8. Got "
            f"{connectivity!r} instead."
        )
    delta = _prepare(X, X_cf, valid, func)
    shape = _image_shape(image_shape, delta.shape[1], func)
    mask = _pixel_mask(delta, shape, atol)
    if not len(mask):
        return _reduce(np.zeros(0, dtype=np.int64), reduce)
    # one labelling of the whole stack; no connection across images
    plane = (
        np.ones((3, 3), dtype=bool)
        if conn == 8
        else ndimage.generate_binary_structure(2, 1)
    )
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = plane
    labels, _ = ndimage.label(mask, structure=structure)
    # labels are numbered in scan order, so each image holds a contiguous block
    top = labels.reshape(len(mask), -1).max(axis=1)
    before = np.concatenate([[0], np.maximum.accumulate(top)[:-1]])
    counts = np.where(top > 0, top - before, 0)
    return _reduce(counts, reduce)


# ----------------------------------------------------------------- IS
@validate_params(
    {
        "X": ["array-like"],
        "X_cf": ["array-like"],
        "saliency": ["array-like"],
        "percentile": [Interval(Real, 0, 100, closed="both")],
        "image_shape": [tuple, list, None],
        "valid": ["array-like", None],
        "reduce": [StrOptions({"mean", "median"}), None],
    },
    prefer_skip_nested_validation=True,
)
def interpretability_score(
    X, X_cf, saliency, *, percentile=50.0, image_shape=None, valid=None, reduce="mean"
):
    """IS: share of the perturbation inside the salient region (higher is better).

    ``IS(w) = ‖B ⊙ w‖₂ / ‖w‖₂`` with the binary mask ``B = 1[saliency > ν]``,
    ``ν`` the ``percentile``-th percentile of the row's saliency values (seed
    004). Rows without a perturbation are left out of the aggregate (their IS
    is NaN).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Factual rows.
    X_cf : array-like of shape (n_samples, n_features)
        Perturbed rows.
    saliency : array-like of shape (n_samples, n_features) or (n_samples, H*W)
        Saliency per feature (e.g. :func:`adversarial_saliency_map`), or per
        pixel with ``image_shape`` (e.g. :func:`grad_cam`), shared by the
        channels.
    percentile : float, default=50.0
        ``ν`` as a percentile of each row's saliency values, in [0, 100].
    image_shape : tuple, default=None
        ``(H, W)`` or ``(C, H, W)``; needed for per-pixel saliency.
    valid : array-like of shape (n_samples,), dtype=bool, default=None
        Rows to keep.
    reduce : {"mean", "median"} or None, default="mean"

    Returns
    -------
    score : float or ndarray of shape (n_kept,)

    References
    ----------
    Seed 004, GSE "Interpretability metrics".

    Examples
    --------
    >>> import numpy as np
    >>> from skcf.metrics import interpretability_score
    >>> X = np.zeros((1, 4))
    >>> X_cf = np.array([[3.0, 4.0, 0.0, 0.0]])
    >>> saliency = np.array([[0.9, 0.1, 0.8, 0.2]])  # top half: features 0, 2
    >>> interpretability_score(X, X_cf, saliency)
    0.6
    """
    func = "interpretability_score"
    X, X_cf = _check_pair(X, X_cf, func)
    n, d = X.shape
    sal = np.asarray(saliency, dtype=np.float64)
    sal = sal.reshape(len(sal), -1) if sal.ndim > 2 else sal
    if sal.ndim != 2 or sal.shape[0] != n:
        raise ValueError(
            f"The 'saliency' parameter of {func} must have one map per row, shape "
            f"({n}, {d}) or ({n}, H*W). Got shape {sal.shape} instead."
        )
    if sal.shape[1] != d:
        if image_shape is None:
            raise ValueError(
                f"The 'saliency' parameter of {func} has {sal.shape[1]} values per "
                f"row but the rows have {d} features; pass image_shape to spread a "
                "per-pixel map over the channels."
            )
        c, h, w = _image_shape(image_shape, d, func)
        if sal.shape[1] != h * w:
            raise ValueError(
                f"The 'saliency' parameter of {func} must have {d} or {h * w} "
                f"values per row. Got {sal.shape[1]} instead."
            )
        sal = np.tile(sal, (1, c))
    mask = _check_valid(valid, n, func)
    delta = X_cf.astype(np.float64) - X.astype(np.float64)
    if mask is not None:
        delta, sal = delta[mask], sal[mask]
    nu = np.percentile(sal, percentile, axis=1, keepdims=True)
    inside = np.sqrt(((delta * (sal > nu)) ** 2).sum(axis=1))
    total = np.sqrt((delta**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, inside / total, np.nan)
    if reduce is None:
        return score
    return _reduce(score[np.isfinite(score)], reduce)


# ----------------------------------------------------------------- saliency
def _torch_model(estimator, func):
    from ..base import BaseGenerator
    from ..models import as_differentiable

    if isinstance(estimator, BaseGenerator):
        return estimator.model_
    if hasattr(estimator, "logits"):
        return estimator
    return as_differentiable(estimator)


def _class_index(model, labels, n, name, func):
    arr = np.asarray(labels, dtype=object)
    arr = np.full(n, arr.item(), dtype=object) if arr.ndim == 0 else arr
    if arr.shape != (n,):
        raise ValueError(
            f"The {name!r} parameter of {func} must be a label or have shape "
            f"({n},). Got shape {arr.shape} instead."
        )
    classes = getattr(model, "classes", None)
    if classes is None:
        return arr.astype(np.int64)
    lookup = {c: j for j, c in enumerate(np.asarray(classes).tolist())}
    try:
        return np.array([lookup[a.item() if hasattr(a, "item") else a] for a in arr])
    except KeyError as exc:
        raise ValueError(
            f"Unknown class {exc.args[0]!r} in the {name!r} parameter of {func}; "
            f"the model's classes are {list(lookup)}."
        ) from exc


@validate_params(
    {
        "estimator": "no_validation",
        "X": ["array-like"],
        "target": "no_validation",
        "y": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def adversarial_saliency_map(estimator, X, target, y=None):
    """Adversarial saliency map (ASM) of seed 004's interpretability score.

    ``ASM_i = (∂Z_t/∂x_i) · |∂Z_l/∂x_i| · 1_S(i)`` with
    ``S = {i : ∂Z_t/∂x_i ≥ 0 or ∂Z_l/∂x_i ≤ 0}``, ``Z`` the logits, ``l`` the
    true (or predicted) class and ``t`` the target class of the attack.

    Parameters
    ----------
    estimator : object
        A differentiable classifier (anything
        :func:`~skcf.models.as_differentiable` takes) or a fitted generator.
    X : array-like of shape (n_samples, n_features)
        Images (or rows) at which the gradients are taken.
    target : array-like of shape (n_samples,) or label
        Target class ``t`` per row.
    y : array-like of shape (n_samples,), default=None
        True class ``l`` per row; None uses the model's prediction.

    Returns
    -------
    asm : ndarray of shape (n_samples, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.metrics import adversarial_saliency_map
    >>> X = np.array([[0., 0.], [1., 1.], [0., 1.], [1., 0.]])
    >>> clf = LogisticRegression().fit(X, [0, 1, 0, 1])
    >>> adversarial_saliency_map(clf, X[:1], target=1).shape
    (1, 2)
    """
    import torch

    func = "adversarial_saliency_map"
    model = _torch_model(estimator, func)
    X = np.asarray(X, dtype=np.float64)
    x = torch.tensor(X, dtype=model.dtype, device=model.device, requires_grad=True)
    logits = model(x)
    n = len(X)
    t = torch.as_tensor(_class_index(model, target, n, "target", func), device=x.device)
    if y is None:
        lab = logits.detach().argmax(dim=1)
    else:
        lab = torch.as_tensor(_class_index(model, y, n, "y", func), device=x.device)
    (g_t,) = torch.autograd.grad(
        logits.gather(1, t.view(-1, 1)).sum(), x, retain_graph=True
    )
    (g_l,) = torch.autograd.grad(logits.gather(1, lab.view(-1, 1)).sum(), x)
    s = (g_t >= 0) | (g_l <= 0)
    asm = g_t * g_l.abs() * s
    return asm.detach().cpu().numpy().astype(np.float64)


@validate_params(
    {
        "estimator": "no_validation",
        "X": ["array-like"],
        "target": "no_validation",
        "image_shape": [tuple, list],
        "layer": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def grad_cam(estimator, X, target, *, image_shape, layer=None):
    """Grad-CAM saliency of a convolutional network, one map per image.

    The activations ``A`` of ``layer`` (by default the network's last
    ``Conv2d``) are weighted by the spatial mean of ``∂Z_t/∂A`` per channel,
    summed, passed through a ReLU, upsampled bilinearly to the image and
    scaled to ``[0, 1]`` per image (Selvaraju et al., 2017; the class
    activation maps seed 004 compares the perturbations with).

    Parameters
    ----------
    estimator : object
        A differentiable classifier holding a ``torch.nn.Conv2d`` (a skorch
        net, a module, a :class:`~skcf.models.DifferentiableModel`) or a
        fitted generator explaining one.
    X : array-like of shape (n_samples, n_features)
        Images flattened channels first.
    target : array-like of shape (n_samples,) or label
        Class whose evidence is mapped.
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)``.
    layer : torch.nn.Module or str, default=None
        The layer (or its name in ``named_modules``); None: the last
        ``Conv2d``.

    Returns
    -------
    cam : ndarray of shape (n_samples, H*W)

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skcf.metrics import grad_cam
    >>> from skcf.models import DifferentiableModel
    >>> net = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 4, 4)),
    ...     torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(),
    ...     torch.nn.Flatten(), torch.nn.Linear(32, 2))
    >>> model = DifferentiableModel(net)
    >>> cam = grad_cam(model, np.random.rand(3, 16), 1, image_shape=(4, 4))
    >>> cam.shape, bool(cam.min() >= 0 and cam.max() <= 1)
    ((3, 16), True)
    """
    import torch

    func = "grad_cam"
    model = _torch_model(estimator, func)
    module = getattr(model, "module", None)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"{func} needs a torch network; got {type(estimator).__name__}."
        )
    if layer is None:
        convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
        if not convs:
            raise ValueError(
                f"{func} found no torch.nn.Conv2d layer in {type(module).__name__}; "
                "pass layer= (a module or its name)."
            )
        layer = convs[-1]
    elif isinstance(layer, str):
        named = dict(module.named_modules())
        if layer not in named:
            raise ValueError(
                f"Unknown layer {layer!r} for {func}; known: {list(named)[:10]}..."
            )
        layer = named[layer]
    X = np.asarray(X, dtype=np.float64)
    _, h, w = _image_shape(image_shape, X.shape[1], func)
    saved = {}

    def hook(_m, _inp, out):
        saved["a"] = out

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            x = torch.tensor(X, dtype=model.dtype, device=model.device)
            logits = model(x)
            t = _class_index(model, target, len(X), "target", func)
            t = torch.as_tensor(t, device=logits.device)
            a = saved["a"]
            # gradients with respect to the activations only: the network's
            # parameters (the user's model) never get a .grad
            (grad,) = torch.autograd.grad(logits.gather(1, t.view(-1, 1)).sum(), a)
    finally:
        handle.remove()
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * a).sum(dim=1, keepdim=True)).detach()
    cam = torch.nn.functional.interpolate(
        cam, size=(h, w), mode="bilinear", align_corners=False
    )
    cam = cam.view(len(X), -1)
    top = cam.amax(dim=1, keepdim=True)
    cam = torch.where(top > 0, cam / top.clamp_min(1e-30), cam)
    return cam.cpu().numpy().astype(np.float64)
