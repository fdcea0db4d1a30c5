"""Seed 004 Table 3: S-CFE (KDE, GMM, kNN), DCFE and CEM on Wine (and Housing).

Two protocols:

``--protocol default`` (skcf's own): Wine (178 rows, 13 features,
standardised), a skorch DNN classifier (13-64-32-3), 100 query rows, each with
a random target class other than its prediction. Writes
``bench_scfe_wine_{device}.{json,md}``.

``--protocol paper`` (the S-CFE authors' public experiment script): each data
set binary, standardised over all rows (pandas ``std``, ddof=1), shuffled with
``random_state=1``, the last 100 rows as the test set; a 20-20 ReLU DNN;
target = the opposite of the true label; LOF = ``LocalOutlierFactor(
n_neighbors=30, novelty=True)`` per target class, fitted on that class's
training rows (k capped at the class size - 1), reported as ``-score_samples``
averaged over all 100 counterfactuals; ℓ2, ℓ0 and validity over all 100 rows
too (and over valid rows beside). Wine: one cultivar (``--wine-class``) against
the rest. Housing: Boston housing (``shared/data/boston_housing``, sha256
checked) with the authors' 12 features (all but CHAS), ``MEDV`` above its
median as the positive class. Writes ``bench_scfe_wine_paper_{device}.{json,md}``.

For every method: validity, ℓ2, ℓ0, LOF and time, with the paper's numbers
and ratios beside ours.

    python benchmarks/bench_scfe_wine.py [--protocol default|paper] [--device cpu]
        [--out benchmarks/results]
"""

import argparse
import hashlib
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
from skcf.density import Autoencoder, GMMDensity, KDEDensity, KNNDensity
from skcf.exceptions import CounterfactualWarning
from skcf.generators import (
    CEMGenerator,
    DCFEGenerator,
    ElasticNetGenerator,
    SCFEGenerator,
)
from skcf.metrics import lof_distance
from skcf.models import MLP

#: seed 004, Table 3, Wine: validity %, ℓ2, ℓ0, LOF, time
PAPER = {
    "S-CFE (KDE)": (100.0, 3.31, 2.00, 0.99, 12.4),
    "S-CFE (GMM)": (100.0, 3.44, 2.00, 0.98, 13.1),
    "S-CFE (kNN)": (100.0, 4.04, 2.00, 1.01, 5.80),
    "DCFE": (100.0, 3.21, 7.13, 1.03, 4.95),
    "CEM": (92.0, 5.40, 5.14, 1.07, 5.71),
}

#: seed 004, Table 3, binary DNN rows: (mean, std) of validity %, ℓ2, ℓ0, LOF;
#: time as reported
TABLE3 = {
    "Wine": {
        "S-CFE (KDE)": ((100.0, 0.0), (3.31, 1.16), (2.00, 0.0), (0.99, 0.01), 12.4),
        "S-CFE (GMM)": ((100.0, 0.0), (3.44, 1.09), (2.00, 0.0), (0.98, 0.02), 13.1),
        "S-CFE (kNN)": ((100.0, 0.0), (4.04, 1.59), (2.00, 0.0), (1.01, 0.07), 5.80),
        "DCFE": ((100.0, 0.0), (3.21, 2.70), (7.13, 1.31), (1.03, 0.18), 4.95),
        "CEM": ((92.0, 0.29), (5.40, 3.25), (5.14, 2.68), (1.07, 0.14), 5.71),
    },
    "Housing": {
        "S-CFE (KDE)": ((100.0, 0.0), (2.59, 1.21), (2.00, 0.0), (1.23, 0.29), 12.7),
        "S-CFE (GMM)": ((100.0, 0.0), (2.91, 1.38), (2.00, 0.0), (1.12, 0.26), 13.3),
        "S-CFE (kNN)": ((100.0, 0.0), (3.64, 1.73), (2.00, 0.0), (1.17, 0.31), 5.85),
        "DCFE": ((100.0, 0.0), (3.50, 1.68), (6.86, 1.42), (1.27, 0.38), 5.33),
        "CEM": ((94.0, 0.23), (2.93, 2.23), (2.99, 1.17), (1.36, 0.60), 7.51),
    },
}

#: CEM as in Dhurandhar et al.'s experiments: 9 binary-search steps on c from
#: 10, 1000 FISTA iterations, lr 0.01, beta 0.1, kappa 0.1
#: S-CFE_kNN as the authors' code computes it: ``θ·‖y - g‖²`` towards the
#: local-density-weighted mean ``g`` of the factual's 3 nearest target-class
#: rows, with θ = 5 (their README's ``--plausibility 5``) relative to a unit
#: weight on ``‖δ‖²``; skcf weights ``‖δ‖²`` by ``lam=0.1``, so the same ratio
#: is ``density_weight = 5 * 0.1``. "S-CFE (kNN distance)" is skcf's
#: ``KNNDensity`` surrogate (negative mean distance to the k nearest rows).
GRAVITY_WEIGHT = 0.5

CEM_PAPER = dict(initial_c=10.0, n_search_steps=9, max_iter=1000, lr=0.01)

#: Boston housing: the authors' 12 features (CHAS dropped), sha256 of the file
BOSTON_COLUMNS = (
    "CRIM ZN INDUS CHAS NOX RM AGE DIS RAD TAX PTRATIO B LSTAT MEDV".split()
)
BOSTON_FEATURES = [c for c in BOSTON_COLUMNS[:-1] if c != "CHAS"]
BOSTON_SHA256 = "4a8425d42eb99b76feb7ee7cf0fb1d897a6cd19b72c437e4855d767cabb7e24e"


def methods(net, seed):
    m = dict(max_changes=2, random_state=seed, target="other")
    return {
        "S-CFE (KDE)": SCFEGenerator(net, density=KDEDensity(), **m),
        "S-CFE (GMM)": SCFEGenerator(
            net, density=GMMDensity(2, random_state=seed), **m
        ),
        "S-CFE (kNN)": SCFEGenerator(
            net, density="gravity", density_weight=GRAVITY_WEIGHT, **m
        ),
        "S-CFE (kNN distance)": SCFEGenerator(net, density=KNNDensity(), **m),
        "S-CFE (no density)": SCFEGenerator(net, density_weight=0.0, **m),
        "DCFE": DCFEGenerator(net, target="other", random_state=seed),
        "EAD (beta=0.1)": ElasticNetGenerator(net, target="other", random_state=seed),
        "CEM": CEMGenerator(net, random_state=seed, **CEM_PAPER),
        "CEM + AE": CEMGenerator(
            net,
            autoencoder=_autoencoder(seed),
            random_state=seed,
            **CEM_PAPER,
        ),
    }


def _autoencoder(seed):
    return Autoencoder(hidden=(32,), latent_dim=6, max_epochs=100, random_state=seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=["default", "paper"], default="default")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-queries", type=int, default=100)
    parser.add_argument(
        "--wine-class",
        type=int,
        default=0,
        help="paper protocol: the Wine cultivar (0, 1, 2) taken as class 1",
    )
    parser.add_argument(
        "--datasets",
        default="Wine,Housing",
        help="paper protocol: comma-separated subset of Wine,Housing",
    )
    parser.add_argument(
        "--data-dir",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
        help="paper protocol: folder holding boston_housing/housing.data",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    if args.protocol == "paper":
        return paper_protocol(args)

    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=args.seed
    )
    torch.manual_seed(args.seed)
    net = NeuralNetClassifier(
        MLP,
        module__n_features=13,
        module__n_classes=3,
        module__hidden=(64, 32),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=200,
        batch_size=32,
        train_split=None,
        verbose=0,
        device=args.device,
    ).fit(X_tr, y_tr)
    acc = float((net.predict(X_te) == y_te).mean())
    rng = np.random.default_rng(args.seed)
    query = X[rng.choice(len(X), size=min(args.n_queries, len(X)), replace=False)]
    pred = net.predict(query)
    target = (pred + rng.integers(1, 3, size=len(query))) % 3  # any other class

    rows = []
    for name, gen in methods(net, args.seed).items():
        gen.set_params(device=args.device).fit(X_tr, y_tr)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CounterfactualWarning)
            cf = gen.explain(query, target=target)
        seconds = time.perf_counter() - start
        ok = cf.valid
        lof = lof_distance(cf.X_cf, X_tr, y_cf=cf.y_cf_pred, y_ref=y_tr, valid=ok)
        lof_all = lof_distance(cf.X_cf, X_tr, valid=ok)
        # the paper does not give LOF's neighbourhood; its std of 0.01 (S-CFE)
        # fits a neighbourhood spanning the whole class, so report that too
        k_class = int(np.bincount(y_tr).min()) - 1
        lof_class = lof_distance(
            cf.X_cf, X_tr, y_cf=cf.y_cf_pred, y_ref=y_tr, valid=ok, n_neighbors=k_class
        )
        rows.append(
            dict(
                method=name,
                validity=100 * cf.validity,
                l2=float(cf.l2[ok].mean()),
                l2_std=float(cf.l2[ok].std()),
                l0=float(cf.l0[ok].mean()),
                l0_max=int(cf.l0[ok].max(initial=0)),
                lof=float(lof),
                lof_all=float(lof_all),
                lof_class=float(lof_class),
                lof_class_k=k_class,
                seconds=seconds,
                ms_per_cf=1000 * seconds / len(query),
            )
        )
        print(
            f"{name:22s} validity {rows[-1]['validity']:5.1f}  l2 {rows[-1]['l2']:.2f}"
            f"  l0 {rows[-1]['l0']:.2f}  LOF {lof:.2f}  {seconds:.2f}s"
        )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(
        device=args.device,
        seed=args.seed,
        n_queries=len(query),
        test_accuracy=acc,
        torch=torch.__version__,
        sklearn=sklearn.__version__,
        skcf=skcf.__version__,
        python=platform.python_version(),
    )
    (out / f"bench_scfe_wine_{args.device}.json").write_text(
        json.dumps(dict(meta=meta, paper=PAPER, rows=rows), indent=2)
    )
    (out / f"bench_scfe_wine_{args.device}.md").write_text(_markdown(meta, rows))
    print(f"wrote {out}/bench_scfe_wine_{args.device}.{{json,md}}")


def _markdown(meta, rows):
    lines = [
        f"# S-CFE on Wine (seed 004 Table 3) — device `{meta['device']}`",
        "",
        f"DNN 13-64-32-3 (skorch), test accuracy {meta['test_accuracy']:.3f}; "
        f"{meta['n_queries']} query rows, random target class ≠ prediction; "
        "S-CFE with `max_changes=2`; DCFE = `DCFEGenerator` (Wachter et al.'s "
        "loss and MAD-ℓ1 cost); CEM = `CEMGenerator` pertinent negatives (base = "
        "feature minimum, so features only increase; the paper's search: "
        "9 rounds of 1000 iterations), + AE with a small autoencoder (γ = 100). "
        "LOF: `skcf.metrics.lof_distance` against the "
        "training rows of the counterfactual's class (≈1 inlier); LOF (all rows): "
        "against all training rows; LOF (k = class): neighbourhood of the whole "
        "class (k = smallest training class − 1; the paper does not state its k, "
        "and its LOF std of 0.01 suggests such a wide one). ℓ2/ℓ0/LOF over "
        "valid counterfactuals. Paper times are per method as reported (units as "
        "in the paper); ours are wall seconds for all queries.",
        "",
        "| method | validity % | ℓ2 | ℓ0 | LOF | LOF (all rows) | LOF (k = class) "
        "| time s "
        "| paper validity | paper ℓ2 "
        "| paper ℓ0 | paper LOF | paper time | ℓ2 ÷ paper | LOF ÷ paper |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        p = PAPER.get(r["method"])
        ratio = lambda a, b: "—" if b in (None, 0) else f"{a / b:.2f}"  # noqa: E731
        paper = (
            ["—"] * 5
            if p is None
            else [
                f"{p[0]:.1f}",
                f"{p[1]:.2f}",
                f"{p[2]:.2f}",
                f"{p[3]:.2f}",
                "—" if p[4] is None else f"{p[4]}",
            ]
        )
        lines.append(
            f"| {r['method']} | {r['validity']:.1f} | {r['l2']:.2f} | {r['l0']:.2f} | "
            f"{r['lof']:.2f} | {r['lof_all']:.2f} | {r['lof_class']:.2f} | "
            f"{r['seconds']:.2f} | "
            + " | ".join(paper)
            + " | "
            + (ratio(r["l2"], p[1]) if p else "—")
            + " | "
            + (ratio(r["lof"], p[3]) if p else "—")
            + " |"
        )
    targets = []
    for r in rows:
        if r["method"].startswith("S-CFE (") and r["method"] in PAPER:
            p = PAPER[r["method"]]
            common = (
                r["validity"] == 100.0
                and r["l0"] <= 2.0
                and r["l2"] <= 1.15 * p[1]
                and r["seconds"] < p[4]
            )
            verdict = {
                lof: "PASS" if common and lof <= 1.15 * p[3] else "FAIL"
                for lof in (r["lof"], r["lof_class"])
            }
            targets.append(
                f"- {r['method']}: validity {r['validity']:.0f} %, ℓ0 "
                f"{r['l0']:.2f} ≤ 2, ℓ2 {r['l2']:.2f} ≤ {1.15 * p[1]:.2f}, time "
                f"{r['seconds']:.2f} s < {p[4]}; LOF ≤ {1.15 * p[3]:.2f}: "
                f"k = 20 {r['lof']:.2f} **{verdict[r['lof']]}**, k = "
                f"{r['lof_class_k']} {r['lof_class']:.2f} "
                f"**{verdict[r['lof_class']]}**"
            )
    return "\n".join(lines + ["", "## Targets", ""] + targets) + "\n"


# ------------------------------------------------------------ paper protocol
def load_paper_dataset(name, args):
    """``(X, y, feature_names)`` of the paper protocol, before scaling."""
    if name == "Wine":
        from sklearn.datasets import load_wine

        data = load_wine()
        y = (data.target == args.wine_class).astype(np.int64)
        return data.data.astype(np.float64), y, list(data.feature_names)
    if name == "Housing":
        path = Path(args.data_dir) / "boston_housing" / "housing.data"
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != BOSTON_SHA256:
            raise ValueError(
                f"{path} has sha256 {digest}, expected {BOSTON_SHA256} "
                "(shared/data/boston_housing/README.md); refusing to parse it."
            )
        table = np.loadtxt(path)
        cols = [BOSTON_COLUMNS.index(c) for c in BOSTON_FEATURES]
        medv = table[:, -1]
        y = (medv > np.median(medv)).astype(np.int64)
        return table[:, cols], y, list(BOSTON_FEATURES)
    raise ValueError(f"unknown dataset {name!r}; use Wine or Housing")


def paper_split(X, y, n_test=100):
    """The authors' preprocessing: standardise over all rows (ddof=1), shuffle
    with ``random_state=1`` (pandas ``sample``), the last ``n_test`` rows test."""
    import pandas as pd

    X = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    order = pd.DataFrame(X).sample(frac=1, random_state=1).index.to_numpy()
    X, y = X[order].astype(np.float32), y[order]
    return X[:-n_test], X[-n_test:], y[:-n_test], y[-n_test:]


def paper_net(n_features, device, seed):
    """The authors' DNN: d-20-20 ReLU; Adam(lr 0.01, betas (0.5, 0.999)), 20
    epochs, batch 32, no shuffling. Two logits and cross-entropy stand for their
    single sigmoid output and BCE loss (the same classifier family)."""
    torch.manual_seed(seed)
    return NeuralNetClassifier(
        MLP,
        module__n_features=n_features,
        module__n_classes=2,
        module__hidden=(20, 20),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        optimizer__betas=(0.5, 0.999),
        lr=0.01,
        max_epochs=20,
        batch_size=32,
        iterator_train__shuffle=False,
        train_split=None,
        verbose=0,
        device=device,
    )


def paper_methods(net, seed, lo, hi):
    """Every method kept inside ``[lo, hi]``, the per-feature range over the
    training and test rows (the authors' ``mins`` / ``maxs``: their search
    space is that box scaled to [0, 1]); CEM's base is ``lo`` (0 there)."""
    box = {j: (float(a), float(b)) for j, (a, b) in enumerate(zip(lo, hi))}
    m = dict(bounds=box, random_state=seed)
    s = dict(max_changes=2, **m)
    cem = dict(base=lo, **CEM_PAPER, **m)
    return {
        "S-CFE (KDE)": SCFEGenerator(net, density=KDEDensity(), **s),
        "S-CFE (GMM)": SCFEGenerator(
            net, density=GMMDensity(2, random_state=seed), **s
        ),
        "S-CFE (kNN)": SCFEGenerator(
            net, density="gravity", density_weight=GRAVITY_WEIGHT, **s
        ),
        "S-CFE (kNN distance)": SCFEGenerator(net, density=KNNDensity(), **s),
        "DCFE": DCFEGenerator(net, **m),
        "CEM": CEMGenerator(net, **cem),
        "CEM + AE": CEMGenerator(net, autoencoder=_autoencoder(seed), **cem),
    }


def paper_lof(X_cf, target, X_tr, y_tr, k=30):
    """The authors' LOF: one ``LocalOutlierFactor(novelty=True)`` per class on
    its training rows; ``-score_samples`` of each counterfactual against its
    target class."""
    from sklearn.neighbors import LocalOutlierFactor

    out = np.empty(len(X_cf))
    for c in np.unique(target):
        ref = X_tr[y_tr == c]
        lof = LocalOutlierFactor(n_neighbors=min(k, len(ref) - 1), novelty=True)
        lof.fit(ref)
        rows = target == c
        out[rows] = -lof.score_samples(X_cf[rows])
    return out


def paper_protocol(args):
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    rows, meta_data = [], {}
    for name in datasets:
        X, y, features = load_paper_dataset(name, args)
        X_tr, X_te, y_tr, y_te = paper_split(X, y)
        net = paper_net(X.shape[1], args.device, args.seed).fit(X_tr, y_tr)
        acc = float((net.predict(X_te) == y_te).mean())
        target = 1 - y_te  # the opposite of the true label
        k_lof = {int(c): min(30, int((y_tr == c).sum()) - 1) for c in (0, 1)}
        meta_data[name] = dict(
            n_features=X.shape[1],
            n_train=len(X_tr),
            n_test=len(X_te),
            test_accuracy=acc,
            train_class_sizes=np.bincount(y_tr).tolist(),
            lof_k=k_lof,
            features=features,
        )
        print(f"{name}: {len(X_tr)} train / {len(X_te)} test, accuracy {acc:.3f}")
        X_all = np.vstack([X_tr, X_te]).astype(np.float64)
        lo, hi = X_all.min(axis=0), X_all.max(axis=0)
        for method, gen in paper_methods(net, args.seed, lo, hi).items():
            gen.set_params(device=args.device).fit(X_tr, y_tr)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CounterfactualWarning)
                cf = gen.explain(X_te, target=target)
            seconds = time.perf_counter() - start
            X_cf = np.asarray(cf.X_cf, dtype=np.float64)
            ok = np.asarray(cf.valid)
            l2 = np.linalg.norm(X_cf - X_te, axis=1)
            # the authors' ℓ0: entries not torch.isclose to the factual
            l0 = (~np.isclose(X_cf, X_te, rtol=1e-5, atol=1e-8)).sum(axis=1)
            lof = paper_lof(X_cf, target, X_tr, y_tr)
            stat = lambda v: (float(np.mean(v)), float(np.std(v)))  # noqa: E731
            rows.append(
                dict(
                    dataset=name,
                    method=method,
                    validity=100 * float(ok.mean()),
                    validity_std=float(ok.std()),
                    l2=stat(l2),
                    l0=stat(l0),
                    lof=stat(lof),
                    l2_valid=stat(l2[ok]) if ok.any() else None,
                    l0_valid=stat(l0[ok]) if ok.any() else None,
                    lof_valid=stat(lof[ok]) if ok.any() else None,
                    seconds=seconds,
                )
            )
            r = rows[-1]
            print(
                f"  {method:12s} validity {r['validity']:5.1f}  l2 {r['l2'][0]:.2f}"
                f"  l0 {r['l0'][0]:.2f}  LOF {r['lof'][0]:.2f}  {seconds:.2f}s"
            )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(
        protocol="paper",
        device=args.device,
        seed=args.seed,
        wine_class=args.wine_class,
        datasets=meta_data,
        torch=torch.__version__,
        sklearn=sklearn.__version__,
        skcf=skcf.__version__,
        python=platform.python_version(),
        cem=CEM_PAPER,
    )
    stem = f"bench_scfe_wine_paper_{args.device}"
    if args.wine_class != 0:
        stem += f"_wine{args.wine_class}"
    (out / f"{stem}.json").write_text(
        json.dumps(dict(meta=meta, paper=TABLE3, rows=rows), indent=2)
    )
    (out / f"{stem}.md").write_text(_paper_markdown(meta, rows))
    print(f"wrote {out}/{stem}.{{json,md}}")


def _paper_markdown(meta, rows):
    fmt = lambda m: f"{m[0]:.2f} ({m[1]:.2f})"  # noqa: E731
    lines = [
        f"# Seed 004 Table 3, the authors' protocol — device `{meta['device']}`",
        "",
        "Binary data, standardised over all rows (ddof=1), shuffled with "
        "`random_state=1`, the last 100 rows as the test set; DNN d-20-20-2 "
        "(Adam lr 0.01, betas (0.5, 0.999), 20 epochs, batch 32); target = "
        "opposite of the true label. ℓ2, ℓ0 (entries not `isclose` to the "
        "factual) and LOF (`LocalOutlierFactor(n_neighbors=min(30, class size "
        "- 1), novelty=True)` per target class on its training rows, "
        "`-score_samples`) averaged over **all** 100 rows, as the authors' "
        "script does (a row without a valid counterfactual counts with the "
        "factual skcf returns for it); (std) in brackets. Times: wall seconds "
        "for the 100 rows on this machine; the paper's as reported (its "
        "hardware). Every method searches inside the per-feature [min, max] of "
        "the training and test rows (the authors' range). S-CFE: "
        "`max_changes=2`; DCFE: `DCFEGenerator` defaults; CEM: `CEMGenerator` "
        "pertinent negatives, base = that feature minimum, "
        f"{meta['cem']}.",
        "",
    ]
    for name, info in meta["datasets"].items():
        lines.append(
            f"- {name}: {info['n_features']} features, {info['n_train']} train "
            f"rows (classes {info['train_class_sizes']}), test accuracy "
            f"{info['test_accuracy']:.2f}, LOF k per class {info['lof_k']}"
            + (
                f", class 1 = cultivar {meta['wine_class']}"
                if name == "Wine"
                else ", class 1 = MEDV above its median"
            )
        )
    lines += [
        "",
        "| data | method | validity % | ℓ2 | ℓ0 | LOF | time s | paper validity "
        "| paper ℓ2 | paper ℓ0 | paper LOF | paper time | ℓ2 ÷ paper "
        "| LOF ÷ paper | ℓ2 / ℓ0 / LOF over valid rows |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        p = TABLE3.get(r["dataset"], {}).get(r["method"])
        paper = (
            ["—"] * 5
            if p is None
            else [f"{p[0][0]:.1f}", fmt(p[1]), fmt(p[2]), fmt(p[3]), f"{p[4]}"]
        )
        ratio = (
            ["—", "—"]
            if p is None
            else [f"{r['l2'][0] / p[1][0]:.2f}", f"{r['lof'][0] / p[3][0]:.2f}"]
        )
        valid = (
            "—"
            if r["l2_valid"] is None
            else f"{r['l2_valid'][0]:.2f} / {r['l0_valid'][0]:.2f} / "
            f"{r['lof_valid'][0]:.2f}"
        )
        lines.append(
            f"| {r['dataset']} | {r['method']} | {r['validity']:.1f} | "
            f"{fmt(r['l2'])} | {fmt(r['l0'])} | {fmt(r['lof'])} | "
            f"{r['seconds']:.2f} | " + " | ".join(paper + ratio) + f" | {valid} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
