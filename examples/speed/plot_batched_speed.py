"""
Batched speed: one call vs a loop over rows
===========================================

Every gradient generator of skcf runs on one batched torch engine: a call to
``explain`` optimises all its rows at once (in ``batch_size`` chunks), each
row with its own search state and stopping rule, and finished rows stop
costing compute. Explaining a data set one row at a time — what a loop over
a per-instance explainer does — pays the Python and framework overhead for
every row.

We time :class:`~skcf.generators.ElasticNetGenerator` on German credit for
a growing number of rows, once batched and once row by row, and check that
both give the same counterfactuals.
"""

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from skorch import NeuralNetClassifier

from skcf.datasets import load_german_credit
from skcf.exceptions import CounterfactualWarning
from skcf.generators import ElasticNetGenerator
from skcf.models import MLP

QUICK = os.environ.get("SKCF_DOCS_QUICK", "0") not in ("", "0")
SIZES = [1, 10, 100, 300] if QUICK else [1, 10, 100, 1000, 3000]
LOOP_ROWS = 10 if QUICK else 30
print(f"quick mode: {QUICK}; batch sizes {SIZES}, loop over {LOOP_ROWS} rows")
warnings.simplefilter("ignore", CounterfactualWarning)

data = load_german_credit()
X = data.data.astype(np.float32)
torch.manual_seed(0)
net = NeuralNetClassifier(
    MLP,
    module__n_features=X.shape[1],
    module__hidden=(128, 64, 16),  # seed 001's German credit network
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=1e-3,
    max_epochs=10 if QUICK else 20,
    batch_size=32,
    train_split=None,
    verbose=0,
).fit(X, data.target)
rejected = X[net.predict(X) == 0]
rows = rejected[np.random.default_rng(0).integers(0, len(rejected), max(SIZES))]
gen = ElasticNetGenerator(net, random_state=0).fit(X)
gen.explain(rows[:10])  # warm-up: first-call costs are not the engine's
print(f"{len(rejected)} rejected applicants, drawn with replacement")

# %%
# One call per size
# -----------------
batched = {}
for n in SIZES:
    seconds = []
    for _ in range(3 if n <= 100 else 1):  # small calls: best of three
        start = time.perf_counter()
        cf = gen.explain(rows[:n])
        seconds.append(time.perf_counter() - start)
    seconds = min(seconds)
    batched[n] = 1000 * seconds / n
    print(
        f"n={n:5d}: {seconds:6.2f} s, {batched[n]:7.2f} ms per counterfactual, "
        f"validity {cf.validity:.2f}"
    )

# %%
# A loop over rows
# ----------------
# The same generator, one ``explain`` call per row (what ``n=1`` above
# measures once, here over many rows).
start = time.perf_counter()
looped = [gen.explain(rows[i : i + 1]).X_cf for i in range(LOOP_ROWS)]
loop_ms = 1000 * (time.perf_counter() - start) / LOOP_ROWS
print(f"loop: {loop_ms:.1f} ms per counterfactual")

# Rows do not interact in the engine: the batched call returns the same
# counterfactuals as the loop.
together = gen.transform(rows[:LOOP_ROWS])
print("same counterfactuals:", np.allclose(np.vstack(looped), together, atol=1e-5))

# %%
# The plot
# --------
# The cost per counterfactual of a batched call falls with the batch (fixed
# overheads are shared) and flattens once the engine is busy; the loop pays
# its full per-call cost for every row.
fig, ax = plt.subplots(figsize=(7, 4.2))
sizes = np.array(list(batched))
ax.loglog(sizes, list(batched.values()), "o-", label="one batched call")
ax.axhline(loop_ms, color="tab:red", ls="--", label="loop, one row per call")
for n, ms in batched.items():
    ax.annotate(
        f"{loop_ms / ms:.0f}×",
        (n, ms),
        textcoords="offset points",
        xytext=(0, 8),
        ha="center",
        fontsize=8,
    )
ax.set_xlabel("rows explained")
ax.set_ylabel("ms per counterfactual")
ax.set_title("ElasticNetGenerator on German credit (speed-up over the loop)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# ``benchmarks/bench_speed.py`` measures the same on up to 10,000 rows, on
# CPU and GPU, against ART's batched NumPy implementation
# (``benchmarks/results/bench_speed_cpu.md``).
