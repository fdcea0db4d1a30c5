"""End-to-end demo: ``python -m skcf.demo [--out DIR] [--device cpu]``.

1. Loads German credit (embedded in the package), trains a skorch MLP 128-64-16
   (seed 001 App. B.2) on 700 rows and reports test accuracy.
2. Explains the test rows the net predicts as unfavourable with every generator
   of ``skcf.generators`` (plus seed 001's Min-ℓ1 / Min-ℓ2 / FGSM settings), under
   the dataset's actionability constraints, and prints validity, ℓ0/ℓ1/ℓ2,
   constraint violations and time per counterfactual.
3. Draws each generator's counterfactuals on the 2-D moons data and writes
   ``skcf_demo.png``.
"""

import argparse
import inspect
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from skcf.datasets import load_german_credit, make_moons
from skcf.exceptions import CounterfactualWarning
from skcf.models import MLP
from skcf.utils import all_estimators

#: extra named settings shown next to each generator's defaults (seed 001 App. B.3)
VARIANTS = {
    "ElasticNetGenerator": {
        "Min-l1 (EAD beta=1, kappa=0.5)": dict(beta=1.0, confidence=0.5),
        "Min-l2 (EAD beta=0, kappa=0.5)": dict(beta=0.0, confidence=0.5),
    },
    "PGDGenerator": {
        "FGSM (linf, eps=0.5)": dict(steps=1, min_eps=False, norm="linf", eps=0.5)
    },
}


def _train_net(X, y, hidden, epochs, device, seed=0):
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        MLP,
        module__n_features=X.shape[1],
        module__hidden=hidden,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=32,
        train_split=None,
        verbose=0,
        device=device,
    )
    return net.fit(X.astype(np.float32), y.astype(np.int64))


#: the generator a meta-generator (Stable Neighbor Search) refines in the demo
META_BASE = ("Min-l2", dict(beta=0.0, confidence=0.5))


def _settings():
    for name, cls in all_estimators(type_filter="generator"):
        yield name, cls, {}
        for label, kw in VARIANTS.get(name, {}).items():
            yield label, cls, kw
    for name, cls in all_estimators(type_filter="meta-generator"):
        yield f"{name} ({META_BASE[0]})", cls, {}


def _build(cls, net, seed, device, kw, cons=None):
    """A generator of ``cls`` for ``net``; meta-generators wrap Min-ℓ2 (EAD)."""
    from skcf.generators import ElasticNetGenerator

    cons = cons or {}
    if "generator" in inspect.signature(cls).parameters:
        inner = ElasticNetGenerator(
            net, random_state=seed, device=device, **cons, **META_BASE[1]
        )
        return cls(inner, random_state=seed, **kw)
    return cls(net, random_state=seed, device=device, **cons, **kw)


def run(out=".", device="cpu", n_queries=100, epochs=40, seed=0):
    """Run the demo and return the table rows (a list of dicts)."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    rng = np.random.default_rng(seed)
    data = load_german_credit()
    X, y = data.data.astype(np.float32), data.target
    idx = rng.permutation(len(X))
    train, test = idx[:700], idx[700:]
    net = _train_net(X[train], y[train], (128, 64, 16), epochs, device, seed)
    acc = float((net.predict(X[test]) == y[test]).mean())
    print(
        f"German credit: {X.shape[1]} features, MLP 128-64-16, test accuracy {acc:.3f}"
    )
    query = X[test][net.predict(X[test]) == 0][:n_queries]
    cons = data.actionability
    print(
        f"Explaining {len(query)} rows predicted 'bad credit' -> target 'good credit'; "
        f"{len(cons['immutable'])} immutable, {len(cons['increase_only'])} "
        f"increase-only columns, {len(cons['categorical'])} one-hot groups\n"
    )

    rows = []
    for label, cls, kw in _settings():
        gen = _build(cls, net, seed, device, kw, cons).fit(X[train])
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CounterfactualWarning)
            cf = gen.explain(query)
        seconds = time.perf_counter() - start
        ok = cf.valid
        rows.append(
            dict(
                generator=label,
                validity=cf.validity,
                l0=float(cf.l0[ok].mean()) if ok.any() else float("nan"),
                l1=float(cf.l1[ok].mean()) if ok.any() else float("nan"),
                l2=float(cf.l2[ok].mean()) if ok.any() else float("nan"),
                violations=int(cf.violations.sum()),
                ms_per_cf=1000 * seconds / max(len(query), 1),
            )
        )
    _print_table(rows)
    path = _plot(Path(out), device, seed)
    print(f"\nWrote {path}")
    return rows


def _print_table(rows):
    head = (
        f"{'generator':34s} {'validity':>8s} {'l0':>6s} {'l1':>7s} {'l2':>7s} "
        f"{'viol.':>5s} {'ms/CF':>7s}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['generator']:34s} {r['validity']:8.2f} {r['l0']:6.2f} {r['l1']:7.3f} "
            f"{r['l2']:7.3f} {r['violations']:5d} {r['ms_per_cf']:7.2f}"
        )
    print("(l0/l1/l2: means over valid counterfactuals, in standardised units)")


def _overrides_2d(seed):
    """Small latent models for 2-D data (the tabular defaults are 1024-128-32)."""
    from skcf.density import Autoencoder, VariationalAutoencoder

    small = dict(hidden=(32,), latent_dim=2, max_epochs=150, random_state=seed)
    return {
        "REVISEGenerator": dict(vae=VariationalAutoencoder(**small)),
        "LatentSearchGenerator": dict(autoencoder=Autoencoder(**small), radius=0.25),
    }


def _plot(out, device, seed, dataset="moons", filename="skcf_demo.png"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skcf.datasets import make_circles
    from skcf.plotting import CounterfactualDisplay

    make = {"moons": make_moons, "circles": make_circles}[dataset]
    X, y = make(300, random_state=seed)
    X = X.astype(np.float32)
    overrides = _overrides_2d(seed)
    net = _train_net(X, y, (32, 32), 60, device, seed)
    query = X[net.predict(X) == 0][:12]
    settings = list(_settings())
    ncols = min(3, len(settings))
    nrows = -(-len(settings) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.8 * ncols, 3.6 * nrows), squeeze=False
    )
    for ax in axes.ravel()[len(settings) :]:
        ax.axis("off")
    for ax, (label, cls, kw) in zip(axes.ravel(), settings, strict=False):
        kw = {**overrides.get(cls.__name__, {}), **kw}
        gen = _build(cls, net, seed, device, kw).fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CounterfactualWarning)
            disp = CounterfactualDisplay.from_generator(
                gen, query, X_train=X, y_train=y, ax=ax
            )
        disp.ax_.set_title(f"{label}\nvalidity {disp.valid.mean():.2f}", fontsize=9)
    fig.suptitle(f"skcf counterfactuals on {dataset} (skorch MLP 32-32)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / filename
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for skcf_demo.png")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-queries", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.out, args.device, args.n_queries, args.epochs, args.seed)


if __name__ == "__main__":
    main()
