"""The raw-data road: a user's fitted preprocessing compiled into a search space.

A fitted sklearn ``Pipeline`` (``ColumnTransformer`` -> scalers / encoders ->
model) is compiled once, in a generator's ``fit``, into a
:class:`TabularSpace`:

1. a **search space**: one standardised coordinate per numeric column
   (``x = center + scale * z``; integer columns on the grid ``z = (k - center)
   / scale``), one simplex group per categorical column (one slot per category
   the encoder knows, plus a slot for unknown categories when the encoder
   accepts them), one integer coordinate per ordinal-encoded column;
2. the exact affine map from the search space to the model's input
   (``Z @ W + c``: every supported step is affine per column), as a torch
   module for gradient generators and in numpy for gradient-free ones;
3. the way back: search-space rows to rows of the input's own type (DataFrame
   with its index, column order, dtypes and categories, or ndarray).

Constraints named by original column are translated into the engine's own
terms (bounds, one-hot groups, integer grid, directions, ordered categories),
so every generator gets the raw road without a line of its own. Numeric
columns that encode the same fact as a categorical one (``education-num``
for ``education``) can be linked to it: they get no coordinate of their own
and follow the category. The compiled
map is checked against the pipeline's own ``transform`` on training rows: a
step it cannot express raises :class:`~skcf.exceptions.NotDifferentiableError`
instead of giving a silently wrong gradient.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..exceptions import ConstraintError, NotDifferentiableError

__all__ = ["TabularSpace", "is_raw_pipeline"]

_SCALERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler")
_SUPPORTED = (
    "ColumnTransformer, Pipeline, StandardScaler, MinMaxScaler, RobustScaler, "
    "MaxAbsScaler, OneHotEncoder, OrdinalEncoder, SimpleImputer (no "
    "add_indicator) and FunctionTransformer with an identity func"
)
_UNKNOWN = "__skcf_unknown__"


# ----------------------------------------------------------------- tracing
@dataclass
class _Raw:
    """An original column on its way through the steps (maybe imputed)."""

    col: int
    fill: Any = None
    filled: bool = False


@dataclass
class _Lin:
    """``sum(coef[key] * u[key]) + const``: affine in original-unit values.

    Keys are ``(col, "num")`` (the column's value in original units),
    ``(col, "code")`` (an ordinal code) or ``(col, k)`` (indicator of the
    column's ``k``-th category slot).
    """

    coef: dict
    const: float = 0.0

    def affine(self, a: float, b: float) -> _Lin:
        return _Lin({k: a * v for k, v in self.coef.items()}, a * self.const + b)


@dataclass
class _Role:
    kind: str  # "numeric", "categorical" or "ordinal"
    categories: list | None = None
    unknown: bool = False  # an encoder maps unseen categories somewhere
    codes: np.ndarray | None = None  # ordinal codes per category
    unknown_code: float | None = None
    fill: Any = None
    filled: bool = False


class _Tracer:
    def __init__(self, n_columns: int, names: list[str]) -> None:
        self.roles: dict[int, _Role] = {}
        self.names = names
        self.n_columns = n_columns

    # errors ---------------------------------------------------------
    def _unsupported(self, path: str, step: Any, why: str = "") -> Exception:
        return NotDifferentiableError(
            f"Pipeline step {path!r} ({type(step).__name__}) cannot be compiled "
            f"into skcf's search space{': ' + why if why else ''}. Supported "
            f"preprocessing: {_SUPPORTED}. Use a gradient-free generator "
            "(GrowingSpheresGenerator) on the raw data, or encode the data "
            "yourself and pass the model alone."
        )

    def _role(self, raw: _Raw, role: _Role, path: str, step: Any) -> _Role:
        have = self.roles.get(raw.col)
        if raw.filled:
            role.fill, role.filled = raw.fill, True
        if have is None:
            self.roles[raw.col] = role
            return role
        same = have.kind == role.kind and (
            have.categories is None
            or _same_list(have.categories, role.categories or [])
        )
        if not same:
            raise self._unsupported(
                path,
                step,
                f"column {self.names[raw.col]!r} is used both as {have.kind} and "
                f"as {role.kind} (or with other categories)",
            )
        have.unknown = have.unknown or role.unknown
        return have

    def numeric(self, value: Any, path: str, step: Any) -> _Lin:
        if isinstance(value, _Lin):
            return value
        self._role(value, _Role("numeric"), path, step)
        return _Lin({(value.col, "num"): 1.0})

    # steps ----------------------------------------------------------
    def trace(self, step: Any, inputs: list, path: str) -> list:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline

        if step is None or (isinstance(step, str) and step == "passthrough"):
            return list(inputs)
        if isinstance(step, str) and step == "drop":
            return []
        name = type(step).__name__
        if name == "FrozenEstimator":
            return self.trace(step.estimator, inputs, path)
        if isinstance(step, Pipeline):
            out = list(inputs)
            for sub_name, sub in step.steps:
                out = self.trace(sub, out, f"{path}>{sub_name}" if path else sub_name)
            return out
        if isinstance(step, ColumnTransformer):
            return self._column_transformer(step, inputs, path)
        n_in = getattr(step, "n_features_in_", None)
        if n_in is not None and n_in != len(inputs):
            raise self._unsupported(
                path, step, f"it expects {n_in} columns but receives {len(inputs)}"
            )
        if name in _SCALERS:
            if getattr(step, "clip", False):
                raise self._unsupported(path, step, "clip=True is not affine")
            a, b = _scaler_affine(step, len(inputs))
            return [
                self.numeric(v, path, step).affine(float(a[j]), float(b[j]))
                for j, v in enumerate(inputs)
            ]
        if name == "SimpleImputer":
            return self._imputer(step, inputs, path)
        if name == "FunctionTransformer":
            return self._function(step, inputs, path)
        if name == "OneHotEncoder":
            return self._encoder(step, inputs, path, onehot=True)
        if name == "OrdinalEncoder":
            return self._encoder(step, inputs, path, onehot=False)
        raise self._unsupported(path, step)

    def _column_transformer(self, ct: Any, inputs: list, path: str) -> list:
        names_in = list(getattr(ct, "feature_names_in_", []))
        out: list = []
        for name, trans, cols in ct.transformers_:
            idx = _resolve_columns(cols, len(inputs), names_in)
            if not len(idx):
                continue
            sub = [inputs[i] for i in idx]
            out.extend(self.trace(trans, sub, f"{path}>{name}" if path else name))
        return out

    def _imputer(self, imp: Any, inputs: list, path: str) -> list:
        if getattr(imp, "add_indicator", False):
            raise self._unsupported(path, imp, "add_indicator=True")
        if not _is_missing(getattr(imp, "missing_values", np.nan)):
            # a real value (0, "?") is replaced: not the identity on such rows
            raise self._unsupported(
                path,
                imp,
                f"missing_values={imp.missing_values!r} replaces real values; "
                "only NaN/None markers are supported",
            )
        stats = np.asarray(imp.statistics_, dtype=object)
        keep = getattr(imp, "keep_empty_features", False)
        out = []
        for j, v in enumerate(inputs):
            stat = stats[j]
            empty = _is_missing(stat)
            if empty and not keep:
                continue  # sklearn drops features that were all missing in fit
            if isinstance(v, _Raw):
                if not v.filled:
                    v = _Raw(v.col, stat, True)
                out.append(v)
            elif len(v.coef) == 1 and not empty:
                # imputing after a numeric step: the fill in original units
                ((key, a),) = v.coef.items()
                if key[1] == "num" and a != 0:
                    role = self.roles[key[0]]
                    if not role.filled:
                        role.fill, role.filled = (float(stat) - v.const) / a, True
                out.append(v)
            else:
                raise self._unsupported(path, imp, "imputing an encoded column")
        return out

    def _function(self, ft: Any, inputs: list, path: str) -> list:
        func = getattr(ft, "func", None)
        if func is None:
            return list(inputs)
        if not _is_identity(ft, inputs):
            raise self._unsupported(
                path, ft, "only an identity func (or a pure dtype cast) is supported"
            )
        return list(inputs)

    def _encoder(self, enc: Any, inputs: list, path: str, onehot: bool) -> list:
        for v in inputs:
            if not isinstance(v, _Raw):
                raise self._unsupported(path, enc, "it encodes a transformed column")
        cats = [list(c) for c in enc.categories_]
        handle = getattr(enc, "handle_unknown", "error")
        unknown = handle != "error" and (onehot or handle == "use_encoded_value")
        blocks = _probe_encoder(enc, cats, unknown)
        out: list = []
        for j, v in enumerate(inputs):
            block = blocks[j]  # (K (+1 unknown), n_out_j)
            if onehot:
                role = self._role(v, _Role("categorical", cats[j], unknown), path, enc)
                for o in range(block.shape[1]):
                    coef = {
                        (v.col, k): float(block[k, o])
                        for k in range(block.shape[0])
                        if block[k, o] != 0
                    }
                    out.append(_Lin(coef))
            else:
                codes = block[: len(cats[j]), 0].astype(np.float64)
                unknown_code = float(block[-1, 0]) if unknown else None
                if unknown_code is not None and not np.isfinite(unknown_code):
                    unknown_code = None  # unknown_value=nan: no affine image
                role = self._role(
                    v,
                    _Role(
                        "ordinal",
                        cats[j],
                        unknown_code is not None,
                        codes,
                        unknown_code,
                    ),
                    path,
                    enc,
                )
                out.append(_Lin({(v.col, "code"): 1.0}))
            del role
        return out


def _same_list(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        (x == y) or (_is_missing(x) and _is_missing(y)) for x, y in zip(a, b)
    )


def _is_missing(value: Any) -> bool:
    """None, NaN, pd.NA, NaT (scalars only)."""
    if value is None:
        return True
    try:
        import pandas as pd

        missing = pd.isna(value)
    except (TypeError, ValueError):  # pragma: no cover - exotic objects
        return False
    return bool(missing) if np.ndim(missing) == 0 else False


def _scaler_affine(step: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` with ``step.transform(x) == a * x + b`` per column."""
    name = type(step).__name__
    ones, zeros = np.ones(n), np.zeros(n)
    if name == "StandardScaler":
        scale = step.scale_ if step.with_std and step.scale_ is not None else ones
        mean = step.mean_ if step.with_mean and step.mean_ is not None else zeros
        return 1.0 / np.asarray(scale, float), -np.asarray(mean, float) / scale
    if name == "MinMaxScaler":
        if getattr(step, "clip", False):
            raise NotDifferentiableError(
                "MinMaxScaler(clip=True) is not affine; use clip=False."
            )
        return np.asarray(step.scale_, float), np.asarray(step.min_, float)
    if name == "MaxAbsScaler":
        return 1.0 / np.asarray(step.scale_, float), zeros
    if name == "RobustScaler":
        scale = np.asarray(step.scale_, float) if step.scale_ is not None else ones
        center = np.asarray(step.center_, float) if step.center_ is not None else zeros
        return 1.0 / scale, -center / scale
    raise NotDifferentiableError(f"{name} is not a supported scaler")


def _resolve_columns(cols: Any, n: int, names: list) -> np.ndarray:
    """Integer positions of a ColumnTransformer column specification."""
    if isinstance(cols, slice):
        if isinstance(cols.start, str) or isinstance(cols.stop, str):
            start = 0 if cols.start is None else names.index(cols.start)
            stop = n if cols.stop is None else names.index(cols.stop) + 1
            return np.arange(start, stop)
        return np.arange(n)[cols]
    if callable(cols):
        raise TypeError("fitted ColumnTransformer columns should be resolved")
    arr = np.atleast_1d(np.asarray(cols, dtype=object))
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if all(isinstance(c, (bool, np.bool_)) for c in arr):
        return np.flatnonzero(arr.astype(bool))
    if all(isinstance(c, str) for c in arr):
        return np.array([names.index(c) for c in arr], dtype=np.int64)
    return np.array([int(c) % n for c in arr], dtype=np.int64)


def _probe_input(enc: Any, rows: list[list]) -> Any:
    names = getattr(enc, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        return pd.DataFrame(
            {
                str(n): pd.Series([r[i] for r in rows], dtype=object)
                for i, n in enumerate(names)
            }
        )
    return np.array(rows, dtype=object)


def _unknown_value(cats: list) -> Any:
    real = [c for c in cats if not _is_missing(c)]
    if real and all(
        isinstance(c, (Integral, float, np.number)) and not isinstance(c, bool)
        for c in real
    ):
        return max(real) + 1
    return _UNKNOWN


def _probe_encoder(enc: Any, cats: list[list], unknown: bool) -> list[np.ndarray]:
    """Each feature's output block for each category (and an unknown value).

    The encoder itself is asked, so ``drop``, infrequent categories and
    ``handle_unknown`` come out exactly as sklearn implements them.
    """
    base = [c[0] for c in cats]
    rows: list[list] = []
    spans = []
    for j, c in enumerate(cats):
        start = len(rows)
        values = list(c) + ([_unknown_value(c)] if unknown else [])
        for value in values:
            row = list(base)
            row[j] = value
            rows.append(row)
        spans.append((start, len(rows)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # handle_unknown="warn"
        out = enc.transform(_probe_input(enc, rows))
    out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
    out = np.asarray(out, dtype=np.float64)
    widths = _output_widths(enc, out.shape[1], len(cats))
    edges = np.r_[0, np.cumsum(widths)]
    return [out[a:b, edges[j] : edges[j + 1]] for j, (a, b) in enumerate(spans)]


def _output_widths(enc: Any, n_out: int, n_in: int) -> list[int]:
    if type(enc).__name__ == "OrdinalEncoder":
        return [1] * n_in
    widths = getattr(enc, "_n_features_outs", None)
    if widths is None or sum(widths) != n_out:  # pragma: no cover - old sklearn
        names = enc.get_feature_names_out([f"f{j}" for j in range(n_in)])
        widths = [sum(str(n).startswith(f"f{j}_") for n in names) for j in range(n_in)]
    return [int(w) for w in widths]


def _is_identity(ft: Any, inputs: list) -> bool:
    """A FunctionTransformer that returns its (numeric) input, up to a cast.

    Missing values must come back missing: a func that fills them (an
    imputer in disguise) is not the identity. A func that refuses them is
    (the pipeline refuses such rows too).
    """
    rng = np.random.default_rng(0)
    n = len(inputs)
    probe = np.concatenate(
        [
            rng.normal(size=(8, n)),
            rng.normal(scale=1e4, size=(8, n)),
            np.full((1, n), -3.5e5),
            np.full((1, n), 7.25e5),
        ]
    )
    out = _apply_probe(ft, probe)
    if out is None or out.shape != probe.shape:
        return False
    if not np.allclose(out, probe, rtol=1e-6, atol=1e-6):
        return False
    holes = np.where(np.eye(n, dtype=bool), np.nan, rng.normal(size=(n, n)))
    out = _apply_probe(ft, holes)
    return out is None or (
        out.shape == holes.shape
        and np.allclose(out, holes, rtol=1e-6, atol=1e-6, equal_nan=True)
    )


def _apply_probe(ft: Any, probe: np.ndarray) -> np.ndarray | None:
    """``ft.transform`` of a probe (a frame if ``ft`` saw one), or None if it
    raises."""
    X: Any = probe
    names = getattr(ft, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        X = pd.DataFrame(probe, columns=names)
    try:  # a probe, not the user's data: its warnings are noise
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return np.asarray(ft.transform(X), dtype=np.float64)
    except Exception:
        return None


# ------------------------------------------------------------------ columns
@dataclass
class ColumnInfo:
    """How one original column lives in the search space.

    Attributes
    ----------
    name : str
    kind : {"numeric", "categorical", "ordinal", "unused"}
        ``"unused"``: the model never sees the column; it never changes.
    search : ndarray of int
        The column's search-space coordinates (category slots in order).
    center, scale : float
        ``x = center + scale * z`` for numeric columns.
    integer : bool
        Values are integers (integer dtype or ``integer=[...]``).
    categories : list or None
        Category slot values (categorical / ordinal columns).
    unknown : bool
        The last slot stands for categories the encoder never saw.
    ordered : bool
        The categories have an order (an ordered pandas ``Categorical``,
        numbers or bools by value, or ordinal codes), so ``increase_only`` /
        ``decrease_only`` apply.
    rank : ndarray or None
        Position of each category slot in that order.
    domain : tuple of float
        The values the column's dtype can hold (``(0, 1)`` for bool, the
        integer range for integer dtypes): a hard bound on every search.
    link : int or None
        For a numeric column tied to a categorical one (``categorical=[(
        "education", "education-num")]``): the position of that driver
        column. A linked column has no search coordinate (``search`` is
        empty): its value is a function of the driver's category.
    link_values : ndarray or None
        The linked column's value for each of the driver's known categories
        (its value on training rows of that category; NaN for a category
        without training rows, which the search never moves to).
    """

    name: str
    kind: str
    search: np.ndarray
    center: float = 0.0
    scale: float = 1.0
    integer: bool = False
    categories: list | None = None
    unknown: bool = False
    ordered: bool = False
    rank: np.ndarray | None = None
    codes: np.ndarray | None = None
    unknown_code: float | None = None
    fill: Any = None
    filled: bool = False
    dtype: Any = None
    lower: float = -np.inf  # observed range in original units
    upper: float = np.inf
    std: float = 0.0
    mad: float = 1.0  # cost scale in original units
    frequency: np.ndarray | None = None
    domain: tuple = (-np.inf, np.inf)
    link: int | None = None
    link_values: np.ndarray | None = None


class _LinearMap(nn.Module):
    """``z @ weight + bias``: the compiled preprocessing on the search space."""

    weight: Tensor
    bias: Tensor

    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("weight", torch.as_tensor(weight, dtype=torch.float64))
        self.register_buffer("bias", torch.as_tensor(bias, dtype=torch.float64))

    def forward(self, z: Tensor) -> Tensor:
        return torch.addmm(self.bias, z, self.weight)  # one fused op


class TabularSpace:
    """A fitted preprocessing compiled into a search space (the raw-data road).

    Build it with :meth:`from_pipeline`. Generators do this in ``fit`` when
    their ``estimator`` is a ``Pipeline`` with preprocessing steps, and keep it
    as ``space_``.

    Parameters
    ----------
    columns : list of ColumnInfo
        One per original input column, in input order.
    n_search : int
        Width of the search space.
    search_names : list of str
        ``"age"`` for a numeric column, ``"housing=own"`` for a category slot.
    weight : ndarray of shape (n_search, n_model_inputs)
    bias : ndarray of shape (n_model_inputs,)
        The model input is ``Z @ weight + bias``.
    feature_names : list of str
        The original column names (``x0, x1, ...`` for arrays).
    preprocessing : Pipeline
        The fitted preprocessing steps (checked against the compiled map).
    onehot_groups : list of list of int, default=None
        Input columns that already hold one-hot blocks (the encoded road
        behind a scaler pipeline): each block is searched as one group.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> from skcf.models import TabularSpace
    >>> X = pd.DataFrame({"age": [25, 40, 33, 51], "job": ["a", "b", "a", "c"]})
    >>> pipe = Pipeline([
    ...     ("prep", ColumnTransformer([("num", StandardScaler(), ["age"]),
    ...                                 ("cat", OneHotEncoder(), ["job"])])),
    ...     ("clf", LogisticRegression())]).fit(X, [0, 1, 0, 1])
    >>> space = TabularSpace.from_pipeline(pipe, X)
    >>> space.search_names
    ['age', 'job=a', 'job=b', 'job=c']
    >>> space.decode(space.encode(X), X).equals(X)
    True
    """

    def __init__(
        self,
        columns: list,
        n_search: int,
        search_names: list,
        weight: np.ndarray,
        bias: np.ndarray,
        feature_names: list,
        preprocessing: Any = None,
        onehot_groups: list | None = None,
    ) -> None:
        self.columns = columns
        self.n_search = n_search
        self.search_names = search_names
        self.weight = weight
        self.bias = bias
        self.feature_names = feature_names
        self.preprocessing = preprocessing
        self.onehot_groups = [] if onehot_groups is None else onehot_groups

    def __repr__(self) -> str:
        kinds = [c.kind for c in self.columns]
        return (
            f"TabularSpace(n_columns={len(kinds)}, numeric={kinds.count('numeric')}, "
            f"categorical={kinds.count('categorical')}, "
            f"ordinal={kinds.count('ordinal')}, n_search={self.n_search})"
        )

    # ------------------------------------------------------------ building
    @classmethod
    def from_pipeline(
        cls, pipeline: Any, X: Any, *, categorical: Any = None, integer: Any = None
    ) -> TabularSpace:
        """Compile the preprocessing steps of a fitted ``pipeline`` on data ``X``.

        Parameters
        ----------
        pipeline : sklearn.pipeline.Pipeline
            Fitted; every step but the last is preprocessing.
        X : DataFrame or ndarray of shape (n_samples, n_features)
            Raw training rows (the domain: centres, scales, frequencies).
        categorical : list, default=None
            Each entry is one of:

            - a column name (or index): an ordinal-encoded column searched as
              unordered categories instead of an integer code;
            - a tuple (or list) of input columns that already hold a one-hot
              block (all numeric 0/1): searched as one group;
            - a **link**, a tuple whose first column is one the pipeline
              encodes (one-hot or ordinal) and whose other columns are numeric
              columns encoding the same fact, ``("education",
              "education-num")``: the first column is searched as categories
              and each linked column takes, wherever the category changes,
              its value on training rows of the new category (it must have
              one value per category in ``X``, else a ``ConstraintError``).
              Constraints named by a linked column act on the category:
              ``immutable`` freezes it, ``increase_only`` / ``decrease_only``
              order it by the linked values, ``bounds`` forbid categories
              whose value lies outside.
        integer : list of str or int, default=None
            Numeric columns to keep integral besides those of integer dtype.

        Returns
        -------
        space : TabularSpace
        """
        pre = pipeline[:-1]
        names = _feature_names(X)
        tracer = _Tracer(len(names), names)
        inputs = [_Raw(j) for j in range(len(names))]
        outputs = tracer.trace(pre, inputs, "")
        outputs = [tracer.numeric(v, "model", pipeline) for v in outputs]
        singles = [c for c in categorical or [] if not isinstance(c, (list, tuple))]
        blocks, links = _split_entries(categorical, names, tracer.roles)
        as_cat = set(_positions(singles, names, "categorical")) | set(links)
        as_int = set(_positions(integer, names, "integer"))
        in_block = {j for block in blocks for j in block}
        linked = {j: d for d, cols in links.items() for j in cols}
        columns, n_search = [], 0
        for j, name in enumerate(names):
            role = tracer.roles.get(j)
            info = _column_info(X, j, name, role, n_search, j in as_cat, j in as_int)
            if j in in_block:  # a one-hot column searched as it is: 0 / 1
                info.center, info.scale, info.integer = 0.0, 1.0, False
            if j in linked:  # no coordinate: a function of the driver's category
                info.search, info.link = np.zeros(0, dtype=np.int64), linked[j]
            n_search += len(info.search)
            columns.append(info)
        _check_onehot_blocks(X, blocks, columns, names)
        bad = sorted(as_cat - {j for j, c in enumerate(columns) if c.kind != "numeric"})
        if bad:
            raise ConstraintError(
                f"categorical lists {[names[j] for j in bad]}, which the pipeline "
                "treats as numbers; only ordinal-encoded columns can be searched "
                "as categories (one-hot encoded ones already are)."
            )
        for j, d in linked.items():
            columns[j].link_values = _link_values(X, columns, d, j)
        weight = np.zeros((n_search, len(outputs)))
        bias = np.zeros(len(outputs))
        for o, lin in enumerate(outputs):
            bias[o] += lin.const
            for (col, key), a in lin.coef.items():
                info = columns[col]
                if key == "num" and info.link is not None:
                    # x = sum_k v_k 1[k] on the driver's known category slots
                    v = np.nan_to_num(np.asarray(info.link_values), nan=0.0)
                    weight[columns[info.link].search[: len(v)], o] += a * v
                elif key == "num":
                    weight[info.search[0], o] += a * info.scale
                    bias[o] += a * info.center
                elif key == "code":
                    if info.kind == "ordinal":
                        weight[info.search[0], o] += a
                    else:  # searched as categories: code = sum_k code_k 1[k]
                        u = info.unknown_code
                        codes = np.r_[info.codes, 0.0 if u is None else u]
                        weight[info.search, o] += a * codes[: len(info.search)]
                else:
                    weight[info.search[key], o] += a
        search_names = []
        for info in columns:
            if info.kind in ("numeric", "ordinal") and len(info.search):
                search_names.append(info.name)
            elif info.kind == "categorical":
                labels = list(info.categories or [])
                if info.unknown:
                    labels.append("<unknown>")
                search_names += [f"{info.name}={c}" for c in labels]
        space = cls(
            columns=columns,
            n_search=n_search,
            search_names=search_names,
            weight=weight,
            bias=bias,
            feature_names=names,
            preprocessing=pre,
            onehot_groups=[[columns[j].search[0] for j in b] for b in blocks],
        )
        space._check(X)
        return space

    def _check(self, X: Any, n_rows: int = 256) -> None:
        """The compiled map must reproduce the pipeline's own transform.

        Numeric float32 columns are compared in float64: sklearn keeps float32
        through a scaler, and its rounding, amplified by later steps, is not
        a step skcf fails to model.
        """
        rows = np.linspace(0, len(X) - 1, min(len(X), n_rows)).astype(int)
        sub = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
        sub = self._upcast(sub)
        want = self.preprocessing.transform(sub)
        want = want.toarray() if hasattr(want, "toarray") else np.asarray(want)
        got = self.model_input(self.encode(sub))
        want = np.asarray(want, dtype=np.float64)
        if want.shape != got.shape or not np.allclose(got, want, rtol=1e-5, atol=1e-6):
            diff = (
                float(np.max(np.abs(got - want)))
                if want.shape == got.shape
                else f"shape {got.shape} vs {want.shape}"
            )
            raise NotDifferentiableError(
                "skcf's compiled preprocessing disagrees with the pipeline's own "
                f"transform on training rows (max difference {diff}); a step "
                f"behaves in a way skcf does not model. Supported: {_SUPPORTED}. "
                "Use a gradient-free generator (GrowingSpheresGenerator) or "
                "encode the data yourself."
            )

    def _upcast(self, X: Any) -> Any:
        """``X`` with its numeric float32 (or narrower) columns as float64."""
        narrow = [
            j
            for j, info in enumerate(self.columns)
            if info.kind == "numeric" and _resolution(info.dtype, np.ones(1))[0] > 1e-12
        ]
        if not narrow:
            return X
        if hasattr(X, "iloc"):
            return X.astype({X.columns[j]: np.float64 for j in narrow})
        return X.astype(np.float64) if X.dtype.kind == "f" else X

    # ------------------------------------------------------------- mapping
    def model_input(self, Z: np.ndarray) -> np.ndarray:
        """The preprocessing output for search-space rows ``Z`` (numpy).

        Most output columns copy one search coordinate (a one-hot slot) or
        scale it (a scaler): those are gathered, and only the others (linked
        columns) go through a matrix product, so a black box's many candidate
        rows cost a copy rather than a dense ``Z @ weight``.
        """
        Z = np.asarray(Z, dtype=np.float64)
        W, bias = self.weight, self.bias
        src = np.abs(W).argmax(axis=0)
        out = np.take(Z, src, axis=1)
        scale = W[src, np.arange(W.shape[1])]
        if (scale != 1.0).any():  # a search coordinate is often the input itself
            out *= scale
        linked = np.count_nonzero(W, axis=0) > 1
        if linked.any():
            out[:, linked] = Z @ W[:, linked]
        shifted = bias != 0.0
        if shifted.all():
            out += bias
        elif shifted.any():
            out[:, shifted] += bias[shifted]
        return out

    def torch_map(self) -> nn.Module:
        """The preprocessing as a differentiable torch module (float64 buffers)."""
        return _LinearMap(self.weight, self.bias)

    # ------------------------------------------------------------ encoding
    def encode(self, X: Any) -> np.ndarray:
        """Raw rows (DataFrame or ndarray) to search-space rows, float64."""
        X = _columns(X)
        n = len(X)
        Z = np.zeros((n, self.n_search))
        slots = {}  # category of each row, for links (-1: unseen)
        for j, info in enumerate(self.columns):
            if info.kind == "unused" or info.link is not None:
                continue
            values = _values(X, j)
            missing = _missing_mask(values)
            known_missing = info.kind != "numeric" and _has_missing(info.categories)
            if missing.any() and (info.filled or not known_missing):
                if not info.filled:
                    raise ValueError(
                        f"Column {info.name!r} has {int(missing.sum())} missing "
                        "value(s) (NaN/None) and the pipeline imputes none for "
                        "it; fill them or add a SimpleImputer for the column."
                    )
                values = np.where(
                    missing, np.asarray([info.fill], dtype=object), values
                )
            if info.kind == "numeric":
                x = _as_float(values, info.name)
                Z[:, info.search[0]] = (x - info.center) / info.scale
                continue
            k = _slots(info, values)
            unseen = k < 0
            if info.kind == "ordinal":
                codes = np.asarray(info.codes, dtype=np.float64)
                code = codes[np.maximum(k, 0)]
                if unseen.any():
                    if info.unknown_code is None or not np.isfinite(info.unknown_code):
                        raise ValueError(_unseen_message(info, values[unseen]))
                    code = np.where(unseen, info.unknown_code, code)
                Z[:, info.search[0]] = code
                continue
            slots[j] = k
            if unseen.any():
                if not info.unknown:
                    raise ValueError(_unseen_message(info, values[unseen]))
                k = np.where(unseen, len(info.search) - 1, k)
            Z[np.arange(n), info.search[k]] = 1.0
        for j, info in enumerate(self.columns):
            if info.link is not None:
                self._check_link(X, j, slots[info.link])
        return Z

    def _check_link(self, X: Any, j: int, k: np.ndarray) -> None:
        """A linked column must hold its category's value on factual rows.

        The search models it as a function of the driver's category; a row
        that disagrees would be modelled with other inputs than the pipeline
        sees.
        """
        info = self.columns[j]
        drv = self.columns[info.link]
        values = _filled_values(X, j, info)
        missing = _missing_mask(values)
        if missing.any():
            raise ValueError(
                f"Column {info.name!r} has {int(missing.sum())} missing value(s) "
                "(NaN/None) and the pipeline imputes none for it; fill them or "
                "add a SimpleImputer for the column."
            )
        x = _as_float(values, info.name)
        v = np.r_[np.asarray(info.link_values), np.nan][k]
        link = f"categorical=[({drv.name!r}, {info.name!r})]"
        unknown = np.isnan(v)
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise ValueError(
                f"Column {info.name!r} is linked to {drv.name!r} ({link}), but "
                f"{int(unknown.sum())} row(s) hold a {drv.name!r} category without "
                f"training rows, such as {_plain([_values(X, info.link)[i]])[0]!r}, "
                f"so skcf does not know its {info.name!r}. Fit on data holding "
                "that category, or drop the link."
            )
        bad = np.abs(x - v) > _link_tol(info, x)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            cat = _plain([(drv.categories or [])[k[i]]])[0]
            raise ValueError(
                f"Column {info.name!r} is linked to {drv.name!r} ({link}), but "
                f"{int(bad.sum())} row(s) disagree with the training rows of their "
                f"category, such as {info.name}={_number(x[i], info)!r} where "
                f"{drv.name}={cat!r} (training rows hold {_number(v[i], info)!r}). "
                f"skcf searches {info.name!r} as a function of {drv.name!r}, so "
                "the pipeline would see other inputs than skcf models; fix these "
                "rows or drop the link."
            )

    def decode(self, Z: np.ndarray, X_ref: Any, Z_ref: np.ndarray | None = None):
        """Search-space rows back to rows of ``X_ref``'s type, dtypes and index.

        Columns whose coordinates equal those of ``Z_ref`` (the encoding of
        ``X_ref``, computed when not given) keep ``X_ref``'s values bit for bit.
        """
        Z = np.asarray(Z, dtype=np.float64)
        if Z_ref is None:
            Z_ref = self.encode(X_ref)
        out = X_ref.copy()
        frame = hasattr(out, "iloc")
        moved = {}  # driver column -> (changed rows, new slot, keeps factual's)
        for j, info in enumerate(self.columns):
            if info.kind == "unused" or info.link is not None:
                continue
            cols = info.search
            changed = np.flatnonzero((Z[:, cols] != Z_ref[:, cols]).any(axis=1))
            if not changed.size:
                continue
            z = Z[changed][:, cols]
            if info.kind == "numeric":
                x = info.center + info.scale * z[:, 0]
                if info.integer:
                    x = np.round(x)
                values: Any = np.clip(x, *info.domain)
            else:
                k, keep = _category_slots(info, z)
                moved[j] = changed, k, keep
                values = _object_array(info.categories or [])[k]
                if keep.any():  # the factual's own unseen category stays
                    values[keep] = _values(X_ref, j)[changed][keep]
            _assign(out, changed, j, values, frame)
        for j, info in enumerate(self.columns):  # linked: the new category's value
            if info.link is None or info.link not in moved:
                continue
            changed, k, keep = moved[info.link]
            drv = self.columns[info.link]
            ref = Z_ref[changed][:, drv.search]
            k_ref, _ = _category_slots(drv, ref)
            v = np.asarray(info.link_values)[k]
            new = ~keep & (k != k_ref) & np.isfinite(v)
            if new.any():
                _assign(out, changed[new], j, np.clip(v[new], *info.domain), frame)
        return out

    # --------------------------------------------------------- constraints
    def index(self, key: Any, param: str) -> int:
        """Position of an original column named (or indexed) by ``key``."""
        return _positions([key], self.feature_names, param)[0]

    def constraints(
        self,
        *,
        immutable: Any = None,
        increase_only: Any = None,
        decrease_only: Any = None,
        bounds: Any = None,
    ) -> dict:
        """The engine's constraint dict, from constraints by original column.

        ``bounds`` maps a column to ``(low, high)`` in original units (None
        for unbounded), or, for an encoded column, to the allowed categories
        (a list, or a single category); a ``(low, high)`` tuple on a column
        whose categories are numbers is the range it reads as, so the same
        bounds mean the same whether the column is scaled or encoded. An
        ordinal-encoded column can only take a contiguous range of codes.

        A column linked to a categorical one has no coordinate: ``immutable``
        freezes the category (both columns are then judged immutable),
        ``increase_only`` / ``decrease_only`` order the category by the
        linked values (``rank`` / ``rank_dir``), and its ``bounds`` close the
        categories whose value lies outside them.
        """
        d = self.n_search
        lower, upper = np.full(d, -np.inf), np.full(d, np.inf)
        mutable = np.ones(d, dtype=bool)
        inc, dec = np.zeros(d, dtype=bool), np.zeros(d, dtype=bool)
        integer = np.zeros(d, dtype=bool)
        step, origin = np.ones(d), np.zeros(d)
        rank, rank_dir = np.zeros(d), np.zeros(d, dtype=np.int8)
        stay = np.zeros(d, dtype=bool)  # unknown slots: a factual may stay there
        groups = []
        names = self.feature_names
        links = self._links()
        frozen = set(_positions(immutable, names, "immutable"))
        # a linked column has no coordinate of its own: freeze its category
        frozen |= {
            c.link
            for j, c in enumerate(self.columns)
            if j in frozen and c.link is not None
        }
        for j in frozen:
            mutable[self.columns[j].search] = False
        inc_cols = set(_positions(increase_only, names, "increase_only"))
        dec_cols = set(_positions(decrease_only, names, "decrease_only"))
        both = inc_cols & dec_cols
        if both:
            raise ConstraintError(
                f"Columns {[names[j] for j in sorted(both)]} are in both "
                "increase_only and decrease_only; list them in immutable instead."
            )
        for j in sorted(inc_cols | dec_cols):
            info = self.columns[j]
            param = "increase_only" if j in inc_cols else "decrease_only"
            if info.kind == "categorical" and not info.ordered:
                raise ConstraintError(
                    f"{param} lists {info.name!r}, an unordered categorical column; "
                    "give it an order (an ordered pandas Categorical, or an "
                    "OrdinalEncoder with categories=[...]) or drop the constraint."
                )
            if info.kind == "ordinal" and not info.ordered:
                order = list(getattr(info.dtype, "categories", []))
                raise ConstraintError(
                    f"{param} lists {info.name!r}, whose OrdinalEncoder codes follow "
                    f"{_plain(info.categories)}, not the column's own order "
                    f"{order}; pass OrdinalEncoder(categories=[{order!r}]) so the "
                    "codes follow it, or drop the constraint."
                )
        box = self._bounds(bounds)
        for j, info in enumerate(self.columns):
            s = info.search
            if info.kind == "unused" or info.link is not None:
                continue  # a linked column acts through its driver's group
            lo, hi = box.get(j, (-np.inf, np.inf))
            if info.kind == "numeric":
                lo, hi = max(lo, info.domain[0]), min(hi, info.domain[1])
                lower[s] = (lo - info.center) / info.scale
                upper[s] = (hi - info.center) / info.scale
                if info.integer:
                    integer[s] = True
                    step[s], origin[s] = 1.0 / info.scale, -info.center / info.scale
            elif info.kind == "ordinal":
                codes = np.asarray(info.codes, dtype=np.float64)
                allowed = box.get(("cats", j))
                pick = codes if allowed is None else codes[allowed]
                lower[s], upper[s] = pick.min(), pick.max()
                between = (codes >= pick.min()) & (codes <= pick.max())
                skipped = [
                    c
                    for c, b, code in zip(info.categories or [], between, codes)
                    if b and code not in pick
                ]
                if skipped:  # the integer code moves through them
                    raise ConstraintError(
                        f"bounds[{info.name!r}] allows categories of the "
                        f"ordinal-encoded column {info.name!r} with gaps: its "
                        f"code can not skip {_plain(skipped)}. Allow a contiguous "
                        f"range of {_plain(info.categories)}, or search the column "
                        f"as categories with categorical=[{info.name!r}]."
                    )
                integer[s] = True
            else:
                groups.append(np.asarray(s))
                lower[s], upper[s] = 0.0, 1.0
                allowed = box.get(("cats", j))
                if allowed is not None:
                    upper[s[: len(info.categories or [])]] = 0.0
                    upper[s[allowed]] = 1.0
                if info.unknown:
                    upper[s[-1]] = 0.0  # never move to an unseen category,
                    stay[s[-1]] = True  # but a factual holding one may keep it
                sources = []  # (rank, direction, column) of each directed column
                if info.ordered and (j in inc_cols or j in dec_cols):
                    sources.append((info.rank, 1 if j in inc_cols else -1, info.name))
                known = np.ones(len(info.categories or []), dtype=bool)
                for jl in links.get(j, []):
                    sources += self._link_constraints(
                        j, jl, box, upper, inc_cols, dec_cols
                    )
                    known &= np.isfinite(np.asarray(self.columns[jl].link_values))
                if sources:
                    r, direction = _merge_directions(sources, known, info.name)
                    rank[s] = np.r_[r, -1.0] if info.unknown else r
                    rank_dir[s] = direction
                continue
            if j in inc_cols:
                inc[s] = True
            if j in dec_cols:
                dec[s] = True
        for block in self.onehot_groups:  # input columns that are one-hot already
            idx = np.asarray(block)
            groups.append(idx)
            lower[idx] = np.maximum(lower[idx], 0.0)
            upper[idx] = np.minimum(upper[idx], 1.0)
        if not mutable.any():
            raise ConstraintError(
                "Every column is immutable: no counterfactual can exist. Remove "
                "some columns from immutable."
            )
        bad = np.flatnonzero(lower > upper)
        if bad.size:
            raise ConstraintError(
                f"Empty bounds for {[self.search_names[i] for i in bad]}."
            )
        return {
            "lower": lower,
            "upper": upper,
            "mutable": mutable,
            "increase_only": inc,
            "decrease_only": dec,
            "groups": groups,
            "integer": integer,
            "step": step,
            "origin": origin,
            "rank": rank if rank_dir.any() else None,
            "rank_dir": rank_dir if rank_dir.any() else None,
            "stay": stay if stay.any() else None,
            "columns": {
                "onehot": [
                    [
                        j
                        for j, c in enumerate(self.columns)
                        if len(c.search) and c.search[0] in block
                    ]
                    for block in self.onehot_groups
                ],
                "immutable": sorted(frozen),
                "increase_only": sorted(inc_cols),
                "decrease_only": sorted(dec_cols),
                "bounds": box,
            },
        }

    def _links(self) -> dict[int, list[int]]:
        """``{driver column: [linked numeric columns]}``."""
        links: dict[int, list[int]] = {}
        for j, info in enumerate(self.columns):
            if info.link is not None:
                links.setdefault(info.link, []).append(j)
        return links

    def _link_constraints(
        self,
        d: int,
        j: int,
        box: dict,
        upper: np.ndarray,
        inc_cols: set,
        dec_cols: set,
    ) -> list:
        """Constraints named by linked column ``j``, on its driver ``d``'s slots.

        Categories without training rows and those whose value breaks
        ``bounds[j]`` are closed (``upper`` 0, in place); a direction on ``j``
        returns the driver's order by ``j``'s values as a source.
        """
        drv, info = self.columns[d], self.columns[j]
        v = np.asarray(info.link_values, dtype=np.float64)
        s = drv.search[: len(v)]
        lo, hi = box.get(j, (-np.inf, np.inf))
        tol = _link_tol(info, v)
        with np.errstate(invalid="ignore"):
            inside = (v >= lo - tol) & (v <= hi + tol)  # NaN: never a destination
        upper[s[~inside]] = 0.0
        if not (upper[s] > 0).any():
            shown = [_number(x, info) for x in np.unique(v[np.isfinite(v)])]
            raise ConstraintError(
                f"bounds[{info.name!r}]={(_number(lo, info), _number(hi, info))!r} "
                f"leave no category of {drv.name!r} (linked: its categories give "
                f"{info.name!r} the values {shown}); widen the bounds."
            )
        if j in inc_cols or j in dec_cols:
            return [(_dense_rank(v), 1 if j in inc_cols else -1, info.name)]
        return []

    def _bounds(self, bounds: Any) -> dict:
        """Bounds in original units by column position (``"infer"``, dict)."""
        box: dict = {}
        if bounds is None:
            return box
        if isinstance(bounds, str):  # "infer": seed 002 App. B.3 in original units
            for j, info in enumerate(self.columns):
                if info.kind == "numeric":
                    lo = min(info.center - 3 * info.std, info.lower)
                    hi = max(info.center + 3 * info.std, info.upper)
                    if info.lower >= 0:  # non-negative in the data stays so
                        lo = max(lo, 0.0)
                    if info.integer:
                        lo, hi = math.floor(lo), math.ceil(hi)
                    box[j] = (lo, hi)
            return box
        for key, value in bounds.items():
            j = self.index(key, "bounds")
            info = self.columns[j]
            if info.kind == "unused":
                continue  # the model never sees it: it never changes
            if info.kind in ("categorical", "ordinal"):
                cats = list(info.categories or [])
                if _is_range(value) and _are_numbers(cats):
                    # (low, high) on number categories: a range, as when scaled
                    lo = -np.inf if value[0] is None else float(value[0])
                    hi = np.inf if value[1] is None else float(value[1])
                    inside = [
                        k
                        for k, c in enumerate(cats)
                        if not _is_missing(c) and lo <= float(c) <= hi
                    ]
                    if not inside:
                        raise ConstraintError(
                            f"bounds[{key!r}]={value!r} holds none of the "
                            f"categories of {info.name!r}: {_plain(cats)}."
                        )
                    box[("cats", j)] = np.array(inside)
                    continue
                values = (
                    [value]
                    if isinstance(value, str) or not hasattr(value, "__iter__")
                    else list(value)
                )
                missing = [v for v in values if not any(_equal(v, c) for c in cats)]
                if missing or not values:
                    raise ConstraintError(
                        f"bounds[{key!r}] must list allowed categories of "
                        f"{info.name!r} among {_plain(cats)}; got unknown "
                        f"{_plain(missing or values)}."
                    )
                box[("cats", j)] = np.array(
                    [k for k, c in enumerate(cats) if any(_equal(v, c) for v in values)]
                )
                continue
            try:
                lo, hi = value
            except (TypeError, ValueError) as exc:
                raise ConstraintError(
                    f"bounds[{key!r}] must be a (low, high) pair in the column's "
                    f"original units, got {value!r}."
                ) from exc
            box[j] = (
                -np.inf if lo is None else float(lo),
                np.inf if hi is None else float(hi),
            )
            if np.isnan(box[j]).any():
                raise ConstraintError(
                    f"bounds[{key!r}] = {value!r} holds NaN; use None (or -inf / "
                    "inf) for a side without a bound."
                )
        return box

    def violations(self, X: Any, X_cf: Any, rules: dict) -> np.ndarray:
        """Broken constraints per row, judged in original units on ``X_cf``.

        Immutable columns must be equal, integer columns integral, numeric
        bounds and directions held (a float-rounding tolerance: 1e-9 of the
        column's scale, never a share of its magnitude, plus one unit in the
        last place of the column's dtype, so a float32 column rounded to the
        nearest float32 at a bound still holds it), categories known to the
        encoder and allowed by ``bounds``, ordered categories moved the
        allowed way only. Bounds bind every mutable column, changed or not: a
        factual value outside them that a direction kept in place is a
        violation, as in the engine (never silently valid). A linked column
        (``categorical=[("education", "education-num")]``) is judged as a
        numeric column, and a row where it or its category moved must hold
        the category's value.
        """
        X, X_cf = _columns(X), _columns(X_cf)
        n = len(X)
        count = np.zeros(n, dtype=np.int64)
        box = rules["bounds"]
        for block in rules.get("onehot", []):  # already-encoded one-hot blocks
            values = np.column_stack(
                [_as_float_lenient(_values(X_cf, j)) for j in block]
            )
            binary = np.isin(values, (0.0, 1.0)).all(axis=1)
            count += ~(binary & (values.sum(axis=1) == 1.0))
        for j, info in enumerate(self.columns):
            if info.kind == "unused":
                continue
            a, b = _values(X, j), _values(X_cf, j)
            same = _equal_values(a, b)
            if j in rules["immutable"]:
                count += ~same
                continue
            if info.kind == "numeric":
                xa = _as_float_lenient(a)
                xb = _as_float_lenient(b)
                tol = 1e-9 * info.scale + _resolution(info.dtype, xb)
                bad = ~np.isfinite(xb) & ~same
                lo, hi = box.get(j, (-np.inf, np.inf))
                with np.errstate(invalid="ignore"):
                    bad |= (xb < lo - tol) | (xb > hi + tol)
                if j in rules["increase_only"]:
                    bad |= ~same & (xb < xa - tol)
                if j in rules["decrease_only"]:
                    bad |= ~same & (xb > xa + tol)
                if info.integer:
                    bad |= ~same & (xb != np.round(xb))
                count += bad
                continue
            kb = _slots(info, b)
            bad = ~same & (kb < 0)
            allowed = box.get(("cats", j))
            if allowed is not None:
                bad |= ~np.isin(kb, allowed)
            if info.ordered and (
                j in rules["increase_only"] or j in rules["decrease_only"]
            ):
                rank = np.asarray(info.rank, dtype=np.float64)
                ka = _slots(info, a)
                ra = np.where(ka >= 0, rank[np.maximum(ka, 0)], np.nan)
                rb = np.where(kb >= 0, rank[np.maximum(kb, 0)], np.nan)
                with np.errstate(invalid="ignore"):
                    if j in rules["increase_only"]:
                        bad |= ~same & (rb < ra)
                    else:
                        bad |= ~same & (rb > ra)
            count += bad
        for j, info in enumerate(self.columns):  # a link holds where anything moved
            if info.link is None:
                continue
            drv = self.columns[info.link]
            moved = ~(
                _equal_values(_values(X, info.link), _values(X_cf, info.link))
                & _equal_values(_values(X, j), _values(X_cf, j))
            )
            kb = _slots(drv, _filled_values(X_cf, info.link, drv))
            v = np.r_[np.asarray(info.link_values), np.nan][kb]
            xb = _as_float_lenient(_filled_values(X_cf, j, info))
            with np.errstate(invalid="ignore"):
                agree = np.abs(xb - v) <= _link_tol(info, xb)
            count += moved & ~agree
        return count

    # ---------------------------------------------------------------- costs
    def column_changes(self, X: Any, X_cf: Any) -> np.ndarray:
        """``(n, n_columns)`` float: numeric change in original units, 1.0 for
        a changed category, 0 where unchanged. A missing factual value counts
        from the value the pipeline imputes for it (where the search started)."""
        X, X_cf = _columns(X), _columns(X_cf)
        out = np.zeros((len(X), len(self.columns)))
        for j, info in enumerate(self.columns):
            a, b = _values(X, j), _values(X_cf, j)
            same = _equal_values(a, b)
            if info.kind == "numeric":
                start = _as_float_lenient(_filled_values(X, j, info))
                with np.errstate(invalid="ignore"):
                    diff = _as_float_lenient(b) - start
                out[:, j] = np.where(same, 0.0, np.nan_to_num(diff))
            else:
                out[:, j] = (~same).astype(np.float64)
        return out

    @property
    def column_scale(self) -> np.ndarray:
        """Per-column cost unit: the MAD in original units, 1 for categories."""
        return np.array([c.mad if c.kind == "numeric" else 1.0 for c in self.columns])

    def search_scale(
        self, Z: np.ndarray, category_cost: str = "frequency"
    ) -> np.ndarray:
        """Per-coordinate cost scale of the search space (``scale_``).

        Numeric coordinates: their MAD (std fallback) in search units. A
        category slot: ``1 / (0.5 * (1 - log p))`` with ``p`` the category's
        smoothed training frequency, so a switch between two common
        categories costs about one MAD and a move to a category almost nobody
        has costs several. With ``category_cost="uniform"`` every category
        of a column gets ``p = 1 / n_categories`` (the same cost); with
        ``category_cost="encoded"`` a slot keeps its own MAD (std fallback),
        as on the pre-encoded matrix.
        """
        from ..utils._scale import robust_scale

        scale = robust_scale(Z)
        if category_cost == "encoded":
            return scale
        for info in self.columns:
            if info.kind == "categorical" and info.frequency is not None:
                freq = info.frequency
                if info.unknown:
                    freq = np.r_[freq, freq.min()]
                if category_cost == "uniform":
                    freq = np.full(len(freq), 1.0 / len(freq))
                scale[info.search] = 1.0 / (0.5 * (1.0 - np.log(freq)))
        return scale


# ---------------------------------------------------------------- helpers
def unfrozen(estimator: Any) -> Any:
    """The estimator inside a ``sklearn.frozen.FrozenEstimator`` (else itself)."""
    if type(estimator).__name__ == "FrozenEstimator":
        return estimator.estimator
    return estimator


def is_raw_pipeline(estimator: Any) -> bool:
    """A fitted-or-not ``Pipeline`` with at least one preprocessing step."""
    from sklearn.pipeline import Pipeline

    estimator = unfrozen(estimator)
    if not isinstance(estimator, Pipeline) or len(estimator.steps) < 2:
        return False
    return any(
        not (s is None or (isinstance(s, str) and s == "passthrough"))
        for _, s in estimator.steps[:-1]
    )


def _feature_names(X: Any) -> list[str]:
    if hasattr(X, "columns"):
        return [str(c) for c in X.columns]
    return [f"x{j}" for j in range(np.asarray(X).shape[1])]


def _positions(spec: Any, names: list[str], param: str) -> list[int]:
    if spec is None:
        return []
    if isinstance(spec, (str, Integral)):
        spec = [spec]
    out = []
    for key in spec:
        if isinstance(key, (Integral, np.integer)) and not isinstance(key, bool):
            if not -len(names) <= int(key) < len(names):
                raise ConstraintError(
                    f"{param} refers to column index {int(key)}, but X has "
                    f"{len(names)} columns."
                )
            out.append(int(key) % len(names))
        elif isinstance(key, str) and key in names:
            out.append(names.index(key))
        else:
            raise ConstraintError(
                f"{param} refers to unknown column {key!r}; valid column names "
                f"are {names}."
            )
    return sorted(set(out))


class _Columns:
    """A raw input's columns as numpy arrays, each converted once per call.

    :meth:`TabularSpace.encode`, :meth:`~TabularSpace.violations` and
    :meth:`~TabularSpace.column_changes` read every column, some twice; on a
    one-row frame ``X.iloc[:, j]`` and the conversion cost tens of
    microseconds a column, most of such a call. The arrays are read-only: a
    caller that wants to change one copies it.
    """

    __slots__ = ("X", "_series", "_arrays")

    def __init__(self, X: Any) -> None:
        self.X = X
        self._series = [col for _, col in X.items()] if hasattr(X, "iloc") else None
        self._arrays: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.X)

    def column(self, j: int) -> np.ndarray:
        out = self._arrays.get(j)
        if out is None:
            if self._series is not None:
                out = _series_values(self._series[j])
            else:
                out = np.array(np.asarray(self.X)[:, j])
            out.flags.writeable = False
            self._arrays[j] = out
        return out


def _columns(X: Any) -> Any:
    """``X`` with its columns read once (:class:`_Columns`)."""
    return X if isinstance(X, _Columns) else _Columns(X)


def _series_values(col: Any) -> np.ndarray:
    """A column (Series) as :func:`_values` gives it."""
    import pandas as pd

    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = np.asarray(col.array.codes)
        if codes.size and codes.min() >= 0:  # no missing value: categories by code
            return dtype.categories.to_numpy(dtype=object)[codes]
        return col.to_numpy(dtype=object)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    return col.to_numpy(dtype=object)


def _values(X: Any, j: int) -> np.ndarray:
    """Column ``j`` as a numpy array: float64 for numeric (non-bool) columns
    with NaN for missing values, object otherwise."""
    if isinstance(X, _Columns):
        return X.column(j)
    if hasattr(X, "iloc"):
        return _series_values(X.iloc[:, j])
    return np.asarray(X)[:, j]


def _missing_mask(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def _as_float(values: np.ndarray, name: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Column {name!r} must be numeric for the pipeline's numeric steps; "
            f"got values such as {values[:3].tolist()}."
        ) from exc
    if not np.isfinite(x).all():
        raise ValueError(
            f"Column {name!r} holds infinite values; counterfactuals need finite "
            "inputs."
        )
    return x


def _as_float_lenient(values: np.ndarray) -> np.ndarray:
    """Numbers as float64, NaN for anything else (for checking only)."""
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    import pandas as pd

    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def _is_range(value: Any) -> bool:
    """A ``(low, high)`` tuple of numbers or None."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(
            v is None or (isinstance(v, (Real, np.number)) and not isinstance(v, bool))
            for v in value
        )
    )


def _are_numbers(categories: list) -> bool:
    real = [c for c in categories if not _is_missing(c)]
    return bool(real) and all(
        isinstance(c, (Real, np.number)) and not isinstance(c, (bool, np.bool_))
        for c in real
    )


def _resolution(dtype: Any, x: np.ndarray) -> np.ndarray:
    """One unit in the last place of ``x`` stored as a float ``dtype`` (else 0)."""
    np_dtype = getattr(dtype, "numpy_dtype", dtype)
    if not (isinstance(np_dtype, np.dtype) and np_dtype.kind == "f"):
        return np.zeros_like(x)
    with np.errstate(invalid="ignore"):
        ulp = np.spacing(np.abs(np.nan_to_num(x)).astype(np_dtype))
    return ulp.astype(np.float64)


def _equal(a: Any, b: Any) -> bool:
    if _is_missing(a) and _is_missing(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _equal_values(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import pandas as pd

    ma, mb = np.asarray(pd.isna(a), bool), np.asarray(pd.isna(b), bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            eq = np.asarray(a == b, dtype=bool)
            if eq.shape != ma.shape:
                raise TypeError
        except (TypeError, ValueError):  # exotic objects: one by one
            eq = np.array([_equal(x, y) for x, y in zip(a, b)], dtype=bool)
    return (eq & ~ma & ~mb) | (ma & mb)


def _category_index(values: np.ndarray, categories: list) -> np.ndarray:
    """Slot of each value among ``categories`` (-1 where unseen)."""
    return np.asarray(_lookup_index(categories).get_indexer(_lookup_index(values)))


def _lookup_index(items: Any) -> Any:
    """An object index of ``items`` where None, NaN and pd.NA all match NaN."""
    import pandas as pd

    arr = _object_array(items)
    arr[_missing_mask(arr)] = np.nan
    return pd.Index(arr, dtype=object)


def _known_index(info: ColumnInfo) -> Any:
    """The index of ``info``'s categories, built once per column."""
    known = getattr(info, "_known", None)
    if known is None:
        known = _lookup_index(info.categories or [])
        object.__setattr__(info, "_known", known)
    return known


#: up to this many values :func:`_slots` looks them up in a dict: a pandas
#: index costs tens of microseconds to build, most of a one-row call's lookup
_DICT_LOOKUP_BELOW = 64


def _known_map(info: ColumnInfo) -> tuple[dict, int] | None:
    """``({category: slot}, slot of the missing category or -1)``, built once
    per column; None when a category cannot be hashed (pandas decides)."""
    if hasattr(info, "_known_map"):
        return info._known_map  # type: ignore[attr-defined]
    cats = _object_array(info.categories or [])
    missing = _missing_mask(cats)
    table: dict = {}
    nan_slot = -1
    known: tuple[dict, int] | None
    try:
        for i, (c, miss) in enumerate(zip(cats, missing)):
            if miss:
                nan_slot = i if nan_slot < 0 else nan_slot
            else:
                table.setdefault(c, i)
        known = (table, nan_slot)
    except TypeError:
        known = None
    object.__setattr__(info, "_known_map", known)
    return known


def _slots(info: ColumnInfo, values: np.ndarray) -> np.ndarray:
    """Slot of each value among ``info``'s categories (-1 where unseen), with
    the categories' index built once (:func:`_known_index`). None, NaN and
    pd.NA all match a missing category; other values match by Python
    equality, as in a pandas object index."""
    known = _known_map(info) if len(values) < _DICT_LOOKUP_BELOW else None
    if known is not None:
        table, nan_slot = known
        keys = _object_array(values)
        missing = _missing_mask(keys)
        try:
            found = [
                nan_slot if miss else table.get(v, -1) for v, miss in zip(keys, missing)
            ]
        except TypeError:  # an unhashable value: pandas decides
            pass
        else:
            return np.asarray(found, dtype=np.intp)
    return np.asarray(_known_index(info).get_indexer(_lookup_index(values)))


def _plain(values: Any) -> list:
    """Values as plain Python scalars, for messages (``2``, not ``np.int64(2)``)."""
    return [v.item() if isinstance(v, np.generic) else v for v in values or []]


def _has_missing(categories: list | None) -> bool:
    """Whether an encoder knows missing values as a category of their own."""
    return any(_is_missing(c) for c in categories or [])


def _object_array(values: Any) -> np.ndarray:
    """A 1-D object array of ``values`` (never a 2-D array of sequences)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _category_slots(info: ColumnInfo, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Known category of each search row, and the rows that keep the factual's.

    The unknown slot (or unknown code) is never a destination (the engine
    bounds it at 0): a row on it keeps the factual's own value, which is how
    a factual's unseen category survives decoding. It never decodes to a
    missing value.
    """
    n_known = len(info.categories or [])
    keep = np.zeros(len(z), dtype=bool)
    if info.kind == "ordinal":
        codes = np.asarray(info.codes, dtype=np.float64)
        dist = np.abs(z[:, :1] - codes[None, :])
        k = dist.argmin(axis=1)
        u = info.unknown_code
        if info.unknown and u is not None and np.isfinite(u):
            keep = np.abs(z[:, 0] - u) < dist.min(axis=1)
        return k, keep
    k = z[:, :n_known].argmax(axis=1)
    if info.unknown:
        keep = z.argmax(axis=1) == n_known
    return k, keep


def _unseen_message(info: ColumnInfo, values: np.ndarray) -> str:
    shown = sorted({str(v) for v in values})[:5]
    return (
        f"Column {info.name!r} holds categories the pipeline never saw: {shown}; "
        f"known categories are {_plain(info.categories)}. Set "
        "handle_unknown='ignore' in the encoder, or drop these rows."
    )


def _assign(out: Any, rows: np.ndarray, j: int, values: Any, frame: bool) -> None:
    if not frame:
        out[rows, j] = np.asarray(values).astype(out.dtype, copy=False)
        return
    import pandas as pd

    col = out.iloc[:, j]
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        new = pd.Categorical(values, categories=dtype.categories, ordered=dtype.ordered)
        series = col.copy()
        series.iloc[rows] = new
    elif pd.api.types.is_bool_dtype(dtype):
        series = col.copy()
        series.iloc[rows] = np.asarray(values, dtype=np.float64) > 0.5
    elif pd.api.types.is_numeric_dtype(dtype):
        series = col.copy()
        x = np.asarray(values, dtype=np.float64)
        if pd.api.types.is_integer_dtype(dtype):
            nan = np.isnan(x)  # a missing category of a nullable column
            ints = pd.array(np.round(np.where(nan, 0.0, x)).astype(np.int64))
            ints[nan] = pd.NA
            series.iloc[rows] = ints.astype(dtype)
        else:
            series.iloc[rows] = pd.array(x).astype(dtype)
    else:
        series = col.astype(object)
        series.iloc[rows] = np.asarray(values, dtype=object)
        series = series.astype(dtype)
    out.isetitem(j, series)


def _dtype_domain(dtype: Any) -> tuple[float, float]:
    """The range of values a column of ``dtype`` can hold (bool: ``(0, 1)``)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return 0.0, 1.0
    if pd.api.types.is_integer_dtype(dtype) and not isinstance(
        dtype, pd.CategoricalDtype
    ):
        info = np.iinfo(getattr(dtype, "numpy_dtype", dtype))
        hi = float(info.max)
        if int(hi) > info.max:  # 2**63 - 1 rounds up to 2**63 as a float
            hi = float(np.nextafter(hi, 0.0))
        return float(info.min), hi
    return -np.inf, np.inf


def _column_info(
    X: Any,
    j: int,
    name: str,
    role: _Role | None,
    start: int,
    as_cat: bool,
    as_int: bool,
) -> ColumnInfo:
    import pandas as pd

    dtype = X.dtypes.iloc[j] if hasattr(X, "dtypes") else np.asarray(X).dtype
    if role is None:
        return ColumnInfo(name, "unused", np.zeros(0, dtype=np.int64), dtype=dtype)
    values = _values(X, j)
    missing = _missing_mask(values)
    if missing.any() and role.filled:
        values = np.where(missing, np.asarray([role.fill], dtype=object), values)
        missing = _missing_mask(values)
    if role.kind == "numeric" or not _has_missing(role.categories):
        values = values[~missing]  # else missing is a category the encoder knows
    if role.kind == "numeric":
        x = _as_float(values, name)
        is_int = as_int or (
            pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        )
        center = float(x.mean()) if x.size else 0.0
        std = float(x.std()) if x.size else 0.0
        scale = std if np.isfinite(std) and std > 1e-12 else 1.0
        mad = float(np.median(np.abs(x - np.median(x)))) if x.size else 0.0
        return ColumnInfo(
            name,
            "numeric",
            np.array([start]),
            center=center,
            scale=scale,
            integer=bool(is_int),
            dtype=dtype,
            std=std if np.isfinite(std) else 0.0,
            fill=role.fill,
            filled=role.filled,
            lower=float(x.min()) if x.size else -np.inf,
            upper=float(x.max()) if x.size else np.inf,
            mad=mad if mad > 1e-12 else scale,
            domain=_dtype_domain(dtype),
        )
    cats = list(role.categories or [])
    counts = np.bincount(
        np.maximum(_category_index(values, cats), 0), minlength=len(cats)
    )[: len(cats)].astype(np.float64)
    frequency = (counts + 1.0) / (counts.sum() + len(cats))
    ordered, rank = False, np.arange(len(cats), dtype=np.float64)
    by_dtype = isinstance(dtype, pd.CategoricalDtype) and bool(dtype.ordered)
    if isinstance(dtype, pd.CategoricalDtype) and by_dtype:  # its own order
        order = list(dtype.categories)
        ordered = all(any(_equal(c, o) for o in order) for c in cats)
        if ordered:
            rank = np.array(
                [next(i for i, o in enumerate(order) if _equal(c, o)) for c in cats],
                dtype=np.float64,
            )
    elif (
        cats
        and not _has_missing(cats)
        and (_are_numbers(cats) or all(isinstance(c, (bool, np.bool_)) for c in cats))
    ):  # numbers (and bools) are ordered by value, however they are encoded
        ordered = True
        rank = np.argsort(np.argsort(np.asarray(cats, dtype=np.float64))).astype(
            np.float64
        )
    if role.kind == "ordinal" and not as_cat:
        codes = np.asarray(role.codes, dtype=np.float64)
        if np.unique(codes).size != codes.size:
            as_cat = True  # infrequent categories share a code: search categories
        else:
            # codes are ordered; an ordered pandas Categorical must agree
            by_code = rank[np.argsort(codes)]
            agrees = not (by_dtype and ordered) or bool(np.all(np.diff(by_code) > 0))
            return ColumnInfo(
                name,
                "ordinal",
                np.array([start]),
                integer=True,
                categories=cats,
                unknown=role.unknown,
                ordered=agrees,
                rank=codes,
                codes=codes,
                unknown_code=role.unknown_code,
                fill=role.fill,
                filled=role.filled,
                dtype=dtype,
                frequency=frequency,
            )
    width = len(cats) + int(role.unknown)
    return ColumnInfo(
        name,
        "categorical",
        np.arange(start, start + width),
        categories=cats,
        unknown=role.unknown,
        ordered=ordered,
        rank=rank,
        codes=role.codes,
        unknown_code=role.unknown_code,
        fill=role.fill,
        filled=role.filled,
        dtype=dtype,
        frequency=frequency,
    )


class MappedEstimator:
    """A black-box final estimator seen from the search space.

    ``predict_proba(Z)`` runs the compiled preprocessing in numpy, then the
    pipeline's final estimator: no DataFrame round trip per call, which
    gradient-free searches make thousands of times.
    """

    def __init__(self, estimator: Any, space: TabularSpace) -> None:
        self.estimator = estimator
        self.space = space
        self.classes_ = getattr(estimator, "classes_", None)

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        X = self.space.model_input(Z)
        names = getattr(self.estimator, "feature_names_in_", None)
        if names is not None:
            import pandas as pd

            X = pd.DataFrame(X, columns=names)
        return np.asarray(self.estimator.predict_proba(X), dtype=np.float64)


def check_group_columns(columns: Any, label: Any, seen: set) -> None:
    """A one-hot group has 2 columns or more and shares none with another.

    ``seen`` collects the columns of the groups checked so far.
    """
    columns = [int(j) for j in columns]
    if len(columns) < 2:
        raise ConstraintError(
            f"A categorical group needs at least 2 one-hot columns, got {label!r}."
        )
    if seen & set(columns):
        raise ConstraintError(
            f"Categorical groups overlap on {sorted(seen & set(columns))}."
        )
    seen |= set(columns)


def check_onehot_values(block: np.ndarray, label: Any) -> None:
    """Each row of ``block`` (a group's columns) is 0/1 with exactly one 1."""
    block = np.asarray(block, dtype=np.float64)
    if not (np.isin(block, (0.0, 1.0)).all() and np.allclose(block.sum(axis=1), 1)):
        raise ConstraintError(
            f"Categorical group {label!r} is not one-hot in X (each row needs "
            "exactly one 1 and zeros elsewhere)."
        )


def _check_onehot_blocks(X: Any, blocks: list, columns: list, names: list) -> None:
    """``categorical`` groups of input columns must be numeric one-hot blocks."""
    seen: set = set()
    for block in blocks:
        label = [names[j] for j in block]
        check_group_columns(block, label, seen)
        unused = [names[j] for j in block if columns[j].kind == "unused"]
        if unused:
            raise ConstraintError(
                f"categorical group {label} holds {unused}, which the pipeline "
                "never uses; a group lists input columns that already are one-hot "
                "(0/1, one 1 per row) and that the model sees."
            )
        if any(columns[j].kind != "numeric" for j in block):
            raise ConstraintError(
                f"categorical group {label} holds columns the pipeline encodes "
                "itself; a group lists input columns that already are one-hot "
                "(0/1, one 1 per row). To tie numeric columns to a categorical "
                "column that encodes the same fact, list the categorical column "
                "first: categorical=[('education', 'education-num')]."
            )
        values = np.column_stack([_as_float_lenient(_values(X, j)) for j in block])
        check_onehot_values(values, label)


# ------------------------------------------------------------------- links
def _split_entries(
    categorical: Any, names: list[str], roles: dict
) -> tuple[list[list[int]], dict[int, list[int]]]:
    """``categorical``'s tuple entries: one-hot blocks and links.

    An entry whose first column the pipeline encodes (one-hot or ordinal) is
    a link ``{driver: [linked numeric columns]}``; any other is a block of
    input columns that already are one-hot.
    """
    blocks: list[list[int]] = []
    links: dict[int, list[int]] = {}
    for entry in categorical or []:
        if not isinstance(entry, (list, tuple)):
            continue
        cols = [_positions([c], names, "categorical")[0] for c in entry]
        role = roles.get(cols[0]) if cols else None
        if role is None or role.kind == "numeric":
            blocks.append(sorted(set(cols)))
            continue
        label = [names[j] for j in cols]
        driver = names[cols[0]]
        if len(cols) < 2:
            raise ConstraintError(
                f"categorical entry {label} links {driver!r} to nothing; a link "
                "lists a categorical column followed by the numeric columns that "
                f"encode the same fact, e.g. ({driver!r}, '{driver}-num'). To "
                f"search an ordinal-encoded column as categories, pass "
                f"categorical=[{driver!r}]."
            )
        for j in cols[1:]:
            have = roles.get(j)
            if have is None or have.kind != "numeric":
                what = "never uses" if have is None else f"encodes itself ({have.kind})"
                raise ConstraintError(
                    f"categorical entry {label} links {driver!r} to {names[j]!r}, "
                    f"which the pipeline {what}; a link ties one encoded column "
                    "(first) to numeric columns the pipeline scales or passes "
                    "through."
                )
        links.setdefault(cols[0], []).extend(cols[1:])
    linked = [j for cols in links.values() for j in cols]
    twice = {j for j in linked if linked.count(j) > 1}
    twice |= set(linked) & (set(links) | {j for block in blocks for j in block})
    if twice:
        raise ConstraintError(
            f"categorical links overlap on {[names[j] for j in sorted(twice)]}: a "
            "linked numeric column follows one categorical column only, once, "
            "and is neither a link's first column nor in a one-hot group."
        )
    return blocks, links


def _filled_values(X: Any, j: int, info: ColumnInfo) -> np.ndarray:
    """Column ``j`` with missing values imputed as the pipeline does."""
    values = _values(X, j)
    if info.filled:
        missing = _missing_mask(values)
        if missing.any():
            values = np.where(missing, np.asarray([info.fill], dtype=object), values)
    return values


def _number(x: float, info: ColumnInfo) -> float | int:
    """``x`` for a message: an int for an integer column (``9``, not ``9.0``)."""
    x = float(x)
    return int(x) if info.integer and x.is_integer() else x


def _link_tol(info: ColumnInfo, x: np.ndarray) -> np.ndarray:
    """Float tolerance of a linked column's values (as in ``violations``)."""
    return 1e-9 * info.scale + _resolution(info.dtype, x)


def _link_values(X: Any, columns: list, d: int, j: int) -> np.ndarray:
    """Column ``j``'s value per category of column ``d`` on the rows of ``X``.

    NaN for a category without rows; a ``ConstraintError`` names a category
    whose rows hold several values.
    """
    drv, info = columns[d], columns[j]
    cats = list(drv.categories or [])
    k = _category_index(_filled_values(X, d, drv), cats)
    x = _as_float_lenient(_filled_values(X, j, info))
    ok = (k >= 0) & np.isfinite(x)
    out = np.full(len(cats), np.nan)
    for c in range(len(cats)):
        v = x[ok & (k == c)]
        if not v.size:
            continue
        values, counts = np.unique(v, return_counts=True)
        if values[-1] - values[0] > _link_tol(info, values[-1:])[0]:
            shown: list = [_number(x, info) for x in values[:5]]
            shown += ["..."] if len(values) > 5 else []
            raise ConstraintError(
                f"categorical links {drv.name!r} to {info.name!r}, but "
                f"{info.name!r} is not a function of {drv.name!r} in X: rows "
                f"with {drv.name}={_plain([cats[c]])[0]!r} hold {info.name} "
                f"values {shown}. A link needs one {info.name!r} value per "
                f"{drv.name!r} category; fix the data or drop the link."
            )
        out[c] = values[counts.argmax()]
    return out


def _dense_rank(values: np.ndarray) -> np.ndarray:
    """0, 1, ... by value (ties share a rank); -1 where NaN."""
    out = np.full(len(values), -1.0)
    finite = np.isfinite(values)
    if finite.any():
        out[finite] = np.unique(values[finite], return_inverse=True)[1]
    return out


def _merge_directions(sources: list, known: np.ndarray, driver: str) -> tuple:
    """One ``(rank, direction)`` that allows exactly what every source allows.

    ``sources`` holds ``(rank, direction, name)`` per directed column of a
    link. Moves allowed by all of them form one order only if one source's
    order is at least as fine as every other's (it then implies them); else
    the directions conflict.
    """
    for rank, direction, _ in sources:
        r = direction * rank[known]
        ok = True
        for other, other_dir, _ in sources:
            o = other_dir * other[known]
            implied = ~(r[:, None] <= r[None, :]) | (o[:, None] <= o[None, :])
            ok = ok and bool(implied.all())
        if ok:
            return rank, direction
    named = [f"{name} ({'up' if d > 0 else 'down'})" for _, d, name in sources]
    raise ConstraintError(
        f"Directions on {named} order the categories of {driver!r} in "
        "conflicting ways, so no move satisfies them all; keep the direction on "
        "one of these columns."
    )


def fold_into_first_layer(model: Any, sample: np.ndarray) -> Any:
    """The compiled map folded into the network's first linear layer.

    ``model`` is a :class:`~skcf.models.DifferentiableModel` whose only
    preprocessing is the compiled :class:`_LinearMap`. When the network
    starts with an ``nn.Linear`` (skcf's MLP, sklearn's linear models and
    MLPClassifier, an ``nn.Sequential``), ``linear(z @ W + c)`` is one linear
    layer on the search space: a copy of the network with that layer
    replaced runs one matmul fewer per forward and backward pass. The folded
    model must give the same logits on ``sample`` (search-space rows); else,
    or for any other network, ``model`` is returned as it is.
    """
    import copy

    from ._adapters import DifferentiableModel

    if len(model.preprocess) != 1 or not isinstance(model.preprocess[0], _LinearMap):
        return model
    found = _first_linear(model.module)
    if found is not None:
        module = copy.deepcopy(model.module)  # never the user's own network
        parent, name = _first_linear(module) or (None, "")
    else:
        # any other plain Linear/ReLU stack (a user's own module whose
        # forward is ``self.net(x)``, traced by the engine) becomes an
        # nn.Sequential copy of its layers
        from .._engine._solve import _plain_layers

        layers = _plain_layers(model.module)
        if not layers or type(layers[0]) is not nn.Linear:
            return model
        module = nn.Sequential(*copy.deepcopy(layers))
        parent, name = module, "0"
    lin = module if parent is None else getattr(parent, str(name))
    step = model.preprocess[0]
    with torch.no_grad():
        W = step.weight.to(torch.float64)
        b = step.bias.to(torch.float64)
        w1 = lin.weight.to(torch.float64)
        b1 = torch.zeros(w1.shape[0], dtype=torch.float64, device=w1.device)
        if lin.bias is not None:
            b1 = lin.bias.to(torch.float64)
        new = nn.Linear(W.shape[0], w1.shape[0], dtype=lin.weight.dtype)
        new = new.to(lin.weight.device)
        new.weight.copy_((w1 @ W.T).to(lin.weight.dtype))
        new.bias.copy_((b1 + b @ w1.T).to(lin.weight.dtype))
    if parent is None:
        module = new
    else:
        setattr(parent, str(name), new)
    folded = DifferentiableModel(
        module,
        output=model.output,
        classes=model.classes,
        device=model.device,
    )
    rows = np.asarray(sample)[:256]
    if len(rows):
        with torch.no_grad():
            z = torch.as_tensor(rows, device=model.device, dtype=model.dtype)
            a, f = model.logits(z), folded.logits(z)
        tol = 1e-4 if model.dtype == torch.float32 else 1e-9
        if not torch.allclose(a, f, rtol=tol, atol=tol * (1 + float(a.abs().max()))):
            return model
    return folded


def _first_linear(module: nn.Module) -> tuple[Any, Any] | None:
    """``(parent, attribute)`` of the layer a network applies first, if linear.

    ``(None, None)`` when the network is that layer. Only structures whose
    forward is known to start there: ``nn.Linear``, ``nn.Sequential`` and
    the networks that wrap one as ``net`` (skcf's MLP, the sklearn adapters).
    """
    from ._adapters import _SklearnLinear, _SklearnMLP
    from ._mlp import MLP

    if type(module) is nn.Linear:
        return None, None
    if isinstance(module, _SklearnLinear):
        return module, "linear"
    if type(module) in (MLP, _SklearnMLP):
        net = module.net
        inner = _first_linear(net) if isinstance(net, nn.Module) else None
        if inner is None:
            return None
        return (module, "net") if inner == (None, None) else inner
    if type(module) is nn.Sequential and len(module):
        first = module[0]
        if type(first) is nn.Linear:
            return module, "0"
        return _first_linear(first) if isinstance(first, nn.Module) else None
    return None
