"""CounterfactualSampler vs SMOTE vs random over-sampling vs none (Taiwan, German).

Counterfactual data augmentation as an over-sampler: does adding
counterfactuals of majority rows, pushed into the minority class, help a
downstream classifier more than SMOTE does? For each dataset (German credit,
Taiwan credit, numeric features standardised by the loaders) and each
imbalance setting (the natural one, and the minority class subsampled to 1:9),
stratified k-fold cross-validation; in each fold every sampler resamples the
training part once and each downstream classifier (logistic regression,
histogram gradient boosting) is trained on the result and scored on the
untouched test part. Scores: balanced accuracy and F1 of the minority class
(mean ± std over folds), resampling time.

Samplers: none, ``RandomOverSampler``, ``SMOTE``,
``CounterfactualSampler`` with ``WachterGenerator`` (default model: a
standardised logistic regression fitted on the fold) and with
``GrowingSpheresGenerator``; both generators carry the dataset's
actionability constraints (one-hot groups, immutable and increase-only
columns), so every synthetic row is a valid one-hot row.

    python benchmarks/bench_sampler.py [--quick] [--datasets german taiwan]
        [--folds 3] [--max-rows 10000] [--data-home ../shared/data]
        [--out benchmarks/results]
"""

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import imblearn
import numpy as np
import sklearn
import torch
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

import skcf
from skcf.datasets import load_german_credit, load_taiwan_credit
from skcf.exceptions import CounterfactualWarning
from skcf.generators import GrowingSpheresGenerator, WachterGenerator
from skcf.sampling import CounterfactualSampler


def load(name, data_home):
    if name == "german":
        data = load_german_credit()
    else:
        data = load_taiwan_credit(data_home=data_home)
    return data.data.astype(np.float64), np.asarray(data.target), data.actionability


def imbalance(X, y, ratio, seed):
    """Subsample the minority class to ``ratio`` times the majority count."""
    if ratio is None:
        return X, y
    labels, counts = np.unique(y, return_counts=True)
    minority, n_major = labels[counts.argmin()], counts.max()
    rng = np.random.default_rng(seed)
    idx_min = np.flatnonzero(y == minority)
    keep = rng.choice(idx_min, size=int(ratio * n_major), replace=False)
    idx = np.sort(np.concatenate([np.flatnonzero(y != minority), keep]))
    return X[idx], y[idx]


def samplers(cons, seed, quick):
    gs_samples = 100 if quick else 200
    return {
        "none": None,
        "random": RandomOverSampler(random_state=seed),
        "smote": SMOTE(random_state=seed),
        "cf_wachter": CounterfactualSampler(
            WachterGenerator(None, **cons), random_state=seed
        ),
        "cf_growing_spheres": CounterfactualSampler(
            GrowingSpheresGenerator(None, n_samples=gs_samples, **cons),
            random_state=seed,
        ),
    }


def classifiers(seed):
    return {
        "logreg": LogisticRegression(max_iter=2000),
        "hgb": HistGradientBoostingClassifier(random_state=seed),
    }


def run(name, setting, X, y, cons, args):
    labels, counts = np.unique(y, return_counts=True)
    minority = labels[counts.argmin()]
    skf = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    scores = {}
    for fold, (tr, te) in enumerate(skf.split(X, y)):
        for sname, sampler in samplers(cons, args.seed, args.quick).items():
            start = time.perf_counter()
            if sampler is None:
                X_res, y_res = X[tr], y[tr]
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", CounterfactualWarning)
                    X_res, y_res = sampler.fit_resample(X[tr], y[tr])
            seconds = time.perf_counter() - start
            extra = {}
            if isinstance(sampler, CounterfactualSampler):
                X_new = X_res[len(tr) :]
                extra = dict(
                    synthetic_valid=float(
                        (sampler.estimator_.predict(X_new) == minority).mean()
                    ),
                    seed_rows_tried=int(sum(sampler.n_tried_.values())),
                    n_synthetic=len(X_new),
                    distinct_synthetic=len(np.unique(X_new, axis=0)),
                )
            for cname, clf in classifiers(args.seed).items():
                pred = clf.fit(X_res, y_res).predict(X[te])
                key = (sname, cname)
                rec = scores.setdefault(
                    key, dict(bal_acc=[], f1=[], seconds=[], extra=[])
                )
                rec["bal_acc"].append(balanced_accuracy_score(y[te], pred))
                rec["f1"].append(f1_score(y[te], pred, pos_label=minority))
                rec["seconds"].append(seconds)
                rec["extra"].append(extra)
        print(f"  fold {fold + 1}/{args.folds} done")
    rows = []
    for (sname, cname), rec in scores.items():
        row = dict(
            dataset=name,
            setting=setting,
            n_rows=len(y),
            minority_share=float(counts.min() / counts.sum()),
            sampler=sname,
            classifier=cname,
            bal_acc=float(np.mean(rec["bal_acc"])),
            bal_acc_std=float(np.std(rec["bal_acc"])),
            f1=float(np.mean(rec["f1"])),
            f1_std=float(np.std(rec["f1"])),
            resample_seconds=float(np.mean(rec["seconds"])),
        )
        if rec["extra"][0]:
            for k in rec["extra"][0]:
                row[k] = float(np.mean([e[k] for e in rec["extra"]]))
        rows.append(row)
        print(
            f"  {setting:8s} {sname:20s} {cname:7s} bal_acc {row['bal_acc']:.3f}"
            f"±{row['bal_acc_std']:.3f} F1 {row['f1']:.3f}±{row['f1_std']:.3f} "
            f"resample {row['resample_seconds']:.2f}s"
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["german", "taiwan"])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument(
        "--max-rows",
        type=int,
        default=10000,
        help="stratified subsample of larger data sets (Taiwan: 30,000 rows)",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--data-home",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.quick:
        args.folds = min(args.folds, 2)
        args.max_rows = min(args.max_rows, 5000)
    # the engine's batches are small: one intra-op thread is fastest on a
    # shared 2-core machine
    torch.set_num_threads(1)
    results = []
    for name in args.datasets:
        X, y, cons = load(name, args.data_home)
        if len(X) > args.max_rows:
            idx, _ = train_test_split(
                np.arange(len(X)),
                train_size=args.max_rows,
                stratify=y,
                random_state=args.seed,
            )
            X, y = X[np.sort(idx)], y[np.sort(idx)]
        for setting, ratio in [("natural", None), ("1:9", 1 / 9)]:
            Xs, ys = imbalance(X, y, ratio, args.seed)
            print(f"{name} {setting}: {Xs.shape}, counts {np.bincount(ys).tolist()}")
            results += run(name, setting, Xs, ys, cons, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "sampler_quick" if args.quick else "sampler"
    meta = dict(
        seed=args.seed,
        folds=args.folds,
        max_rows=args.max_rows,
        quick=args.quick,
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        sklearn=sklearn.__version__,
        imblearn=imblearn.__version__,
        skcf=skcf.__version__,
        python=platform.python_version(),
    )
    (out / f"{stem}.json").write_text(
        json.dumps(dict(meta=meta, rows=results), indent=2, default=float)
    )
    lines = [
        "# CounterfactualSampler vs SMOTE vs no resampling",
        "",
        f"Stratified {args.folds}-fold CV (seed {args.seed}); resampling on the "
        "training folds only; scores on the untouched test folds: balanced "
        "accuracy and F1 of the minority class, mean ± std over folds. "
        "`1:9` = minority class subsampled to a ninth of the majority count. "
        "`valid` = share of synthetic rows the sampler's model predicts as the "
        "minority class; `distinct` = distinct synthetic rows / synthetic rows.",
        "",
        "| dataset | setting | sampler | classifier | bal. acc. | F1 (minority) "
        "| resample s | valid | distinct |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        valid = f"{r['synthetic_valid']:.2f}" if "synthetic_valid" in r else ""
        distinct = (
            f"{r['distinct_synthetic'] / max(r['n_synthetic'], 1):.2f}"
            if "n_synthetic" in r
            else ""
        )
        lines.append(
            f"| {r['dataset']} | {r['setting']} | {r['sampler']} | "
            f"{r['classifier']} | {r['bal_acc']:.3f} ± {r['bal_acc_std']:.3f} | "
            f"{r['f1']:.3f} ± {r['f1_std']:.3f} | {r['resample_seconds']:.2f} | "
            f"{valid} | {distinct} |"
        )
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out}/{stem}.{{json,md}}")


if __name__ == "__main__":
    main()
