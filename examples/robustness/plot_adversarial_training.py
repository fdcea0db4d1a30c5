"""
Adversarial training and the cost of recourse
=============================================

Adversarial examples and counterfactual explanations are the same object —
a small change that flips a prediction — seen by an attacker and by an
applicant. Seed 003 (Hardy et al., *Exploring the connection between
adversarial examples and algorithmic recourse*) asks what adversarial
training, which removes adversarial examples near the data, does to
recourse: it should make the model harder to fool *and* make recourse more
expensive, since a small move no longer flips the decision.

We train a natural network and adversarially trained networks
(:class:`~skcf.training.AdversarialTrainingClassifier`, PGD ℓ∞, 50 % of each
batch) on German credit scaled to [0, 1] as in the paper, then measure
susceptibility (:func:`~skcf.metrics.susceptibility`) and the cost of
Growing Spheres and Wachter counterfactuals for the rejected applicants.
"""

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from skcf.datasets import load_german_credit
from skcf.exceptions import CounterfactualWarning
from skcf.generators import GrowingSpheresGenerator, WachterGenerator
from skcf.metrics import knn_manifold_distance, susceptibility
from skcf.models import MLP
from skcf.training import AdversarialTrainingClassifier

QUICK = os.environ.get("SKCF_DOCS_QUICK", "0") not in ("", "0")
EPS, EPOCHS, N_QUERIES = (
    ([0.0, 0.1], 10, 40) if QUICK else ([0.0, 0.05, 0.1, 0.2], 20, 100)
)
print(f"quick mode: {QUICK}; training radii {EPS}, {EPOCHS} epochs")
warnings.simplefilter("ignore", CounterfactualWarning)  # validity is reported

data = load_german_credit(standardize=False)
X = MinMaxScaler().fit_transform(data.data).astype(np.float32)  # [0, 1], as seed 003
X_train, X_test, y_train, y_test = train_test_split(
    X, data.target, test_size=0.3, stratify=data.target, random_state=0
)
# immutable, increase-only, one-hot groups; not "integer": after min-max scaling
# the integer columns (months, years) are no longer on an integer grid
cons = {k: v for k, v in data.actionability.items() if k != "integer"}

# %%
# Natural and adversarial training
# --------------------------------
# ``eps=0`` is the natural network (``adv_fraction=0``: the same skorch
# loop without attacks). The attack respects the actionability constraints:
# one-hot groups stay one-hot, immutable columns never move.


def train(eps):
    return AdversarialTrainingClassifier(
        MLP,
        module__hidden=(64, 32),
        eps=max(eps, 1e-3),
        steps=10,
        norm="linf",
        adv_fraction=0.5 if eps > 0 else 0.0,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=EPOCHS,
        batch_size=64,
        verbose=0,
        random_state=0,
        **cons,
    ).fit(X_train, y_train)


nets = {eps: train(eps) for eps in EPS}

# %%
# Accuracy, susceptibility and recourse
# -------------------------------------
# As in the paper, only the numeric columns move: the ℓ∞ ball of the attack
# cannot switch a one-hot category (that is a change of 1), so the one-hot
# and immutable columns are held fixed for the susceptibility attack *and*
# for the recourse (otherwise the cheapest recourse is a category switch,
# which adversarial training does not touch). Susceptibility: the share of
# correctly classified test rows with an adversarial example within ℓ∞
# radius 0.1. Recourse: for the test applicants each network rejects, Growing
# Spheres (gradient-free, the paper's generator) and Wachter counterfactuals;
# ℓ2 distance travelled and kNN distance to real good-credit applicants.
onehot = np.concatenate(cons["categorical"])
frozen = sorted(set(onehot.tolist()) | set(cons["immutable"]))
numeric_only = {**cons, "immutable": frozen}
good = X_train[y_train == 1]
rows, costs = [], {}
for eps, net in nets.items():
    accuracy = float((net.predict(X_test) == y_test).mean())
    sus = susceptibility(
        net, X_test, y_test, radius=0.1, immutable=frozen, random_state=0
    )
    query = X_test[net.predict(X_test) == 0][:N_QUERIES]
    for gname, cls in [
        ("Growing Spheres", GrowingSpheresGenerator),
        ("Wachter", WachterGenerator),
    ]:
        cf = cls(net, random_state=0, **numeric_only).fit(X_train).explain(query)
        ok = cf.valid
        costs[(eps, gname)] = cf.l2[ok]
        rows.append(
            {
                "training ε": eps,
                "accuracy": accuracy,
                "susceptibility (r=0.1)": sus,
                "generator": gname,
                "validity": cf.validity,
                "ℓ2 cost": cf.l2[ok].mean(),
                "kNN distance": knn_manifold_distance(cf.X_cf[ok], good),
            }
        )
table = pd.DataFrame(rows)
table.round(3)

# %%
# The trade-off
# -------------
# Left: adversarial training makes the network less susceptible to small
# perturbations at little or no loss of accuracy. Right: the same robustness
# makes recourse travel further — the distance a rejected applicant must
# move grows with the training radius.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
first = table.drop_duplicates("training ε")
ax1.plot(
    first["training ε"],
    first["susceptibility (r=0.1)"],
    "o-",
    label="susceptibility at r = 0.1",
)
ax1.plot(first["training ε"], first["accuracy"], "s--", label="test accuracy")
ax1.set_xlabel("adversarial training radius ε (ℓ∞, 0 = natural)")
ax1.set_ylim(0, 1)
ax1.legend()
ax1.set_title("Robustness")
positions, data_, labels = [], [], []
for i, eps in enumerate(EPS):
    for j, gname in enumerate(["Growing Spheres", "Wachter"]):
        positions.append(i * 3 + j)
        data_.append(costs[(eps, gname)])
        labels.append(f"ε={eps}\n{gname.split()[0]}")
box = ax2.boxplot(data_, positions=positions, widths=0.8, patch_artist=True)
for patch, pos in zip(box["boxes"], positions):
    patch.set_facecolor("tab:green" if pos % 3 == 0 else "tab:orange")
ax2.set_xticks(positions, labels, fontsize=7)
ax2.set_ylabel("ℓ2 distance of the recourse")
ax2.set_title("Cost of recourse (valid counterfactuals)")
fig.tight_layout()
plt.show()
