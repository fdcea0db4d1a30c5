"""Global configuration of skcf, in sklearn's ``set_config`` / ``config_context``
shape (thread-local, so a setting made in one thread never leaks into another)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from numbers import Integral

_DEFAULTS = {
    "n_threads": "auto",
    "category_cost": "frequency",
    "speculative_search": True,
}
_CATEGORY_COSTS = ("frequency", "uniform", "encoded")
_local = threading.local()


def _config() -> dict:
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def get_config() -> dict:
    """Current values of skcf's global settings.

    Returns
    -------
    config : dict
        ``{"n_threads": ..., "category_cost": ..., "speculative_search": ...}``;
        see :func:`set_config`.

    Examples
    --------
    >>> import skcf
    >>> skcf.get_config()["n_threads"]
    'auto'
    """
    return dict(_config())


def set_config(n_threads=None, category_cost=None, speculative_search=None) -> None:
    """Set skcf's global settings (for the calling thread).

    Parameters
    ----------
    n_threads : "auto", int, "torch" or None, default=None
        Intra-op threads of torch while skcf searches, judges and trains:

        - ``"auto"`` (the default setting): chosen per call from the size of
          the work and the cores other processes leave free, never above the
          caller's ``torch.get_num_threads()``; small batches and busy
          machines run on one thread, so torch's OpenMP pool never spins
          against other processes. The caller's setting is restored after.
        - an int: exactly that many threads for skcf's work (restored after).
        - ``"torch"``: leave torch's setting alone (skcf before this option).

        None leaves the current value unchanged.
    category_cost : {"frequency", "uniform", "encoded"} or None, default=None
        Cost of moving a categorical column to a category, on the raw-data
        road (a generator given the user's preprocessing pipeline), read when
        a generator is fitted (kept as its ``category_cost_``):

        - ``"frequency"`` (the default setting): a move to category ``v``
          costs about ``0.5 * (1 - log p_v)`` with ``p_v`` its smoothed
          training frequency, so recourse does not favour a category nobody
          has (e.g. Adult's "Married-AF-spouse").
        - ``"uniform"``: every category of a column costs the same (the
          frequency of each taken as ``1 / n_categories``).
        - ``"encoded"``: each category's one-hot slot is scaled like any
          other encoded column (its MAD, std where the MAD is 0), the weights
          the same generator uses on the pre-encoded matrix. The raw road then
          asks the encoded road's question (benchmarks compare the two).

        None leaves the current value unchanged.
    speculative_search : bool or None, default=None
        How the per-row binary search on the prediction weight ``c`` (EAD,
        Wachter, S-CFE, CFProto, ...) runs its rounds on a small batch (a few
        rows, e.g. one applicant per ``explain`` call):

        - True (the default setting): every round of the search tree starts at
          once, as extra rows of one batch, and a branch stops as soon as the
          round above it decides against it. The rows a sequential search
          would visit are computed exactly, so the counterfactuals are the
          same (to floating-point rounding), in the time of the longest round
          instead of the sum of all rounds. Used only where the whole tree
          is small (at most 1,024 rows and 16 million multiply-adds per
          forward pass, e.g. up to 32 rows of German credit's MLP 128-64-16
          with 5 rounds); larger batches run their rounds one after the other.
        - False: rounds always run one after the other.

        None leaves the current value unchanged.

    Examples
    --------
    >>> import skcf
    >>> skcf.set_config(n_threads=1)
    >>> skcf.get_config()["n_threads"]
    1
    >>> skcf.set_config(n_threads="auto")
    """
    if n_threads is not None:
        _check_n_threads(n_threads)
        _config()["n_threads"] = n_threads
    if category_cost is not None:
        if category_cost not in _CATEGORY_COSTS:
            raise ValueError(
                f"category_cost must be one of {_CATEGORY_COSTS}, got "
                f"{category_cost!r}."
            )
        _config()["category_cost"] = category_cost
    if speculative_search is not None:
        if not isinstance(speculative_search, bool):
            raise ValueError(
                f"speculative_search must be True or False, got {speculative_search!r}."
            )
        _config()["speculative_search"] = speculative_search


@contextmanager
def config_context(*, n_threads=None, category_cost=None, speculative_search=None):
    """Temporarily change skcf's settings (see :func:`set_config`).

    Parameters
    ----------
    n_threads : "auto", int, "torch" or None, default=None
        As in :func:`set_config`; None keeps the current value.
    category_cost : {"frequency", "uniform", "encoded"} or None, default=None
        As in :func:`set_config`; None keeps the current value.
    speculative_search : bool or None, default=None
        As in :func:`set_config`; None keeps the current value.

    Examples
    --------
    >>> import skcf
    >>> with skcf.config_context(n_threads=2):
    ...     skcf.get_config()["n_threads"]
    2
    >>> skcf.get_config()["n_threads"]
    'auto'
    """
    old = get_config()
    set_config(
        n_threads=n_threads,
        category_cost=category_cost,
        speculative_search=speculative_search,
    )
    try:
        yield
    finally:
        _config().update(old)


def _check_n_threads(value) -> None:
    ok = value in ("auto", "torch") or (
        isinstance(value, Integral) and not isinstance(value, bool) and int(value) >= 1
    )
    if not ok:
        raise ValueError(
            f"n_threads must be 'auto', 'torch' or a positive int, got {value!r}."
        )
