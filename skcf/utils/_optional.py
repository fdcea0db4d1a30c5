"""Optional imports with a helpful error message."""

import importlib

_EXTRAS = {
    "matplotlib": "plot",
    "pandas": "pandas",
    "dask": "dask",
    "distributed": "dask",
}


def import_optional(name):
    """Import an optional dependency or raise an ImportError with a pip hint."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        top = name.split(".")[0]
        extra = _EXTRAS.get(top, top)
        raise ImportError(
            f"This feature of skcf requires {top}: pip install 'skcf[{extra}]'"
        ) from exc


def check_matplotlib_support(caller_name):
    """Raise an ImportError naming ``caller_name`` if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib: pip install 'skcf[plot]'"
        ) from exc
