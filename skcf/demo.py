"""End-to-end demo: ``python -m skcf.demo [--out DIR] [--device cpu]``.

The raw-data road, as a data scientist has it:

1. Loads the raw German credit frame (embedded in the package: numbers and
   string categories such as ``checking_status='A11'``), builds the usual
   ``ColumnTransformer`` (``StandardScaler`` on the numeric columns,
   ``OneHotEncoder`` on the categorical ones) → skorch MLP 128-64-16 (seed 001
   App. B.2) pipeline, trains it on 700 rows and reports test accuracy.
2. Explains the test applicants the pipeline rejects with every generator of
   ``skcf.generators`` (plus seed 001's Min-ℓ1 / Min-ℓ2 / FGSM settings), passing
   the frame and the pipeline as they are, under the dataset's actionability
   constraints named by column. Validity is judged by the pipeline's own
   ``predict`` on the returned DataFrames; the table reports validity, changed
   columns, ℓ1 in MADs of each column (a changed category counts 1),
   constraint violations and time per counterfactual.
3. Prints the recourse of a few applicants in original units and writes
   ``skcf_demo.png``: their changes, and which columns the recourse changes
   how often and by how much.
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


def _make_net(n_features, hidden, epochs, device):
    """A skorch MLP as the demo trains it (Adam, lr 1e-3, batches of 32)."""
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(
        MLP,
        module__n_features=n_features,
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


def _train_net(X, y, hidden, epochs, device, seed=0):
    torch.manual_seed(seed)
    net = _make_net(X.shape[1], hidden, epochs, device)
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


def _to_float32(X):
    """skorch nets take float32: the pipeline's last preprocessing step."""
    return np.asarray(X, dtype=np.float32)


def make_pipeline_and_data(device="cpu", epochs=40, seed=0):
    """The raw German credit frame and a fitted ColumnTransformer → skorch MLP."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    bunch = load_german_credit(as_frame=True)
    X, y = bunch.data, bunch.target.to_numpy()
    idx = np.random.default_rng(seed).permutation(len(X))
    train, test = idx[:700], idx[700:]
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), bunch.numeric_features),
            ("cat", OneHotEncoder(handle_unknown="ignore"), bunch.categorical_features),
        ]
    )
    width = prep.fit(X.iloc[train]).transform(X.iloc[:1]).shape[1]
    torch.manual_seed(seed)
    net = _make_net(width, (128, 64, 16), epochs, device)
    pipe = Pipeline(
        [("prep", prep), ("float32", FunctionTransformer(_to_float32)), ("net", net)]
    )
    pipe.fit(X.iloc[train], y[train].astype(np.int64))
    return bunch, X.iloc[train], y[train], X.iloc[test], y[test], pipe


def run(out=".", device="cpu", n_queries=100, epochs=40, seed=0, plot=True):
    """Run the demo; return the table rows (a list of dicts) and the recourse."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    bunch, X_train, _, X_test, y_test, pipe = make_pipeline_and_data(
        device, epochs, seed
    )
    acc = float((pipe.predict(X_test) == y_test).mean())
    print(
        f"German credit (raw frame: {len(bunch.numeric_features)} numeric, "
        f"{len(bunch.categorical_features)} categorical columns), ColumnTransformer "
        f"-> skorch MLP 128-64-16, test accuracy {acc:.3f}"
    )
    query = X_test[pipe.predict(X_test) == 0].head(n_queries)
    cons = {k: v for k, v in bunch.actionability.items() if v}
    print(
        f"Explaining {len(query)} applicants the pipeline rejects -> 'good credit'; "
        + "; ".join(f"{k}: {', '.join(v)}" for k, v in cons.items() if k != "integer")
        + "\n"
    )

    rows, recourse = [], None
    for label, cls, kw in _settings():
        gen = _build(cls, pipe, seed, device, kw, cons).fit(X_train)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CounterfactualWarning)
            cf = gen.explain(query)
        seconds = time.perf_counter() - start
        ok = cf.valid
        judged = pipe.predict(cf.X_cf) == 1  # the user's own model, our values
        rows.append(
            dict(
                generator=label,
                validity=cf.validity,
                judged=float(judged[ok].mean()) if ok.any() else float("nan"),
                l0=float(cf.l0[ok].mean()) if ok.any() else float("nan"),
                l1=float(cf.l1[ok].mean()) if ok.any() else float("nan"),
                violations=int(cf.violations.sum()),
                ms_per_cf=1000 * seconds / max(len(query), 1),
            )
        )
        if label.startswith("Min-l1"):
            recourse = cf
    _print_table(rows)
    print("\nRecourse for the first applicants (Min-l1 elastic net), original units:")
    for index, text in list(zip(recourse.X.index, recourse.to_text()))[:5]:
        print(f"  applicant {index}: {text}")
    if plot:
        path = _plot_recourse(recourse, Path(out))
        print(f"\nWrote {path}")
    return rows, recourse


def _print_table(rows):
    head = (
        f"{'generator':34s} {'validity':>8s} {'by pipe':>7s} {'cols':>5s} "
        f"{'l1':>7s} {'viol.':>5s} {'ms/CF':>7s}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['generator']:34s} {r['validity']:8.2f} {r['judged']:7.2f} "
            f"{r['l0']:5.2f} {r['l1']:7.3f} {r['violations']:5d} {r['ms_per_cf']:7.2f}"
        )
    print(
        "(validity: share of rows with a valid counterfactual; by pipe: share of "
        "those the pipeline's own predict flips; cols: changed columns; l1: "
        "numeric changes in MADs of the column + 1 per changed category; means "
        "over valid counterfactuals)"
    )


def _plot_recourse(cf, out, filename="skcf_demo.png"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skcf.plotting import RecourseDisplay

    disp = RecourseDisplay.from_counterfactuals(cf, rows=3)
    disp.figure_.suptitle(
        "Recourse for rejected German credit applicants (Min-l1 elastic net, "
        "skorch MLP behind a ColumnTransformer)"
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / filename
    disp.figure_.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(disp.figure_)
    return path


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
