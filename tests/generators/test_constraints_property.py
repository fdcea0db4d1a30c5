"""Property tests: random constraint sets never break, whatever the generator."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from skcf.exceptions import CounterfactualWarning
from skcf.generators import ElasticNetGenerator, PGDGenerator, WachterGenerator

N_NUM = 5  # numeric columns 0..4, one-hot group 5..7, integer column 8
GROUP = [5, 6, 7]
INT_COL = 8


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 200
    num = rng.normal(size=(n, N_NUM))
    cat = np.eye(3)[rng.integers(0, 3, n)]
    integer = rng.integers(0, 6, n).astype(float)
    X = np.hstack([num, cat, integer[:, None]])
    logit = (
        num @ np.array([1.5, -1.0, 0.8, 0.0, 0.5])
        + cat @ np.array([-1.0, 0.5, 1.5])
        + 0.3 * (integer - 2.5)
    )
    y = (logit + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y, LogisticRegression().fit(X, y)


FACTORIES = {
    "wachter": lambda m, **kw: WachterGenerator(m, max_iter=40, n_search_steps=2, **kw),
    "ead": lambda m, **kw: ElasticNetGenerator(m, max_iter=40, n_search_steps=3, **kw),
    "pgd": lambda m, **kw: PGDGenerator(m, steps=15, n_radii=5, **kw),
}


@st.composite
def constraint_sets(draw):
    cols = list(range(N_NUM)) + [INT_COL]
    roles = draw(
        st.lists(
            st.sampled_from(["free", "immutable", "inc", "dec"]),
            min_size=len(cols),
            max_size=len(cols),
        )
    )
    if all(r == "immutable" for r in roles):
        roles[0] = "free"
    pick = lambda role: [c for c, r in zip(cols, roles, strict=True) if r == role]  # noqa: E731
    bounds = {}
    for c in draw(
        st.lists(st.sampled_from(list(range(N_NUM))), max_size=3, unique=True)
    ):
        half = draw(st.floats(0.3, 3.0))
        bounds[c] = (-half, half)  # data outside is frozen and reported, never hidden
    return dict(
        immutable=pick("immutable") + (GROUP if draw(st.booleans()) else []),
        increase_only=pick("inc"),
        decrease_only=pick("dec"),
        bounds=bounds or "infer",
        categorical=[GROUP],
        integer=[INT_COL],
        target=draw(st.sampled_from(["opposite", "other"])),
    )


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(sorted(FACTORIES)),
    cons=constraint_sets(),
    rows=st.lists(st.integers(0, 199), min_size=1, max_size=12, unique=True),
)
def test_constraints_always_hold(data, kind, cons, rows):
    X, _, model = data
    gen = FACTORIES[kind](model, random_state=0, **cons).fit(X)
    q = X[rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(q)
    X_cf, d = cf.X_cf, cf.delta
    assert np.isfinite(X_cf).all()
    immutable = cons["immutable"]
    assert (d[:, immutable] == 0).all()  # 0 immutable changes
    assert (d[:, cons["increase_only"]] >= 0).all()  # 0 direction violations
    assert (d[:, cons["decrease_only"]] <= 0).all()
    block = X_cf[:, GROUP]  # valid one-hot in every group
    assert np.isin(block, (0.0, 1.0)).all() and (block.sum(axis=1) == 1).all()
    assert (X_cf[:, INT_COL] == np.round(X_cf[:, INT_COL])).all()
    lo, hi = gen.constraints_["lower"], gen.constraints_["upper"]
    in_bounds = (X_cf >= lo - 1e-9) & (X_cf <= hi + 1e-9)
    # 0 bound violations: every counterfactual reported valid is inside its bounds
    # wherever the feature is mutable (out-of-bounds factuals are moved inside)
    mutable = gen.constraints_["mutable"]
    assert (in_bounds[cf.valid][:, mutable]).all()
    assert (in_bounds | (d == 0)).all()  # nothing moves out of bounds
    # rows reported valid really are: right class, no violation
    assert (cf.violations[cf.valid] == 0).all()
    if not cf.valid.any():
        return
    pred = model.predict(X_cf[cf.valid])
    if cons["target"] == "opposite":
        assert (pred == 1 - model.predict(q[cf.valid])).all()
    else:
        assert (pred != model.predict(q[cf.valid])).all()
