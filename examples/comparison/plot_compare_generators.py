"""
Comparing generators on German credit
=====================================

Every generator answers the same question — what is the closest change that
turns a rejected applicant into an accepted one? — with a different idea of
"closest": fewest changed columns, smallest ℓ1 or ℓ2 move, or a move that
lands among real accepted applicants. Here all of them explain the same
rejected applicants of the same network, under the dataset's actionability
constraints, and we compare:

- **validity**: share of applicants with a valid counterfactual;
- **ℓ0 / ℓ1**: changed columns and total change (standardised units) of the
  valid counterfactuals;
- **plausibility**: mean distance to the 5 nearest training applicants the
  model accepts (:func:`~skcf.metrics.knn_manifold_distance`) and their local
  outlier factor (:func:`~skcf.metrics.lof_distance`, ≈ 1 for an inlier);
- **time per counterfactual** (:func:`~skcf.metrics.time_per_counterfactual`)
  of one batched ``explain`` call.

The :doc:`../../which_generator` guide has the same table for every public
generator, from ``benchmarks/bench_which.py``.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skcf.datasets import load_german_credit
from skcf.density import Autoencoder, VariationalAutoencoder
from skcf.exceptions import CounterfactualWarning
from skcf.generators import (
    ECCoGenerator,
    ElasticNetGenerator,
    GrowingSpheresGenerator,
    LatentSearchGenerator,
    PGDGenerator,
    ProtoGenerator,
    REVISEGenerator,
    SCFEGenerator,
    StableNeighborSearch,
    WachterGenerator,
)
from skcf.metrics import knn_manifold_distance, lof_distance, time_per_counterfactual

QUICK = os.environ.get("SKCF_DOCS_QUICK", "0") not in ("", "0")
N_QUERIES = 20 if QUICK else 60
AE_EPOCHS = 10 if QUICK else 40
print(f"quick mode: {QUICK}; up to {N_QUERIES} applicants, {AE_EPOCHS} AE epochs")
warnings.simplefilter("ignore", CounterfactualWarning)  # validity is reported

data = load_german_credit()  # 61 one-hot / standardised columns
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.3, stratify=data.target, random_state=0
)
model = MLPClassifier((64, 32), max_iter=300, random_state=0).fit(X_train, y_train)
query = X_test[model.predict(X_test) == 0][:N_QUERIES]
accepted = X_train[model.predict(X_train) == 1]  # the "real accepted applicants"
print(f"accuracy {model.score(X_test, y_test):.3f}; {len(query)} rejected applicants")

# %%
# The generators
# --------------
# Defaults throughout, plus the dataset's constraints (immutable and
# increase-only columns, one-hot groups). The latent-space methods get a
# small autoencoder sized for 61 columns (the defaults are 1024-128-32).
cons = data.actionability
small = dict(hidden=(64,), latent_dim=8, max_epochs=AE_EPOCHS, random_state=0)
generators = {
    "Wachter": WachterGenerator(model, random_state=0, **cons),
    "Elastic net (EAD)": ElasticNetGenerator(model, random_state=0, **cons),
    "PGD (min-ε)": PGDGenerator(model, random_state=0, **cons),
    "S-CFE": SCFEGenerator(model, random_state=0, **cons),
    "CFProto": ProtoGenerator(model, random_state=0, **cons),
    "ECCo": ECCoGenerator(model, random_state=0, **cons),
    "REVISE": REVISEGenerator(
        model, vae=VariationalAutoencoder(**small), random_state=0, **cons
    ),
    "Latent search": LatentSearchGenerator(
        model, autoencoder=Autoencoder(**small), random_state=0, **cons
    ),
    "Growing Spheres": GrowingSpheresGenerator(model, random_state=0, **cons),
    "Min-ℓ2 + SNS": StableNeighborSearch(
        ElasticNetGenerator(model, beta=0.0, confidence=0.5, random_state=0, **cons),
        random_state=0,
    ),
}

rows = []
for name, gen in generators.items():
    gen.fit(X_train)
    cf = gen.explain(query)
    ok = cf.valid
    rows.append(
        {
            "generator": name,
            "validity": cf.validity,
            "ℓ0": cf.l0[ok].mean(),
            "ℓ1": cf.l1[ok].mean(),
            "kNN distance": knn_manifold_distance(cf.X_cf[ok], accepted),
            "LOF": lof_distance(cf.X_cf[ok], accepted),
            "ms / CF": 1000 * time_per_counterfactual(cf),
        }
    )
table = pd.DataFrame(rows).set_index("generator")
table.round(2)

# %%
# The picture
# -----------
# Sparse, cheap moves (Wachter's orthant-wise ℓ1, EAD, Growing Spheres with
# its feature selection) change two or three columns but stay at the edge
# of the accepted region; the plausibility-driven methods (CFProto, REVISE,
# the latent search, S-CFE's density term) change more columns and land
# closer to real accepted applicants. Stable Neighbor Search moves further on
# purpose: its counterfactuals sit deep in the accepted region so that they
# survive retraining (see the robustness examples).
fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharey=True)
order = table.index[::-1]
colors = plt.cm.tab10(np.arange(len(table)))[::-1]
for ax, (col, note) in zip(
    axes.ravel(),
    [
        ("validity", "higher is better"),
        ("ℓ0", "changed columns, lower is sparser"),
        ("kNN distance", "to accepted applicants, lower is more plausible"),
        ("ms / CF", "one batched call, lower is faster"),
    ],
):
    ax.barh(order, table.loc[order, col], color=colors)
    ax.set_title(f"{col} ({note})", fontsize=10)
    for y, v in enumerate(table.loc[order, col]):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
    ax.margins(x=0.18)
fig.suptitle(f"{len(query)} rejected German credit applicants, MLP 64-32")
fig.tight_layout()
plt.show()

# %%
# Cost against plausibility
# -------------------------
# No generator wins on both axes: the scatter is the trade-off a practitioner
# picks a point on.
fig, ax = plt.subplots(figsize=(6.5, 4.5))
ax.scatter(table["ℓ1"], table["kNN distance"], c=colors[::-1], s=60)
for name, r in table.iterrows():
    ax.annotate(
        name,
        (r["ℓ1"], r["kNN distance"]),
        fontsize=8,
        xytext=(4, 3),
        textcoords="offset points",
    )
ax.set_xlabel("mean ℓ1 cost of the valid counterfactuals")
ax.set_ylabel("kNN distance to accepted applicants")
ax.set_title("Cost vs plausibility")
fig.tight_layout()
plt.show()
