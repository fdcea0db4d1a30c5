"""A search space inferred from the data, for models that take raw frames.

Gradient-free generators only need ``predict_proba``. A model that takes the
user's raw DataFrame itself (``HistGradientBoostingClassifier`` with
``categorical_features="from_dtype"``, a pipeline whose preprocessing skcf
cannot compile, any frame-native model) has no preprocessing to compile, so
the search space is inferred from the frame instead: numeric columns as they
are, every other column (strings, ``category``, ``bool``) one-hot encoded. The
generator then searches that space like any compiled one, and the model is
asked on raw frames rebuilt from it, in the frame's own dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _is_numeric(dtype: Any) -> bool:
    import pandas as pd

    return bool(
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    )


def has_non_numeric_columns(X: Any) -> bool:
    """Whether ``X`` is a DataFrame with a string / category / bool column."""
    return hasattr(X, "dtypes") and not all(_is_numeric(t) for t in X.dtypes)


class RawFrameEstimator:
    """The user's model behind an inferred encoding.

    ``predict_proba(P)`` turns encoded rows ``P`` (numeric columns, then the
    one-hot blocks of ``prep``) back into a DataFrame with the training frame's
    columns, order and dtypes, and asks ``estimator``.

    Parameters
    ----------
    estimator : object
        Fitted model with ``predict_proba`` taking the raw frame.
    prep : ColumnTransformer
        The fitted inferred encoding (``"num"`` passthrough, ``"cat"`` one-hot).
    X : DataFrame
        The training frame (columns and dtypes).
    """

    def __init__(self, estimator: Any, prep: Any, X: Any) -> None:
        self.estimator = estimator
        self.prep = prep
        self.columns = list(X.columns)
        self.dtypes = X.dtypes
        self.num = [c for c in X.columns if _is_numeric(X.dtypes[c])]
        self.cat = [c for c in X.columns if c not in set(self.num)]
        self.classes_ = getattr(estimator, "classes_", None)

    def to_frame(self, P: np.ndarray) -> Any:
        import pandas as pd

        P = np.asarray(P, dtype=np.float64)
        out: dict = {}
        if self.num:
            block = P[:, self.prep.output_indices_["num"]]
            for j, c in enumerate(self.num):
                out[c] = _cast_numeric(block[:, j], self.dtypes[c])
        if self.cat:
            enc = self.prep.named_transformers_["cat"]
            values = enc.inverse_transform(P[:, self.prep.output_indices_["cat"]])
            for j, c in enumerate(self.cat):
                out[c] = _cast_category(values[:, j], self.dtypes[c])
        return pd.DataFrame({c: out[c] for c in self.columns})

    def predict_proba(self, P: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(self.to_frame(P)))


def _cast_numeric(v: np.ndarray, dtype: Any) -> Any:
    import pandas as pd

    if pd.api.types.is_integer_dtype(dtype):
        v = np.rint(v)
        if isinstance(dtype, np.dtype):
            return v.astype(dtype)
        return pd.array(v.astype(np.int64), dtype=dtype)
    if isinstance(dtype, np.dtype):
        return v.astype(dtype)
    return pd.array(v, dtype=dtype)


def _cast_category(v: np.ndarray, dtype: Any) -> Any:
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical(v, dtype=dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return v.astype(bool)
    if isinstance(dtype, np.dtype):
        return v.astype(dtype)
    return pd.array(v, dtype=dtype)


def infer_pipeline(estimator: Any, X: Any) -> Any:
    """A fitted ``Pipeline(prep, RawFrameEstimator)`` for raw frame ``X``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    num = [c for c in X.columns if _is_numeric(X.dtypes[c])]
    cat = [c for c in X.columns if c not in set(num)]
    prep = ColumnTransformer(
        [
            ("num", "passthrough", num),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat),
        ],
        sparse_threshold=0.0,
    ).fit(X)
    return Pipeline([("prep", prep), ("model", RawFrameEstimator(estimator, prep, X))])
