"""StabilityDisplay: invalidation versus cost per method."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skcf.evaluation import invalidation_rate, make_model_family
from skcf.generators import ElasticNetGenerator, StableNeighborSearch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_from_generators_plots_every_method():
    from skcf.plotting import StabilityDisplay

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] + 0.3 * rng.normal(size=120) > 0).astype(int)
    base = LogisticRegression(C=0.5).fit(X, y)
    family = make_model_family(
        LogisticRegression(C=0.5), X, y, kind="loo", n_models=5, random_state=0
    )
    en = ElasticNetGenerator(base, beta=0.0, max_iter=30, n_search_steps=3).fit(X)
    sns = StableNeighborSearch(en, radius=1.0, steps=30).fit(X)
    gens = {"Min-l2": en, "Min-l2+SNS": sns}
    disp = StabilityDisplay.from_generators(gens, X[:20], base, family)
    assert disp.ax_.get_ylabel() == "invalidation rate"
    assert set(disp.costs) == set(gens) and 0.0 <= disp.r2_ <= 1.0
    cf = en.explain(X[:20])
    np.testing.assert_allclose(disp.costs["Min-l2"], cf.l2[cf.valid])
    np.testing.assert_allclose(
        disp.invalidation["Min-l2"],
        invalidation_rate(cf.X_cf[cf.valid], base, family, average=False),
    )
    # SNS counterfactuals cost more and are never less stable here
    assert disp.costs["Min-l2+SNS"].mean() > disp.costs["Min-l2"].mean()
    assert disp.invalidation["Min-l2+SNS"].mean() <= disp.invalidation["Min-l2"].mean()
    with pytest.raises(ValueError, match="cost must be"):
        StabilityDisplay.from_generators(gens, X[:5], base, family, cost="l3")
    with pytest.raises(ValueError, match="same methods"):
        StabilityDisplay({"a": [1.0]}, {"b": [0.0]}).plot()


class _Fixed:
    """A generator stub whose ``explain`` returns a given CounterfactualSet."""

    def __init__(self, cf):
        self.cf = cf

    def explain(self, X):
        return self.cf


def test_from_generators_uses_valid_rows_only():
    """Rows without a valid counterfactual are neither costed nor scored."""
    from skcf.base import CounterfactualSet
    from skcf.plotting import StabilityDisplay

    rng = np.random.RandomState(1)
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] > 0).astype(int)
    base = LogisticRegression().fit(X, y)
    family = make_model_family(
        LogisticRegression(), X, y, kind="loo", n_models=4, random_state=0
    )
    Q = X[:8]
    X_cf = Q.copy()
    valid = np.array([True, False, True, False, True, True, False, False])
    X_cf[valid, 0] = np.linspace(0.2, 2.0, valid.sum())  # near and far across
    X_cf[~valid, 0] -= 5.0  # failed rows: moved, and unstable, but not valid
    cf = CounterfactualSet(
        X=Q,
        X_cf=X_cf,
        y_pred=base.predict(Q),
        y_cf_pred=base.predict(X_cf),
        target=np.ones(8, dtype=object),
        valid=valid,
        violations=np.zeros(8, dtype=int),
        n_iter=np.ones(8, dtype=int),
        feature_names=np.array(["a", "b"]),
        elapsed=0.0,
    )
    disp = StabilityDisplay.from_generators(
        {"stub": _Fixed(cf)}, Q, base, family, cost="l1"
    )
    np.testing.assert_allclose(disp.costs["stub"], cf.l1[valid])
    np.testing.assert_allclose(
        disp.invalidation["stub"],
        invalidation_rate(X_cf[valid], base, family, average=False),
    )
    assert disp.costs["stub"].shape == (valid.sum(),)
    assert disp.ax_.collections[0].get_offsets().shape == (valid.sum(), 2)
