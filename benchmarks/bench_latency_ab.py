#!/usr/bin/env python
"""One-row latency of two checkouts of skcf, interleaved: before vs after a change.

On a shared machine the speed drifts by tens of percent within minutes, so two
``bench_latency.py`` runs one after the other can show a change as a slowdown
or a speed-up it is not. This script trains the net once (``bench_latency``'s
``load``: German credit, MLP 128-64-16), then runs ``--rounds`` rounds; in each
round a fresh worker process of each checkout (the order alternating from
round to round) explains its share of the rows one per call with every
generator, library defaults as in ``bench_latency.py``. The per-call times of
all rounds are pooled per checkout; the table gives p50 per checkout, their
ratio, validity and the largest difference between the two checkouts'
counterfactuals (0 for a change meant to keep every bit).

Outputs ``<out>/latency_ab_<device>[_raw]_<tag>.json`` and ``.md``. Run from
the repository root, with the "before" tree checked out elsewhere::

    git worktree add /tmp/before <commit>
    python benchmarks/bench_latency_ab.py --before /tmp/before --after . --tag x

CI never runs this script.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _worker(args):
    """Time the rows ``args.start:args.stop`` with the skcf of ``args.root``."""
    sys.path.insert(0, str(Path(args.root).resolve()))
    sys.path.insert(1, str(HERE))
    import bench_latency as bl
    import torch

    import skcf

    assert Path(skcf.__file__).resolve().is_relative_to(Path(args.root).resolve())
    with open(args.data, "rb") as f:
        net, Xtr, Q = pickle.load(f)
    Q = Q[args.start : args.stop]
    opts = argparse.Namespace(device=args.device, warmup=args.warmup)
    out = {}
    for key in args.generators:
        label, cls, _ = bl.GENERATORS[key]
        gen = cls(net, random_state=args.seed, device=args.device).fit(Xtr)
        r = bl._time_calls(gen, Q, opts)
        out[key] = {  # per call, pooled over the rounds by the parent
            "times_ms": r["_times_ms"].tolist(),
            "valid": r["_valid"].tolist(),
            "X_cf": r["_X_cf"].tolist(),
        }
    out["_torch"] = torch.__version__
    Path(args.result).write_text(json.dumps(out))


def _run_side(root, start, stop, args, data):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result = f.name
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--root",
        str(root),
        "--data",
        data,
        "--result",
        result,
        "--start",
        str(start),
        "--stop",
        str(stop),
        "--device",
        args.device,
        "--warmup",
        str(args.warmup),
        "--seed",
        str(args.seed),
        "--generators",
        *args.generators,
    ]
    subprocess.run(cmd, check=True)
    out = json.loads(Path(result).read_text())
    os.unlink(result)
    return out


def _commit(root):
    """``root``'s commit, marked ``+changes`` when its tree differs from it."""
    git = ["git", "-C", str(root)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "?"
    return (head or "?") + (" +changes" if dirty else "")


def markdown(res):
    lines = [
        f"# One-row latency, before vs after ({res['device']}, {res['road']} road)",
        "",
        f"`before`: {res['before']} (commit {res['before_commit']}); `after`: "
        f"{res['after']} (commit {res['after_commit']}). German credit, MLP "
        f"128-64-16, {res['rows']} rows explained one per call in "
        f"{res['rounds']} rounds, each round a fresh process per checkout (order "
        "alternating), times pooled; library-default threads (torch "
        f"{res['torch']}, {res['cpus']} CPUs, load before/after "
        f"{res['load_before']} / {res['load_after']}).",
        "",
        "| generator | p50 before ms | p50 after ms | after / before | "
        "validity before | validity after | max abs Δ counterfactual |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["results"]:
        lines.append(
            f"| {r['generator']} | {r['before']['p50_ms']:.1f} | "
            f"{r['after']['p50_ms']:.1f} | {r['ratio']:.2f} | "
            f"{r['before']['validity']:.3f} | {r['after']['validity']:.3f} | "
            f"{r['max_abs_diff']:.1e} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", help="root of the 'before' checkout")
    p.add_argument("--after", default=str(HERE.parent))
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--road", choices=["encoded", "raw"], default="encoded")
    p.add_argument("--rows", type=int, default=100)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--generators", nargs="+", default=None)
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--tag", default="ab")
    # worker mode (internal)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--root", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, help=argparse.SUPPRESS)
    p.add_argument("--stop", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    if not args.before:
        p.error("--before is required")

    sys.path.insert(0, str(HERE))
    import bench_latency as bl
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available on this machine: nothing to measure.")
        return 0
    args.generators = args.generators or list(bl.GENERATORS)
    net, Xtr, Q, info = bl.load(
        argparse.Namespace(
            road=args.road,
            rows=args.rows,
            epochs=args.epochs,
            seed=args.seed,
            device=args.device,
        )
    )
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as f:
        pickle.dump((net, Xtr, Q), f)
        data = f.name
    sides = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    pooled = {s: {k: [] for k in args.generators} for s in sides}
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    bounds = np.linspace(0, len(Q), args.rounds + 1).astype(int)
    try:
        for k in range(args.rounds):
            order = ["before", "after"] if k % 2 == 0 else ["after", "before"]
            for side in order:
                out = _run_side(sides[side], bounds[k], bounds[k + 1], args, data)
                for key in args.generators:
                    pooled[side][key].append(out[key])
                print(f"round {k + 1}/{args.rounds} {side} done", flush=True)
    finally:
        os.unlink(data)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = []
    for key in args.generators:
        row = {"key": key, "generator": bl.GENERATORS[key][0]}
        cf = {}
        for side in sides:
            parts = pooled[side][key]
            ms = np.concatenate([p["times_ms"] for p in parts])
            valid = np.concatenate([p["valid"] for p in parts])
            cf[side] = np.concatenate([np.asarray(p["X_cf"]) for p in parts])
            row[side] = {
                "p50_ms": float(np.percentile(ms, 50)),
                "p95_ms": float(np.percentile(ms, 95)),
                "mean_ms": float(ms.mean()),
                "validity": float(valid.mean()),
            }
        row["ratio"] = row["after"]["p50_ms"] / row["before"]["p50_ms"]
        row["max_abs_diff"] = float(np.abs(cf["after"] - cf["before"]).max())
        print(
            f"{row['generator']:<20} before {row['before']['p50_ms']:7.2f} ms  after "
            f"{row['after']['p50_ms']:7.2f} ms  ({row['ratio']:.2f}x)  max diff "
            f"{row['max_abs_diff']:.1e}",
            flush=True,
        )
        results.append(row)
    res = {
        "device": args.device,
        "road": args.road,
        "before": str(args.before),
        "after": str(args.after),
        "before_commit": _commit(sides["before"]),
        "after_commit": _commit(sides["after"]),
        "rows": len(Q),
        "rounds": args.rounds,
        "model": info,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": None if load_before is None else round(load_before, 2),
        "load_after": None if load_after is None else round(load_after, 2),
        "results": results,
    }
    name = f"latency_ab_{args.device}" + ("_raw" if args.road == "raw" else "")
    name += f"_{args.tag}"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown(res))
    print(f"wrote {out / name}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
