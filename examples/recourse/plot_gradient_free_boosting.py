"""
Gradient-free recourse for a gradient-boosted model
===================================================

Tree ensembles have no gradients, so the gradient generators refuse them
with a clear error. :class:`~skcf.generators.GrowingSpheresGenerator` (Laugel
et al., 2018) only calls ``predict_proba``: it samples candidates in growing
ℓ2 shells around each applicant until the class changes, then puts back every
change that is not needed. It takes the same raw DataFrame, the same pipeline
and the same constraints by column name as every other generator.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skcf.datasets import load_german_credit
from skcf.exceptions import CounterfactualWarning, NotDifferentiableError
from skcf.generators import GrowingSpheresGenerator, WachterGenerator
from skcf.plotting import RecourseDisplay

QUICK = os.environ.get("SKCF_DOCS_QUICK", "0") not in ("", "0")
N_APPLICANTS = 25 if QUICK else 50
print(f"quick mode: {QUICK}; explaining up to {N_APPLICANTS} applicants")
# rows without a valid counterfactual are counted in explain(X).valid below
warnings.simplefilter("ignore", CounterfactualWarning)

bunch = load_german_credit(as_frame=True)
X, y = bunch.data, bunch.target
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
pipe = Pipeline(
    [
        (
            "prep",
            ColumnTransformer(
                [
                    ("num", StandardScaler(), bunch.numeric_features),
                    (
                        "cat",
                        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                        bunch.categorical_features,
                    ),
                ]
            ),
        ),
        ("hgb", HistGradientBoostingClassifier(max_iter=100, random_state=0)),
    ]
).fit(X_train, y_train)
print(f"test accuracy: {pipe.score(X_test, y_test):.3f}")

# %%
# A gradient method says why it cannot help, and what to use instead:
try:
    WachterGenerator(pipe).fit(X_train)
except NotDifferentiableError as exc:
    print(type(exc).__name__, "->", exc)

# %%
# Growing Spheres
# ---------------
# The dataset's actionability metadata name columns of the raw frame
# (immutable: personal status, foreign worker; increase-only: age, ...).
constraints = {k: v for k, v in bunch.actionability.items() if v}
print(constraints)
gen = GrowingSpheresGenerator(pipe, random_state=0, **constraints).fit(X_train)
rejected = X_test[pipe.predict(X_test) == 0].head(N_APPLICANTS)
cf = gen.explain(rejected)
print(
    f"{len(rejected)} applicants: validity {cf.validity:.2f}, "
    f"violations {cf.violations.sum()}, "
    f"mean changed columns {cf.l0[cf.valid].mean():.2f}, "
    f"{1000 * cf.elapsed / len(cf):.1f} ms per counterfactual"
)
for index, text in list(zip(cf.X.index, cf.to_text()))[:4]:
    print(f"applicant {index}: {text}")

# %%
# The boosted model's recourse, read in original units.
RecourseDisplay.from_counterfactuals(
    cf, rows=3, title="Growing Spheres recourse behind a gradient-boosted pipeline"
)
plt.show()

# %%
# Feature selection matters
# -------------------------
# Without the second step (``feature_selection=False``) the first enemy found
# in the sphere changes many columns at once; the selection step keeps only
# the changes the class flip needs.
raw = GrowingSpheresGenerator(
    pipe, feature_selection=False, random_state=0, **constraints
).fit(X_train)
cf_raw = raw.explain(rejected)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.hist(
    [cf_raw.l0[cf_raw.valid], cf.l0[cf.valid]],
    bins=range(0, int(max(cf_raw.l0.max(), cf.l0.max())) + 2),
    label=["sphere only", "with feature selection"],
)
ax.set_xlabel("changed columns (ℓ0)")
ax.set_ylabel("applicants")
ax.legend()
ax.set_title("Growing Spheres: changed columns per applicant")
fig.tight_layout()
plt.show()
