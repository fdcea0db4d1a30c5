"""
Recourse for rejected credit applicants, in original units
==========================================================

A bank has a raw applicant table (numbers and string categories) and a fitted
scikit-learn :class:`~sklearn.pipeline.Pipeline`: a
:class:`~sklearn.compose.ColumnTransformer` (scaling and one-hot encoding)
in front of a neural network. We explain the applicants it rejects with
:class:`~skcf.generators.ElasticNetGenerator`, passing the DataFrame and the
pipeline as they are: the counterfactuals come back as a DataFrame in the
table's own units, constraints are named by column, and every "valid" row is
judged by the pipeline itself.

This is the road of the README's quick start, on German credit (embedded in
skcf, nothing is downloaded).
"""

# %%
# The data and the model
# ----------------------
# ``load_german_credit(as_frame=True)`` returns the raw frame: 7 numeric
# columns in their units (months, Deutsche Mark, years) and 13 categorical
# columns of UCI codes such as ``checking_status='A11'``.
import os

import matplotlib.pyplot as plt
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skcf.datasets import load_german_credit
from skcf.generators import ElasticNetGenerator
from skcf.plotting import RecourseDisplay

QUICK = os.environ.get("SKCF_DOCS_QUICK", "0") not in ("", "0")
N_APPLICANTS = 20 if QUICK else 60
print(f"quick mode: {QUICK}; explaining {N_APPLICANTS} applicants")

bunch = load_german_credit(as_frame=True)
X, y = bunch.data, bunch.target
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
X.head()

# %%
# The model is an ordinary pipeline; skcf never refits or modifies it.
pipe = Pipeline(
    [
        (
            "prep",
            ColumnTransformer(
                [
                    ("num", StandardScaler(), bunch.numeric_features),
                    (
                        "cat",
                        OneHotEncoder(handle_unknown="ignore"),
                        bunch.categorical_features,
                    ),
                ]
            ),
        ),
        ("clf", MLPClassifier((32,), max_iter=1000, random_state=0)),
    ]
).fit(X_train, y_train)
print(f"test accuracy: {pipe.score(X_test, y_test):.3f}")

# %%
# Constraints by column name
# --------------------------
# Sex / marital status and being a foreign worker cannot be changed; age and
# years of employment (an ordered category) can only grow; ``housing`` may
# only take the codes "rent" (``A151``) or "own" (``A152``). The generator
# compiles the pipeline's preprocessing once in ``fit`` into the space it
# searches in (standardised numbers, one simplex per categorical column,
# integer columns on their grid).
gen = ElasticNetGenerator(
    pipe,
    beta=1.0,
    confidence=0.5,  # seed 001's "Min-ℓ1" setting
    immutable=["personal_status", "foreign_worker"],
    increase_only=["age", "employment"],
    bounds={"housing": ["A151", "A152"]},
    random_state=0,
).fit(X_train)

rejected = X_test[pipe.predict(X_test) == 0].head(N_APPLICANTS)
cf = gen.explain(rejected)
print(f"validity: {cf.validity:.2f}, constraint violations: {cf.violations.sum()}")
print(f"judged by the pipeline: {(pipe.predict(cf.X_cf[cf.valid]) == 1).mean():.2f}")

# %%
# Recourse a person can read
# --------------------------
# ``to_text`` spells each counterfactual out in original units; ``to_frame``
# gives the changed cells ("24 → 12", "'A11' → 'A14'") and the costs: ℓ0
# counts changed columns, ℓ1 sums numeric changes in median absolute
# deviations of each column plus 1 per changed category.
for index, text in list(zip(cf.X.index, cf.to_text()))[:5]:
    print(f"applicant {index}: {text}")

# %%
# The categories are the UCI codes of the data set (``bunch.DESCR``): for
# ``purpose``, ``A40`` new car, ``A41`` used car, ``A46`` education, ``A410``
# other; for ``checking_status``, ``A11`` below 0 DM, ``A14`` no checking
# account; for ``savings_status``, ``A64`` at least 1,000 DM, ``A65``
# unknown. A loan's purpose is something an applicant can often change (a
# used car instead of a new one); if it is not, add it to ``immutable``.
#
# ``to_frame(kind="delta")``: the changed cells of the valid counterfactuals.
delta = cf.to_frame(kind="delta")
changed = [c for c in X.columns if (delta[c] != "").any()]
delta.loc[cf.valid, changed + ["l0", "l1"]].head(8)

# %%
# ``transform`` returns the counterfactual rows themselves, with the input's
# index, columns, dtypes and categories, ready for the pipeline:
X_cf = gen.transform(rejected)
print("same index:", X_cf.index.equals(rejected.index))
print("same dtypes:", (X_cf.dtypes == rejected.dtypes).all())
X_cf.head(3)

# %%
# Seeing the recourse
# -------------------
# :class:`~skcf.plotting.RecourseDisplay` draws three applicants' changes
# (bars in units of each column's spread, labelled in original units) and,
# over all valid counterfactuals, which columns change how often and by how
# much.
disp = RecourseDisplay.from_counterfactuals(
    cf, rows=3, title="Min-ℓ1 recourse for rejected German credit applicants"
)
plt.show()

# %%
# The costs per applicant: most need two or three changes.
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(cf.l0[cf.valid], bins=range(0, int(cf.l0.max()) + 2), rwidth=0.9)
ax.set_xlabel("changed columns (ℓ0)")
ax.set_ylabel("applicants")
ax.set_title("How many columns each recourse changes")
fig.tight_layout()
plt.show()
