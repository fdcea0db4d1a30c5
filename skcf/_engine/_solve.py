"""The one optimisation loop of skcf."""

from __future__ import annotations

import copy
import warnings
import weakref
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..utils._random import row_keys, uniform
from ._constraints import Constraints
from ._result import SearchResult
from ._search import CSearch, RadiusSearch
from ._solvers import Solver, StepContext
from ._terms import L1Distance, Term, TermContext, _gather, _max_other, _runner_up
from ._threads import engine_threads, model_cost

Model = Callable[[Tensor], Tensor]


def is_valid(
    logits: Tensor,
    target: Tensor,
    untargeted: Tensor,
    y0: Tensor,
    *,
    tau: float = 0.0,
    margin: float = 0.0,
    targeted_only: bool = False,
) -> Tensor:
    """Validity rule per row.

    Targeted rows need ``argmax = t``, a logit margin ``z_t - max_{j≠t} z_j``
    of at least ``margin`` and ``p_t >= tau`` (seed 002 B.1.2). Untargeted rows
    need the best other class to beat ``y0`` by the same rules.
    ``targeted_only`` (the caller knows no row is untargeted) skips the
    untargeted branch; the answer is the same.
    """
    if targeted_only:
        cls = target
    else:
        cls = torch.where(untargeted, _runner_up(logits, y0)[1].view(-1), target)
    z_c = _gather(logits, cls)
    gap = z_c - _max_other(logits, cls)
    ok = gap > 0
    if not margin <= 0:  # (a NaN margin keeps the general rule)
        ok = ok & (gap >= margin)
    if not tau <= 0:
        ok = ok & (_gather(torch.softmax(logits, dim=1), cls) >= tau)
    else:
        # p_c >= tau <= 0 fails only where p_c is NaN: a NaN logit (then gap is
        # NaN and already fails) or a +inf logit (fails unless it is z_c alone)
        ok = ok & (z_c < float("inf"))
    return ok


def _plain_layers(module) -> list | None:
    """The layers of a hook-free stack of ``Linear`` / ``ReLU`` modules, else None.

    Covers ``nn.Sequential``, :class:`skcf.models.MLP` (whose ``forward`` is
    its ``net``) and any other module whose traced forward (``torch.fx``) is a
    chain of ``Linear`` / ``ReLU`` calls, e.g. the usual user module
    ``forward(x): return self.net(x)``; the trace is cached per module.
    """
    from ..models import MLP  # a late import: the models package imports the engine

    nn = torch.nn
    if type(module) is MLP:
        if module._forward_hooks or module._forward_pre_hooks:
            return None
        module = module.net
    layers: list | None
    if type(module) is nn.Sequential:
        layers = list(module)
    else:
        layers = _traced_chain(module)
        if layers is None:
            return None
    if _hooked(module):
        return None
    for m in layers:
        if type(m) not in (nn.Linear, nn.ReLU) or _hooked(m):
            return None
    return layers


def _hooked(m) -> bool:
    return bool(
        m._forward_hooks
        or m._forward_pre_hooks
        or m._backward_hooks
        or m._backward_pre_hooks
    )


_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _traced_chain(module) -> list | None:
    """Submodules called one after the other by ``module``, or None."""
    try:
        return _TRACED[module]
    except KeyError:
        pass
    except TypeError:  # not weak-referenceable
        return None
    layers = None
    try:
        import torch.fx

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = torch.fx.symbolic_trace(module).graph
        nodes = list(graph.nodes)
        if (
            len(nodes) >= 3
            and nodes[0].op == "placeholder"
            and nodes[-1].op == "output"
            and all(n.op == "call_module" for n in nodes[1:-1])
        ):
            chain = nodes[1:-1]
            prev = nodes[0]
            ok = True
            for n in chain:
                if n.args != (prev,) or n.kwargs or len(n.users) != 1:
                    ok = False
                    break
                prev = n
            ok = ok and nodes[-1].args == (prev,) and len(nodes[0].users) == 1
            if ok:
                layers = [module.get_submodule(n.target) for n in chain]
    except Exception:  # untraceable forward: keep the module's own call
        layers = None
    _TRACED[module] = layers
    return layers


def _fast_logits(model):
    """``model`` itself, or the same computation without ``nn.Module`` dispatch.

    A one-row search spends about as long in ``nn.Module.__call__`` (hook
    checks, per layer) as in the layers' arithmetic. For a
    :class:`~skcf.models.DifferentiableModel` returning logits from a plain
    Linear/ReLU stack, the engine calls ``F.linear`` / ``torch.relu`` on the
    same parameters directly: the same operators in the same order, hence the
    same numbers. Anything else (preprocessing, hooks, other layers, global
    module hooks) keeps the model's own call.
    """
    from ..models import DifferentiableModel

    if type(model) is not DifferentiableModel or model.preprocess:
        return model
    if model.output != "logits":
        return model
    from torch.nn.modules import module as _mod

    if any(
        getattr(_mod, name, None)
        for name in (
            "_global_forward_hooks",
            "_global_forward_pre_hooks",
            "_global_backward_hooks",
            "_global_backward_pre_hooks",
            "_global_forward_hooks_always_called",
        )
    ):
        return model
    layers = _plain_layers(model.module)
    if layers is None:
        return model
    return _PlainStack(layers)


def _own_gradient(term) -> bool:
    """``value_and_grad`` belongs to the class that defines ``value``.

    A subclass that changes ``value`` but inherits ``value_and_grad`` would
    get its parent's gradient: it goes through autograd instead.
    """
    cls = type(term)
    return _defining(cls, "value") is _defining(cls, "value_and_grad")


def _hand_only(terms, targeted_only: bool) -> bool:
    """Every term's gradient comes from its own ``value_and_grad``, always.

    ``gives_gradient`` must come from the class that defines ``value_and_grad``
    (and ``value``): a subclass that changes either is not trusted with its
    parent's promise.
    """
    for t in terms:
        cls = type(t)
        owner = _defining(cls, "value_and_grad")
        if not (
            _defining(cls, "value") is owner is _defining(cls, "gives_gradient")
            and t.gives_gradient(targeted_only)
        ):
            return False
    return bool(terms)


def _own_snap(solver: Solver, cons: Constraints) -> bool:
    """The solver is straight-through with the problem's own snap.

    Its query after each step is then the snapped candidate, the point the
    engine judges: the step's logits serve both (no second snap, no second
    forward).
    """
    snap, cls = solver.snap, type(solver)
    return (
        snap is not None
        and cls.query is Solver.query
        and cls.candidate is Solver.candidate
        and cls._snap_query is Solver._snap_query
        and getattr(snap, "__func__", None) is type(cons).snap
        and cons.same_as(getattr(snap, "__self__", None))
    )


def _defining(cls, name):
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


class _PlainStack:
    """Logits of a plain Linear/ReLU stack, with a hand-written input gradient.

    Calling it runs the same operators as the module (``F.linear``,
    ``torch.relu``) on the same parameters. :meth:`forward_saving` also keeps
    the ReLU outputs so that :meth:`vjp` can return ``Jᵀ g`` with one ``mm``
    and one mask per layer, the products autograd would run, without building
    a graph (half of a one-row iteration's time on a CPU was autograd
    book-keeping).
    """

    def __init__(self, layers) -> None:
        self.weights: list[Tensor] = []
        # (weight, bias, weight transposed): the transpose is a view taken
        # once, so a step's forward is one addmm per layer (what linear runs)
        self.ops: list[tuple[Tensor, Tensor | None, Tensor] | None] = []
        for m in layers:
            if isinstance(m, torch.nn.Linear):
                self.weights.append(m.weight)
                self.ops.append((m.weight, m.bias, m.weight.t()))
            else:
                self.ops.append(None)

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward_saving(x)[0]

    def forward_saving(self, x: Tensor) -> tuple[Tensor, list]:
        saved: list[Tensor] = []
        for op in self.ops:
            if op is None:
                x = torch.relu(x)
                saved.append(x)
            elif x.dim() != 2:
                x = torch.nn.functional.linear(x, op[0], op[1])
            elif op[1] is None:
                x = x.mm(op[2])
            else:
                x = torch.addmm(op[1], x, op[2])
        if x.dim() == 1 or x.shape[-1] == 1:  # as DifferentiableModel.logits
            z = x.reshape(-1, 1)
            return torch.cat([torch.zeros_like(z), z], dim=1), saved
        return x, saved

    def vjp(self, g: Tensor, saved: list) -> Tensor:
        """``Jᵀ g`` for logits gradient ``g`` of shape ``(n, k)``."""
        if self.weights[-1].shape[0] == 1:
            g = g[:, 1:]
        k = len(saved)
        for op in reversed(self.ops):
            if op is None:
                k -= 1
                # ReLU's backward as autograd runs it: one op, not a mask product
                g = torch.ops.aten.threshold_backward(g, saved[k], 0)
            else:
                g = g.mm(op[0])
        return g


def _default_cost(terms: Sequence[Term]):
    dist = [t for t in terms if not t.is_prediction]

    def cost(ctx: TermContext) -> Tensor:
        total = (ctx.x - ctx.x0).norm(dim=1) if not dist else dist[0](ctx)
        for t in dist[1:]:
            total = total + t(ctx)
        return total

    return cost


class _View:
    """The problem restricted to a set of rows (recomputed when rows finish)."""

    def __init__(self, prob: _Problem, rows: Tensor) -> None:
        self.rows = rows
        n = prob.x0.shape[0]
        # rows are sorted distinct indices (an arange or a subset of one): all n
        # of them is the whole chunk, read and written without gathers
        self.full = rows.shape[0] == n
        take = (lambda v: v) if self.full else (lambda v: v[rows])
        self.x0 = take(prob.x0)
        self.target = take(prob.target)
        self.untargeted = take(prob.untargeted)
        self.y0 = take(prob.y0)
        self.lo = take(prob.lo)
        self.hi = take(prob.hi)
        self.extra = {
            k: take(v)
            if isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] == n
            else v
            for k, v in prob.extra.items()
        }
        self._cons = prob.cons
        self._latent = prob.param is not None
        self._targeted_only = prob.targeted_only
        # the best so far of these rows, updated in place of the problem's
        # (no gather/scatter per iteration); ``flush`` writes them back
        self.best_x = take(prob.best_x)
        self.best_cost = take(prob.best_cost)
        self.found = take(prob.found)
        self._plan = None

    def plan(self):
        """The constraints' :meth:`~Constraints.box_plan` of these rows' box,
        computed once per view."""
        if self._plan is None:
            self._plan = self._cons.box_plan(self.lo, self.hi)
        return self._plan

    def snap(self, x: Tensor) -> Tensor:
        """``x`` snapped inside these rows' box."""
        return self._cons.snap(x, self.lo, self.hi, self.plan())

    def flush(self, prob: _Problem) -> None:
        """Write this view's best-so-far back into ``prob``."""
        if self.full:
            prob.best_x, prob.best_cost, prob.found = (
                self.best_x,
                self.best_cost,
                self.found,
            )
            return
        r = self.rows
        prob.best_x[r] = self.best_x
        prob.best_cost[r] = self.best_cost
        prob.found[r] = self.found

    def project(self, x: Tensor) -> Tensor:
        """Projection of the solver variable (none for a latent variable)."""
        if self._latent:
            return x
        return self._cons.project(x, self.lo, self.hi, self.plan())

    def point(self, prob: _Problem, u: Tensor) -> Tensor:
        """Input-space point of solver variable ``u`` (decoded and projected)."""
        if prob.param is None:
            return u
        return self._cons.project(prob.param.decode(u), self.lo, self.hi, self.plan())

    def ctx(self, x: Tensor, logits: Tensor) -> TermContext:
        return TermContext(
            x,
            self.x0,
            logits,
            self.target,
            self.untargeted,
            self.y0,
            self.extra,
            self._targeted_only,
        )


class _Problem:
    """One chunk of rows and everything fixed during its search."""

    def __init__(
        self,
        model,
        x0,
        target,
        untargeted,
        y0,
        terms,
        solver,
        cons,
        max_iter,
        early_stop,
        tau,
        margin,
        patience,
        cost_fn,
        extra,
        param=None,
        keep_last=False,
        within_linf=None,
        final_only=False,
    ):
        self.model = model
        self.keep_last = keep_last
        self.within_linf = within_linf
        self.final_only = final_only
        self.param = param
        self.x0 = x0
        self.target = target
        self.untargeted = untargeted
        self.y0 = y0
        self.solver = solver
        self.cons = cons
        self.max_iter = max_iter
        self.early_stop = early_stop
        self.tau = tau
        self.margin = margin
        self.patience = patience
        self.extra = extra
        # one host sync per chunk; lets terms and validity skip untargeted work
        self.targeted_only = not bool(untargeted.any())
        self.lo, self.hi = cons.row_bounds(x0)
        self.finite_box = bool(
            torch.isfinite(self.lo).all() & torch.isfinite(self.hi).all()
        )
        self.grad_mask = cons.grad_mask() if param is None else 1.0
        if isinstance(self.grad_mask, Tensor) and bool((self.grad_mask == 1).all()):
            self.grad_mask = 1.0  # nothing frozen: the solvers skip the product
        self.snapping = cons.needs_snapping
        # after its first step, a straight-through solver's query is the
        # snapped candidate (see _own_snap)
        self.query_is_candidate = (
            self.snapping and param is None and _own_snap(solver, cons)
        )
        # one-hot groups index input columns: no meaning for a latent variable
        self.groups = cons.packed_groups() if param is None else None
        # ℓ1 terms go to the solver (prox or orthant step) when it handles them,
        # to autograd (sub-gradient) otherwise.
        self.l1_terms = (
            [t for t in terms if isinstance(t, L1Distance)]
            if solver.l1_mode and param is None
            else []
        )
        grad_terms = [t for t in terms if t not in self.l1_terms]
        self.pred_terms = [t for t in grad_terms if t.is_prediction]
        self.other_terms = [t for t in grad_terms if not t.is_prediction]
        self.all_terms = list(terms)
        # a step with no autograd at all (the network's backward by hand, every
        # term's gradient by hand) runs the search in inference mode
        self.hand_only = (
            param is None
            and isinstance(model, _PlainStack)
            and _hand_only(grad_terms, self.targeted_only)
        )
        self.cost_fn = cost_fn or _default_cost(terms)
        d = x0.shape[1]
        self.l1_weight = None
        for t in self.l1_terms:
            w = t.prox_threshold(d, x0)
            self.l1_weight = w if self.l1_weight is None else self.l1_weight + w
        with torch.no_grad():
            self.u0 = x0 if param is None else param.init(x0).detach()
        n = x0.shape[0]
        self.best_x = x0.clone()
        self.best_cost = torch.full(
            (n,), float("inf"), dtype=x0.dtype, device=x0.device
        )
        self.found = torch.zeros(n, dtype=torch.bool, device=x0.device)
        self.last_x = x0.clone() if keep_last else None
        self.within_x = x0.clone() if within_linf is not None else None
        self.n_iter = torch.zeros(n, dtype=torch.long, device=x0.device)

    def tiled(self, k: int) -> _Problem:
        """This problem with its rows repeated ``k`` times (block ``j`` is copy j).

        Per-row tensors (factuals, targets, bounds, per-row extras, the start and
        the best-so-far) are tiled; everything fixed for the chunk is shared.
        """
        n = self.x0.shape[0]
        out = copy.copy(self)

        def tile(v):
            if isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] == n:
                return v.repeat(k, *([1] * (v.dim() - 1)))
            return v

        for name in (
            "x0",
            "target",
            "untargeted",
            "y0",
            "lo",
            "hi",
            "u0",
            "best_x",
            "best_cost",
            "found",
            "last_x",
            "within_x",
            "n_iter",
        ):
            setattr(out, name, tile(getattr(self, name)))
        out.extra = {key: tile(v) for key, v in self.extra.items()}
        return out

    def loss_and_grad(self, view: _View, q: Tensor, c: Tensor):
        if self.param is None and isinstance(self.model, _PlainStack):
            return self._loss_and_grad_plain(view, q, c)
        with torch.enable_grad():
            q = q.detach().requires_grad_(True)
            x = view.point(self, q)
            logits = self.model(x)
            loss = self._term_loss(view.ctx(x, logits), c)
            if loss is None:
                loss = torch.zeros(q.shape[0], dtype=q.dtype, device=q.device)
            (grad,) = torch.autograd.grad(loss.sum(), q)
        grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
        return loss.detach(), logits.detach(), grad

    def _term_loss(self, ctx: TermContext, c: Tensor) -> Tensor | None:
        """``c·(prediction terms) + other terms`` per row (None without terms)."""
        # 0 + v == v (up to the sign of a zero): start from the first term
        loss = None
        for t in self.pred_terms:
            v = c * t(ctx)
            loss = v if loss is None else loss + v
        for t in self.other_terms:
            v = t(ctx)
            loss = v if loss is None else loss + v
        return loss

    def _loss_and_grad_plain(self, view: _View, q: Tensor, c: Tensor):
        """:meth:`loss_and_grad` with the network's backward written by hand.

        The terms' gradients come from their own ``value_and_grad`` when every
        term has one, else from autograd with the logits as a leaf; the input
        gradient is the terms' ``∂L/∂x`` plus ``Jᵀ ∂L/∂z`` from the stack.
        """
        model = self.model
        logits, saved = model.forward_saving(q)  # gradients are off in run()
        by_hand = self._by_hand(view.ctx(q, logits), c)
        if by_hand is not None:
            loss, gx, gz = by_hand
        else:
            with torch.enable_grad():
                x = q.detach().requires_grad_(True)
                z = logits.requires_grad_(True)
                loss = self._term_loss(view.ctx(x, z), c)
                if loss is None:
                    loss, gx, gz = torch.zeros_like(q[:, 0]), None, None
                else:
                    gx, gz = torch.autograd.grad(loss.sum(), (x, z), allow_unused=True)
            loss, logits = loss.detach(), logits.detach()
        grad = torch.zeros_like(q) if gx is None else gx
        if gz is not None:
            grad = grad + model.vjp(gz, saved)
        grad = torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
        return loss, logits, grad

    def _by_hand(self, ctx: TermContext, c: Tensor):
        """Loss and gradients from the terms' own ``value_and_grad``, or None."""
        loss = gx = gz = None
        for weight, terms in ((c, self.pred_terms), (None, self.other_terms)):
            for t in terms:
                r = t.value_and_grad(ctx) if _own_gradient(t) else None
                if r is None:
                    return None
                v, tx, tz = r
                if weight is not None:
                    w = weight.view(-1, 1)
                    v = weight * v
                    tx = None if tx is None else w * tx
                    tz = None if tz is None else w * tz
                loss = v if loss is None else loss + v
                if tx is not None:
                    gx = tx if gx is None else gx + tx
                if tz is not None:
                    gz = tz if gz is None else gz + tz
        if loss is None:
            return None
        return loss, gx, gz

    def consider(
        self,
        view: _View,
        cand: Tensor,
        logits: Tensor | None,
        snapped: bool = False,
    ) -> Tensor:
        """Record valid candidates that beat the best so far; return validity.

        Called by :meth:`run`, with gradients off. ``snapped``: ``cand`` is
        already the snapped point and ``logits`` its logits.
        """
        if self.param is not None:
            cand, logits = view.point(self, cand), None
        if self.snapping and not snapped:
            cand = view.snap(cand)
            logits = None
        if logits is None:
            logits = self.model(cand)
        ok = is_valid(
            logits,
            view.target,
            view.untargeted,
            view.y0,
            tau=self.tau,
            margin=self.margin,
            targeted_only=self.targeted_only,
        )
        cost = self.cost_fn(view.ctx(cand, logits))
        if self.last_x is not None or self.within_x is not None:
            self._keep(view, cand)
        better = ok & (cost < view.best_cost)  # no host sync: masked writes
        view.best_x = torch.where(better[:, None], cand, view.best_x)
        view.best_cost = torch.where(better, cost, view.best_cost)
        view.found = view.found | better
        return ok

    def _keep(self, view: _View, cand: Tensor) -> None:
        """Record the last iterate (and the last one inside the ℓ∞ ball)."""
        if view.full:
            if self.last_x is not None:
                self.last_x.copy_(cand)
            if self.within_x is not None:
                inside = (cand - view.x0).abs().amax(dim=1) < self.within_linf
                self.within_x.copy_(torch.where(inside[:, None], cand, self.within_x))
            return
        r = view.rows
        if self.last_x is not None:
            self.last_x[r] = cand
        if self.within_x is not None:
            inside = (cand - view.x0).abs().amax(dim=1) < self.within_linf
            self.within_x[r] = torch.where(inside[:, None], cand, self.within_x[r])

    @torch.no_grad()  # once per run; the autograd path turns gradients on itself
    def run(
        self,
        rows: Tensor,
        c: Tensor,
        radius: Tensor | None,
        start: Tensor,
        prune: Callable[[Tensor, Tensor], Tensor] | None = None,
    ) -> Tensor:
        """Run the solver from ``start`` on ``rows``; return per-row success.

        The solver state only holds the active rows: when rows finish, state and
        view are compacted once, so finished rows cost nothing afterwards.
        ``prune(success, ended)``, called whenever rows finish, names further
        rows to stop (a speculative search's refuted branches), as a mask over
        ``rows``; ``ended`` marks the rows whose run is over.
        """
        solver = self.solver
        state = solver.init(start)
        success = torch.zeros(rows.shape[0], dtype=torch.bool, device=start.device)
        active = torch.arange(rows.shape[0], device=start.device)
        view = _View(self, rows)
        # a row improves when its loss beats ``bar``: its best loss so far less
        # 1e-6 of its size (the first finite loss beats the initial inf)
        bar = torch.full_like(c, float("inf"))
        stall = torch.zeros_like(active)
        # iterates of a projecting solver inside finite boxes stay finite
        guard = self.param is not None or not (
            solver.projects_state and self.finite_box
        )
        # iterations are credited to rows when they leave (or the loop ends),
        # not one indexed add per iteration
        credited = 0
        ended = None if prune is None else torch.zeros_like(success)
        for it in range(self.max_iter):
            query = solver.query(state)
            loss, logits, grad = self.loss_and_grad(view, query, c)
            done = None
            if not self.final_only:
                if self.query_is_candidate and it > 0:  # snapped already
                    ok = self.consider(view, query, logits, snapped=True)
                else:
                    cand = solver.candidate(state)
                    ok = self.consider(view, cand, logits if cand is query else None)
                if view.full:
                    success |= ok
                else:
                    success[active] |= ok
                done = ok if self.early_stop else None
            if self.patience:
                improved = loss < bar
                bar = torch.where(improved, loss - 1e-6 * loss.abs(), bar)
                stall = torch.where(improved, 0, stall + 1)
                stalled = stall >= self.patience
                done = stalled if done is None else done | stalled
            sctx = StepContext(
                view.x0,
                view.lo,
                view.hi,
                view.project,
                self.grad_mask,
                it,
                self.max_iter,
                self.l1_weight,
                radius,
                self.groups,
                view.snap if self.query_is_candidate else None,
            )
            solver.step(state, grad, sctx)
            for k, v in state.items() if guard else ():  # no non-finite value
                if self.param is None and k in solver.moments:
                    continue
                if self.param is None and v.shape == view.x0.shape:
                    # v - v is 0 exactly where v is finite (NaN at inf or NaN):
                    # isfinite's answer in two operations instead of four
                    state[k] = torch.where(v - v == 0, v, view.x0)
                elif self.param is not None:
                    state[k] = torch.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
            if done is not None and bool(done.any()):
                if prune is not None and ended is not None:
                    ended[active[done]] = True
                    done = done | prune(success, ended)[active]
                    ended[active[done]] = True
                self.n_iter[view.rows] += it + 1 - credited
                credited = it + 1
                view.flush(self)
                if self.final_only:  # a stalled row's final iterate is this one
                    left = active[done]
                    last = solver.candidate({k: v[done] for k, v in state.items()})
                    stalled_view = _View(self, rows[left])
                    success[left] |= self.consider(stalled_view, last, None)
                    stalled_view.flush(self)
                keep = ~done
                active = active[keep]
                if active.shape[0] == 0:
                    break
                state = {k: v[keep] for k, v in state.items()}
                c, bar, stall = c[keep], bar[keep], stall[keep]
                radius = None if radius is None else radius[keep]
                view = _View(self, rows[active])
        else:  # the last step's iterate has not been looked at yet
            if active.shape[0]:
                self.n_iter[view.rows] += self.max_iter - credited
                success[active] |= self.consider(view, solver.candidate(state), None)
                view.flush(self)
        return success


def solve(
    model: Model,
    x0: Tensor,
    target: Tensor,
    *,
    terms: Sequence[Term],
    solver: Solver,
    constraints: Constraints | None = None,
    max_iter: int = 100,
    search: CSearch | RadiusSearch | None = None,
    untargeted: Tensor | None = None,
    y0: Tensor | None = None,
    early_stop: bool = True,
    tau: float = 0.0,
    margin: float = 0.0,
    patience: int | None = None,
    cost_fn: Callable[[TermContext], Tensor] | None = None,
    extra: dict | None = None,
    batch_size: int | None = 1024,
    seed: int | None = None,
    progress: Callable | None = None,
    param=None,
    keep_last: bool = False,
    within_linf: float | None = None,
    final_only: bool = False,
) -> SearchResult:
    """Minimise ``c·prediction terms + other terms`` per row under constraints.

    Parameters
    ----------
    model : callable
        Maps a float tensor ``(n, d)`` to logits ``(n, k)``; must be differentiable.
    x0 : Tensor of shape (n, d)
        Factual rows, on the device the model lives on.
    target : Tensor of shape (n,)
        Target class index per row.
    terms : sequence of Term
    solver : Solver
    constraints : Constraints, optional
    max_iter : int
        Solver iterations per search round.
    search : CSearch or RadiusSearch, optional
        Without it the prediction weight is 1 and the solver runs once.
    untargeted : Tensor of shape (n,), bool, optional
        Rows that only need to leave their class ``y0``.
    y0 : Tensor of shape (n,), optional
        Original class per row (defaults to the model's prediction).
    early_stop : bool
        Freeze a row as soon as its iterate is valid (convergence of seed 002
        B.1.2). Otherwise rows run for ``max_iter`` (or until ``patience``) and
        the cheapest valid iterate wins (EAD).
    tau : float
        Required target probability.
    margin : float
        Required logit margin (EAD's confidence κ).
    patience : int, optional
        Freeze a row whose loss has not improved for this many iterations.
    cost_fn : callable, optional
        Ranks valid candidates (default: the sum of the non-prediction terms,
        or the ℓ2 distance if there are none).
    extra : dict, optional
        Per-row tensors (first dimension ``n``) or constants given to the terms.
    batch_size : int or None
        Rows per chunk.
    seed : int, optional
        Seeds the local generator used for random starts.
    progress : callable, optional
        Wraps the iterable of chunks (e.g. ``tqdm``).
    param : object, optional
        Search in another space: ``param.init(x0)`` gives the starting variable
        ``u0`` and ``param.decode(u)`` maps it to input space, where the point is
        then projected onto the constraints (e.g. a VAE latent space, REVISE).
        Terms and validity are evaluated on the projected decoded point; distance
        terms still compare with ``x0``.
    keep_last : bool
        Rows without a valid candidate return their last iterate instead of
        ``x0`` (``found`` stays False): the "nascent" counterfactual of
        counterfactual training and the PGD point of adversarial training.
    within_linf : float, optional
        Also return, as ``SearchResult.x_within``, each row's last iterate whose
        perturbation satisfies ``‖x - x0‖∞ < within_linf`` (``x0`` if none):
        the adversarial example of counterfactual training (seed 002, Eq. 3).
    final_only : bool
        Look only at each run's final iterate (after ``max_iter`` steps, or
        when ``patience`` stops the row): a row succeeds in a search round only
        if that iterate is valid, as ART's attacks decide (implies no early
        stop).


    Returns
    -------
    SearchResult
    """
    if x0.dim() != 2:
        raise ValueError(f"x0 must be 2-D, got shape {tuple(x0.shape)}")
    n, d = x0.shape
    device, dtype = x0.device, x0.dtype
    cons = (constraints or Constraints.unconstrained(d)).to(device, dtype)
    target = target.to(device=device, dtype=torch.long)
    untargeted = (
        torch.zeros(n, dtype=torch.bool, device=device)
        if untargeted is None
        else untargeted.to(device=device, dtype=torch.bool)
    )
    if y0 is None:
        with torch.no_grad():
            y0 = torch.cat(
                [model(x0[i : i + 4096]).argmax(1) for i in range(0, n, 4096)]
            )
    y0 = y0.to(device=device, dtype=torch.long)
    if param is not None and isinstance(search, RadiusSearch):
        raise ValueError("A radius search cannot run in a latent parametrisation.")
    if solver.needs_radius and not isinstance(search, RadiusSearch):
        raise ValueError(f"{solver!r} needs a RadiusSearch, got {search!r}")
    noise = None
    if isinstance(search, RadiusSearch) and search.random_start:
        # keyed by (seed, row content), not by position: a row's start does not
        # depend on the row order, the chunking or the other rows of the call
        keys = row_keys(x0.detach().cpu().double().numpy(), 0 if seed is None else seed)
        noise = torch.as_tensor(uniform(keys, (d,)), device=device, dtype=dtype)
        noise = noise * 2 - 1
    extra = extra or {}
    step = n if not batch_size else int(batch_size)
    row_cost = model_cost(model, d)
    work = min(n, max(step, 1)) * row_cost
    model = _fast_logits(model)
    chunks = range(0, n, max(step, 1))
    if progress is not None:
        chunks = progress(chunks)
    parts = []
    for s in chunks:
        sl = slice(s, min(s + step, n))
        ex = {
            k: v[sl] if isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] == n else v
            for k, v in extra.items()
        }
        prob = _Problem(
            model,
            x0[sl],
            target[sl],
            untargeted[sl],
            y0[sl],
            terms,
            solver,
            cons,
            max_iter,
            early_stop,
            tau,
            margin,
            patience,
            cost_fn,
            ex,
            param,
            keep_last,
            within_linf,
            final_only,
        )
        with engine_threads(work):
            parts.append(
                _run_search(
                    prob, search, None if noise is None else noise[sl], row_cost
                )
            )
    return SearchResult.concat(parts)


def _run_search(
    prob: _Problem, search, noise: Tensor | None, row_cost: int = 0
) -> SearchResult:
    # with every gradient by hand no operation of the search needs autograd:
    # inference mode runs the same kernels with less dispatch per operation
    # (one-row German credit: elastic net 22 -> 17 ms, Wachter 72 -> 52 ms,
    # counterfactuals bit-identical)
    with torch.inference_mode(prob.hand_only):
        weight = _search(prob, search, noise, row_cost)
    if prob.hand_only:  # what leaves the search holds ordinary tensors
        for name in ("best_x", "best_cost", "found", "n_iter", "last_x", "within_x"):
            v = getattr(prob, name)
            setattr(prob, name, None if v is None else v.clone())
        weight = weight.clone()
    rows = torch.arange(prob.x0.shape[0], device=prob.x0.device)
    with torch.no_grad():
        logits = prob.model(prob.best_x)
        ctx = _View(prob, rows).ctx(prob.best_x, logits)
        losses = {
            f"{i}:{type(t).__name__}": t(ctx) for i, t in enumerate(prob.all_terms)
        }
    x_out = prob.best_x
    if prob.last_x is not None:
        x_out = torch.where(prob.found[:, None], prob.best_x, prob.last_x)
    return SearchResult(
        x_out,
        prob.found,
        prob.n_iter,
        prob.best_cost,
        weight,
        losses,
        prob.within_x,
    )


def _search(prob: _Problem, search, noise: Tensor | None, row_cost: int) -> Tensor:
    """Run ``search`` on ``prob`` (filling its best so far); return the weights."""
    x0 = prob.x0
    m = x0.shape[0]
    rows = torch.arange(m, device=x0.device)
    ones = torch.ones(m, dtype=x0.dtype, device=x0.device)
    if isinstance(search, CSearch) and _speculate(prob, search, row_cost):
        weight = _tree_search(prob, search)
    elif isinstance(search, CSearch):
        st = search.init(m, x0)
        for _ in range(search.n_steps):
            # a search may also hand the solver a per-row scalar (GSE's λ scale)
            success = prob.run(rows, st["c"], st.get("radius"), prob.u0)
            search.update(st, success)
        weight = torch.where(torch.isfinite(st["hi"]), st["hi"], st["c"])
    elif isinstance(search, RadiusSearch):
        weight = torch.full((m,), float("inf"), dtype=x0.dtype, device=x0.device)
        for k in range(search.n_radii):
            todo = rows[~prob.found]
            if todo.shape[0] == 0:
                break
            radius = search.radius(k, todo.shape[0], x0)
            start = x0[todo]
            if noise is not None:
                scale = radius.view(-1, 1)
                if getattr(prob.solver, "norm", "linf") == "l2":
                    scale = scale / (x0.shape[1] ** 0.5)
                start = prob.cons.project(
                    start + noise[todo] * scale, prob.lo[todo], prob.hi[todo]
                )
            success = prob.run(todo, ones[todo], radius, start)
            weight[todo[success]] = radius[success]
    else:
        prob.run(rows, ones, None, prob.u0)
        weight = ones
    return weight


# ------------------------------------------------------------ speculative search
#: the whole tree of a speculative c-search (``2**n_steps - 1`` copies of the
#: chunk) runs when it has at most this many rows and its rows times the
#: model's multiply-adds per row stay below ``SPECULATIVE_WORK``: there an
#: iteration costs about the same for 1 row or 1,000 (its operations are
#: small, their cost is their dispatch). Measured on German credit (MLP
#: 128-64-16, 17k multiply-adds per row, EN with 5 rounds): the tree is 3.1x
#: faster than rounds in sequence for 1 row, 1.6-2.3x for 2-32 rows (up to
#: 17M multiply-adds), even at 64 rows (34M)
SPECULATIVE_ROWS = 1024
SPECULATIVE_WORK = 16_000_000


def _speculate(prob: _Problem, search: CSearch, row_cost: int) -> bool:
    """Whether this chunk runs its binary search as one speculative tree."""
    from .._config import get_config

    if type(search) is not CSearch or search.n_steps < 2:
        return False  # subclasses may hand the solver more than ``c``
    if prob.keep_last or prob.within_linf is not None or prob.final_only:
        return False  # these read a row's last round, not its best
    if not get_config()["speculative_search"]:
        return False
    rows = prob.x0.shape[0] * (2**search.n_steps - 1)
    return rows <= SPECULATIVE_ROWS and rows * max(row_cost, 1) <= SPECULATIVE_WORK


_NODE_WEIGHTS: dict = {}


def _node_weights(search: CSearch, dtype: torch.dtype) -> Tensor:
    """``c`` of every node of the search tree (heap order), on the CPU.

    The search's own update replayed on each branch, in ``dtype`` as the
    sequential search computes it; cached by the search's settings.
    """
    key = (search.initial, search.n_steps, search.factor, dtype)
    if key not in _NODE_WEIGHTS:
        with torch.inference_mode(False):  # a cache: ordinary tensors
            _NODE_WEIGHTS[key] = _replay(search, dtype)
    return _NODE_WEIGHTS[key]


def _replay(search: CSearch, dtype: torch.dtype) -> Tensor:
    like = torch.zeros(1, dtype=dtype)
    states = [search.init(1, like)]
    for k in range(2 ** (search.n_steps - 1) - 1):
        for ok in (True, False):
            st = {name: v.clone() for name, v in states[k].items()}
            search.update(st, torch.tensor([ok]))
            states.append(st)
    return torch.cat([st["c"] for st in states])


_ANCESTRY: dict = {}


def _ancestry(n_steps: int, device) -> tuple[Tensor, Tensor, Tensor]:
    """Ancestors of every node of the search tree and the branch taken.

    For node ``j`` and depth ``l`` below ``j``'s own: ``ancestor[j, l]`` is
    its ancestor there, ``after_success[j, l, 0]`` whether ``j`` lies below
    that ancestor's success branch and ``real[j, l, 0]`` is True; deeper
    entries are padding (``real`` False).
    """
    key = (n_steps, str(device))
    if key not in _ANCESTRY:
        with torch.inference_mode(False):  # a cache: ordinary tensors
            _ANCESTRY[key] = _tree_paths(n_steps, device)
    return _ANCESTRY[key]


def _tree_paths(n_steps: int, device) -> tuple[Tensor, Tensor, Tensor]:
    n_nodes, depth = 2**n_steps - 1, max(n_steps - 1, 1)
    ancestor = torch.zeros((n_nodes, depth), dtype=torch.long)
    after = torch.zeros((n_nodes, depth, 1), dtype=torch.bool)
    real = torch.zeros((n_nodes, depth, 1), dtype=torch.bool)
    for j in range(1, n_nodes):
        path, k = [], j
        while k:
            parent = (k - 1) // 2
            path.append((parent, k == 2 * parent + 1))
            k = parent
        for level, (a, success_branch) in enumerate(reversed(path)):
            ancestor[j, level] = a
            after[j, level, 0] = success_branch
            real[j, level, 0] = True
    return ancestor.to(device), after.to(device), real.to(device)


def _tree_search(prob: _Problem, search: CSearch) -> Tensor:
    """The binary search on ``c`` with every round started at once.

    Each round restarts from the factual, and the ``c`` of a round depends only
    on which earlier rounds succeeded, so the rounds a sequential search could
    visit form a binary tree of ``2**n_steps - 1`` nodes (heap order: node
    ``k``'s children are ``2k + 1``, taken after a success, and ``2k + 2``).
    All nodes run as extra rows of one problem; whenever rows finish, a branch
    whose ancestor has decided against it stops. The path the sequential
    search takes is then read off the outcomes, and its rounds' best
    candidates are merged in order, exactly as the sequential search keeps
    them (a later round replaces the best only when strictly cheaper). Fills
    ``prob``'s best/found/n_iter; returns the final weight per row.
    """
    x0 = prob.x0
    m, n_steps = x0.shape[0], search.n_steps
    n_nodes = 2**n_steps - 1
    c = _node_weights(search, x0.dtype).to(x0.device).repeat_interleave(m)

    tree = prob.tiled(n_nodes)
    ancestor, after_success, real = _ancestry(n_steps, x0.device)

    def prune(success: Tensor, ended: Tensor) -> Tensor:
        # a node is dead when an ancestor decided against its branch: it
        # succeeded where the branch follows a failure, or the reverse
        won = success.view(n_nodes, m)[ancestor]  # (n_nodes, n_steps - 1, m)
        lost = (ended & ~success).view(n_nodes, m)[ancestor]
        against = torch.where(after_success, lost, won) & real
        return against.any(dim=1).view(-1)

    every = torch.arange(n_nodes * m, device=x0.device)
    success = tree.run(every, c, None, tree.u0, prune=prune).view(n_nodes, m)

    cols = torch.arange(m, device=x0.device)
    node = torch.zeros(m, dtype=torch.long, device=x0.device)
    st = search.init(m, x0)
    for _ in range(n_steps):
        r = node * m + cols
        cost = tree.best_cost[r]
        better = tree.found[r] & (cost < prob.best_cost)
        prob.best_x = torch.where(better[:, None], tree.best_x[r], prob.best_x)
        prob.best_cost = torch.where(better, cost, prob.best_cost)
        prob.found |= better
        prob.n_iter += tree.n_iter[r]
        won = success[node, cols]
        search.update(st, won)
        node = 2 * node + 1 + (~won).long()
    return torch.where(torch.isfinite(st["hi"]), st["hi"], st["c"])
