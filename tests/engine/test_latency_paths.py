"""The engine's low-overhead paths give the same numbers as the general ones."""

import pytest
import torch
from torch import nn

from skcf._engine import FISTA, Adam, CSearch, L1Distance, L2Distance, solve
from skcf._engine._cem_terms import AnchoredL1Distance, AnchoredL2Distance
from skcf._engine._solve import _fast_logits, is_valid
from skcf._engine._solvers import _masked
from skcf._engine._terms import CrossEntropyLoss, DensityTerm, HingeLoss, TermContext
from skcf.models import MLP, DifferentiableModel


def _mlp(seed=0, **kw):
    torch.manual_seed(seed)
    return MLP(5, **kw)


def test_fast_logits_same_values_and_gradients():
    model = DifferentiableModel(_mlp(hidden=(8, 4)))
    fast = _fast_logits(model)
    assert fast is not model
    x = torch.randn(7, 5, requires_grad=True)
    a, b = model(x), fast(x)
    assert torch.equal(a, b)
    (ga,) = torch.autograd.grad(a[:, 1].sum(), x)
    (gb,) = torch.autograd.grad(b[:, 1].sum(), x)
    assert torch.equal(ga, gb)


def test_fast_logits_binary_logit_output():
    module = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 1))
    model = DifferentiableModel(module)
    x = torch.randn(4, 5)
    assert torch.equal(_fast_logits(model)(x), model(x))


@pytest.mark.parametrize(
    "make",
    [
        lambda: DifferentiableModel(_mlp(dropout=0.1)),  # other layer type
        lambda: DifferentiableModel(_mlp(softmax=True), output="proba"),
        lambda: DifferentiableModel(_mlp(), preprocess=[lambda x: x * 2]),
        lambda: DifferentiableModel(nn.Sequential(nn.Sequential(nn.Linear(5, 2)))),
    ],
)
def test_fast_logits_falls_back(make):
    model = make()
    assert _fast_logits(model) is model


def test_fast_logits_respects_hooks():
    module = _mlp()
    model = DifferentiableModel(module)
    handle = module.net[0].register_forward_hook(lambda m, i, o: o * 0)
    try:
        assert _fast_logits(model) is model
    finally:
        handle.remove()
    handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: None)
    try:
        assert _fast_logits(model) is model
    finally:
        handle.remove()
    assert _fast_logits(model) is not model


def test_is_valid_fast_paths_match_general_rule():
    torch.manual_seed(0)
    z = torch.randn(64, 3) * 3
    z[0, 1] = float("inf")  # +inf on the target: p is NaN, never valid
    z[1, 0] = float("nan")
    z[2] = torch.tensor([float("inf"), float("inf"), 0.0])
    target = torch.randint(0, 3, (64,))
    target[0] = 1
    y0 = torch.randint(0, 3, (64,))
    untargeted = torch.zeros(64, dtype=torch.bool)

    def reference(tau, margin):  # the rule as written before the fast paths
        p = torch.softmax(z, dim=1)
        zc = z.gather(1, target.view(-1, 1)).squeeze(1)
        other = z.scatter(1, target.view(-1, 1), float("-inf")).max(dim=1).values
        gap = zc - other
        pc = p.gather(1, target.view(-1, 1)).squeeze(1)
        return (gap > 0) & (gap >= margin) & (pc >= tau)

    for tau in (0.0, -1.0, 0.7):
        for margin in (0.0, 0.5):
            want = reference(tau, margin)
            for fast in (False, True):
                got = is_valid(
                    z,
                    target,
                    untargeted,
                    y0,
                    tau=tau,
                    margin=margin,
                    targeted_only=fast,
                )
                assert torch.equal(got, want), (tau, margin, fast)
    assert not is_valid(z, target, untargeted, y0)[0]


@pytest.mark.parametrize("term", [HingeLoss(1.0, 0.3), CrossEntropyLoss()])
def test_prediction_terms_targeted_only(term):
    torch.manual_seed(1)
    x = torch.randn(9, 4)
    z = torch.randn(9, 3, requires_grad=True)
    t = torch.randint(0, 3, (9,))
    args = (x, x, z, t, torch.zeros(9, dtype=torch.bool), torch.randint(0, 3, (9,)))
    a = term(TermContext(*args))
    b = term(TermContext(*args, targeted_only=True))
    assert torch.equal(a, b)
    (ga,) = torch.autograd.grad(a.sum(), z)
    (gb,) = torch.autograd.grad(b.sum(), z)
    assert torch.equal(ga, gb)


def test_distance_cache_only_without_autograd():
    torch.manual_seed(2)
    x, x0, w = torch.randn(5, 4), torch.randn(5, 4), torch.rand(4)
    z = torch.zeros(5, 2)
    t = torch.zeros(5, dtype=torch.long)
    ctx = TermContext(x, x0, z, t, t.bool(), t)
    with torch.no_grad():
        l1, l2 = L1Distance(1.0, w)(ctx), L2Distance(1.0, w)(ctx)
    assert ctx.cache
    assert torch.equal(l1, ((x - x0) * w).abs().sum(1))
    assert torch.equal(l2, ((x - x0) * w).pow(2).sum(1))
    ctx = TermContext(x.requires_grad_(True), x0, z, t, t.bool(), t)
    L2Distance(1.0, w)(ctx)
    assert not ctx.cache


def test_masked_identity():
    g = torch.randn(3, 4)
    assert _masked(g, 1.0) is g
    m = torch.tensor([1.0, 0.0, 1.0, 1.0])
    assert torch.equal(_masked(g, m), g * m)


def test_n_iter_counts_every_iteration():
    torch.manual_seed(3)
    model = DifferentiableModel(_mlp(hidden=(8,)))
    x0 = torch.randn(6, 5)
    y0 = model(x0).argmax(1)
    kw = dict(
        terms=[HingeLoss(), L2Distance(), L1Distance(0.1)],
        solver=FISTA(0.05),
        search=CSearch(1.0, 3),
        max_iter=7,
    )
    full = solve(model, x0, 1 - y0, early_stop=False, **kw)
    assert full.n_iter.tolist() == [21] * 6
    # rows already valid at the factual stop at their first iterate, each round
    done = solve(model, x0, y0, early_stop=True, **kw)
    assert done.n_iter.tolist() == [3] * 6
    # patience freezes rows at different iterations: counts stay per row
    pat = solve(model, x0, 1 - y0, early_stop=False, patience=2, **kw)
    assert ((pat.n_iter >= 3 * 2) & (pat.n_iter <= 21)).all()


class _UserNet(nn.Module):
    """The usual user module: layers in a Sequential, forward calls it."""

    def __init__(self, out=2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, out)
        )

    def forward(self, x):
        return self.net(x)


class _Branchy(_UserNet):
    def forward(self, x):
        return self.net(x) + self.net[0](x).sum(1, keepdim=True)


def test_traced_user_module_takes_the_plain_path():
    from skcf._engine._solve import _PlainStack

    torch.manual_seed(0)
    model = DifferentiableModel(_UserNet())
    fast = _fast_logits(model)
    assert isinstance(fast, _PlainStack)
    x = torch.randn(6, 5)
    assert torch.equal(fast(x), model(x))
    assert _fast_logits(DifferentiableModel(_Branchy())) is not None
    assert not isinstance(_fast_logits(DifferentiableModel(_Branchy())), _PlainStack)


def _context(z, x, x0, untargeted=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    n, k = z.shape
    target = torch.randint(0, k, (n,), generator=g)
    y0 = (target + 1) % k
    u = torch.zeros(n, dtype=torch.bool)
    if untargeted:
        u[::2] = True
    return TermContext(x, x0, z, target, u, y0, {}, targeted_only=not untargeted)


def _kde_closure():
    import numpy as np

    from skcf.density import ClassConditionalDensity, KDEDensity

    rng = np.random.RandomState(0)
    X = rng.randn(45, 5)
    cond = ClassConditionalDensity(KDEDensity(bandwidth=0.8)).fit(X, np.arange(45) % 3)
    return cond.torch_log_density(dtype=torch.float64)


@pytest.mark.parametrize("untargeted", [False, True])
@pytest.mark.parametrize(
    "term",
    [
        HingeLoss(confidence=0.0),
        HingeLoss(weight=2.5, confidence=0.7),
        CrossEntropyLoss(weight=0.5),
        L2Distance(1.5, feature_weights=torch.rand(5, dtype=torch.float64) + 0.1),
        L2Distance(),
        L1Distance(0.3, feature_weights=torch.rand(5, dtype=torch.float64) + 0.1),
        # measured from an anchor (CEM's base), not the factual
        AnchoredL1Distance(torch.full((5,), 0.5, dtype=torch.float64), 0.3),
        AnchoredL2Distance(
            torch.full((5,), -0.2, dtype=torch.float64),
            2.0,
            feature_weights=torch.rand(5, dtype=torch.float64) + 0.1,
        ),
        # S-CFE's class-conditional KDE (the target class; for untargeted
        # rows the best other class, read from the logits without a gradient)
        DensityTerm(_kde_closure(), 0.4),
    ],
    ids=repr,
)
def test_hand_written_term_gradients_match_autograd(term, untargeted):
    torch.manual_seed(1)
    z = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    x0 = torch.randn(9, 5, dtype=torch.float64)
    x = (x0 + torch.randn(9, 5, dtype=torch.float64)).requires_grad_(True)
    ctx = _context(z, x, x0, untargeted)
    by_hand = term.value_and_grad(_context(z.detach(), x.detach(), x0, untargeted))
    # the promise the engine's inference-mode search relies on is exact
    assert term.gives_gradient(not untargeted) is (by_hand is not None)
    if by_hand is None:  # CE's untargeted branch keeps autograd
        assert isinstance(term, CrossEntropyLoss) and untargeted
        return
    value = term(ctx)
    gx, gz = torch.autograd.grad(value.sum(), (x, z), allow_unused=True)
    v, hx, hz = by_hand
    torch.testing.assert_close(v, value.detach())
    for auto, hand in ((gx, hx), (gz, hz)):
        if auto is None:
            assert hand is None
        else:
            torch.testing.assert_close(hand, auto)


@pytest.mark.parametrize("binary", [False, True])
def test_plain_stack_vjp_matches_autograd(binary):
    from skcf._engine._solve import _PlainStack

    torch.manual_seed(2)
    module = _UserNet(out=1 if binary else 3).double()
    stack = _fast_logits(DifferentiableModel(module))
    assert isinstance(stack, _PlainStack)
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    g = torch.randn(7, 2 if binary else 3, dtype=torch.float64)
    z, saved = stack.forward_saving(x.detach())
    (auto,) = torch.autograd.grad((DifferentiableModel(module)(x) * g).sum(), x)
    torch.testing.assert_close(stack.vjp(g, saved), auto)


def test_solve_same_answer_by_hand_and_by_autograd():
    """EN on a plain stack: the hand-written path gives autograd's iterates."""
    from skcf._engine import _solve

    torch.manual_seed(3)
    model = DifferentiableModel(_UserNet().double())
    x0 = torch.randn(40, 5, dtype=torch.float64)
    target = 1 - model(x0).argmax(1)
    kw = dict(
        terms=[HingeLoss(confidence=0.1), L2Distance(), L1Distance(0.1)],
        solver=FISTA(0.05),
        search=CSearch(1.0, 3),
        max_iter=50,
        early_stop=False,
    )
    fast = solve(model, x0, target, **kw)
    plain = _solve._PlainStack.__call__
    original = _solve._fast_logits
    try:  # a wrapper the engine does not recognise: the autograd path

        def wrapped(m):
            f = original(m)
            return lambda x: plain(f, x)

        _solve._fast_logits = wrapped
        slow = solve(model, x0, target, **kw)
    finally:
        _solve._fast_logits = original
    assert torch.equal(fast.found, slow.found)
    torch.testing.assert_close(fast.x_cf, slow.x_cf, atol=1e-9, rtol=0)


def test_subclass_changing_value_goes_through_autograd():
    from skcf._engine._solve import _own_gradient

    class Doubled(HingeLoss):
        def value(self, ctx):
            return 2 * super().value(ctx)

    assert _own_gradient(HingeLoss()) and _own_gradient(L2Distance())
    assert not _own_gradient(Doubled())


def test_inherited_promise_of_a_hand_gradient_is_not_trusted():
    """A subclass that changes ``value`` or ``value_and_grad`` but not
    ``gives_gradient`` keeps the search out of inference mode."""
    from skcf._engine._solve import _hand_only

    class Doubled(HingeLoss):
        def value(self, ctx):
            return 2 * super().value(ctx)

    class Sometimes(L2Distance):
        def value(self, ctx):
            return super().value(ctx)

        def value_and_grad(self, ctx):
            return None

    assert _hand_only([HingeLoss(), L2Distance()], True)
    assert not _hand_only([HingeLoss(), L2Distance(squared=False)], True)
    assert not _hand_only([CrossEntropyLoss()], False)
    assert not _hand_only([Doubled()], True)
    assert not _hand_only([HingeLoss(), Sometimes()], True)
    assert not _hand_only([], True)  # nothing to differentiate: no shortcut


def _grouped_constraints():
    from skcf._engine import Constraints

    cons = Constraints.unconstrained(5, dtype=torch.float64)
    cons.groups = [torch.tensor([2, 3, 4])]
    cons.lower[2:], cons.upper[2:] = 0.0, 1.0
    return cons


def test_inference_mode_search_is_bit_identical_and_leaves_ordinary_tensors(
    monkeypatch,
):
    """A search whose every gradient is by hand runs in inference mode: the
    same iterates, a result (and engine caches) usable by autograd later."""
    from skcf._engine import Adam, _constraints, _solve

    torch.manual_seed(4)
    model = DifferentiableModel(_UserNet().double())
    x0 = torch.randn(12, 5, dtype=torch.float64)
    x0[:, 2:] = torch.eye(3, dtype=torch.float64)[torch.arange(12) % 3]
    target = 1 - model(x0).argmax(1)
    # fresh caches: the first use happens inside the inference-mode search
    monkeypatch.setattr(_solve, "_NODE_WEIGHTS", {})
    monkeypatch.setattr(_solve, "_ANCESTRY", {})
    monkeypatch.setattr(_constraints, "_RANKS", {})
    cons = _grouped_constraints()
    kw = dict(
        terms=[HingeLoss(confidence=0.1), L2Distance(), L1Distance(0.1)],
        solver=FISTA(0.05),
        search=CSearch(1.0, 3),
        constraints=cons,
        max_iter=40,
        patience=5,
    )
    fast = solve(model, x0, target, **kw)
    caches = [*_solve._NODE_WEIGHTS.values(), *_constraints._RANKS.values()]
    caches += [t for v in _solve._ANCESTRY.values() for t in v]
    caches += list(cons.packed_groups())
    assert caches and not any(t.is_inference() for t in caches)
    tensors = [fast.x_cf, fast.found, fast.n_iter, fast.cost, fast.weight]
    assert not any(t.is_inference() for t in [*tensors, *fast.losses.values()])
    monkeypatch.setattr(_solve, "_hand_only", lambda terms, targeted_only: False)
    slow = solve(model, x0, target, **kw)
    for a, b in zip(tensors, [slow.x_cf, slow.found, slow.n_iter, slow.cost]):
        assert torch.equal(a, b)
    # the same constraints and caches in a search that needs autograd
    # (cross-entropy of untargeted rows), and the result in a backward pass
    auto = solve(
        model,
        x0,
        target,
        terms=[CrossEntropyLoss(), L2Distance(0.1)],
        solver=Adam(0.05),
        constraints=cons,
        untargeted=torch.ones(12, dtype=torch.bool),
        max_iter=20,
    )
    x = fast.x_cf.clone().requires_grad_(True)
    (model(x).sum() + auto.x_cf.sum()).backward()
    assert torch.isfinite(x.grad).all()


# ------------------------------------------------------------ speculative search
def _solve_both(model, x0, target, **kw):
    import skcf

    out = {}
    for spec in (False, True):
        with skcf.config_context(speculative_search=spec):
            out[spec] = solve(model, x0, target, **kw)
    return out[False], out[True]


@pytest.mark.parametrize("early_stop", [False, True])
@pytest.mark.parametrize("n_rows", [1, 3])
def test_speculative_tree_search_equals_sequential_rounds(early_stop, n_rows):
    from skcf._engine._solve import _speculate

    model = DifferentiableModel(_mlp(3, hidden=(8, 4)).double())
    torch.manual_seed(1)
    x0 = torch.randn(n_rows, 5, dtype=torch.float64)
    target = 1 - model(x0).argmax(1)
    search = CSearch(1.0, 5)
    kw = dict(
        terms=[HingeLoss(), L2Distance(), L1Distance(0.1)],
        solver=FISTA(0.2),
        search=search,
        max_iter=60,
        early_stop=early_stop,
        patience=8,
    )
    seq, spec = _solve_both(model, x0, target, **kw)
    torch.testing.assert_close(spec.x_cf, seq.x_cf, rtol=0, atol=1e-10)
    assert torch.equal(spec.found, seq.found)
    assert torch.equal(spec.n_iter, seq.n_iter)  # the sequential path's rounds
    torch.testing.assert_close(spec.weight, seq.weight)
    torch.testing.assert_close(spec.cost, seq.cost)
    assert seq.found.all()
    assert (seq.weight > 1.0).all()  # rounds failed and succeeded: the tree branched

    # a chunk this small runs as a tree (and a large one would not)
    class _Probe:
        keep_last, within_linf, final_only = False, None, False

        def __init__(self, n):
            self.x0 = torch.zeros(n, 5)

    assert _speculate(_Probe(n_rows), search, 100)
    assert not _speculate(_Probe(1000), search, 100)
    assert not _speculate(_Probe(1), CSearch(1.0, 1), 100)


def test_speculative_search_is_a_setting():
    import skcf

    assert skcf.get_config()["speculative_search"] is True
    with skcf.config_context(speculative_search=False):
        assert skcf.get_config()["speculative_search"] is False
    assert skcf.get_config()["speculative_search"] is True
    with pytest.raises(ValueError, match="speculative_search"):
        skcf.set_config(speculative_search="yes")


@pytest.mark.parametrize(
    "name", ["ElasticNetGenerator", "WachterGenerator", "CEMGenerator"]
)
def test_speculative_search_same_counterfactuals_through_generators(name):
    import warnings

    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    import skcf
    from skcf import generators
    from skcf.exceptions import CounterfactualWarning

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    gen = getattr(generators, name)(clf, random_state=0).fit(X)
    out = {}
    for spec in (False, True):
        with skcf.config_context(speculative_search=spec), warnings.catch_warnings():
            warnings.simplefilter("ignore", CounterfactualWarning)
            out[spec] = [gen.explain(X[i : i + 1]) for i in range(4)]
    for a, b in zip(out[False], out[True]):
        np.testing.assert_allclose(b.X_cf, a.X_cf, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(b.valid, a.valid)
        np.testing.assert_array_equal(b.n_iter, a.n_iter)


def test_straight_through_query_serves_as_the_judged_candidate(monkeypatch):
    """A straight-through solver with the problem's own snap: the step's query
    is the snapped candidate, judged without a second snap or forward, with
    the same counterfactuals as judging it afresh."""
    from skcf._engine import Adam, _solve

    torch.manual_seed(5)
    model = DifferentiableModel(_UserNet().double())
    cons = _grouped_constraints()
    cons.integer = torch.tensor([True, False, False, False, False])
    cons.step = torch.ones(5, dtype=torch.float64)
    cons.origin = torch.zeros(5, dtype=torch.float64)
    x0 = torch.randn(16, 5, dtype=torch.float64)
    x0[:, 0] = x0[:, 0].round()
    x0[:, 2:] = torch.eye(3, dtype=torch.float64)[torch.arange(16) % 3]
    x0[0, 2:] = torch.tensor([0.2, 0.3, 0.5])  # a start that is not snapped
    target = 1 - model(x0).argmax(1)

    def run(solver_cons):
        return solve(
            model,
            x0,
            target,
            terms=[CrossEntropyLoss(), L1Distance(0.1)],
            solver=Adam(0.3, snap=solver_cons.snap),
            constraints=cons,
            search=CSearch(10.0, 3),
            max_iter=60,
        )

    seen = []
    original = _solve._Problem.consider

    def consider(self, view, cand, logits, snapped=False):
        seen.append(snapped)
        return original(self, view, cand, logits, snapped)

    monkeypatch.setattr(_solve._Problem, "consider", consider)
    same = run(_grouped_constraints_like(cons))  # equal, not the same object
    assert any(seen) and not all(seen)  # reused after the first step only
    seen.clear()
    other = _grouped_constraints_like(cons)
    other.upper = other.upper + 1.0  # another box: its own snap, judged afresh
    assert not cons.same_as(other)
    run(other)
    assert not any(seen)
    monkeypatch.setattr(_solve, "_own_snap", lambda solver, c: False)
    fresh = run(cons)
    for a, b in zip(
        (same.x_cf, same.found, same.n_iter, same.cost),
        (fresh.x_cf, fresh.found, fresh.n_iter, fresh.cost),
    ):
        assert torch.equal(a, b)
    assert same.found.sum() >= 8


def _grouped_constraints_like(cons):
    import copy

    out = copy.copy(cons)
    out._packed = out._ranked = None
    return out


def test_orthant_gradient_follows_owlqn_rule():
    """The clamp form of OWL-QN's pseudo-gradient gives the rule's values."""
    from skcf._engine._solvers import _orthant_gradient

    torch.manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        w = torch.rand(9, dtype=dtype) * torch.tensor([0, 1, 2] * 3, dtype=dtype)
        g = torch.randn(40, 9, dtype=dtype) * 3
        g[0], g[1], g[2] = w, -w, 0.0  # on the thresholds, and zero
        delta = torch.randn(40, 9, dtype=dtype) * (torch.rand(40, 9) > 0.5)
        pseudo, orthant = _orthant_gradient(g, delta, w)
        sign = torch.sign(delta)
        leave = torch.where(
            g > w, g - w, torch.where(g < -w, g + w, torch.zeros_like(g))
        )
        at_zero = sign == 0
        expected = torch.where(at_zero, leave, g + w * sign)
        assert torch.equal(pseudo, expected)
        assert torch.equal(orthant, torch.where(at_zero, -torch.sign(expected), sign))


@pytest.mark.parametrize("moments", [(), ("m",)])
def test_finiteness_guard_resets_points_not_moments(moments):
    """After a step that overflows, the guard puts a point back at the factual
    and leaves a solver's declared moments as they are."""
    from skcf._engine import SGD

    seen = []

    class Overflowing(SGD):
        def init(self, x0):
            return {"x": x0.clone(), "m": torch.zeros_like(x0)}

        def step(self, state, grad, ctx):
            seen.append({k: v.clone() for k, v in state.items()})
            state["x"] = torch.full_like(state["x"], float("inf"))
            state["m"] = torch.full_like(state["m"], float("inf"))

    Overflowing.moments = moments
    torch.manual_seed(0)
    x0 = torch.randn(4, 3)
    model = nn.Linear(3, 2)
    solve(
        model,
        x0,
        torch.ones(4, dtype=torch.long),
        terms=[CrossEntropyLoss(), L2Distance()],
        solver=Overflowing(),
        max_iter=3,
        early_stop=False,
    )
    after = seen[1]  # the state the guard left after the first step
    assert torch.equal(after["x"], x0)  # a point: back at the factual
    if moments:
        assert torch.isinf(after["m"]).all()  # a moment: left alone
    else:
        assert torch.equal(after["m"], x0)  # any other state: guarded too
    assert Adam.moments == ("m", "v")


def test_two_class_runner_up_is_the_other_class():
    """With two classes, the max over the other classes is the other logit,
    also at NaN and infinite logits; the hinge's gradient is unchanged."""
    from skcf._engine._terms import _max_other

    z = torch.tensor(
        [
            [0.3, -1.2],
            [2.0, 2.0],
            [float("nan"), 1.0],
            [1.0, float("nan")],
            [float("-inf"), 0.5],
            [0.5, float("inf")],
            [-0.0, 0.0],
        ]
    )
    for t in (torch.zeros(7, dtype=torch.long), torch.ones(7, dtype=torch.long)):
        general = z.scatter(1, t.view(-1, 1), float("-inf")).max(dim=1).values
        assert torch.equal(_max_other(z, t).isnan(), general.isnan())
        ok = ~general.isnan()
        assert torch.equal(_max_other(z, t)[ok], general[ok])
        finite = torch.isfinite(z).all(dim=1)
        ctx = TermContext(
            z[:, :1],
            z[:, :1],
            z[finite],
            t[finite],
            torch.zeros(int(finite.sum()), dtype=torch.bool),
            t[finite],
            {},
            True,
        )
        value, _, gz = HingeLoss(confidence=0.5).value_and_grad(ctx)
        zz = z[finite].clone().requires_grad_(True)
        ctx.logits = zz
        (g,) = torch.autograd.grad(HingeLoss(confidence=0.5).value(ctx).sum(), zz)
        assert torch.equal(value, HingeLoss(confidence=0.5).value(ctx).detach())
        assert torch.equal(gz, g)
