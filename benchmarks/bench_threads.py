"""Quiet vs busy machine: skcf's thread policy against torch's default pool
(issue 10 item 1).

German credit, skorch MLP 128-64-16 (20 epochs), 300 rows the net rejects,
ElasticNet / Wachter / PGD with the dataset's actionability and default
settings, torch's default thread count (one per core). Each configuration runs
in a fresh process, once on a quiet machine and once while ``--busy`` spin
processes keep the cores busy, with ``skcf.set_config(n_threads="auto")`` (the
policy) and ``"torch"`` (torch's own pool, skcf before the policy).

Target: loaded time <= 3x quiet time for every generator (a fair share of two
cores against two spinners is 2x).

Usage::

    python benchmarks/bench_threads.py --busy 2 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENERATORS = ("en", "wachter", "pgd")

_CHILD = r"""
import json, os, sys, time, warnings
import numpy as np, torch
warnings.simplefilter("ignore")
import skcf
from skorch import NeuralNetClassifier
from skcf.datasets import load_german_credit
from skcf.generators import ElasticNetGenerator, PGDGenerator, WachterGenerator
from skcf.models import MLP

setting = sys.argv[1]
data = load_german_credit()
X, y = data.data.astype(np.float32), data.target
torch.manual_seed(0)
threads = torch.get_num_threads()
torch.set_num_threads(1)  # train the same net in every run, quickly
net = NeuralNetClassifier(
    MLP, module__n_features=X.shape[1], module__hidden=(128, 64, 16),
    criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=1e-3,
    max_epochs=20, train_split=None, verbose=0,
).fit(X, y)
torch.set_num_threads(threads)
Q = X[net.predict(X) == 0][:300]
skcf.set_config(n_threads=setting)
gens = {
    "en": ElasticNetGenerator(net, random_state=0, **data.actionability),
    "wachter": WachterGenerator(net, random_state=0, **data.actionability),
    "pgd": PGDGenerator(net, random_state=0, **data.actionability),
}
out = {"torch_threads": threads, "load_before": os.getloadavg()[0], "rows": len(Q)}
for key, gen in gens.items():
    gen.fit(X)
    gen.explain(Q[:5])
    t = time.perf_counter()
    cf = gen.explain(Q)
    out[key] = {"seconds": time.perf_counter() - t, "validity": float(cf.validity)}
out["load_after"] = os.getloadavg()[0]
print(json.dumps(out))
"""


def _spinners(n):
    code = "import time\nt = time.time()\nwhile time.time() - t < 900: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def run(setting: str, busy: int) -> dict:
    procs = _spinners(busy)
    try:
        if procs:
            time.sleep(1.0)
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, setting],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        for p in procs:
            p.kill()
            p.wait()
    record = json.loads(out.stdout.strip().splitlines()[-1])
    record.update(setting=setting, busy=busy)
    return record


def best(records, setting, busy, key):
    times = [
        r[key]["seconds"]
        for r in records
        if r["setting"] == setting and r["busy"] == busy
    ]
    return min(times) if times else float("nan")


def write(records, busy, path):
    path.with_suffix(".json").write_text(json.dumps(records, indent=2) + "\n")
    cpus = os.cpu_count()
    lines = [
        "# Quiet vs busy: skcf's thread policy vs torch's default pool",
        "",
        f"German credit, skorch MLP 128-64-16, 300 rejected rows, defaults; "
        f"{cpus} CPUs, torch's default {records[0]['torch_threads']} threads; busy "
        f"= {busy} spin processes. Best of the repeats, seconds per call of "
        "`explain` on all 300 rows.",
        "",
        "| generator | auto quiet | auto busy | busy / quiet | torch quiet "
        "| torch busy | busy / quiet | busy: torch / auto | target busy <= 3x quiet |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for key in GENERATORS:
        aq, ab = best(records, "auto", 0, key), best(records, "auto", busy, key)
        tq, tb = best(records, "torch", 0, key), best(records, "torch", busy, key)
        met = "met" if ab <= 3 * aq else "MISSED"
        lines.append(
            f"| {key} | {aq:.2f} | {ab:.2f} | {ab / aq:.2f}x | {tq:.2f} | {tb:.2f} "
            f"| {tb / tq:.2f}x | {tb / ab:.1f}x | {met} |"
        )
    loads = ", ".join(
        f"{r['setting']}/{'busy' if r['busy'] else 'quiet'} "
        f"{r['load_before']:.2f}->{r['load_after']:.2f}"
        for r in records
    )
    lines += ["", f"1-min load average before -> after each run: {loads}."]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--busy", type=int, default=os.cpu_count() or 2)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", type=Path, default=HERE / "results" / "threads")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    records = []
    for _ in range(args.repeats):
        for setting in ("auto", "torch"):
            for busy in (0, args.busy):
                r = run(setting, busy)
                print(
                    f"{setting:>5} {'busy' if busy else 'quiet'}: "
                    + ", ".join(f"{k} {r[k]['seconds']:.2f}s" for k in GENERATORS),
                    flush=True,
                )
                records.append(r)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write(records, args.busy, args.out)


if __name__ == "__main__":
    main()
