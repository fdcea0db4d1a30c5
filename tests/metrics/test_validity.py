"""validity_score and redundancy."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from skcf.base import CounterfactualSet
from skcf.generators import WachterGenerator
from skcf.metrics import redundancy, validity_score
from skcf.models import as_differentiable, as_model


# ---------------------------------------------------------------- validity
def test_validity_targeted():
    assert validity_score([1, 1, 0, 2], [1, 0, 0, 1]) == 0.5
    assert validity_score(np.array(["b", "a"]), np.array(["b", "b"])) == 0.5
    assert validity_score([1, 1, 0], 1) == pytest.approx(2 / 3)  # scalar target


def test_validity_other_targets():
    y_cf = [1, 1, 0, 2, 2]
    target = np.array(["other", "other", 0, 1, "other"], dtype=object)
    y_pred = [0, 1, 1, 0, 0]
    # rows: changed, unchanged, hit, miss, changed
    assert validity_score(y_cf, target, y_pred=y_pred) == pytest.approx(3 / 5)
    assert validity_score(y_cf, "other", y_pred=y_pred) == pytest.approx(4 / 5)


def test_validity_none_target_is_untargeted():
    assert validity_score([1, 0, 2], y_pred=[0, 0, 0]) == pytest.approx(2 / 3)
    assert validity_score(["x", "y"], y_pred=["x", "x"]) == 0.5


def test_validity_counterfactual_set():
    cf = CounterfactualSet(
        X=np.zeros((4, 1)),
        X_cf=np.ones((4, 1)),
        y_pred=np.zeros(4, int),
        y_cf_pred=np.ones(4, int),
        target=np.ones(4, dtype=object),
        # every prediction reaches the target, but constraints broke on two rows
        valid=np.array([True, False, True, False]),
        violations=np.array([0, 1, 0, 2]),
        n_iter=np.zeros(4, int),
        feature_names=np.array(["a"]),
        elapsed=0.0,
    )
    assert validity_score(cf) == 0.5 == cf.validity
    assert validity_score(cf.y_cf_pred, cf.target) == 1.0


def test_validity_with_generator(generator, data):
    X, _ = data
    cf = generator.explain(X[:10])
    assert validity_score(cf) == cf.validity
    pred = generator.classes_[generator.model_.predict(cf.X_cf)]
    assert validity_score(pred, cf.target, y_pred=cf.y_pred) == cf.validity


def test_validity_empty():
    assert validity_score(np.array([]), np.array([])) == 0.0


def test_validity_missing_y_pred():
    with pytest.raises(ValueError, match="'y_pred' parameter of validity_score"):
        validity_score([1, 0], ["other", 1])
    with pytest.raises(ValueError, match="'y_pred' parameter of validity_score"):
        validity_score([1, 0])


def test_validity_set_with_extra_arguments():
    cf = CounterfactualSet(
        X=np.zeros((1, 1)),
        X_cf=np.ones((1, 1)),
        y_pred=np.zeros(1, int),
        y_cf_pred=np.ones(1, int),
        target=np.ones(1, dtype=object),
        valid=np.ones(1, bool),
        violations=np.zeros(1, int),
        n_iter=np.zeros(1, int),
        feature_names=np.array(["a"]),
        elapsed=0.0,
    )
    with pytest.raises(ValueError, match="'target'"):
        validity_score(cf, [1])


def test_validity_shape_mismatch():
    with pytest.raises(ValueError, match="'target' parameter of validity_score"):
        validity_score([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="'y_pred' parameter of validity_score"):
        validity_score([1, 0, 1], y_pred=[1, 0])


def test_validity_2d():
    with pytest.raises(ValueError, match="'y_cf_pred' parameter of validity_score"):
        validity_score(np.zeros((2, 2)), [0, 0])


# -------------------------------------------------------------- redundancy
def _linear_lr(coef, intercept=0.0):
    """LogisticRegression with hand-set weights (no fitting)."""
    lr = LogisticRegression()
    lr.coef_ = np.asarray([coef], dtype=np.float64)
    lr.intercept_ = np.array([intercept])
    lr.classes_ = np.array([0, 1])
    lr.n_features_in_ = len(coef)
    return lr


# model: class 1 iff x0 + x1 > 0; x2 is ignored
X_F = np.array(
    [[-1.0, -1.0, -1.0], [-1.0, -1.0, 0.0], [-1.0, -1.0, 0.0], [-2.0, -2.0, 0.0]]
)
X_C = np.array(
    [
        [2.0, -1.0, 5.0],  # revert x0 -> class 0 (needed); x2 -> class 1: 1
        [3.0, 3.0, 0.0],  # revert x0 or x1 -> still class 1: 2
        [0.5, 0.0, 0.0],  # both x0 and x1 needed: 0
        [-2.0, -2.0, 0.0],
    ]
)  # unchanged: 0
EXPECTED = [1, 2, 0, 0]


def test_redundancy_hand_linear():
    lr = _linear_lr([1.0, 1.0, 0.0])
    assert_array_equal(lr.predict(X_C), [1, 1, 1, 0])
    assert_array_equal(redundancy(lr, X_F, X_C, return_per_row=True), EXPECTED)
    assert redundancy(lr, X_F, X_C) == pytest.approx(3 / 4)
    valid = np.array([True, True, True, False])
    assert redundancy(lr, X_F, X_C, valid=valid) == pytest.approx(1.0)
    assert_array_equal(
        redundancy(lr, X_F, X_C, valid=valid, return_per_row=True), EXPECTED[:3]
    )


def test_redundancy_torch_linear():
    lin = torch.nn.Linear(3, 1, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 1.0, 0.0]]))
        lin.bias.zero_()
    model = as_differentiable(lin, output="logits")  # one logit: binary
    assert_array_equal(redundancy(model, X_F, X_C, return_per_row=True), EXPECTED)


def test_redundancy_generator_and_black_box(data, generator, clf):
    X, _ = data
    cf = generator.explain(X[:20])
    expected = redundancy(clf, cf.X, cf.X_cf, return_per_row=True)
    assert_array_equal(
        redundancy(generator, cf.X, cf.X_cf, return_per_row=True), expected
    )
    assert_array_equal(
        redundancy(as_model(clf), cf.X, cf.X_cf, return_per_row=True), expected
    )


def test_redundancy_with_target():
    lr = _linear_lr([1.0, 1.0, 0.0])
    # targeting class 1 is what the counterfactuals reached: same counts
    assert_array_equal(
        redundancy(lr, X_F, X_C, target=1, return_per_row=True), EXPECTED
    )
    # targeting class 0: a revert counts when it lands in class 0
    assert_array_equal(
        redundancy(lr, X_F, X_C, target=0, return_per_row=True), [1, 0, 2, 0]
    )
    # "other": a revert is redundant if it still differs from the factual class 0
    target = np.array(["other", 1, "other", 0], dtype=object)
    assert_array_equal(
        redundancy(lr, X_F, X_C, target=target, return_per_row=True), EXPECTED
    )


def _naive_redundancy(predict, X, X_cf):
    out = []
    for x, x_cf in zip(X, X_cf, strict=True):
        label = predict(x_cf[None])[0]
        count = 0
        for j in range(len(x)):
            if x[j] != x_cf[j]:
                tmp = x_cf.copy()
                tmp[j] = x[j]
                count += int(predict(tmp[None])[0] == label)
        out.append(count)
    return np.array(out)


@pytest.mark.parametrize("batch_size", [1, 7, 4096])
def test_redundancy_matches_naive_loop(batch_size):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
    forest.fit(X, y)
    X_cf = X + rng.normal(size=X.shape) * (rng.rand(*X.shape) < 0.5)
    expected = _naive_redundancy(lambda A: forest.predict_proba(A).argmax(1), X, X_cf)
    assert expected.sum() > 0
    got = redundancy(forest, X, X_cf, return_per_row=True, batch_size=batch_size)
    assert_array_equal(got, expected)


def test_redundancy_is_batched():
    """One predict_proba call per chunk of reverts (plus one for X_cf)."""
    lr = _linear_lr([1.0, 1.0, 0.0])
    calls = []

    class Spy:
        classes_ = lr.classes_

        def predict_proba(self, A):
            calls.append(len(A))
            return lr.predict_proba(A)

    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3))
    X_cf = X + rng.normal(size=X.shape)  # 150 changed entries
    redundancy(Spy(), X, X_cf, batch_size=64)
    assert calls == [50, 64, 64, 22]


def test_redundancy_empty():
    lr = _linear_lr([1.0, 1.0, 0.0])
    assert np.isnan(redundancy(lr, X_F, X_C, valid=np.zeros(4, dtype=bool)))
    assert redundancy(lr, X_F, X_F) == 0.0


def test_redundancy_bad_estimator():
    with pytest.raises((TypeError, ValueError), match="'estimator' parameter"):
        redundancy(object(), X_F, X_C)


def test_redundancy_unfitted_generator():
    gen = WachterGenerator(_linear_lr([1.0, 1.0, 0.0]))
    with pytest.raises(NotFittedError):
        redundancy(gen, X_F, X_C)


def test_redundancy_unknown_target():
    with pytest.raises(ValueError, match="'target' parameter of redundancy"):
        redundancy(_linear_lr([1.0, 1.0, 0.0]), X_F, X_C, target=7)


def test_redundancy_shape_mismatch():
    with pytest.raises(ValueError, match="'X_cf' parameter of redundancy"):
        redundancy(_linear_lr([1.0, 1.0, 0.0]), X_F, X_C[:, :2])
