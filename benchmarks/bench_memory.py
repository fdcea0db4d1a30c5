"""Peak memory of ``explain`` against the input's size (issue 10 item 3).

German-credit-width rows (the embedded data tiled to N rows, float32), an MLP
128-64-16 with random weights, ElasticNetGenerator with the dataset's
actionability and ``batch_size=1024``. Each size runs in a fresh process: the
resident set is read before ``explain`` (model built, generator fitted, one
warm-up call) and its high-water mark after (``/proc/self/status`` VmHWM,
reset through ``/proc/self/clear_refs``), so the figure is what one call adds,
including the returned ``CounterfactualSet``. A short search (``max_iter=5``,
one binary-search step) keeps the run quick and leaves most rows without a
counterfactual: the path that re-describes failed rows, the heaviest one.

Targets: 200,000 rows at <= 500 MB above the baseline, 1,000,000 rows at
<= 10x the input's bytes. Linux only.

Usage::

    python benchmarks/bench_memory.py --sizes 200000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import json, sys, time, warnings
import numpy as np, torch
warnings.simplefilter("ignore")
from skcf.datasets import load_german_credit
from skcf.generators import ElasticNetGenerator
from skcf.models import MLP

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

n, batch_size = int(sys.argv[1]), int(sys.argv[2])
data = load_german_credit()
X = data.data.astype(np.float32)
torch.manual_seed(0)
net = MLP(n_features=X.shape[1], hidden=(128, 64, 16)).eval()
gen = ElasticNetGenerator(net, random_state=0, max_iter=5, n_search_steps=1,
                          batch_size=batch_size, **data.actionability).fit(X)
Q = np.tile(X, (n // len(X) + 1, 1))[:n]
gen.explain(Q[:2000])
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
t = time.perf_counter()
cf = gen.explain(Q)
elapsed = time.perf_counter() - t
peak = status("VmHWM") - base
print(json.dumps({
    "n_rows": n, "batch_size": batch_size, "input_mb": Q.nbytes / 1e6,
    "peak_above_baseline_mb": peak / 1e6, "ratio_to_input": peak / Q.nbytes,
    "seconds": elapsed, "validity": float(cf.validity),
    "torch_threads": torch.get_num_threads(),
}))
"""


def measure(n_rows: int, batch_size: int = 1024) -> dict:
    """One size in a fresh Python process; returns its JSON record."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n_rows), str(batch_size)],
        check=True,
        capture_output=True,
        text=True,
    )
    record = json.loads(out.stdout.strip().splitlines()[-1])
    record["load_average"] = os.getloadavg()[0]
    return record


def target(record: dict) -> str:
    if record["n_rows"] >= 1_000_000:
        return f"<= 10x input: {'met' if record['ratio_to_input'] <= 10 else 'MISSED'}"
    if record["n_rows"] >= 200_000:
        ok = record["peak_above_baseline_mb"] <= 500
        return f"<= 500 MB: {'met' if ok else 'MISSED'}"
    return ""


def write(records: list, path: Path) -> None:
    path.with_suffix(".json").write_text(json.dumps(records, indent=2) + "\n")
    lines = [
        "# Peak memory of `explain` (ElasticNet, German-credit width, MLP "
        "128-64-16, batch_size=1024)",
        "",
        "| rows | input | peak above baseline | ratio to input | time | validity "
        "| threads | load | target |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in records:
        lines.append(
            f"| {r['n_rows']:,} | {r['input_mb']:.0f} MB | "
            f"{r['peak_above_baseline_mb']:.0f} MB | {r['ratio_to_input']:.1f}x | "
            f"{r['seconds']:.1f} s | {r['validity']:.2f} | {r['torch_threads']} | "
            f"{r['load_average']:.2f} | {target(r)} |"
        )
    lines += [
        "",
        "A short search (`max_iter=5`, one search step) leaves most rows without a "
        "counterfactual, the heaviest post-processing path. Each size runs in a "
        "fresh process; the peak includes the returned `CounterfactualSet`.",
    ]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", type=int, default=[200_000, 1_000_000])
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--out", type=Path, default=HERE / "results" / "memory")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    records = []
    for n in args.sizes:
        r = measure(n, args.batch_size)
        print(
            f"{n:>9,} rows: +{r['peak_above_baseline_mb']:.0f} MB "
            f"({r['ratio_to_input']:.1f}x the input) in {r['seconds']:.1f} s "
            f"{target(r)}",
            flush=True,
        )
        records.append(r)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write(records, args.out)


if __name__ == "__main__":
    main()
