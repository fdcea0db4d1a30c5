"""How many intra-op threads torch gets while skcf works.

torch's default pool has one thread per core and its OpenMP threads wait for
each other at the end of every parallel operation. On a machine where other
processes keep the cores busy, one preempted thread stalls the others for a
scheduler time slice on every operation: a (100, 2) ``max`` then takes 13 ms
instead of microseconds, and a search 38x longer than with one thread. A pool
pays off only when an operation is big enough to split and the cores are free.

:func:`engine_threads` scopes torch's setting for one unit of skcf work (a
search, an ``explain`` call), picking the threads from the size of the work and
the cores other processes leave free, never more than the caller had, and
restores the caller's setting after. ``skcf.set_config(n_threads=...)`` fixes a
number instead, or ``"torch"`` leaves torch alone.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import torch

from .._config import get_config

# multiply-adds per operation below which one thread is faster than two even on
# an idle machine (measured on German-credit MLPs: benchmarks/bench_latency.py)
MIN_PARALLEL_WORK = 2_000_000


def model_cost(model, d: int) -> int:
    """Multiply-adds per row of one forward pass, roughly (parameter count)."""
    modules = [getattr(model, "module", None), *getattr(model, "preprocess", ())]
    n = 0
    for m in modules:
        if isinstance(m, torch.nn.Module):
            n += sum(p.numel() for p in m.parameters())
    return max(n, d)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def others_running() -> int:
    """Threads of *other* processes running or ready to run right now.

    Linux: the kernel's count of runnable threads (``/proc/loadavg``) minus
    this process's own runnable threads. Elsewhere 0 (no information).
    """
    try:
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            own += state == b"R"
        with open("/proc/loadavg", "rb") as f:
            total = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, total - own)


def auto_threads(work: float, cap: int) -> int:
    """Threads for an operation of ``work`` multiply-adds, at most ``cap``."""
    if cap <= 1 or work < MIN_PARALLEL_WORK:
        return 1
    free = _cpus() - others_running()
    return max(1, min(cap, free))


@contextmanager
def engine_threads(work: float):
    """Scope torch's intra-op threads for skcf work of ``work`` multiply-adds
    per operation (rows of a chunk times the model's cost per row)."""
    setting = get_config()["n_threads"]
    if setting == "torch" or threading.current_thread() is not threading.main_thread():
        # torch's thread count is process-wide: a worker thread (a threaded
        # dask or joblib scheduler) changing and restoring it would race with
        # its siblings, so only the main thread scopes it
        yield
        return
    caller = torch.get_num_threads()
    n = auto_threads(work, caller) if setting == "auto" else int(setting)
    if n == caller:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(caller)
