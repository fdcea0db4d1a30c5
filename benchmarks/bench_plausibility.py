"""Plausibility of every generator on German credit and Adult.

For each dataset: a skorch MLP (German: 128-64-16, seed 001 App. B.2; Adult:
64-32), query rows predicted unfavourable, every generator of
``skcf.generators`` with the dataset's actionability constraints. Columns:
validity, ℓ0/ℓ1/ℓ2, LOF, kNN manifold distance (K=5), sphere manifold distance
(ε = 20 % of the mean pairwise distance), yNN, ε-connectedness, time per
counterfactual — all from ``skcf.metrics``, against the training rows of the
target class. Writes JSON and a markdown table.

    python benchmarks/bench_plausibility.py [--datasets german adult]
        [--n-queries 200] [--data-home ../shared/data] [--out benchmarks/results]
"""

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from skorch import NeuralNetClassifier

import skcf
from skcf.datasets import load_adult, load_german_credit
from skcf.demo import _build
from skcf.exceptions import CounterfactualWarning
from skcf.metrics import (
    connectedness_score,
    knn_manifold_distance,
    lof_distance,
    sphere_manifold_distance,
    ynn_score,
)
from skcf.models import MLP
from skcf.utils import all_estimators

HIDDEN = {"german": (128, 64, 16), "adult": (64, 32)}
EPOCHS = {"german": 40, "adult": 15}


def load(name, data_home, seed, n_train):
    if name == "german":
        data = load_german_credit()
    else:
        data = load_adult(data_home=data_home)
    X, y = data.data.astype(np.float32), data.target
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(X))
    n_train = min(n_train, int(0.7 * len(X)))
    return X[idx[:n_train]], y[idx[:n_train]], X[idx[n_train:]], data.actionability


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["german", "adult"])
    parser.add_argument("--n-queries", type=int, default=200)
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument(
        "--data-home",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    results = []
    for name in args.datasets:
        X_tr, y_tr, X_te, cons = load(name, args.data_home, args.seed, args.n_train)
        torch.manual_seed(args.seed)
        net = NeuralNetClassifier(
            MLP,
            module__n_features=X_tr.shape[1],
            module__hidden=HIDDEN[name],
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=1e-3,
            max_epochs=EPOCHS[name],
            batch_size=64,
            train_split=None,
            verbose=0,
            device=args.device,
        ).fit(X_tr, y_tr)
        pred_tr = net.predict(X_tr)
        query = X_te[net.predict(X_te) == 0][: args.n_queries]
        radius = None
        print(f"{name}: {X_tr.shape}, {len(query)} queries")
        settings = all_estimators("generator") + [
            (f"{name} (Min-l2)", cls) for name, cls in all_estimators("meta-generator")
        ]
        for gname, cls in settings:
            gen = _build(cls, net, args.seed, args.device, {}, cons)
            gen.fit(X_tr, y_tr)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CounterfactualWarning)
                cf = gen.explain(query)
            seconds = time.perf_counter() - start
            ok = cf.valid
            if ok.any():
                ref = dict(y_cf=cf.y_cf_pred[ok], y_ref=pred_tr)
                Xv = cf.X_cf[ok]
                if radius is None:
                    sub = X_tr[:2000]
                    d = np.linalg.norm(sub[:, None] - sub[None], axis=2)
                    radius = 0.2 * d[np.triu_indices(len(sub), 1)].mean()
                row = dict(
                    lof=float(lof_distance(Xv, X_tr, **ref)),
                    knn=float(knn_manifold_distance(Xv, X_tr, **ref)),
                    sphere=float(
                        sphere_manifold_distance(Xv, X_tr, radius=radius, **ref)
                    ),
                    ynn=float(ynn_score(gen, Xv, X_tr)),
                    connected=float(connectedness_score(gen, Xv, X_tr, pred_tr)),
                )
            else:
                row = dict(
                    lof=np.nan, knn=np.nan, sphere=np.nan, ynn=np.nan, connected=np.nan
                )
            row.update(
                dataset=name,
                generator=gname,
                validity=cf.validity,
                l0=float(cf.l0[ok].mean()) if ok.any() else np.nan,
                l1=float(cf.l1[ok].mean()) if ok.any() else np.nan,
                l2=float(cf.l2[ok].mean()) if ok.any() else np.nan,
                ms_per_cf=1000 * seconds / max(len(query), 1),
            )
            results.append(row)
            print(
                f"  {gname:24s} val {row['validity']:.2f} l0 {row['l0']:5.2f} "
                f"l2 {row['l2']:.2f} LOF {row['lof']:.2f} kNN {row['knn']:.2f} "
                f"conn {row['connected']:.2f} {row['ms_per_cf']:.1f} ms/CF"
            )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(
        device=args.device,
        seed=args.seed,
        n_queries=args.n_queries,
        torch=torch.__version__,
        sklearn=sklearn.__version__,
        skcf=skcf.__version__,
        python=platform.python_version(),
    )
    (out / "bench_plausibility.json").write_text(
        json.dumps(dict(meta=meta, rows=results), indent=2, default=float)
    )
    lines = [
        "# Plausibility of every generator (German credit, Adult)",
        "",
        "Means over valid counterfactuals; LOF, kNN (K=5) and sphere manifold "
        "distances against the training rows the model assigns to the "
        "counterfactual's class; yNN (K=5); ε-connectedness; dataset "
        "actionability constraints applied. `÷EN` = ms/CF relative to "
        "ElasticNetGenerator on the same dataset.",
        "",
        "| dataset | generator | validity | ℓ0 | ℓ1 | ℓ2 | LOF | kNN | sphere | "
        "yNN | connected | ms/CF | ÷EN |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        en = next(
            x["ms_per_cf"]
            for x in results
            if x["dataset"] == r["dataset"] and x["generator"] == "ElasticNetGenerator"
        )
        lines.append(
            f"| {r['dataset']} | {r['generator']} | {r['validity']:.2f} | "
            f"{r['l0']:.2f} | {r['l1']:.2f} | {r['l2']:.2f} | {r['lof']:.2f} | "
            f"{r['knn']:.2f} | {r['sphere']:.2f} | {r['ynn']:.2f} | "
            f"{r['connected']:.2f} | {r['ms_per_cf']:.1f} | {r['ms_per_cf'] / en:.2f} |"
        )
    (out / "bench_plausibility.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out}/bench_plausibility.{{json,md}}")


if __name__ == "__main__":
    main()
