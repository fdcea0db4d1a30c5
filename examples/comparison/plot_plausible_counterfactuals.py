"""
Plausible counterfactuals: S-CFE, CFProto, REVISE and ECCo
==========================================================

The cheapest counterfactual usually stops just past the decision boundary,
in a region where no real example of the target class lives. Four methods
pull it towards the data instead, each with its own model of "the data":

- :class:`~skcf.generators.SCFEGenerator` (S-CFE, seed 004): a log-density
  term of the target class (a differentiable KDE) and an ℓ0 penalty;
- :class:`~skcf.generators.ProtoGenerator` (CFProto, seed 000): a pull
  towards the nearest prototype of the target class;
- :class:`~skcf.generators.REVISEGenerator`: a search in the latent space of
  a variational autoencoder, so every candidate is a decoded, data-like point;
- :class:`~skcf.generators.ECCoGenerator` (seed 002): an energy term, the
  model's own (negative) target logit, pushing into regions the model is sure
  about.

We compare them with the plain :class:`~skcf.generators.WachterGenerator` on
two moons (where we can see them) and on German credit (where we measure
them with kNN and LOF plausibility against the accepted applicants).
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skcf.datasets import load_german_credit, make_moons
from skcf.density import VariationalAutoencoder
from skcf.exceptions import CounterfactualWarning
from skcf.generators import (
    ECCoGenerator,
    ProtoGenerator,
    REVISEGenerator,
    SCFEGenerator,
    WachterGenerator,
)
from skcf.metrics import knn_manifold_distance, lof_distance
from skcf.plotting import CounterfactualDisplay

QUICK = os.environ.get("SKCF_DOCS_QUICK", "0") not in ("", "0")
N_MOONS, VAE_EPOCHS_2D = (200, 60) if QUICK else (400, 150)
N_CREDIT, VAE_EPOCHS = (15, 10) if QUICK else (50, 40)
print(f"quick mode: {QUICK}")
warnings.simplefilter("ignore", CounterfactualWarning)  # validity is reported


def make_generators(model, vae, **constraints):
    """The four plausibility methods and the Wachter baseline, with defaults."""
    return {
        "Wachter (baseline)": WachterGenerator(model, random_state=0, **constraints),
        "S-CFE": SCFEGenerator(model, random_state=0, **constraints),
        "CFProto": ProtoGenerator(model, random_state=0, **constraints),
        "REVISE": REVISEGenerator(model, vae=vae, random_state=0, **constraints),
        "ECCo": ECCoGenerator(model, random_state=0, **constraints),
    }


# %%
# Two moons
# ---------
# A small MLP separates the moons; we explain 12 points of the upper moon
# (class 0, red) towards the lower one (class 1, blue). The VAE of REVISE is
# tiny (2-D data).
X, y = make_moons(N_MOONS, noise=0.1, random_state=0)
model_2d = MLPClassifier((32, 32), max_iter=1000, random_state=0).fit(X, y)
query = X[model_2d.predict(X) == 0][:12]
vae_2d = VariationalAutoencoder(
    hidden=(32,), latent_dim=2, max_epochs=VAE_EPOCHS_2D, random_state=0
)
gens_2d = make_generators(model_2d, vae_2d)

fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
moons_rows = []
for ax, (name, gen) in zip(axes.ravel(), gens_2d.items()):
    gen.fit(X)
    disp = CounterfactualDisplay.from_generator(gen, query, X_train=X, y_train=y, ax=ax)
    valid = disp.valid
    moons_rows.append(
        {
            "generator": name,
            "validity": valid.mean(),
            "ℓ2": np.linalg.norm(disp.X_cf - disp.X, axis=1)[valid].mean(),
            "kNN distance": knn_manifold_distance(disp.X_cf[valid], X[y == 1]),
        }
    )
    ax.set_title(
        f"{name}\nvalidity {valid.mean():.2f}, "
        f"kNN dist. {moons_rows[-1]['kNN distance']:.2f}",
        fontsize=9,
    )
axes.ravel()[-1].axis("off")
fig.suptitle("Counterfactuals of the upper moon (arrows) — MLP 32-32")
fig.tight_layout()
plt.show()

# %%
# The baseline stops at the boundary. The density (S-CFE), prototype
# (CFProto) and latent (REVISE) terms carry the counterfactuals towards the
# lower moon's data, at a larger ℓ2 cost. ECCo's energy is the model's own
# confidence, not the data's density: it moves to where the network is
# surest, which for this network is the far edge of the feasible box — its
# kNN distance says so. Which notion of "plausible" fits depends on the
# model and the data; measure it.
pd.DataFrame(moons_rows).set_index("generator").round(3)

# %%
# German credit
# -------------
# The same five generators on 61 one-hot / standardised columns, under the
# dataset's constraints. Plausibility is measured against the training
# applicants the model accepts: kNN distance (mean ℓ2 to the 5 nearest) and
# the local outlier factor (≈ 1 for an inlier, larger for an outlier).
data = load_german_credit()
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.3, stratify=data.target, random_state=0
)
model = MLPClassifier((64, 32), max_iter=300, random_state=0).fit(X_train, y_train)
rejected = X_test[model.predict(X_test) == 0][:N_CREDIT]
accepted = X_train[model.predict(X_train) == 1]
vae = VariationalAutoencoder(
    hidden=(64,), latent_dim=8, max_epochs=VAE_EPOCHS, random_state=0
)

credit_rows = []
for name, gen in make_generators(model, vae, **data.actionability).items():
    cf = gen.fit(X_train).explain(rejected)
    ok = cf.valid
    credit_rows.append(
        {
            "generator": name,
            "validity": cf.validity,
            "ℓ1": cf.l1[ok].mean(),
            "kNN distance": knn_manifold_distance(cf.X_cf[ok], accepted),
            "LOF": lof_distance(cf.X_cf[ok], accepted),
        }
    )
credit = pd.DataFrame(credit_rows).set_index("generator")
credit.round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
for ax, col in zip(axes, ["ℓ1", "kNN distance", "LOF"]):
    ax.barh(credit.index[::-1], credit[col][::-1], color="tab:blue")
    baseline = credit.loc["Wachter (baseline)", col]
    ax.axvline(baseline, color="k", ls=":", lw=1)
    ax.set_title(col + (" (cost)" if col == "ℓ1" else " (lower = more plausible)"))
    if col == "LOF":
        ax.set_xlim(min(0.9, credit[col].min() - 0.02), None)
fig.suptitle(f"{len(rejected)} rejected German credit applicants")
fig.tight_layout()
plt.show()

# %%
# The plausibility methods buy their closeness to real accepted applicants
# with larger moves: there is no free lunch between cost and plausibility,
# only a choice of where to sit on the trade-off.
