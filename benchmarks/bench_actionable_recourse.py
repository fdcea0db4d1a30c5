"""Actionable Recourse on Adult (seed 003, Tables 1-2 and Figs. 3-4).

Seed 003 (Hardy et al., §3.2) runs CARLA's AR-LIME (Actionable Recourse of
Ustun et al. on a per-row LIME surrogate, flipset size 500) on CARLA's
13-9-3 network for Adult, trained naturally and adversarially (PGD, ℓ∞
16/255), and reports success 37.2 % / 39.5 % (Table 1), 1.77 changed
features and 0 redundant changes (Table 2, natural net), and, in Figs. 3-4,
that the adversarial net's recourse travels further but lies closer to the
data (kNN and sphere manifold distances) and is somewhat more often
ε-connected.

This script reproduces those rows with
:class:`~skcf.generators.ActionableRecourseGenerator`:

- the same data, networks and training protocol as
  ``bench_adversarial_recourse.py`` (its helpers are imported: min-max scaled
  numeric columns, one-hot categories, the loader's actionability
  constraints; CARLA's 13-9-3 ReLU net; adversarial training with PGD-10,
  ε = 16/255, 50 % of each batch);
- AR-LIME on both nets (``surrogate="auto"`` detects that they are not
  linear) for the first ``--n-cf`` test rows the net denies (``<=50K``),
  target ``>50K``;
- exact AR on a logistic regression fitted on the same rows (the linear
  model AR was designed for), as a reference.

Reported per row: success (valid on the real model), infeasible share (no
action reaches the target on the linear model / surrogate), recourse cost
(total log-percentile shift), ℓ1 / ℓ2 distance, sparsity (#changed
features), redundancy (#changed features revertible without losing the
class), kNN (K = 5) and sphere manifold distances and ε-connectedness (as in
``bench_adversarial_recourse.py``), MILPs per row and time.

Writes ``actionable_recourse{,_quick}.json`` / ``.md`` under ``--out``.

    python benchmarks/bench_actionable_recourse.py [--quick] [--n-cf 500]
        [--max-candidates 10] [--n-samples 1000] [--n-jobs 1]
        [--data-home ../shared/data] [--out benchmarks/results]
"""

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_adversarial_recourse import load_adult_minmax, train  # noqa: E402

import skcf  # noqa: E402
from skcf.exceptions import CounterfactualWarning  # noqa: E402
from skcf.generators import ActionableRecourseGenerator  # noqa: E402
from skcf.metrics import (  # noqa: E402
    connectedness_score,
    knn_manifold_distance,
    redundancy,
    sphere_manifold_distance,
)

#: seed 003's AR rows (CARLA AR-LIME, flipset 500, 500 Adult test rows)
PAPER = {
    "natural": dict(success=0.372, sparsity=1.77, redundancy=0.0),
    "adversarial": dict(success=0.395),
}


def run(model, name, training, X_tr, y_tr, query, cons, args, sphere_radius):
    gen = ActionableRecourseGenerator(
        model,
        max_candidates=args.max_candidates,
        relinearize=args.relinearize,
        n_samples=args.n_samples,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        **cons,
    ).fit(X_tr)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(query)
    seconds = time.perf_counter() - t0
    ok = cf.valid
    row = dict(
        model=name,
        training=training,
        surrogate=gen.surrogate_,
        n_queries=len(query),
        success=float(cf.validity),
        infeasible=float(cf.infeasible.mean()),
        milps_per_row=float(cf.n_iter.mean()),
        seconds=seconds,
        ms_per_cf=1000 * seconds / max(len(query), 1),
    )
    if ok.any():
        Xv, ycf = cf.X_cf[ok], cf.y_cf_pred[ok]
        ref = dict(y_cf=ycf, y_ref=y_tr)
        row.update(
            cost=float(np.mean(cf.cost[ok])),
            l1=float(cf.l1[ok].mean()),
            l2=float(cf.l2[ok].mean()),
            sparsity=float(cf.l0[ok].mean()),
            redundancy=float(redundancy(gen, cf.X[ok], Xv)),
            knn=float(knn_manifold_distance(Xv, X_tr, **ref)),
            sphere=float(
                sphere_manifold_distance(Xv, X_tr, radius=sphere_radius, **ref)
            ),
            connected=float(connectedness_score(gen, Xv, X_tr, y_tr)),
        )
    print(
        f"  {name:9s} {training:11s} {gen.surrogate_:6s} "
        f"success {row['success']:.3f} infeasible {row['infeasible']:.3f} "
        f"cost {row.get('cost', np.nan):.2f} l1 {row.get('l1', np.nan):.2f} "
        f"l0 {row.get('sparsity', np.nan):.2f} red {row.get('redundancy', np.nan):.2f} "
        f"kNN {row.get('knn', np.nan):.2f} sphere {row.get('sphere', np.nan):.2f} "
        f"conn {row.get('connected', np.nan):.2f} "
        f"MILPs/row {row['milps_per_row']:.1f} {seconds:.0f}s",
        flush=True,
    )
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cf", type=int, default=500)
    parser.add_argument("--max-candidates", type=int, default=10)
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument(
        "--relinearize",
        type=int,
        default=0,
        help="AR-LIME refits (0: seed 003's protocol, one surrogate at the factual)",
    )
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--data-home",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_cf = min(args.n_cf, 100)
        args.max_candidates = min(args.max_candidates, 10)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    n_train = 3000 if args.quick else 10000
    X_tr, y_tr, X_te, y_te, cons = load_adult_minmax(
        args.data_home, args.seed, n_train, 3000
    )
    X_tr, X_te = X_tr.astype(np.float64), X_te.astype(np.float64)
    print(f"adult: train {X_tr.shape}, test {X_te.shape}", flush=True)
    sub = X_tr[:2000]
    dist = np.sqrt(((sub[:, None] - sub[None]) ** 2).sum(-1))
    sphere_radius = 0.2 * dist[np.triu_indices(len(sub), 1)].mean()
    rows, info = [], {}
    models = {}
    for training in ("natural", "adversarial"):
        t0 = time.perf_counter()
        net = train(
            "adult",
            X_tr.astype(np.float32),
            y_tr,
            cons,
            adversarial=training == "adversarial",
            seed=args.seed,
            quick=False,  # 5 epochs (its quick mode) leave a constant net
        )
        acc = float((net.predict(X_te.astype(np.float32)) == y_te).mean())
        info[f"net_{training}"] = dict(
            accuracy=acc, train_seconds=time.perf_counter() - t0
        )
        print(f"  {training} net: accuracy {acc:.3f}", flush=True)
        models[("mlp", training)] = net
    lr = LogisticRegression(max_iter=1000).fit(X_tr, y_tr)
    info["logreg"] = dict(accuracy=float(lr.score(X_te, y_te)))
    models[("logreg", "natural")] = lr
    for (name, training), model in models.items():
        if name == "mlp":
            pred = model.predict(X_te.astype(np.float32))
        else:
            pred = model.predict(X_te)
        query = X_te[pred == 0][: args.n_cf]
        row = run(model, name, training, X_tr, y_tr, query, cons, args, sphere_radius)
        row["accuracy"] = info["logreg" if name == "logreg" else f"net_{training}"][
            "accuracy"
        ]
        rows.append(row)
        write(args, rows, info, sphere_radius, time.perf_counter() - start)
    print(f"done in {time.perf_counter() - start:.0f}s", flush=True)


def write(args, rows, info, sphere_radius, total):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "actionable_recourse_quick" if args.quick else "actionable_recourse"
    meta = dict(
        seed=args.seed,
        n_cf=args.n_cf,
        max_candidates=args.max_candidates,
        relinearize=args.relinearize,
        n_samples=args.n_samples,
        n_jobs=args.n_jobs,
        quick=args.quick,
        torch_threads=torch.get_num_threads(),
        sphere_radius=float(sphere_radius),
        models=info,
        total_seconds=total,
        paper=PAPER,
        torch=torch.__version__,
        sklearn=sklearn.__version__,
        skcf=skcf.__version__,
        python=platform.python_version(),
    )
    (out / f"{stem}.json").write_text(
        json.dumps(dict(meta=meta, rows=rows), indent=2, default=float)
    )
    f = lambda r, k, fmt=".2f": format(r[k], fmt) if k in r else "–"  # noqa: E731
    lines = [
        "# Actionable Recourse on Adult (seed 003)",
        "",
        f"{args.n_cf} test rows denied by each model (`<=50K`), target `>50K`; "
        "AR-LIME on CARLA's 13-9-3 net (natural / PGD-adversarial, ε = 16/255), "
        "exact AR on a logistic regression. Cost = total log-percentile shift; "
        f"flipset size {args.max_candidates}, {args.n_samples} LIME samples per "
        "row. Distances over valid rows (min-max scaled numeric columns, one-hot "
        "categories); kNN (K=5) / sphere manifold distances against training rows "
        "of the counterfactual's class. "
        f"{args.threads} torch thread(s), {args.n_jobs} MILP process(es); "
        f"total {total:.0f} s.",
        "",
        "| model | training | acc | solver | success | infeasible | cost | ℓ1 "
        "| ℓ2 | sparsity | redundancy | kNN | sphere | connected | MILPs/row | s |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['training']} | {r['accuracy']:.3f} | "
            f"{r['surrogate']} | {r['success']:.3f} | {r['infeasible']:.3f} | "
            f"{f(r, 'cost')} | {f(r, 'l1')} | {f(r, 'l2')} | {f(r, 'sparsity')} | "
            f"{f(r, 'redundancy')} | {f(r, 'knn')} | {f(r, 'sphere')} | "
            f"{f(r, 'connected')} | {r['milps_per_row']:.1f} | {r['seconds']:.0f} |"
        )
    lines += [
        "",
        "Seed 003 (CARLA AR-LIME, flipset 500): success 0.372 natural / 0.395 "
        "adversarial (Table 1); sparsity 1.77, redundancy 0 (Table 2, natural); "
        "Figs. 3-4: the adversarial net's recourse travels further but is closer "
        "to the data manifold, and ~20 % fewer of its counterfactuals are "
        "unconnected (unconnected ones dominate for both nets).",
    ]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out}/{stem}.{{json,md}}")


if __name__ == "__main__":
    main()
