"""CounterfactualSampler: imblearn/sklearn checks, counts, validity, pipelines."""

import pickle
from collections import Counter

import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.utils.estimator_checks import (
    parametrize_with_checks as imblearn_checks,
)
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import (
    parametrize_with_checks as sklearn_checks,
)

from skcf.exceptions import CounterfactualWarning
from skcf.generators import GrowingSpheresGenerator, WachterGenerator
from skcf.sampling import CounterfactualSampler


def _fast_generator(**kwargs):
    # three short search rounds with a large step: fast and (almost) always valid
    return WachterGenerator(None, n_search_steps=3, max_iter=30, lr=0.3, **kwargs)


def _fast_sampler(**kwargs):
    return CounterfactualSampler(_fast_generator(), random_state=0, **kwargs)


def _imbalanced(n_samples=240, weights=(0.8,), n_classes=2, random_state=0):
    X, y = make_classification(
        n_samples=n_samples,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        weights=list(weights),
        class_sep=1.0,
        random_state=random_state,
    )
    return X, y


# ---------------------------------------------------------------- checks
@imblearn_checks([_fast_sampler()])
def test_imblearn_sampler_checks(estimator, check):
    check(estimator)


@sklearn_checks([_fast_sampler()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------ properties
@pytest.mark.parametrize(
    "strategy, expected",
    [("auto", {0: 193, 1: 193}), (0.5, {0: 193, 1: 96}), ({1: 100}, {0: 193, 1: 100})],
)
def test_counts_follow_sampling_strategy(strategy, expected):
    X, y = _imbalanced()
    assert Counter(y) == {0: 193, 1: 47}
    sampler = _fast_sampler(sampling_strategy=strategy)
    X_res, y_res = sampler.fit_resample(X, y)
    assert dict(Counter(y_res)) == expected
    assert X_res.shape == (sum(expected.values()), X.shape[1])
    np.testing.assert_array_equal(X_res[: len(X)], X)  # originals first, untouched


def test_synthetic_rows_are_predicted_as_the_minority_class():
    X, y = _imbalanced()
    sampler = _fast_sampler()
    X_res, y_res = sampler.fit_resample(X, y)
    X_new, y_new = X_res[len(X) :], y_res[len(X) :]
    assert (y_new == 1).all()
    assert (sampler.estimator_.predict(X_new) == 1).all()
    # each one is a counterfactual of a majority row the model predicted as 0
    seeds = sampler.seed_indices_
    assert seeds.shape == (len(X_new),)
    assert (y[seeds] == 0).all()
    assert (sampler.estimator_.predict(X[seeds]) == 0).all()
    assert np.isfinite(X_new).all()
    assert (np.abs(X_new - X[seeds]).sum(axis=1) > 0).all()
    # distinct seeds: no duplicates while enough rows are available
    assert len(np.unique(seeds)) == len(seeds)


def test_default_generator_and_estimator():
    X, y = _imbalanced()
    sampler = CounterfactualSampler(random_state=0).fit(X, y)
    assert not hasattr(sampler, "generator_")  # fit only checks the strategy
    sampler.fit_resample(X, y)
    assert isinstance(sampler.generator_, WachterGenerator)
    assert sampler.generator_.estimator is sampler.estimator_


def test_black_box_model_uses_growing_spheres():
    X, y = _imbalanced()
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    sampler = CounterfactualSampler(estimator=forest, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert isinstance(sampler.generator_, GrowingSpheresGenerator)
    assert sampler.estimator_ is forest  # a fitted model is used as is
    assert (forest.predict(X_res[len(X) :]) == 1).all()


def test_multiclass_each_class_gets_counterfactuals_from_the_others():
    X, y = _imbalanced(n_samples=300, weights=(0.6, 0.25), n_classes=3)
    counts = Counter(y)
    sampler = _fast_sampler()
    X_res, y_res = sampler.fit_resample(X, y)
    n_major = max(counts.values())
    assert all(v == n_major for v in Counter(y_res).values())
    pred = sampler.estimator_.predict(X_res[len(X) :])
    np.testing.assert_array_equal(pred, y_res[len(X) :])
    assert (y[sampler.seed_indices_] != y_res[len(X) :]).all()


@pytest.mark.filterwarnings("ignore::skcf.exceptions.CounterfactualWarning")
def test_actionability_constraints_hold():
    X, y = _imbalanced()
    gen = _fast_generator(immutable=[0, 1], increase_only=[2])
    sampler = CounterfactualSampler(gen, random_state=0)
    X_res, _ = sampler.fit_resample(X, y)
    X_new, X_seed = X_res[len(X) :], X[sampler.seed_indices_]
    np.testing.assert_array_equal(X_new[:, :2], X_seed[:, :2])
    assert (X_new[:, 2] >= X_seed[:, 2]).all()


@pytest.mark.filterwarnings("ignore::skcf.exceptions.CounterfactualWarning")
def test_column_names_reach_the_generator():
    pd = pytest.importorskip("pandas")
    X, y = _imbalanced()
    cols = ["age", "b", "c", "d", "e"]
    X_df = pd.DataFrame(X, columns=cols)
    sampler = CounterfactualSampler(_fast_generator(immutable=["age"]), random_state=0)
    X_res, y_res = sampler.fit_resample(X_df, pd.Series(y, name="label"))
    assert list(X_res.columns) == cols and y_res.name == "label"
    np.testing.assert_array_equal(
        X_res["age"].to_numpy()[len(X) :], X[sampler.seed_indices_, 0]
    )


def test_deterministic_under_random_state():
    X, y = _imbalanced()
    a = _fast_sampler().fit_resample(X, y)[0]
    b = _fast_sampler().fit_resample(X, y)[0]
    c = CounterfactualSampler(_fast_generator(), random_state=1).fit_resample(X, y)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fitted_estimator_is_not_refit_or_mutated():
    X, y = _imbalanced()
    clf = LogisticRegression().fit(X, y)
    coef = clf.coef_.copy()
    sampler = CounterfactualSampler(_fast_generator(), clf, random_state=0)
    sampler.fit_resample(X[:200], y[:200])
    assert sampler.estimator_ is clf
    np.testing.assert_array_equal(clf.coef_, coef)
    assert clone(sampler).estimator is clf  # clone keeps the fitted model
    # an unfitted one is cloned and fitted
    sampler = CounterfactualSampler(_fast_generator(), LogisticRegression())
    sampler.fit_resample(X, y)
    assert sampler.estimator_ is not sampler.estimator
    assert not hasattr(sampler.estimator, "coef_")


def test_generator_estimator_is_used_when_none_given():
    X, y = _imbalanced()
    clf = LogisticRegression(C=0.1).fit(X, y)
    sampler = CounterfactualSampler(_fast_generator().set_params(estimator=clf))
    sampler.fit_resample(X, y)
    assert sampler.estimator_ is clf


def test_in_imblearn_pipeline_and_grid_search():
    X, y = _imbalanced()
    pipe = Pipeline([("cf", _fast_sampler()), ("clf", LogisticRegression())])
    grid = GridSearchCV(
        pipe,
        {"cf__sampling_strategy": [0.5, 1.0], "cf__generator__lam": [1.0, 10.0]},
        cv=2,
        scoring="balanced_accuracy",
    )
    grid.fit(X, y)
    assert set(grid.best_params_) == {"cf__sampling_strategy", "cf__generator__lam"}
    assert grid.predict(X).shape == y.shape
    # pickling a fitted pipeline keeps it usable
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(restored.predict(X), grid.predict(X))


def test_resampling_improves_minority_recall_over_no_resampling():
    X, y = _imbalanced(n_samples=400, weights=(0.9,))
    plain = LogisticRegression().fit(X, y)
    pipe = Pipeline([("cf", _fast_sampler()), ("clf", LogisticRegression())])
    pipe.fit(X, y)
    recall_plain = (plain.predict(X[y == 1]) == 1).mean()
    recall_cf = (pipe.predict(X[y == 1]) == 1).mean()
    assert recall_cf > recall_plain


# ------------------------------------------------------------------ errors
def test_no_valid_counterfactual_raises():
    X, y = _imbalanced()
    gen = _fast_generator(immutable=[0, 1, 2, 3], bounds=None)
    # one tiny step from the factual: nothing reaches the other class
    gen.set_params(max_iter=1, lr=1e-6, lam=1e-3)
    with pytest.raises(ValueError, match="no valid counterfactual for class 1"):
        CounterfactualSampler(gen, random_state=0).fit_resample(X, y)


def test_too_few_seeds_repeat_with_a_warning():
    X, y = _imbalanced()
    sampler = _fast_sampler(sampling_strategy={1: 500})
    with pytest.warns(CounterfactualWarning, match="are repeated"):
        X_res, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res)[1] == 500
    assert (sampler.estimator_.predict(X_res[len(X) :]) == 1).all()


def test_bad_parameters_and_inputs():
    X, y = _imbalanced()
    with pytest.raises(ValueError, match="max_rounds"):
        _fast_sampler(max_rounds=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="generator"):
        CounterfactualSampler(generator=RandomOverSampler()).fit_resample(X, y)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _fast_sampler().fit_resample(X_nan, y)
