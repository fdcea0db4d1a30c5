#!/usr/bin/env bash
# One prepared run on a CUDA machine: the GPU-marked tests, then bench_speed
# (100 / 1,000 / 10,000 rows, every generator; 1,000,000 rows for EN and PGD)
# and bench_latency with --device cuda.  Results go to $OUT (or ./gpu_out).
#
#   bash benchmarks/gpu_check.sh            # from the repository root
#
# Packages the machine lacks can be installed beforehand from wheels in .whl/
# (PYTHONPATH=/tmp/site); the project itself runs from the checkout.
set -uo pipefail
OUT="${OUT:-gpu_out}"
mkdir -p "$OUT/big"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
LOG="$OUT/log.txt"
{
  date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, sklearn, skorch, numpy, pandas; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0)); print('sklearn', sklearn.__version__, 'skorch', skorch.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__)"
  nproc; uptime
  echo "=== pytest -m gpu"
  timeout 150 python3 -m pytest -q -m gpu -p no:cacheprovider -o addopts="" tests -rs 2>&1 | tail -60
  echo "=== bench_speed cuda 100 1k 10k"
  timeout 150 python3 benchmarks/bench_speed.py --device cuda --no-art --out "$OUT" 2>&1 | tail -40
  echo "=== bench_speed cuda 1M (EN, PGD), batch_size 100000"
  timeout 120 python3 benchmarks/bench_speed.py --device cuda --no-art --sizes 1000000 \
      --generators en pgd --batch-size 100000 --repeats 1 --out "$OUT/big" 2>&1 | tail -20
  echo "=== bench_latency cuda"
  timeout 100 python3 benchmarks/bench_latency.py --device cuda --rows 50 --out "$OUT" 2>&1 | tail -12
  date -u
} 2>&1 | tee "$LOG"
