"""Engine against closed forms, and its numerical guarantees."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from skcf._engine import (
    FISTA,
    SGD,
    Adam,
    Constraints,
    CrossEntropyLoss,
    CSearch,
    HingeLoss,
    L1Distance,
    L2Distance,
    ProjectedGradient,
    RadiusSearch,
    solve,
)


class Linear2:
    """Binary linear model with logits ``[0, w·x + b]``."""

    def __init__(self, w, b):
        self.w = torch.as_tensor(w, dtype=torch.float64)
        self.b = float(b)

    def __call__(self, x):
        g = x @ self.w + self.b
        return torch.stack([torch.zeros_like(g), g], dim=1)


@pytest.fixture
def linear_problem():
    rng = np.random.default_rng(0)
    w = np.array([2.0, -1.0, 0.5, 0.0, 1.0])
    x0 = rng.normal(size=(40, 5)) - 2 * w / np.linalg.norm(w)
    x0 = x0[x0 @ w - 1 < 0][:16]
    return Linear2(w, -1.0), torch.as_tensor(x0), w


def test_minimal_l2_counterfactual_of_linear_model(linear_problem):
    """EAD with β=0 reaches the closed-form projection onto {w·x+b = κ}."""
    model, x0, w = linear_problem
    kappa = 0.5
    g0 = x0.numpy() @ w - 1.0
    expected = x0.numpy() + ((kappa - g0) / (w @ w))[:, None] * w
    res = solve(
        model,
        x0,
        torch.ones(len(x0)),
        terms=[HingeLoss(confidence=kappa), L2Distance()],
        solver=FISTA(0.05),
        search=CSearch(1.0, 6),
        max_iter=400,
        early_stop=False,
        margin=kappa,
    )
    assert res.found.all()
    assert_allclose(res.x_cf.numpy(), expected, atol=2e-3)


def _sparse_solution(x0, w, b, kappa, beta):
    """Closed form of min ‖δ‖² + β‖δ‖₁ s.t. w·(x0+δ)+b ≥ κ (KKT + bisection on μ)."""
    need = kappa - (x0 @ w + b)

    def delta(mu):
        z = mu * w
        return np.sign(z) * np.maximum(np.abs(z) - beta, 0) / 2

    lo, hi = 0.0, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if delta(mid) @ w < need else (lo, mid)
    return x0 + delta(hi)


def test_fista_reaches_known_sparse_solution(linear_problem):
    model, x0, w = linear_problem
    kappa, beta = 0.2, 1.0
    res = solve(
        model,
        x0,
        torch.ones(len(x0)),
        terms=[HingeLoss(confidence=kappa), L2Distance(), L1Distance(beta)],
        solver=FISTA(0.02),
        search=CSearch(1.0, 8),
        max_iter=800,
        early_stop=False,
        margin=kappa,
    )
    expected = np.stack([_sparse_solution(r, w, -1.0, kappa, beta) for r in x0.numpy()])
    assert res.found.all()
    assert_allclose(res.x_cf.numpy(), expected, atol=5e-3)
    # exact zeros (the prox, not rounding) where the closed form is clearly zero
    assert (res.x_cf.numpy()[:, 3] == x0.numpy()[:, 3]).all()  # w_3 = 0
    unchanged = (res.x_cf.numpy() == x0.numpy()).sum()
    assert unchanged >= 0.9 * (expected == x0.numpy()).sum()


def test_min_radius_pgd_matches_distance_to_boundary(linear_problem):
    model, x0, w = linear_problem
    dist = np.abs(x0.numpy() @ w - 1.0) / np.linalg.norm(w)
    eps_max, n_radii = 1.2 * dist.max(), 40
    res = solve(
        model,
        x0,
        torch.ones(len(x0)),
        terms=[CrossEntropyLoss()],
        solver=ProjectedGradient("l2", step_scale=0.1),
        search=RadiusSearch(eps_max, n_radii),
        max_iter=50,
    )
    assert res.found.all()
    radius = res.weight.numpy()
    # the smallest radius on the grid that reaches the boundary
    assert (radius >= dist - 1e-9).all() and (
        radius <= dist + eps_max / n_radii + 1e-9
    ).all()
    assert (
        np.linalg.norm(res.x_cf.numpy() - x0.numpy(), axis=1) <= radius + 1e-9
    ).all()


def test_linf_ball_is_respected(linear_problem):
    model, x0, _ = linear_problem
    res = solve(
        model,
        x0,
        torch.ones(len(x0)),
        terms=[CrossEntropyLoss()],
        solver=ProjectedGradient("linf", step_scale=2.0),
        search=RadiusSearch(0.3, 1),
        max_iter=1,
    )
    assert (res.x_cf - x0).abs().max() <= 0.3 + 1e-12


@pytest.mark.parametrize("solver", [Adam(1e6), SGD(1e12), FISTA(1e9)])
def test_no_nan_or_inf_leaves_the_engine(linear_problem, solver):
    """Absurd step sizes and an exploding model never yield non-finite output."""
    _, x0, w = linear_problem

    def wild(x):
        g = torch.exp(x @ torch.as_tensor(w) * 50.0)  # overflows to inf quickly
        return torch.stack([torch.zeros_like(g), g], dim=1)

    res = solve(
        wild,
        x0,
        torch.ones(len(x0)),
        terms=[CrossEntropyLoss(), L2Distance()],
        solver=solver,
        max_iter=30,
        early_stop=False,
    )
    assert torch.isfinite(res.x_cf).all()
    assert torch.isfinite(res.n_iter).all() and (res.n_iter == 30).all()


def test_constraints_hold_at_every_step(linear_problem):
    model, x0, _ = linear_problem
    d = x0.shape[1]
    cons = Constraints.unconstrained(d, dtype=torch.float64)
    cons.mutable[0] = False
    cons.increase_only[1] = True
    cons.decrease_only[2] = True
    cons.lower[4], cons.upper[4] = -0.5, 0.5
    seen = []

    def spy(x):
        seen.append(x.detach().clone())
        return model(x)

    solve(
        spy,
        x0,
        torch.ones(len(x0)),
        terms=[CrossEntropyLoss(), L2Distance(0.01)],
        solver=Adam(0.5),
        constraints=cons,
        max_iter=40,
        early_stop=False,
    )
    for x in seen:
        if x.shape != x0.shape:
            continue
        assert (x[:, 0] == x0[:, 0]).all()
        assert (x[:, 1] >= x0[:, 1] - 1e-12).all()
        assert (x[:, 2] <= x0[:, 2] + 1e-12).all()


def test_one_hot_snapping_and_revalidation():
    """Rows are valid only as snapped one-hots: the engine tracks snapped points."""
    w = torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=torch.float64)

    def model(x):
        g = x @ w - 2.5
        return torch.stack([torch.zeros_like(g), g], dim=1)

    x0 = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.5]], dtype=torch.float64)
    cons = Constraints.unconstrained(4, dtype=torch.float64)
    cons.groups = [torch.tensor([0, 1, 2])]
    cons.lower[:3], cons.upper[:3] = 0.0, 1.0
    res = solve(
        model,
        x0,
        torch.ones(2),
        terms=[CrossEntropyLoss(), L2Distance(0.1)],
        solver=Adam(0.1),
        constraints=cons,
        max_iter=100,
    )
    x = res.x_cf
    assert res.found.all()
    assert set(x[:, :3].unique().tolist()) <= {0.0, 1.0}
    assert (x[:, :3].sum(1) == 1).all()
    assert (model(x).argmax(1) == 1).all()
    assert (cons.violations(x, x0) == 0).all()


def test_violation_flags_add_up_to_violations():
    """Per-feature and per-group flags are what violations() counts."""
    cons = Constraints.unconstrained(6, dtype=torch.float64)
    cons.groups = [torch.tensor([0, 1, 2])]
    cons.lower[:3], cons.upper[:3] = 0.0, 1.0
    cons.upper[3] = 2.0
    cons.mutable[5] = False
    cons.increase_only[4] = True
    cons.integer = torch.tensor([False] * 3 + [True, False, False])
    x0 = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, 3.0]] * 3, dtype=torch.float64)
    x = torch.tensor(
        [
            [1.0, 0.0, 0.0, 1.0, 0.0, 3.0],  # the factual: nothing broken
            [0.5, 0.5, 0.0, 2.5, -1.0, 4.0],  # group, bound+integer, direction, frozen
            [0.0, 1.0, 0.0, 1.5, 1.0, 3.0],  # non-integer only
        ],
        dtype=torch.float64,
    )
    bad, group_bad = cons.violation_flags(x, x0)
    assert bad.tolist() == [
        [False] * 6,
        [False, False, False, True, True, True],
        [False, False, False, True, False, False],
    ]
    assert group_bad.tolist() == [[False], [True], [False]]
    assert cons.violations(x, x0).tolist() == [0, 4, 1]


def test_csearch_is_vectorised_and_monotone():
    s = CSearch(1.0, 3)
    st = s.init(3, torch.zeros(1))
    s.update(st, torch.tensor([True, False, True]))
    assert st["c"].tolist() == [0.5, 10.0, 0.5]
    s.update(st, torch.tensor([False, True, True]))
    assert st["hi"].tolist() == [1.0, 10.0, 0.5]
    assert st["c"].tolist() == [0.75, 5.5, 0.25]


def test_chunking_does_not_change_results(linear_problem):
    model, x0, _ = linear_problem
    kw = dict(
        terms=[HingeLoss(), L2Distance(), L1Distance(0.1)],
        solver=FISTA(0.05),
        search=CSearch(1.0, 4),
        max_iter=50,
        early_stop=False,
    )
    a = solve(model, x0, torch.ones(len(x0)), batch_size=None, **kw)
    b = solve(model, x0, torch.ones(len(x0)), batch_size=3, **kw)
    assert_allclose(a.x_cf.numpy(), b.x_cf.numpy(), atol=1e-12)
    assert (a.n_iter == b.n_iter).all()


def test_finished_rows_stop_costing_compute(linear_problem):
    model, x0, _ = linear_problem
    sizes = []

    def counting(x):
        sizes.append(x.shape[0])
        return model(x)

    res = solve(
        counting,
        x0,
        torch.ones(len(x0)),
        terms=[CrossEntropyLoss()],
        solver=Adam(0.05),
        max_iter=200,
        early_stop=True,
    )
    assert res.found.all()
    assert min(sizes) < len(x0)  # the batch shrank as rows converged
    assert res.n_iter.min() < res.n_iter.max()


def test_random_start_is_seeded(linear_problem):
    model, x0, _ = linear_problem
    kw = dict(
        terms=[CrossEntropyLoss()],
        solver=ProjectedGradient("linf", 0.1),
        search=RadiusSearch(2.0, 3, random_start=True),
        max_iter=10,
    )
    a = solve(model, x0, torch.ones(len(x0)), seed=1, **kw)
    b = solve(model, x0, torch.ones(len(x0)), seed=1, batch_size=5, **kw)
    c = solve(model, x0, torch.ones(len(x0)), seed=2, **kw)
    assert torch.equal(a.x_cf, b.x_cf)
    assert not torch.equal(a.x_cf, c.x_cf)


def test_pgd_needs_radius_search(linear_problem):
    model, x0, _ = linear_problem
    with pytest.raises(ValueError, match="RadiusSearch"):
        solve(
            model,
            x0,
            torch.ones(len(x0)),
            terms=[CrossEntropyLoss()],
            solver=ProjectedGradient("l2"),
        )


def test_patience_stops_on_plateau_not_before(linear_problem):
    """Rows keep going while the loss improves and stop once it plateaus."""
    model, x0, _ = linear_problem
    kw = dict(
        terms=[HingeLoss(), L2Distance()],
        solver=FISTA(0.01),
        max_iter=300,
        early_stop=False,
    )
    res = solve(model, x0, torch.ones(len(x0)), patience=10, **kw)
    assert res.n_iter.max() > 10  # regression: the first loss must count as progress
    assert res.n_iter.min() < 300  # and the plateau does stop rows early
    full = solve(model, x0, torch.ones(len(x0)), **kw)
    assert (full.n_iter == 300).all()


def test_orthant_wise_adam_gives_exact_zeros(linear_problem):
    """ℓ1 under Adam/SGD is handled orthant-wise: irrelevant features never move."""
    model, x0, _ = linear_problem
    for solver in (Adam(0.05), SGD(0.05)):
        res = solve(
            model,
            x0,
            torch.ones(len(x0)),
            terms=[CrossEntropyLoss(), L1Distance(0.5)],
            solver=solver,
            search=CSearch(1.0, 3),
            max_iter=200,
        )
        assert res.found.all()
        delta = (res.x_cf - x0).numpy()
        assert (delta[:, 3] == 0).all()  # w_3 = 0: no reason to move
        assert (delta == 0).sum(axis=1).min() >= 1


def test_ead_shrinkage_is_sparser_than_prox(linear_problem):
    model, x0, _ = linear_problem
    kw = dict(
        terms=[HingeLoss(), L2Distance(), L1Distance(0.2)],
        search=CSearch(1.0, 5),
        max_iter=100,
        early_stop=False,
    )
    prox = solve(model, x0, torch.ones(len(x0)), solver=FISTA(0.05), **kw)
    ead = solve(
        model, x0, torch.ones(len(x0)), solver=FISTA(0.05, shrinkage="ead"), **kw
    )
    assert prox.found.all() and ead.found.all()
    l0 = lambda r: ((r.x_cf - x0) != 0).sum(1).double().mean()  # noqa: E731
    assert l0(ead) < l0(prox)


def test_apg_top_m_projection_changes_at_most_m_features(linear_problem):
    from skcf._engine import APG

    model, x0, w = linear_problem
    res = solve(
        model,
        x0,
        torch.ones(len(x0)),
        terms=[CrossEntropyLoss(), L2Distance(0.1)],
        solver=APG(0.1, max_changes=2),
        search=CSearch(1.0, 4),
        max_iter=150,
        early_stop=False,
        patience=20,
    )
    assert res.found.all()
    changed = (res.x_cf - x0) != 0
    assert (changed.sum(1) <= 2).all()
    assert not changed[:, 3].any()  # w_3 = 0 is never worth a slot
    assert changed[:, 0].all()  # the largest |w| is always used


def test_apg_l0_penalty_is_sparser_than_none(linear_problem):
    from skcf._engine import APG

    model, x0, _ = linear_problem
    kw = dict(
        terms=[CrossEntropyLoss(), L2Distance(0.1)],
        search=CSearch(1.0, 4),
        max_iter=150,
        early_stop=False,
        patience=20,
    )
    dense = solve(model, x0, torch.ones(len(x0)), solver=APG(0.1), **kw)
    sparse = solve(model, x0, torch.ones(len(x0)), solver=APG(0.1, l0_weight=0.5), **kw)
    l0 = lambda r: ((r.x_cf - x0) != 0).sum(1).double().mean()  # noqa: E731
    assert sparse.found.all() and l0(sparse) < l0(dense)


def test_density_term_pulls_towards_the_mode(linear_problem):
    from skcf._engine import DensityTerm

    model, x0, w = linear_problem
    mode = torch.as_tensor(2.0 * w / np.linalg.norm(w))  # deep inside class 1

    def log_density(x, cls):
        return -0.5 * (x - mode).pow(2).sum(1)

    kw = dict(
        solver=Adam(0.05),
        search=CSearch(1.0, 3),
        max_iter=200,
        early_stop=False,
        patience=20,
    )
    plain = solve(
        model, x0, torch.ones(len(x0)), terms=[CrossEntropyLoss(), L2Distance()], **kw
    )
    dense = solve(
        model,
        x0,
        torch.ones(len(x0)),
        terms=[CrossEntropyLoss(), L2Distance(), DensityTerm(log_density, weight=1.0)],
        **kw,
    )
    assert plain.found.all() and dense.found.all()
    dist = lambda r: (r.x_cf - mode).norm(dim=1).mean()  # noqa: E731
    assert dist(dense) < 0.8 * dist(plain)


def test_latent_parametrisation_decodes_and_projects(linear_problem):
    """REVISE-style search over z with x = P(decode(z)): results lie on the decoder."""
    model, x0, w = linear_problem
    A = torch.randn(
        5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )

    class Param:
        def init(self, x):
            return torch.linalg.lstsq(A, x.T).solution.T

        def decode(self, z):
            return z @ A.T

    cons = Constraints.unconstrained(5, dtype=torch.float64)
    cons.mutable[2] = False
    res = solve(
        model,
        x0,
        torch.ones(len(x0)),
        terms=[CrossEntropyLoss(), L1Distance(0.1)],
        solver=Adam(0.05),
        constraints=cons,
        search=CSearch(1.0, 3),
        max_iter=200,
        param=Param(),
    )
    assert res.found.all()
    assert (res.x_cf[:, 2] == x0[:, 2]).all()  # immutable reset after decoding
    # the mutable columns lie in the decoder's range: 4 equations, 3 unknowns
    free = [0, 1, 3, 4]
    z = torch.linalg.lstsq(A[free], res.x_cf[:, free].T).solution
    residual = (A[free] @ z).T - res.x_cf[:, free]
    assert residual.abs().max() < 1e-8
    # while the factuals themselves do not (so the check can fail)
    z0 = torch.linalg.lstsq(A[free], x0[:, free].T).solution
    assert ((A[free] @ z0).T - x0[:, free]).abs().max() > 1e-3


def test_energy_term_stays_finite_in_a_box(linear_problem):
    from skcf._engine import EnergyTerm

    model, x0, _ = linear_problem
    cons = Constraints.unconstrained(5, dtype=torch.float64)
    cons.lower[:], cons.upper[:] = -3.0, 3.0
    res = solve(
        model,
        x0.clamp(-3, 3),
        torch.ones(len(x0)),
        terms=[CrossEntropyLoss(), EnergyTerm(10.0)],
        solver=Adam(1.0),
        constraints=cons,
        max_iter=300,
        early_stop=False,
    )
    assert torch.isfinite(res.x_cf).all() and res.found.all()
    assert (res.x_cf.abs() <= 3.0 + 1e-12).all()
    assert all(torch.isfinite(v).all() for v in res.losses.values())


def _simplex_reference(v):
    """Euclidean projection of one vector onto the simplex (Duchi et al., Fig. 1)."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    rho = np.nonzero(u - css / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - css[rho] / (rho + 1), 0.0)


def test_simplex_projection_matches_reference_with_padding_and_ties():
    from skcf._engine._constraints import _project_simplex

    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 4, 6)) * rng.choice([0.1, 1.0, 5.0], size=(50, 4, 1))
    v[:10] = np.round(v[:10])  # ties
    width = np.array([6, 3, 2, 5])  # group g has width[g] real entries
    padded = v.copy()
    for g, w in enumerate(width):
        padded[:, g, w:] = -np.inf
    out = _project_simplex(torch.as_tensor(padded)).numpy()
    for i in range(len(v)):
        for g, w in enumerate(width):
            assert_allclose(out[i, g, :w], _simplex_reference(v[i, g, :w]), atol=1e-12)
            assert (out[i, g, w:] == 0).all()
    assert_allclose(out.sum(axis=2), 1.0, atol=1e-12)


def test_box_plan_gives_the_same_snap():
    """A plan computed once per box snaps exactly as snap() computing it itself."""
    cons = Constraints.unconstrained(7, dtype=torch.float64)
    cons.groups = [torch.tensor([0, 1, 2]), torch.tensor([3, 4])]
    cons.lower[:5], cons.upper[:5] = 0.0, 1.0
    cons.integer = torch.tensor([False] * 5 + [True, True])
    cons.step = torch.tensor([1.0] * 5 + [0.5, 1.0], dtype=torch.float64)
    cons.origin = torch.tensor([0.0] * 5 + [0.25, 0.0], dtype=torch.float64)
    cons.lower[5], cons.upper[5] = -1.0, 2.0
    cons.mutable[6] = False
    rng = np.random.default_rng(1)
    x0 = torch.as_tensor(rng.uniform(-1, 2, size=(20, 7)))
    lo, hi = cons.row_bounds(x0)
    hi = hi.clone()
    hi[:5, 1] = 0.0  # option 1 closed to the first rows
    plan = cons.box_plan(lo, hi)
    for _ in range(3):
        x = torch.as_tensor(rng.uniform(-2, 3, size=(20, 7)))
        expect = cons.snap(x, lo, hi)
        assert torch.equal(cons.snap(x, lo, hi, plan), expect)
        assert (expect[:5, 1] == 0).all()
        grid = (expect[:, 5] - 0.25) / 0.5
        assert torch.equal(grid, grid.round())
        assert torch.equal(expect[:, 6], x[:, 6])  # immutable: not rounded
        projected = cons.project(x, lo, hi)
        assert torch.equal(cons.project(x, lo, hi, plan), projected)
        # the closed option stays at 0: the group moves on its allowed face
        assert (projected[:5, 1] == 0).all()
        assert_allclose(projected[:, :3].sum(1), 1.0, atol=1e-12)
        assert_allclose(projected[:, 3:5].sum(1), 1.0, atol=1e-12)


def test_projection_with_no_allowed_option_stays_finite():
    """Bounds closing every option of a row's group leave the relaxation defined."""
    cons = Constraints.unconstrained(3, dtype=torch.float64)
    cons.groups = [torch.tensor([0, 1, 2])]
    cons.lower[:], cons.upper[:] = 0.0, 0.0
    x = torch.tensor([[0.2, 0.5, 0.9]], dtype=torch.float64)
    lo, hi = cons.lower.expand_as(x), cons.upper.expand_as(x)
    out = cons.project(x, lo, hi)
    assert torch.isfinite(out).all()
    assert_allclose(out.sum(1), 1.0)


def test_packed_groups_match_a_loop_over_groups():
    """The batched packing gives what filling the padded matrix group by
    group gives (frozen groups left out, padding masked)."""
    gen = torch.Generator().manual_seed(0)
    for _ in range(60):
        d = 30
        cons = Constraints.unconstrained(d)
        perm = torch.randperm(d, generator=gen)
        sizes = torch.randint(1, 6, (8,), generator=gen).tolist()
        edges = np.cumsum([0, *sizes])
        cons.groups = [perm[a:b] for a, b in zip(edges[:-1], edges[1:]) if a < d]
        cons.mutable = torch.rand(d, generator=gen) < 0.5
        got = cons.packed_groups()
        kept = [g for g in cons.groups if bool(cons.mutable[g].any())]
        if not kept:
            assert got is None
            continue
        width = max(len(g) for g in kept)
        index = torch.zeros(len(kept), width, dtype=torch.long)
        mask = torch.zeros(len(kept), width, dtype=torch.bool)
        for i, g in enumerate(kept):
            index[i, : len(g)], mask[i, : len(g)] = g, True
        positions = torch.arange(index.numel())[mask.reshape(-1)]
        for a, b in zip(got, (index, mask, index[mask], positions)):
            assert a.dtype == b.dtype and torch.equal(a, b)
