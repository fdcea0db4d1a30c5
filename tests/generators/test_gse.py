"""GroupSparseGenerator (GSE, seed 004): prox operators, groups, metrics."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skcf._engine import (
    GroupCount,
    GroupNeighbourhood,
    GroupSparseNAG,
    ImageNeighbourhood,
    LambdaSearch,
    TermContext,
    prox_lp,
)
from skcf._engine._prox import lp_threshold, lp_weight_at_threshold
from skcf.exceptions import CounterfactualWarning
from skcf.generators import GroupSparseGenerator, PGDGenerator
from skcf.metrics import (
    adversarial_saliency_map,
    changed_pixels,
    cluster_count,
    grad_cam,
    group_l0_distance,
    interpretability_score,
    l2_distance,
)
from skcf.models import DifferentiableModel

POWERS = [0.0, 0.5, 2.0 / 3.0, 1.0]
UNIT_BOX = {j: (0.0, 1.0) for j in range(64)}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:600] / 16.0, y[:600]
    clf = LogisticRegression(max_iter=200).fit(X, y)
    return X, y, clf


def _fit(clf, X, **kw):
    params = dict(target="other", image_shape=(8, 8), patch_size=2, bounds=UNIT_BOX)
    return GroupSparseGenerator(clf, **{**params, **kw}).fit(X)


# ------------------------------------------------------------------ prox
def _penalty(w, p):
    return (w != 0).astype(float) if p == 0 else np.abs(w) ** p


@pytest.mark.parametrize("p", POWERS)
def test_prox_matches_brute_force(p):
    rng = np.random.default_rng(0)
    z = rng.uniform(-4, 4, 100)
    theta = rng.uniform(0.01, 2.0, 100)
    w = prox_lp(torch.tensor(z), torch.tensor(theta), p).numpy()
    grid = np.linspace(-5, 5, 50001)
    obj = 0.5 * (grid[None, :] - z[:, None]) ** 2 + theta[:, None] * _penalty(
        grid[None, :], p
    )
    best = obj.min(axis=1)
    ours = 0.5 * (w - z) ** 2 + theta * _penalty(w, p)
    # the closed form is at least as good as the grid (and the grid is fine)
    assert (ours <= best + 1e-9).all()
    assert_allclose(ours, best, atol=1e-4)
    assert (np.sign(w) * np.sign(z) >= 0).all()  # never flips the sign


@pytest.mark.parametrize("p", POWERS)
def test_prox_threshold_and_inverse(p):
    theta = torch.tensor([0.3, 1.0, 2.5], dtype=torch.float64)
    t = lp_threshold(theta, p)
    assert_allclose(lp_weight_at_threshold(t, p), theta, rtol=1e-10)
    assert (prox_lp(t * 0.999, theta, p) == 0).all()
    if p < 1:  # soft thresholding is continuous: just above t it is tiny
        assert (prox_lp(t * 1.001, theta, p).abs() > 0.1 * t).all()
    assert_array_equal(prox_lp(torch.tensor([1.5, -2.0]), 0.0, p), [1.5, -2.0])


def test_prox_rejects_other_powers():
    with pytest.raises(ValueError, match="1/2, 2/3 or 1"):
        prox_lp(torch.zeros(2), 1.0, 0.3)


# ----------------------------------------------------- engine pieces
def test_image_neighbourhood_blur_is_local():
    hood = ImageNeighbourhood((2, 9, 9), kernel_size=5, sigma=1.0)
    support = torch.zeros(1, 2 * 81, dtype=torch.bool)
    support[0, 81 + 4 * 9 + 4] = True  # centre pixel, second channel
    m = hood.smooth(support).view(9, 9)
    assert m[4, 4] == m.max() and (m[2:7, 2:7] > 0).all()
    assert (m[:2] == 0).all() and (m[:, 7:] == 0).all()  # exactly 0 far away
    assert hood.to_columns(m.view(1, -1)).shape == (1, 162)


def test_group_neighbourhood_is_group_fraction():
    hood = GroupNeighbourhood(torch.tensor([0, 0, 1, 1, 1, 2]))
    support = torch.tensor([[True, False, False, False, False, False]])
    assert_allclose(hood.smooth(support)[0].numpy(), [0.5, 0.5, 0, 0, 0, 0])


def test_lambda_search_brackets_then_bisects():
    search = LambdaSearch(1.0, n_steps=4, factor=0.5)
    st = search.init(2, torch.zeros(2, 3))
    search.update(st, torch.tensor([True, False]))
    assert_allclose(st["radius"].numpy(), [2.0, 0.5])
    search.update(st, torch.tensor([False, True]))
    assert_allclose(st["radius"].numpy(), [1.5, 0.75])  # bisect in [1, 2], [.5, 1]
    assert_allclose(st["c"].numpy(), [1.0, 1.0])  # the prediction weight stays 1


def test_group_count_cost():
    cost = GroupCount(torch.tensor([0, 0, 1, 1]))
    x0 = torch.zeros(2, 4)
    x = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 3.0, 4.0, 0.0]])
    ctx = TermContext(x, x0, torch.zeros(2, 2), None, None, None)
    assert_allclose(cost(ctx).numpy(), [1 + 1 / 2, 2 + 5 / 6], rtol=1e-6)


def test_solver_selects_coordinates_then_stays_on_them():
    # a linear loss: phase 2 may only move the coordinates phase 1 selected
    d = 6
    solver = GroupSparseNAG(lr=0.1, p=0.5, k_hat=3, q=0.25)
    x0 = torch.zeros(1, d)
    state = solver.init(x0)
    grad = torch.tensor([[-1.0, -0.2, -0.1, 0.0, 0.0, -0.05]])
    from skcf._engine._solvers import StepContext

    for k in range(8):
        ctx = StepContext(x0, x0 - 10, x0 + 10, lambda v: v, 1.0, k, 8)
        solver.step(state, grad, ctx)
    moved = (state["x"] != 0)[0]
    assert moved[0] and moved.sum() == 1  # the steepest coordinate alone
    assert_array_equal(state["keep"][0].numpy(), moved.float().numpy())


def test_first_step_moves_even_when_the_steepest_coordinate_is_pinned():
    # coordinate 0 has the largest gradient but sits on its lower bound
    solver = GroupSparseNAG(lr=0.1, p=0.5, k_hat=5, q=0.25)
    x0 = torch.zeros(1, 3)
    lo, hi = torch.tensor([[0.0, -1.0, -1.0]]), torch.ones(1, 3)
    state = solver.init(x0)
    from skcf._engine._solvers import StepContext

    ctx = StepContext(x0, lo, hi, lambda v: torch.clamp(v, lo, hi), 1.0, 0, 10)
    solver.step(state, torch.tensor([[5.0, 1.0, 0.5]]), ctx)
    assert_array_equal((state["x"] != 0)[0].numpy(), [False, True, False])


# ------------------------------------------------------------ groups
def test_patch_groups_tile_the_image_across_channels(digits):
    X, _, clf = digits
    gen = _fit(clf, X)
    assert gen.n_groups_ == 16 and gen.image_shape_ == (1, 8, 8)
    assert_array_equal(gen.groups_[:8], [0, 0, 1, 1, 2, 2, 3, 3])
    assert_array_equal(gen.groups_[8:16], [0, 0, 1, 1, 2, 2, 3, 3])
    assert gen.groups_[16] == 4
    from skcf.metrics._group import _patch_ids

    ids = _patch_ids((3, 4, 4), 2, "test")
    assert_array_equal(ids[:16], ids[16:32])  # a patch holds all channels
    assert len(np.unique(ids)) == 4


def test_group_ids_from_array_and_defaults():
    rng = np.random.default_rng(0)
    X = np.hstack([rng.normal(size=(80, 3)), np.eye(3)[rng.integers(0, 3, 80)]])
    y = (X[:, 0] + X[:, 3] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    gen = GroupSparseGenerator(clf, groups=["a", "a", "b", "c", "c", "c"]).fit(X)
    assert_array_equal(gen.groups_, [0, 0, 1, 2, 2, 2])
    gen = GroupSparseGenerator(clf, categorical=[[3, 4, 5]]).fit(X)
    assert_array_equal(gen.groups_, [0, 1, 2, 3, 3, 3])  # a one-hot block: a group
    cf = gen.explain(X[:20])
    assert cf.validity > 0.9 and cf.violations.sum() == 0


def test_raw_road_groups_are_original_columns():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 70, 200),
            "income": rng.gamma(3.0, 1000.0, 200),
            "job": rng.choice(["a", "b", "c"], 200),
        }
    )
    y = ((frame.income > 3000) | (frame.job == "a")).astype(int)
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(), ["job"]),
        ]
    )
    pipe = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, y)
    gen = GroupSparseGenerator(pipe, lr=0.05, mu=0.1).fit(frame)
    assert_array_equal(gen.groups_, [0, 1, 2, 2, 2])
    gen = GroupSparseGenerator(pipe, groups=[0, 0, 1], lr=0.05, mu=0.1).fit(frame)
    assert_array_equal(gen.groups_, [0, 0, 1, 1, 1])
    cf = gen.explain(frame.iloc[:10])
    assert isinstance(cf.X_cf, pd.DataFrame) and cf.validity > 0.5


# ------------------------------------------------------------ behaviour
def test_success_untargeted_and_targeted(digits):
    X, y, clf = digits
    cf = _fit(clf, X).explain(X[:20])
    assert cf.validity == 1.0
    assert (cf.y_cf_pred != cf.y_pred).all()
    cf = _fit(clf, X, target=3).explain(X[:20][y[:20] != 3])
    assert cf.validity == 1.0 and (cf.y_cf_pred == 3).all()


def test_fewer_groups_and_clusters_than_pgd(digits):
    X, _, clf = digits
    rows = X[:30]
    gse = _fit(clf, X).explain(rows)
    pgd = PGDGenerator(clf, target="other", bounds=UNIT_BOX).fit(X).explain(rows)
    ok = gse.valid & pgd.valid
    assert ok.mean() > 0.9
    kw = dict(image_shape=(8, 8), valid=ok)
    d_gse = group_l0_distance(rows, gse.X_cf, patch_size=2, **kw)
    d_pgd = group_l0_distance(rows, pgd.X_cf, patch_size=2, **kw)
    assert d_gse < 0.5 * d_pgd
    assert changed_pixels(rows, gse.X_cf, **kw) < changed_pixels(rows, pgd.X_cf, **kw)
    assert cluster_count(rows, gse.X_cf, **kw) <= 1.5


@pytest.mark.parametrize("p", POWERS)
def test_every_power_runs(digits, p):
    X, _, clf = digits
    cf = _fit(clf, X, p=p, n_search_steps=3).explain(X[:5])
    assert cf.validity == 1.0


def test_deterministic_and_batch_size_free(digits):
    X, _, clf = digits
    a = _fit(clf, X, random_state=0).transform(X[:8])
    b = _fit(clf, X, random_state=1).transform(X[:8])
    c = _fit(clf, X, batch_size=4).transform(X[:8])
    assert_array_equal(a, b)
    assert_allclose(a, c, atol=1e-6)


def test_constraints_are_honoured(digits):
    X, _, clf = digits
    frozen = list(range(16, 48))  # the middle half of the image
    gen = _fit(clf, X, immutable=frozen, increase_only=[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(X[:15])
    assert cf.validity > 0.5
    assert_array_equal(cf.X_cf[:, frozen], X[:15, frozen])
    assert (cf.X_cf >= 0).all() and (cf.X_cf <= 1).all()
    assert (cf.X_cf[:, :2] >= X[:15, :2]).all()
    assert cf.violations.sum() == 0


def test_paper_setting_runs_every_step(digits):
    X, _, clf = digits
    fast = _fit(clf, X, n_search_steps=2).explain(X[:4])
    paper = _fit(clf, X, n_search_steps=2, patience=None).explain(X[:4])
    assert paper.validity == 1.0
    assert paper.n_iter.sum() >= fast.n_iter.sum()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(digits):  # pragma: no cover - no GPU in CI
    X, _, clf = digits
    cpu = _fit(clf, X).explain(X[:10])
    gpu = _fit(clf, X, device="cuda").explain(X[:10])
    assert gpu.validity == cpu.validity
    assert_allclose(
        group_l0_distance(X[:10], gpu.X_cf, image_shape=(8, 8), patch_size=2),
        group_l0_distance(X[:10], cpu.X_cf, image_shape=(8, 8), patch_size=2),
        rtol=0.2,
    )


# ------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "params, match",
    [
        (dict(groups=[0, 1, 2]), r"one group label per feature, shape \(64,\)"),
        (dict(image_shape=(8, 8), patch_size=3), "does not tile 8x8"),
        (dict(patch_size=2), "needs 'image_shape'"),
        (dict(image_shape=(8, 8), patch_size=2, groups=[0] * 64), "not both"),
        (dict(image_shape=(9, 9)), "holds 81 values per image"),
        (dict(image_shape=(8,)), r"\(H, W\) or \(C, H, W\)"),
        (dict(p=0.3), "1/2, 2/3 or 1"),
        (dict(image_shape=(8, 8), blur_size=4), "must be odd"),
    ],
)
def test_bad_parameters(digits, params, match):
    X, _, clf = digits
    with pytest.raises(ValueError, match=match):
        GroupSparseGenerator(clf, target="other", **params).fit(X)


def test_bad_parameter_types(digits):
    X, _, clf = digits
    with pytest.raises(ValueError, match="'q' parameter"):
        GroupSparseGenerator(clf, target="other", q=0.0).fit(X)
    with pytest.raises(TypeError, match="tuple"):
        GroupSparseGenerator(clf, target="other", image_shape=("a", 8)).fit(X)


# ------------------------------------------------------------ metrics
def test_group_l0_on_hand_built_masks():
    X = np.zeros((2, 2 * 16))  # two 2-channel 4x4 images
    X_cf = X.copy()
    X_cf[0, 0] = 1.0  # pixel (0, 0), channel 0
    X_cf[0, 16 + 15] = -1.0  # pixel (3, 3), channel 1
    X_cf[1, [5, 6, 9, 10]] = 0.5  # the central 2x2 block
    kw = dict(image_shape=(2, 4, 4), reduce=None)
    assert_array_equal(group_l0_distance(X, X_cf, patch_size=2, **kw), [2, 4])
    # overlapping 2x2 patches (3x3 of them): corner pixels lie in one patch
    # each, the central block touches all nine
    assert_array_equal(group_l0_distance(X, X_cf, patch_size=2, stride=1, **kw), [2, 9])
    assert_array_equal(group_l0_distance(X, X_cf, patch_size=4, **kw), [1, 1])
    assert_array_equal(group_l0_distance(X, X_cf, reduce=None), [2, 4])  # ℓ0
    ids = np.repeat(np.arange(8), 4)
    assert_array_equal(group_l0_distance(X, X_cf, groups=ids, reduce=None), [2, 2])
    assert group_l0_distance(X, X_cf, patch_size=2, image_shape=(2, 4, 4)) == 3.0
    valid = np.array([False, True])
    assert group_l0_distance(X, X_cf, valid=valid) == 4.0


def test_group_l0_errors():
    X = np.zeros((1, 16))
    with pytest.raises(ValueError, match="does not tile"):
        group_l0_distance(X, X, image_shape=(4, 4), patch_size=3)
    with pytest.raises(ValueError, match="needs 'patch_size'"):
        group_l0_distance(X, X, image_shape=(4, 4))
    with pytest.raises(ValueError, match="not both"):
        group_l0_distance(X, X, image_shape=(4, 4), patch_size=2, groups=[0] * 16)
    with pytest.raises(ValueError, match="shape \\(16,\\)"):
        group_l0_distance(X, X, groups=[0, 1])
    with pytest.raises(ValueError, match="larger"):
        group_l0_distance(X, X, image_shape=(4, 4), patch_size=5, stride=1)


def test_acp_and_anc_on_hand_built_masks():
    masks = np.array(
        [
            [[1, 1, 0, 0, 0], [0, 1, 0, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0]],
            [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
            [[1, 0, 1, 0, 1], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1], [0, 0, 0, 0, 0]],
        ],
        dtype=float,
    )
    X = np.zeros((3, 20))
    X_cf = masks.reshape(3, -1)
    kw = dict(image_shape=(4, 5), reduce=None)
    assert_array_equal(changed_pixels(X, X_cf, **kw), [5, 0, 6])
    assert_allclose(changed_pixels(X, X_cf, normalize=True, **kw), [0.25, 0, 0.3])
    assert_array_equal(cluster_count(X, X_cf, **kw), [2, 0, 6])  # diagonals join
    assert_array_equal(cluster_count(X, X_cf, connectivity=4, **kw), [3, 0, 6])
    valid = np.array([True, False, True])
    assert cluster_count(X, X_cf, image_shape=(4, 5), valid=valid) == 4.0
    # channels: a pixel counts once, whatever channel moved
    X2, X2_cf = np.zeros((1, 8)), np.zeros((1, 8))
    X2_cf[0, [0, 4]] = 1.0  # 2 channels of a 2x2 image, same pixel
    assert changed_pixels(X2, X2_cf, image_shape=(2, 2, 2)) == 1.0
    with pytest.raises(ValueError, match="must be 4 or 8"):
        cluster_count(X, X_cf, image_shape=(4, 5), connectivity=6)


def test_interpretability_score():
    X = np.zeros((2, 4))
    X_cf = np.array([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    sal = np.array([[0.9, 0.1, 0.8, 0.2], [1.0, 2.0, 3.0, 4.0]])
    scores = interpretability_score(X, X_cf, sal, reduce=None)
    assert_allclose(scores[0], 0.6) and np.isnan(scores[1])
    assert interpretability_score(X, X_cf, sal) == pytest.approx(0.6)
    assert interpretability_score(X, X_cf, sal, percentile=0) == pytest.approx(0.6)
    # per-pixel saliency spread over the channels
    Xc = np.zeros((1, 8))
    Xc_cf = np.array([[1.0, 0, 0, 0, 1.0, 0, 0, 0]])
    pix = np.array([[1.0, 0.0, 0.0, 0.0]])
    assert interpretability_score(Xc, Xc_cf, pix, image_shape=(2, 2, 2)) == 1.0
    with pytest.raises(ValueError, match="image_shape"):
        interpretability_score(Xc, Xc_cf, pix)


def test_saliency_maps():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 6, 6)),
        torch.nn.Conv2d(1, 3, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(108, 3),
    ).double()
    model = DifferentiableModel(net)
    X = np.random.default_rng(0).random((4, 36))
    cam = grad_cam(model, X, 1, image_shape=(6, 6))
    assert cam.shape == (4, 36) and cam.min() >= 0 and cam.max() <= 1
    assert all(p.grad is None for p in net.parameters())  # the model is untouched
    asm = adversarial_saliency_map(model, X, target=[1, 2, 0, 1], y=[0, 0, 1, 2])
    assert asm.shape == (4, 36)
    # the ASM rule by hand for a linear model: (w_t) |w_l| where w_t>=0 or w_l<=0
    lin = DifferentiableModel(torch.nn.Linear(3, 2, bias=False).double())
    w = lin.module.weight.detach().numpy()
    got = adversarial_saliency_map(lin, np.zeros((1, 3)), target=1, y=0)[0]
    keep = (w[1] >= 0) | (w[0] <= 0)
    assert_allclose(got, w[1] * np.abs(w[0]) * keep)
    with pytest.raises(ValueError, match="no torch.nn.Conv2d"):
        grad_cam(lin, np.zeros((1, 3)), 1, image_shape=(1, 3))


def test_gse_perturbation_is_more_salient_than_random(digits):
    X, y, clf = digits
    rows = X[:20]
    cf = _fit(clf, X).explain(rows)
    target = clf.predict(cf.X_cf)
    asm = adversarial_saliency_map(clf, rows, target, y=y[:20])
    score = interpretability_score(rows, cf.X_cf, asm, percentile=80, valid=cf.valid)
    rng = np.random.default_rng(0)
    noise = rows + rng.normal(0, 0.1, rows.shape)
    base = interpretability_score(rows, noise, asm, percentile=80)
    assert score > base
    assert l2_distance(rows, cf.X_cf) > 0
