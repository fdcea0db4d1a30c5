"""Columns that encode the same fact, tied with ``categorical=[(cat, num)]``.

``education`` (strings) and ``education_num`` (its number) both reach the
model. Searched independently, a counterfactual raises ``education_num``
alone, a row no applicant can have; linked, the number follows the category
and ``increase_only`` on the number orders the category.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skcf.exceptions import CounterfactualWarning
from skcf.generators import ElasticNetGenerator, GrowingSpheresGenerator

# /work/shared/data when the repository is /work/main
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
EDU = {"HS-grad": 9, "Some-college": 10, "Bachelors": 13, "Masters": 14, "Doctor": 16}
LINK = [("education", "education_num")]


@pytest.fixture(scope="module")
def data():
    """300 rows; the label mostly follows education_num."""
    rng = np.random.default_rng(0)
    n = 300
    edu = rng.choice(list(EDU), n, p=[0.35, 0.25, 0.2, 0.15, 0.05])
    X = pd.DataFrame(
        {
            "age": rng.integers(20, 65, n),
            "hours": rng.integers(20, 60, n),
            "education": np.array(edu, dtype=object),
            "education_num": np.array([EDU[e] for e in edu], dtype=np.int64),
        }
    )
    logit = 0.9 * (X["education_num"] - 11) + 0.05 * (X["hours"] - 40)
    y = (logit + rng.normal(0.0, 1.0, n) > 0).astype(int)
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "hours", "education_num"]),
            ("cat", OneHotEncoder(), ["education"]),
        ]
    )
    pipe = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(X, y)
    rejected = X[pipe.predict(X) == 0].head(40)
    return X, pipe, rejected


def _explain(gen, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        return gen.explain(X)


@pytest.mark.parametrize(
    "make",
    [
        lambda pipe, **kw: ElasticNetGenerator(pipe, max_iter=30, **kw),
        lambda pipe, **kw: GrowingSpheresGenerator(pipe, **kw),
    ],
    ids=["ElasticNet", "GrowingSpheres"],
)
def test_linked_number_follows_its_category(data, make):
    X, pipe, rejected = data
    gen = make(pipe, random_state=0, categorical=LINK, increase_only=["education_num"])
    cf = _explain(gen.fit(X), rejected)
    X_cf = cf.X_cf
    assert (X_cf["education_num"] == X_cf["education"].map(EDU)).all()
    assert (X_cf["education"].map(EDU) >= rejected["education"].map(EDU)).all()
    assert (X_cf["education"] != rejected["education"]).any()
    assert (cf.violations == 0).all()
    assert cf.validity >= 0.9
    assert (pipe.predict(X_cf)[cf.valid] == 1).mean() >= 0.9
    # a changed education costs its numeric change too, as any numeric column
    moved = (X_cf["education"] != rejected["education"]).to_numpy()
    j = list(X.columns).index("education_num")
    delta = X_cf["education_num"] - rejected["education_num"]
    np.testing.assert_array_equal(cf.delta[:, j], delta)
    assert (cf.delta[moved, j] > 0).all()


def test_without_the_link_the_number_moves_alone(data):
    """The problem the link fixes: education_num raised, education kept."""
    X, pipe, rejected = data
    gen = ElasticNetGenerator(
        pipe, random_state=0, max_iter=30, increase_only=["education_num"]
    ).fit(X)
    cf = _explain(gen, rejected)
    alone = (cf.X_cf["education_num"] != rejected["education_num"]) & (
        cf.X_cf["education"] == rejected["education"]
    )
    assert alone[cf.valid].any()


@pytest.mark.skipif(
    not (SHARED_DATA / "adult").is_dir(), reason=f"{SHARED_DATA} has no Adult data"
)
def test_adult_education_and_its_number_stay_tied():
    from skcf.datasets import load_adult

    bunch = load_adult(data_home=str(SHARED_DATA), as_frame=True)
    X, y = bunch.data, bunch.target
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), bunch.numeric_features),
            ("cat", OneHotEncoder(handle_unknown="ignore"), bunch.categorical_features),
        ]
    )
    pipe = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))])
    pipe.fit(X, y)
    rejected = X[pipe.predict(X) == 0].head(100)
    gen = ElasticNetGenerator(
        pipe,
        random_state=0,
        max_iter=10,
        **bunch.actionability,  # links education and education-num
    ).fit(X)
    assert bunch.actionability["categorical"] == [("education", "education-num")]
    cf = _explain(gen, rejected)
    number = X.groupby("education", observed=True)["education-num"].first()
    tied = cf.X_cf["education"].map(number).astype("int64") == cf.X_cf["education-num"]
    assert tied.all()
    assert (cf.X_cf["education"] != rejected["education"]).any()  # the link moved
    assert (cf.violations == 0).all()
