"""The caller's frame for warnings: the first one outside the libraries."""

from __future__ import annotations

import sys
from types import FrameType

_SKIP = (
    "skcf",
    "sklearn",
    "joblib",
    "imblearn",
    "skorch",
    "dask",
    "distributed",
    "threading",
    "concurrent",
    "multiprocessing",
)


def user_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the user's line.

    Counts the frames from the caller of this function up to the first one
    whose module is not part of skcf or of the libraries that call it on the
    user's behalf (sklearn's ``GridSearchCV``, joblib, imbalanced-learn,
    skorch, dask), so a warning raised deep in ``explain`` during a grid
    search names the user's ``fit`` line, not a file inside a library.
    """
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name.split(".")[0] not in _SKIP:
            return level
        frame = frame.f_back
        level += 1
    return 1
