"""Which generator? Every public generator measured on German credit.

The numbers behind the documentation's "Which generator?" guide
(``docs/which_generator.md``, rendered from the JSON this script writes).

Setting: German credit as skcf ships it (``load_german_credit()``: 61 one-hot /
standardised columns), a seeded 700/300 split, a skorch MLP 128-64-16 (seed
001 App. B.2: Adam, lr 1e-3, batches of 32, ``--epochs`` epochs), the test rows
it rejects (class 0) as queries, target "good credit", the dataset's
actionability constraints (immutable, increase-only, one-hot groups). Every
generator of ``skcf.utils.all_estimators("generator")`` runs with its defaults;
a meta-generator (``"meta-generator"``) wraps seed 001's Min-ℓ2 elastic net.

Per generator: validity; mean ℓ0 (changed columns) and ℓ1 of the valid
counterfactuals (``CounterfactualSet.l0`` / ``.l1``, standardised units);
plausibility = mean kNN manifold distance (K=5) of the valid counterfactuals
to the training rows the model assigns to the target class (lower is closer
to real "good" applicants; ``skcf.metrics.knn_manifold_distance``) and the
LOF score (``lof_distance``); constraint violations; ``fit`` seconds (what the
method learns: densities, autoencoders, prototypes) and ms per counterfactual
of one ``explain`` call. Static columns come from the class itself
(``docs/_ext/skcf_docs.py::generator_facts``): what the model must offer,
which constraints the constructor takes, the paper / seed of its References.

    python benchmarks/bench_which.py                  # 200 queries, 40 epochs (~2 min)
    python benchmarks/bench_which.py --quick          # 50 queries, 10 epochs
    python benchmarks/bench_which.py --generators WachterGenerator PGDGenerator

Writes ``benchmarks/results/which.{json,md}`` (``which_quick.*`` with
``--quick``). The docs render ``which.json``; a generator missing from it shows
"not measured".
"""

import argparse
import datetime
import inspect
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing skcf
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

from skcf_docs import generator_facts  # noqa: E402

import skcf  # noqa: E402
from skcf.datasets import load_german_credit  # noqa: E402
from skcf.exceptions import CounterfactualWarning  # noqa: E402
from skcf.metrics import knn_manifold_distance, lof_distance  # noqa: E402
from skcf.models import MLP  # noqa: E402
from skcf.utils import all_estimators  # noqa: E402

#: the generator a meta-generator refines (seed 001's "Min-ℓ2")
META_BASE = dict(beta=0.0, confidence=0.5)


def train_net(X, y, *, epochs, seed, device):
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    return NeuralNetClassifier(
        MLP,
        module__n_features=X.shape[1],
        module__hidden=(128, 64, 16),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=32,
        train_split=None,
        verbose=0,
        device=device,
    ).fit(X, y)


def build(cls, net, *, seed, device, constraints):
    """``cls`` with its defaults; a meta-generator wraps Min-ℓ2 (EAD)."""
    from skcf.generators import ElasticNetGenerator

    params = inspect.signature(cls).parameters
    if "generator" in params and "estimator" not in params:
        inner = ElasticNetGenerator(
            net, random_state=seed, device=device, **constraints, **META_BASE
        )
        return cls(inner, random_state=seed)
    kw = dict(random_state=seed, **constraints)
    if "device" in params:
        kw["device"] = device
    return cls(net, **kw)


def measure(name, gen, X_train, query, reference):
    start = time.perf_counter()
    gen.fit(X_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(query)
    seconds = time.perf_counter() - start
    ok = cf.valid
    row = dict(
        generator=name,
        validity=float(cf.validity),
        n_queries=len(query),
        violations=int(np.asarray(cf.violations).sum()),
        fit_s=fit_s,
        ms_per_cf=1000 * seconds / max(len(query), 1),
    )
    if ok.any():
        Xv = cf.X_cf[ok]
        row.update(
            l0=float(cf.l0[ok].mean()),
            l1=float(cf.l1[ok].mean()),
            knn=float(knn_manifold_distance(Xv, reference, n_neighbors=5)),
            lof=float(lof_distance(Xv, reference)),
        )
    else:
        row.update(l0=None, l1=None, knn=None, lof=None)
    return row


def markdown(results):
    meta = results["meta"]
    lines = [
        "# Which generator? (German credit)",
        "",
        f"{meta['setting']}",
        "",
        f"{meta['date']}, {meta['device']}, {meta['n_threads']} torch thread(s), "
        f"skcf {meta['skcf']}, torch {meta['torch']}, sklearn {meta['sklearn']}, "
        f"total {meta['total_s']:.0f} s.",
        "",
        "| generator | validity | ℓ0 | ℓ1 | kNN | LOF | violations | fit s "
        "| ms/CF | model needs | constraints | paper |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]

    def f(v, spec):
        return "—" if v is None else format(v, spec)

    for r in results["rows"]:
        if "error" in r:
            lines.append(
                f"| {r['generator']} | failed: {r['error']} |  |  |  |  |  |  |  "
                f"| {r['model']} | {r['constraints']} | {r['paper']} |"
            )
            continue
        lines.append(
            f"| {r['generator']} | {r['validity']:.2f} | {f(r['l0'], '.1f')} | "
            f"{f(r['l1'], '.2f')} | {f(r['knn'], '.2f')} | {f(r['lof'], '.2f')} | "
            f"{r['violations']} | {r['fit_s']:.1f} | {r['ms_per_cf']:.2f} | "
            f"{r['model']} | {r['constraints']} | {r['paper']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-queries", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--generators", nargs="+", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    n_queries = args.n_queries or (50 if args.quick else 200)
    epochs = args.epochs or (10 if args.quick else 40)
    if args.threads:
        torch.set_num_threads(args.threads)
    else:
        torch.set_num_threads(min(2, torch.get_num_threads()))
    total = time.perf_counter()

    data = load_german_credit()
    X, y = data.data.astype(np.float32), data.target
    idx = np.random.default_rng(args.seed).permutation(len(X))
    train, test = idx[:700], idx[700:]
    X_train, y_train, X_test = X[train], y[train], X[test]
    net = train_net(X_train, y_train, epochs=epochs, seed=args.seed, device=args.device)
    accuracy = float((net.predict(X_test) == y[test]).mean())
    query = X_test[net.predict(X_test) == 0][:n_queries]
    reference = X_train[net.predict(X_train) == 1]
    constraints = {k: v for k, v in data.actionability.items() if v}
    print(f"German credit: accuracy {accuracy:.3f}, {len(query)} rejected queries")

    settings = all_estimators("generator") + all_estimators("meta-generator")
    if args.generators:
        settings = [(n, c) for n, c in settings if n in args.generators]
    rows = []
    for name, cls in settings:
        try:
            gen = build(
                cls, net, seed=args.seed, device=args.device, constraints=constraints
            )
            row = measure(name, gen, X_train, query, reference)
        except Exception as exc:  # recorded, shown as "failed" in the docs table
            row = dict(generator=name, error=f"{type(exc).__name__}: {exc}"[:300])
            print(f"  {name:26s} FAILED {row['error']}")
            row.update(generator_facts(cls))
            rows.append(row)
            continue
        row.update(generator_facts(cls))
        if "generator" in inspect.signature(cls).parameters:
            row["note"] = "wraps ElasticNetGenerator(beta=0, confidence=0.5)"
        rows.append(row)
        print(
            f"  {name:26s} validity {row['validity']:.2f} l0 {row['l0'] or 0:5.1f} "
            f"l1 {row['l1'] or 0:5.2f} kNN {row['knn'] or 0:.2f} "
            f"fit {row['fit_s']:5.1f} s {row['ms_per_cf']:7.2f} ms/CF"
        )

    setting = (
        f"{len(query)} test applicants a skorch MLP 128-64-16 ({epochs} epochs, test "
        f"accuracy {accuracy:.3f}) rejects, explained towards 'good credit' under the "
        "dataset's actionability constraints, each generator with its defaults "
        "(StableNeighborSearch refines Min-ℓ2). ℓ0, ℓ1 (standardised units), kNN "
        "(K=5) and LOF against training rows the model calls 'good': means over "
        "valid counterfactuals; ms / CF: one explain call over all queries."
    )
    results = dict(
        meta=dict(
            benchmark="bench_which",
            quick=args.quick,
            date=datetime.date.today().isoformat(),
            device=args.device,
            n_threads=torch.get_num_threads(),
            cpu_count=os.cpu_count(),
            seed=args.seed,
            epochs=epochs,
            n_queries=len(query),
            accuracy=accuracy,
            skcf=skcf.__version__,
            torch=torch.__version__,
            sklearn=sklearn.__version__,
            python=platform.python_version(),
            total_s=time.perf_counter() - total,
            setting=setting,
        ),
        rows=rows,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "which_quick" if args.quick else "which"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(results))
    print(f"wrote {out / stem}.json and .md ({results['meta']['total_s']:.0f} s)")


if __name__ == "__main__":
    main()
