"""The engine's thread policy (issue 10 item 1): threads chosen from the work
size and the free cores, the caller's setting restored, ``skcf.set_config``."""

import threading
import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import skcf
from skcf._engine import _threads
from skcf._engine._threads import MIN_PARALLEL_WORK, auto_threads, engine_threads
from skcf.exceptions import CounterfactualWarning
from skcf.generators import ElasticNetGenerator, WachterGenerator


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def idle(monkeypatch):
    monkeypatch.setattr(_threads, "_cpus", lambda: 4)
    monkeypatch.setattr(_threads, "others_running", lambda: 0)


@pytest.fixture
def busy(monkeypatch):
    monkeypatch.setattr(_threads, "_cpus", lambda: 2)
    monkeypatch.setattr(_threads, "others_running", lambda: 2)


def test_small_work_never_spins_a_pool(idle):
    assert auto_threads(MIN_PARALLEL_WORK - 1, cap=8) == 1
    assert auto_threads(MIN_PARALLEL_WORK * 10, cap=8) == 4  # the free cores
    assert auto_threads(MIN_PARALLEL_WORK * 10, cap=2) == 2  # never above the caller


def test_busy_machine_gets_one_thread(busy):
    assert auto_threads(MIN_PARALLEL_WORK * 100, cap=2) == 1


def test_scope_restores_the_callers_setting(two_threads, idle):
    with engine_threads(10):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError):
        with engine_threads(10):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == 2  # restored on errors too
    with skcf.config_context(n_threads=3):
        with engine_threads(10):
            assert torch.get_num_threads() == 3
    with skcf.config_context(n_threads="torch"):
        with engine_threads(10):
            assert torch.get_num_threads() == 2


def test_config_is_validated_and_thread_local():
    with pytest.raises(ValueError, match="n_threads"):
        skcf.set_config(n_threads=0)
    with pytest.raises(ValueError, match="n_threads"):
        skcf.set_config(n_threads="many")
    seen = []
    with skcf.config_context(n_threads=1):
        t = threading.Thread(target=lambda: seen.append(skcf.get_config()["n_threads"]))
        t.start()
        t.join()
        assert skcf.get_config()["n_threads"] == 1
    assert seen == ["auto"] and skcf.get_config()["n_threads"] == "auto"


def test_others_running_reads_the_machine():
    n = _threads.others_running()
    assert isinstance(n, int) and n >= 0


_SEEN = set()


class _ThreadSpy(torch.nn.Module):
    """A linear model that records torch's thread count at every forward
    (in a module-level set: the generator may hold a copy of the module)."""

    def __init__(self, d):
        super().__init__()
        self.linear = torch.nn.Linear(d, 2)

    def forward(self, x):
        _SEEN.add(torch.get_num_threads())
        return self.linear(x)


@pytest.mark.parametrize("Generator", [WachterGenerator, ElasticNetGenerator])
def test_explain_runs_small_batches_on_one_thread(Generator, two_threads, idle):
    torch.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(100, 5)).astype(np.float32)
    spy = _ThreadSpy(5)
    gen = Generator(spy, max_iter=20, random_state=0).fit(X)
    _SEEN.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        gen.explain(X[:10])
    assert _SEEN == {1}
    assert torch.get_num_threads() == 2


def test_explain_under_load_uses_one_thread_even_for_big_work(two_threads, busy):
    X = np.random.default_rng(0).normal(size=(400, 5))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    seen = []
    real = torch.set_num_threads

    def record(n):
        seen.append(n)
        real(n)

    gen = ElasticNetGenerator(clf, max_iter=5, random_state=0).fit(X)
    try:
        torch.set_num_threads = record
        with skcf.config_context(n_threads="auto"):
            _threads.MIN_PARALLEL_WORK, old = 0, _threads.MIN_PARALLEL_WORK
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", CounterfactualWarning)
                    gen.explain(X[:50])
            finally:
                _threads.MIN_PARALLEL_WORK = old
    finally:
        torch.set_num_threads = real
    assert seen[0] == 1 and seen[-1] == 2  # scoped to one thread, then restored
