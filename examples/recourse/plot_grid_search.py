"""
Tuning a generator with GridSearchCV and make_cf_scorer
=======================================================

Generators are scikit-learn estimators, so their hyper-parameters are tuned
with :class:`~sklearn.model_selection.GridSearchCV`. The data are the rows to
explain (no labels: ``fit`` learns the domain, the scorers judge the
counterfactuals of the held-out rows) and :func:`~skcf.metrics.make_cf_scorer`
turns any counterfactual metric into a scorer.

Here we sweep the radius ``eps`` of a fixed-radius ℓ2
:class:`~skcf.generators.PGDGenerator` on German credit: a small ball is cheap
but often too small to cross the decision boundary, a large one always
crosses it but moves applicants further. We plot that trade-off and let a
``refit`` rule pick the smallest radius reaching 95 % validity.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier

from skcf.datasets import load_german_credit
from skcf.exceptions import CounterfactualWarning
from skcf.generators import PGDGenerator
from skcf.metrics import make_cf_scorer

QUICK = os.environ.get("SKCF_DOCS_QUICK", "0") not in ("", "0")
EPS = [0.5, 1.0, 1.5, 2.0, 3.0] if QUICK else [0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0]
print(f"quick mode: {QUICK}; radii {EPS}")
# small radii fail on purpose here; validity is measured by the scorers
warnings.simplefilter("ignore", CounterfactualWarning)

data = load_german_credit()  # one-hot + standardised, with actionability metadata
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.3, stratify=data.target, random_state=0
)
model = MLPClassifier((32,), max_iter=1000, random_state=0).fit(X_train, y_train)
rejected = X_test[model.predict(X_test) == 0]
print(f"accuracy {model.score(X_test, y_test):.3f}; {len(rejected)} rejected rows")

# %%
# Scorers
# -------
# ``validity`` is higher-is-better; the costs are lower-is-better, so their
# scorers return the negated cost (as ``neg_mean_squared_error`` does). A
# plain cost scorer charges a row without a valid counterfactual the most
# expensive change the constraints allow (so giving up never wins);
# ``valid_only=True`` is the mean cost of the counterfactuals found.
scoring = {
    "validity": make_cf_scorer("validity"),
    "l2": make_cf_scorer("l2"),
    "l2_found": make_cf_scorer("l2", valid_only=True),
    "l0_found": make_cf_scorer("l0", valid_only=True),
}


def smallest_radius_with_validity(cv_results, threshold=0.95):
    """``refit`` rule: the cheapest setting whose validity reaches the threshold."""
    validity = np.asarray(cv_results["mean_test_validity"])
    cost = -np.asarray(cv_results["mean_test_l2_found"])
    ok = np.flatnonzero(validity >= threshold)
    if not len(ok):
        return int(np.argmax(validity))
    return int(ok[np.argmin(cost[ok])])


gen = PGDGenerator(
    model, norm="l2", min_eps=False, random_state=0, **data.actionability
)
search = GridSearchCV(
    gen,
    {"eps": EPS},
    scoring=scoring,
    refit=smallest_radius_with_validity,
    cv=3,
).fit(rejected)
print("chosen:", search.best_params_)

# %%
# The results table
# -----------------
res = pd.DataFrame(search.cv_results_)
table = pd.DataFrame(
    {
        "eps": res["param_eps"],
        "validity": res["mean_test_validity"],
        "ℓ2 (found)": -res["mean_test_l2_found"],
        "ℓ0 (found)": -res["mean_test_l0_found"],
        "ℓ2 (failures charged)": -res["mean_test_l2"],
    }
)
table.round(3)

# %%
# The trade-off
# -------------
# Validity rises with the radius until every row is reached; the cost of the
# counterfactuals found rises with it. The charged cost (each failure billed
# at the worst case) is high for small radii and falls once few rows fail:
# its minimum is the balance point of the two.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.plot(table["ℓ2 (found)"], table["validity"], "o-")
for e, c, v in zip(table["eps"], table["ℓ2 (found)"], table["validity"]):
    ax1.annotate(f"ε={e}", (c, v), textcoords="offset points", xytext=(5, -12))
best = search.best_index_
ax1.plot(
    table["ℓ2 (found)"][best],
    table["validity"][best],
    "r*",
    ms=15,
    label="refit choice",
)
ax1.axhline(0.95, color="grey", ls=":", lw=1)
ax1.set_xlabel("mean ℓ2 cost of the counterfactuals found")
ax1.set_ylabel("validity (held-out folds)")
ax1.set_title("Validity vs cost, PGD ℓ2 radius sweep")
ax1.legend(loc="lower right")
ax2.plot(table["eps"], table["ℓ2 (failures charged)"], "o-", color="tab:purple")
ax2.set_xlabel("radius ε")
ax2.set_ylabel("mean ℓ2, failures charged worst-case")
ax2.set_title("One number for both: the charged cost")
fig.tight_layout()
plt.show()

# %%
# The refitted generator is ready to use; ``score`` is the default
# ``GridSearchCV`` objective when no ``scoring`` is given (mean of
# valid / (1 + cost)).
cf = search.best_estimator_.explain(rejected)
print(
    f"eps={search.best_params_['eps']}: validity {cf.validity:.2f}, "
    f"mean ℓ2 {cf.l2[cf.valid].mean():.2f}, "
    f"default score {search.best_estimator_.score(rejected):.3f}"
)
