"""
Counterfactual over-sampling in an imbalanced-learn pipeline
============================================================

:class:`~skcf.sampling.CounterfactualSampler` is an imbalanced-learn
over-sampler. SMOTE interpolates between rows of the minority class; the
counterfactual sampler takes rows of the *other* classes and pushes them
just into the minority class with a counterfactual generator
(counterfactual data augmentation, seed 002 §2.1). Its synthetic rows sit
where a model says the minority class begins, next to real majority rows —
the region a classifier trained on imbalanced data gets wrong.

It works wherever imbalanced-learn samplers work: here inside
:class:`imblearn.pipeline.Pipeline`, resampling the training folds only of a
cross-validation.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import StratifiedKFold, cross_validate

from skcf.datasets import load_german_credit, make_moons
from skcf.exceptions import CounterfactualWarning
from skcf.generators import GrowingSpheresGenerator, WachterGenerator
from skcf.sampling import CounterfactualSampler

QUICK = os.environ.get("SKCF_DOCS_QUICK", "0") not in ("", "0")
N_SPLITS, N_GOOD = (2, 350) if QUICK else (3, 700)
print(f"quick mode: {QUICK}; {N_SPLITS}-fold cross-validation, {N_GOOD} good rows")
warnings.simplefilter("ignore", CounterfactualWarning)

# %%
# Where the synthetic rows go
# ---------------------------
# Two moons with the lower moon cut to 8 % of its rows. SMOTE fills the
# segments between the few minority points; the counterfactual sampler
# places its rows just past the model's boundary, each the counterfactual of
# a real majority row. Its default model is a logistic regression (the
# ``estimator`` parameter takes any classifier), so here the boundary, and
# the synthetic rows, lie on a line.
X2, y2 = make_moons(600, noise=0.2, random_state=0)
rng = np.random.default_rng(0)
keep = (y2 == 0) | (rng.random(len(y2)) < 0.08)
X2, y2 = X2[keep], y2[keep]
print("moons class counts:", np.bincount(y2))
samplers_2d = {
    "SMOTE": SMOTE(random_state=0),
    "CounterfactualSampler (Wachter)": CounterfactualSampler(
        WachterGenerator(None), random_state=0
    ),
}
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True, sharey=True)
for ax, (name, sampler) in zip(axes, samplers_2d.items()):
    X_res, y_res = sampler.fit_resample(X2, y2)
    new = slice(len(X2), None)  # imblearn appends synthetic rows after the originals
    ax.scatter(*X2[y2 == 0].T, s=8, c="tab:red", alpha=0.5, label="majority (0)")
    ax.scatter(*X2[y2 == 1].T, s=25, c="tab:blue", label="minority (1)")
    ax.scatter(
        *X_res[new].T,
        s=10,
        marker="x",
        c="k",
        alpha=0.5,
        label=f"synthetic ({len(X_res) - len(X2)})",
    )
    ax.set_title(name)
axes[0].legend(loc="lower left", fontsize=8)
fig.tight_layout()
plt.show()

# %%
# German credit, made more imbalanced
# -----------------------------------
# The "bad credit" class (0) is cut to a fifth of the "good" class (quick
# mode also halves the good class). We
# compare a logistic regression without resampling, with random
# over-sampling, with SMOTE, and with counterfactual over-sampling (Wachter,
# and the gradient-free Growing Spheres), all under the dataset's
# actionability constraints (one-hot groups stay one-hot). Scores are on
# untouched test folds.
data = load_german_credit()
X, y = data.data, data.target
bad = np.flatnonzero(y == 0)
good = rng.choice(np.flatnonzero(y == 1), N_GOOD, replace=False)
keep = np.sort(np.r_[good, rng.choice(bad, N_GOOD // 5, replace=False)])
X, y = X[keep], y[keep]
print("German credit class counts:", np.bincount(y))

cons = data.actionability
candidates = {
    "none": None,
    "random": RandomOverSampler(random_state=0),
    "SMOTE": SMOTE(random_state=0),
    "CF (Wachter)": CounterfactualSampler(
        WachterGenerator(None, **cons), random_state=0
    ),
    "CF (Growing Spheres)": CounterfactualSampler(
        GrowingSpheresGenerator(None, **cons), random_state=0
    ),
}
cv = StratifiedKFold(N_SPLITS, shuffle=True, random_state=0)
scoring = {
    "balanced accuracy": "balanced_accuracy",
    "F1 (bad credit)": make_scorer(f1_score, pos_label=0),
}
rows = []
for name, sampler in candidates.items():
    steps = [] if sampler is None else [("resample", sampler)]
    pipe = Pipeline(steps + [("clf", LogisticRegression(max_iter=1000))])
    scores = cross_validate(pipe, X, y, cv=cv, scoring=scoring)
    rows.append(
        {
            "sampler": name,
            **{k: scores[f"test_{k}"].mean() for k in scoring},
            **{f"{k} std": scores[f"test_{k}"].std() for k in scoring},
            "fit s": scores["fit_time"].mean(),
        }
    )
table = pd.DataFrame(rows).set_index("sampler")
table.round(3)

# %%
# Any resampling helps the minority class here; the counterfactual rows are
# real-looking applicants (valid one-hot groups, immutable columns untouched)
# placed at the model's boundary. Resampling costs the generator's time
# (``fit s``), paid once per training fold.
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for ax, metric in zip(axes, scoring):
    ax.barh(
        table.index[::-1],
        table[metric][::-1],
        xerr=table[f"{metric} std"][::-1],
        capsize=3,
        color="tab:blue",
    )
    ax.set_xlabel(metric)
    ax.set_xlim(max(0, table[metric].min() - 0.15), None)
axes[0].set_title("Logistic regression, bad credit cut to 1:5", loc="left")
fig.tight_layout()
plt.show()

# %%
# The sampler is an ordinary estimator parameter of the pipeline, so its
# settings are tuned like any other (e.g. ``resample__sampling_strategy``
# or ``resample__generator__lam`` in a ``GridSearchCV``).
