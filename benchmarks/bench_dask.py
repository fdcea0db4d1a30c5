"""Dask scale-out: transform throughput on 1 and 2 worker processes.

German credit (61 encoded columns, embedded copy) tiled to ``--n-rows`` rows:
each dask block draws its rows from the 1,000 data rows with a seed of its own
and moves the 7 numeric columns by a little Gaussian noise, on the worker (the
rows never exist on the client). The generator is ``ElasticNetGenerator`` with
the data set's actionability on a ``LogisticRegression`` (``--model lr``,
float64) or a skorch MLP 16 ReLU (``--model mlp``, float32), fitted once on the
client and shipped to the workers inside the task graph; blocks are mapped with
``dask_ml.wrappers.ParallelPostFit(generator).transform`` (dask's
``map_blocks`` when dask-ml is missing). Only a checksum per block comes back
(the sum of the returned rows and the number of rows changed), so both runs
can be compared without holding the counterfactuals in memory.

For each worker count a ``LocalCluster(n_workers=w, threads_per_worker=1,
processes=True)`` is started and warmed up (imports, one small block per
worker), then the whole transform is timed. Reported: rows/s, the 2-to-1
ratio, the workers' CPU seconds per wall second, torch's threads per worker,
the load average before and after each run (the machine is shared; a ratio
below 2 on 2 cores with a load above 2 is the other processes' share), and a
single-process ``transform`` (no dask) on ``--baseline-rows`` rows for the
per-row cost without dask.

    python benchmarks/bench_dask.py                    # 1,000,000 rows (long)
    python benchmarks/bench_dask.py --n-rows 40000     # a few minutes on 2 cores
    python benchmarks/bench_dask.py --n-rows 4000 --chunk 1000 --workers 1 2 \
        --suffix _smoke
"""

import argparse
import functools
import json
import os
import platform
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch

import skcf
from skcf.datasets import load_german_credit
from skcf.exceptions import CounterfactualWarning
from skcf.generators import ElasticNetGenerator


@functools.lru_cache(maxsize=2)
def german_credit(dtype):
    """The 1,000 encoded rows and the indices of the numeric columns."""
    data = load_german_credit()
    numeric = [i for i, c in enumerate(data.feature_names) if "=" not in c]
    return data.data.astype(dtype), np.array(numeric)


def make_block(n, seed, dtype):
    """``n`` rows drawn from German credit, numeric columns jittered (seeded)."""
    base, numeric = german_credit(np.dtype(dtype))
    rng = np.random.default_rng(seed)
    rows = base[rng.integers(0, len(base), n)]
    rows[:, numeric] += rng.normal(0.0, 0.05, (n, len(numeric))).astype(rows.dtype)
    return rows


def _block(block_info=None, *, seed, kind):
    info = block_info[None]
    (start, stop), _ = info["array-location"]
    return make_block(stop - start, seed + info["chunk-location"][0], kind)


def dask_rows(n_rows, chunk, dtype, seed):
    """A lazy dask array of ``n_rows`` German-credit-width rows, built on workers."""
    import dask.array as da

    dtype = np.dtype(dtype)
    width = german_credit(dtype)[0].shape[1]
    chunks = tuple(min(chunk, n_rows - s) for s in range(0, n_rows, chunk))
    return da.map_blocks(
        _block,
        chunks=(chunks, (width,)),
        dtype=dtype,
        meta=np.empty((0, width), dtype),
        seed=seed,
        kind=dtype.str,
    )


def _checksum(X_cf, X):
    changed = (X_cf != X).any(axis=1).sum()
    return np.array([[float(X_cf.sum(dtype=np.float64)), float(changed)]])


def transformed_checksums(gen, X):
    """Per-block (sum, rows changed) of ``gen.transform`` mapped over ``X``."""
    meta = np.empty((0, X.shape[1]), X.dtype)
    try:
        from dask_ml.wrappers import ParallelPostFit

        X_cf = ParallelPostFit(gen, transform_meta=meta).transform(X)
    except ImportError:
        X_cf = X.map_blocks(gen.transform, meta=meta)
    return X_cf.map_blocks(
        _checksum, X, chunks=((1,) * X.numblocks[0], (2,)), dtype=np.float64
    )


def fit_generator(model, seed):
    data = load_german_credit()
    X, y = data.data, data.target
    if model == "lr":
        from sklearn.linear_model import LogisticRegression

        est = LogisticRegression(max_iter=1000).fit(X, y)
    else:
        from skorch import NeuralNetClassifier

        from skcf.models import MLP

        X = X.astype(np.float32)
        torch.manual_seed(seed)
        est = NeuralNetClassifier(
            MLP,
            module__n_features=X.shape[1],
            module__hidden=(16,),
            criterion=torch.nn.CrossEntropyLoss,
            max_epochs=20,
            lr=0.05,
            train_split=None,
            verbose=0,
        ).fit(X, y.astype(np.int64))
    return ElasticNetGenerator(est, random_state=seed, **data.actionability).fit(X)


def uptime():
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _worker_state():
    import time as _time

    import torch as _torch

    return {"cpu_s": _time.process_time(), "threads": _torch.get_num_threads()}


def _quiet():
    warnings.simplefilter("ignore", CounterfactualWarning)


def run_cluster(n_workers, gen, dtype, args):
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_quiet)
        small = dask_rows(32 * n_workers, 32, dtype, args.seed + 10**6)
        transformed_checksums(gen, small).compute()  # imports + a first search
        before = client.run(_worker_state)
        load_before = uptime()
        start = time.perf_counter()
        X = dask_rows(args.n_rows, args.chunk, dtype, args.seed)
        sums = transformed_checksums(gen, X).compute()
        wall = time.perf_counter() - start
        load_after = uptime()
        after = client.run(_worker_state)
    cpu = sum(after[w]["cpu_s"] - before[w]["cpu_s"] for w in after)
    return {
        "workers": n_workers,
        "threads_per_worker": 1,
        "torch_threads_per_worker": sorted({s["threads"] for s in after.values()}),
        "seconds": wall,
        "rows_per_s": args.n_rows / wall,
        "worker_cpu_s_per_wall_s": cpu / wall,
        "rows_changed": int(sums[:, 1].sum()),
        "checksum": float(sums[:, 0].sum()),
        "uptime_before": load_before,
        "uptime_after": load_after,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000, help="rows per block")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--model", choices=["lr", "mlp"], default="lr")
    parser.add_argument("--baseline-rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="only cpu is supported")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--suffix", default="")
    parser.add_argument(
        "--keep-malloc-trim",
        action="store_true",
        help="keep dask's MALLOC_TRIM_THRESHOLD_=65536 for the workers (2-3x slower)",
    )
    args = parser.parse_args(argv)
    if args.device != "cpu":
        parser.error("the dask benchmark runs on CPU workers only")
    warnings.simplefilter("ignore", CounterfactualWarning)
    torch.set_num_threads(1)

    import dask
    import distributed

    trim = "65536 (dask's default)" if args.keep_malloc_trim else "unset"
    if not args.keep_malloc_trim:
        # dask's nanny exports MALLOC_TRIM_THRESHOLD_=65536 to its workers; any
        # fixed value turns off glibc's adaptive mmap threshold, so every tensor
        # above 128 KiB is mmap'ed and page-faulted afresh (2-3x slower searches)
        # (one key only: the nanny's OMP_NUM_THREADS=1 etc. stay)
        dask.config.set(
            {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
        )
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)

    gen = fit_generator(args.model, args.seed)
    dtype = np.float64 if args.model == "lr" else np.float32
    rows = make_block(args.baseline_rows, args.seed, dtype)
    start = time.perf_counter()
    gen.transform(rows)
    baseline = {
        "rows": args.baseline_rows,
        "seconds": time.perf_counter() - start,
        "torch_threads": torch.get_num_threads(),
        "uptime_after": uptime(),
    }
    baseline["rows_per_s"] = args.baseline_rows / baseline["seconds"]
    print(f"single process, no dask: {baseline['rows_per_s']:.0f} rows/s", flush=True)

    runs = []
    for w in args.workers:
        runs.append(run_cluster(w, gen, dtype, args))
        r = runs[-1]
        print(
            f"{w} worker(s): {r['rows_per_s']:.0f} rows/s ({r['seconds']:.1f} s), "
            f"{r['uptime_after']}",
            flush=True,
        )
    by = {r["workers"]: r for r in runs}
    ratio = by[2]["rows_per_s"] / by[1]["rows_per_s"] if {1, 2} <= set(by) else None
    same = len({(r["checksum"], r["rows_changed"]) for r in runs}) == 1
    try:
        import dask_ml

        ml_version = dask_ml.__version__
    except ImportError:
        ml_version = None
    result = {
        "benchmark": "bench_dask",
        "n_rows": args.n_rows,
        "chunk": args.chunk,
        "n_blocks": -(-args.n_rows // args.chunk),
        "model": args.model,
        "generator": "ElasticNetGenerator(defaults, German credit actionability)",
        "seed": args.seed,
        "device": "cpu",
        "worker_malloc_trim_threshold": trim,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": {
            "skcf": skcf.__version__,
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "dask": dask.__version__,
            "distributed": distributed.__version__,
            "dask_ml": ml_version,
        },
        "baseline_single_process": baseline,
        "runs": runs,
        "speedup_2_over_1": ratio,
        "same_result_all_runs": same,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"dask_{args.model}{args.suffix}"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown(result))
    print(f"wrote {out / stem}.json and .md")


def markdown(r):
    lines = [
        f"# Dask scale-out: {r['n_rows']:,} rows, ElasticNetGenerator on {r['model']}",
        "",
        f"German-credit-width rows (61 columns) in {r['n_blocks']} blocks of "
        f"{r['chunk']:,}; `ParallelPostFit(generator).transform` on a "
        "`LocalCluster` of worker processes with 1 thread each "
        f"({r['cpu_count']} CPUs, shared machine). dask {r['versions']['dask']}, "
        f"dask-ml {r['versions']['dask_ml']}, torch {r['versions']['torch']}; "
        f"workers' `MALLOC_TRIM_THRESHOLD_`: {r['worker_malloc_trim_threshold']}.",
        "",
        "| workers | rows/s | seconds | worker CPU s / wall s | torch threads "
        "| load before | load after |",
        "|---:|---:|---:|---:|---:|---|---|",
    ]
    for run in r["runs"]:
        lines.append(
            f"| {run['workers']} | {run['rows_per_s']:.0f} | {run['seconds']:.1f} "
            f"| {run['worker_cpu_s_per_wall_s']:.2f} "
            f"| {run['torch_threads_per_worker']} "
            f"| {_load(run['uptime_before'])} | {_load(run['uptime_after'])} |"
        )
    b = r["baseline_single_process"]
    lines += [
        "",
        f"2 workers / 1 worker: **{r['speedup_2_over_1']:.2f}x**"
        if r["speedup_2_over_1"]
        else "",
        "",
        f"Single process without dask ({b['rows']:,} rows, "
        f"{b['torch_threads']} torch thread): {b['rows_per_s']:.0f} rows/s.",
        f"Same counterfactuals (checksum, rows changed) in every run: "
        f"{r['same_result_all_runs']}.",
        "",
    ]
    return "\n".join(lines)


def _load(text):
    return text.split("load average:")[-1].strip()


if __name__ == "__main__":
    main()
