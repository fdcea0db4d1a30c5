"""Growing Spheres speed on 1,000 Adult rows, for differentiable and tree models.

The issue's target: 1,000 Adult counterfactuals in under 60 s on 2 cores. The
model classifies ``n_samples`` points per row and per layer, so the time splits
into the search itself (drawing, clipping, snapping, distances) and the model's
own ``predict_proba``; both are reported, with the share of the model and the
time relative to the logistic regression. Models: logistic regression, the
seed 003 setting (an MLP), a 100-tree random forest and histogram gradient
boosting, all fitted on 5,000 training rows; Adult's actionability constraints
(immutable, increase-only, one-hot groups) apply.

    python benchmarks/bench_growing_spheres.py [--n-rows 1000]
        [--models lr mlp forest hgb] [--data-home ../shared/data]
        [--out benchmarks/results]
"""

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

import skcf
from skcf.datasets import load_adult
from skcf.exceptions import CounterfactualWarning
from skcf.generators import GrowingSpheresGenerator

MODELS = {
    "lr": lambda seed: LogisticRegression(max_iter=1000),
    "mlp": lambda seed: MLPClassifier((64, 32), max_iter=200, random_state=seed),
    "forest": lambda seed: RandomForestClassifier(
        100, min_samples_leaf=2, n_jobs=2, random_state=seed
    ),
    "hgb": lambda seed: HistGradientBoostingClassifier(random_state=seed),
}


class _Timed:
    """Wraps a classifier and times its ``predict_proba`` (the model's share)."""

    def __init__(self, model):
        self.model = model
        self.seconds = 0.0
        self.points = 0

    def __call__(self, X):
        start = time.perf_counter()
        proba = self._predict_proba(X)
        self.seconds += time.perf_counter() - start
        self.points += len(X)
        return proba


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=1000)
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--data-home",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))

    data = load_adult(data_home=args.data_home)
    X, y = data.data.astype(np.float32), data.target
    rng = np.random.default_rng(args.seed)
    idx = rng.permutation(len(X))
    X_tr, y_tr = X[idx[: args.n_train]], y[idx[: args.n_train]]
    X_q = X[idx[args.n_train : args.n_train + args.n_rows]]
    results = []
    for name in args.models:
        model = MODELS[name](args.seed).fit(X_tr, y_tr)
        gen = GrowingSpheresGenerator(
            model, random_state=args.seed, **data.actionability
        ).fit(X_tr, y_tr)
        # time the model inside the search: wrap the adapter's predict_proba
        timer = _Timed(gen.model_)
        timer._predict_proba = gen.model_.predict_proba
        gen.model_.predict_proba = timer
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CounterfactualWarning)
            cf = gen.explain(X_q)
        seconds = time.perf_counter() - start
        ok = cf.valid
        row = dict(
            model=name,
            n_rows=len(X_q),
            seconds=seconds,
            model_seconds=timer.seconds,
            model_share=timer.seconds / seconds,
            points_classified=timer.points,
            validity=cf.validity,
            l0=float(cf.l0[ok].mean()) if ok.any() else float("nan"),
            l2=float(cf.l2[ok].mean()) if ok.any() else float("nan"),
            layers=float(cf.n_iter.mean()),
            under_60s=seconds < 60.0,
        )
        results.append(row)
        print(
            f"{name:7s} {seconds:6.1f} s (model {100 * row['model_share']:.0f} %, "
            f"{timer.points / 1e6:.1f} M points) validity {cf.validity:.3f} "
            f"l0 {row['l0']:.2f} l2 {row['l2']:.2f} layers {row['layers']:.1f}"
        )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(
        n_rows=args.n_rows,
        n_train=args.n_train,
        seed=args.seed,
        cpu_count=os.cpu_count(),
        load_avg=os.getloadavg()[0],
        torch=torch.__version__,
        sklearn=sklearn.__version__,
        skcf=skcf.__version__,
        python=platform.python_version(),
    )
    (out / "bench_growing_spheres.json").write_text(
        json.dumps(dict(meta=meta, rows=results), indent=2, default=float)
    )
    base = next((r["seconds"] for r in results if r["model"] == "lr"), None)
    lines = [
        f"# Growing Spheres on {args.n_rows} Adult rows (target: < 60 s, 2 cores)",
        "",
        "Default generator (1,000 points per layer, feature selection on), Adult "
        "actionability constraints. `model` = time inside the model's "
        "`predict_proba`; `÷LR` = total time relative to the logistic "
        "regression.",
        "",
        "| model | seconds | ÷LR | model share | points (M) | layers/row | "
        "validity | ℓ0 | ℓ2 | < 60 s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ratio = f"{r['seconds'] / base:.2f}" if base else "–"
        lines.append(
            f"| {r['model']} | {r['seconds']:.1f} | {ratio} | "
            f"{100 * r['model_share']:.0f} % | {r['points_classified'] / 1e6:.1f} | "
            f"{r['layers']:.1f} | {r['validity']:.3f} | {r['l0']:.2f} | "
            f"{r['l2']:.2f} | {'yes' if r['under_60s'] else 'no'} |"
        )
    lines += ["", f"Load average at the end of the run: {meta['load_avg']:.1f}."]
    (out / "bench_growing_spheres.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out}/bench_growing_spheres.{{json,md}}")


if __name__ == "__main__":
    main()
