"""Loaders for real tabular data sets used to benchmark counterfactuals.

Every loader reads a local copy of the data (only German credit ships with
skcf), checks its sha256 before parsing and returns a
:class:`~sklearn.utils.Bunch` that also carries the actionability metadata
(immutable, one-directional, categorical and integer columns) in the form the
generators take as keyword arguments. There are two roads:

- ``as_frame=False`` (default), the encoded road: a float64 array with the
  categorical columns one-hot encoded and, optionally, the numeric ones
  standardised; actionability by column index.
- ``as_frame=True``, the raw road: a DataFrame of the features in their
  original units (integer columns int64, categorical columns ``category``
  dtype, ordered where the values have a real order), for a pipeline that
  does its own encoding; actionability by original column name, and the
  ``categorical_features`` and ``numeric_features`` lists to build a
  :class:`~sklearn.compose.ColumnTransformer`.

Nothing is downloaded unless ``download_if_missing=True`` is passed explicitly.
"""

import gzip
import hashlib
import io
import os
import re
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..utils._optional import import_optional
from ..utils._sklearn_compat import StrOptions, validate_params

__all__ = [
    "load_adult",
    "load_ctg",
    "load_fashion_mnist_tshirt_trouser",
    "load_german_credit",
    "load_heloc",
    "load_taiwan_credit",
]

DATA_HOME_ENV = "SKCF_DATA_HOME"

_EMBEDDED_DIR = Path(__file__).resolve().parent / "data"

# sha256 of every file as stored (from shared/data/<folder>/README.md).
_FILES = {
    "german_credit": {
        "german.data": (
            "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871"
        ),
    },
    "adult": {
        "adult.data.gz": (
            "c7a2b4716a97f930123e0baf879188d701e798172631a654fc703d4b082907f3"
        ),
        "adult.test.gz": (
            "8a2c1bffa6e7ce5abfa43881ae5e87c4311ebc2b3cd526c9c40a43f19f06f799"
        ),
    },
    "heloc": {
        "heloc_dataset_v1.csv": (
            "f66d77f4e4e27c11205ba6258008f5e071f1f09724f4893e9ff2840a4e99f259"
        ),
    },
    "taiwan_credit": {
        "default_of_credit_card_clients.csv.gz": (
            "fad968254e68183c43ebbe35adfa588c0e5073a816b811495646f511d79a0472"
        ),
    },
    "ctg": {
        "ctg.csv": "328e7c0bdae051d6a0c23085e254f25d161638192fbcab52715dca74f658c3d8",
    },
    "fashion_mnist_tshirt_trouser": {
        "fmnist_t10k_tshirt_trouser.csv.gz": (
            "714828ed6b32596b03edef955a6a4c88310e0fee0cb51327d6ca34a42012b40f"
        ),
    },
}

# Files that ship inside the package (looked up after data_home and the
# environment variable).
_EMBEDDED = {("german_credit", "german.data"): _EMBEDDED_DIR / "german.data"}

# OpenML copies used only with download_if_missing=True.
_OPENML_IDS = {"adult": 1590, "taiwan_credit": 42477}

_COMMON_PARAMS = {
    "data_home": [str, os.PathLike, None],
    "return_X_y": ["boolean"],
    "as_frame": ["boolean"],
    "standardize": ["boolean"],
    "download_if_missing": ["boolean"],
}


# --------------------------------------------------------------------------
# Locating and verifying files
# --------------------------------------------------------------------------


def _sha256(content):
    return hashlib.sha256(content).hexdigest()


def _base_dirs(data_home):
    """Folders to search, in order: ``data_home``, then ``$SKCF_DATA_HOME``."""
    bases = []
    if data_home is not None:
        bases.append(Path(os.fspath(data_home)).expanduser())
    env = os.environ.get(DATA_HOME_ENV)
    if env:
        bases.append(Path(env).expanduser())
    return bases


def _candidates(folder, filename, data_home):
    paths = []
    for base in _base_dirs(data_home):
        paths.append(base / folder / filename)
        paths.append(base / filename)
    embedded = _EMBEDDED.get((folder, filename))
    if embedded is not None:
        paths.append(embedded)
    return paths


def _not_found(folder, filename, tried, data_home, *, hint=""):
    tried_str = ", ".join(repr(str(p)) for p in tried) or "none"
    env = os.environ.get(DATA_HOME_ENV)
    return FileNotFoundError(
        f"Could not find the data file {filename!r} of the {folder!r} data set. "
        f"Paths tried: {tried_str}. Put the file, or a {folder!r} folder holding "
        f"it, in the folder passed as data_home (got {data_home!r}) or in the "
        f"folder named by the {DATA_HOME_ENV} environment variable (currently "
        f"{env!r}). Expected sha256: {_FILES[folder][filename]}.{hint}"
    )


def _read_verified(folder, filename, data_home):
    """Return ``(content, path)`` of a verified file, or ``(None, tried)``."""
    tried = _candidates(folder, filename, data_home)
    for path in tried:
        if path.is_file():
            content = path.read_bytes()
            expected = _FILES[folder][filename]
            got = _sha256(content)
            if got != expected:
                raise ValueError(
                    f"The sha256 of the data file {filename!r} at {str(path)!r} "
                    f"does not match: expected {expected}, got {got}. The file is "
                    "corrupted or a different version; replace it with the "
                    "verified copy described in the data set's README."
                )
            return content, path
    return None, tried


def _load_bytes(folder, filename, data_home, download_if_missing):
    """Verified bytes of one file, or None when a download should be tried."""
    content, tried = _read_verified(folder, filename, data_home)
    if content is not None:
        return content
    if download_if_missing and folder in _OPENML_IDS:
        return None
    hint = ""
    if download_if_missing:
        hint = f" No download source is configured for {folder!r}."
    elif folder in _OPENML_IDS:
        hint = (
            " Or pass download_if_missing=True to fetch a copy from OpenML "
            "(needs network access)."
        )
    raise _not_found(folder, filename, tried, data_home, hint=hint)


def _fetch_openml_frame(folder, data_home):
    from sklearn.datasets import fetch_openml

    cache = _base_dirs(data_home)
    bunch = fetch_openml(
        data_id=_OPENML_IDS[folder],
        data_home=str(cache[0]) if cache else None,
        as_frame=True,
        parser="auto",
    )
    return bunch.frame


def _decompress(content, filename):
    return gzip.decompress(content) if filename.endswith(".gz") else content


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------


def _natural_key(value):
    """Sort key putting 'A9' before 'A10' and numbers in numeric order."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (0, float(value), "")
    parts = re.split(r"(\d+)", str(value))
    return (1, 0.0, tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts))


def _encode(
    raw,
    *,
    features,
    categories,
    immutable=(),
    increase_only=(),
    decrease_only=(),
    standardize=True,
):
    """One-hot encode and standardise ``raw[features]``.

    ``categories`` maps each categorical column to its list of categories, or
    to None to use the observed values in natural order. Returns the float64
    matrix, the feature names, the actionability dict (column indices), and
    the per-column mean and scale used (0 and 1 where nothing was done).
    """
    arrays, names, means, scales = [], [], [], []
    columns_of = {}
    categorical_groups, integer = [], []
    for feature in features:
        values = raw[feature].to_numpy()
        if feature in categories:
            cats = categories[feature]
            if cats is None:
                cats = sorted(set(values.tolist()), key=_natural_key)
            unknown = set(values.tolist()) - set(cats)
            if unknown:
                raise ValueError(
                    f"Column {feature!r} has unexpected categories "
                    f"{sorted(map(str, unknown))}; expected one of {list(cats)}."
                )
            start = len(names)
            for cat in cats:
                arrays.append((values == cat).astype(np.float64))
                names.append(f"{feature}={cat}")
                means.append(0.0)
                scales.append(1.0)
            columns_of[feature] = list(range(start, len(names)))
            categorical_groups.append(columns_of[feature])
        else:
            col = values.astype(np.float64)
            mean, scale = 0.0, 1.0
            if standardize:
                mean = float(col.mean())
                std = float(col.std())
                scale = std if std > 0 else 1.0
                col = (col - mean) / scale
            elif np.all(col == np.round(col)):
                integer.append(len(names))
            columns_of[feature] = [len(names)]
            arrays.append(col)
            names.append(feature)
            means.append(mean)
            scales.append(scale)
    X = np.column_stack(arrays) if arrays else np.empty((len(raw), 0))

    def numeric(cols):
        return [columns_of[c][0] for c in cols if c not in categories]

    actionability = {
        "immutable": sorted(i for c in immutable for i in columns_of[c]),
        "increase_only": numeric(increase_only),
        "decrease_only": numeric(decrease_only),
        "categorical": categorical_groups,
        "integer": integer,
    }
    return (
        np.ascontiguousarray(X, dtype=np.float64),
        names,
        actionability,
        np.asarray(means),
        np.asarray(scales),
    )


def _raw_features(raw, *, features, categories, ordered, na_values):
    """``raw[features]`` in original units, for ``as_frame=True``.

    Categorical columns become ``category`` dtype: the categories are
    ``ordered[feature]`` (ordered), else ``categories[feature]``, else the
    observed values in natural order; ``na_values`` become NaN and strings are
    stripped. Numeric columns stay int64 where the file holds integers, else
    they become float64.
    """
    pd = import_optional("pandas")
    columns = {}
    for feature in features:
        values = raw[feature].reset_index(drop=True)
        if feature not in categories:
            is_int = pd.api.types.is_integer_dtype(values.dtype)
            columns[feature] = values.to_numpy(dtype=np.int64 if is_int else np.float64)
            continue
        if pd.api.types.is_string_dtype(values.dtype):
            values = values.str.strip()
        if na_values:
            values = values.where(~values.isin(list(na_values)))
        cats = ordered.get(feature) or categories[feature]
        observed = set(values.dropna().tolist())
        if cats is None:
            cats = sorted(observed, key=_natural_key)
        cats = [cat for cat in cats if cat not in na_values]
        unknown = observed - set(cats)
        if unknown:
            raise ValueError(
                f"Column {feature!r} has unexpected categories "
                f"{sorted(map(str, unknown))}; expected one of {cats}."
            )
        columns[feature] = pd.Categorical(
            values, categories=cats, ordered=feature in ordered
        )
    return pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))


def _finish_frame(
    raw,
    y,
    *,
    features,
    categories,
    ordered,
    na_values,
    immutable,
    increase_only,
    decrease_only,
    target_name,
    target_names,
    descr,
    return_X_y,
    linked=(),
):
    """Bunch of the raw road (``as_frame=True``): features in original units.

    ``linked`` lists columns that encode one fact (a categorical column, then
    numeric columns determined by it); they reach the actionability as
    ``categorical`` links, so a generator moves them together.
    """
    pd = import_optional("pandas")
    X = _raw_features(
        raw,
        features=features,
        categories=categories,
        ordered=ordered,
        na_values=na_values,
    )
    y = pd.Series(y, name=target_name, index=X.index)
    if return_X_y:
        return X, y
    categorical = [c for c in features if c in categories]
    numeric = [c for c in features if c not in categories]

    def one_directional(cols):
        # An unordered categorical has no direction to move in.
        return [
            c for c in features if c in cols and (c not in categories or c in ordered)
        ]

    actionability = {
        "immutable": [c for c in features if c in immutable],
        "increase_only": one_directional(increase_only),
        "decrease_only": one_directional(decrease_only),
        "integer": [c for c in numeric if X[c].dtype == np.int64],
    }
    links = [tuple(link) for link in linked if set(link) <= set(features)]
    if links:
        actionability["categorical"] = links
    return Bunch(
        data=X,
        target=y,
        frame=pd.concat([X, y], axis=1),
        raw_frame=raw,
        feature_names=list(features),
        categorical_features=categorical,
        numeric_features=numeric,
        target_names=np.asarray(target_names),
        DESCR=descr,
        actionability=actionability,
        feature_mean=None,
        feature_scale=None,
    )


def _finish(
    raw,
    y,
    *,
    features,
    categories,
    ordered=None,
    na_values=(),
    immutable=(),
    increase_only=(),
    decrease_only=(),
    linked=(),
    target_name,
    target_names,
    descr,
    return_X_y,
    as_frame,
    standardize,
):
    """Build the loader's return value.

    ``as_frame=False`` encodes ``raw[features]`` (see :func:`_encode`);
    ``as_frame=True`` keeps the original units (see :func:`_raw_features`),
    with ``ordered`` mapping the ordinal categorical columns to their order
    (None: natural order of the observed values) and ``na_values`` the
    markers of a missing category. ``standardize`` only affects the encoding.
    """
    y = np.asarray(y, dtype=np.int64)
    if as_frame:
        return _finish_frame(
            raw,
            y,
            features=features,
            categories=categories,
            ordered=ordered or {},
            na_values=tuple(na_values),
            immutable=immutable,
            increase_only=increase_only,
            decrease_only=decrease_only,
            linked=linked,
            target_name=target_name,
            target_names=target_names,
            descr=descr,
            return_X_y=return_X_y,
        )
    X, names, actionability, mean, scale = _encode(
        raw,
        features=features,
        categories=categories,
        immutable=immutable,
        increase_only=increase_only,
        decrease_only=decrease_only,
        standardize=standardize,
    )
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        frame=None,
        raw_frame=None,
        feature_names=names,
        categorical_features=None,
        numeric_features=None,
        target_names=np.asarray(target_names),
        DESCR=descr,
        actionability=actionability,
        feature_mean=mean,
        feature_scale=scale,
    )


_AS_FRAME_DOC = """
    as_frame : bool, default=False
        If False, ``data`` is the encoded float64 ndarray (one-hot
        categorical columns, numeric columns standardised if
        ``standardize``) and ``actionability`` holds column indices. If True
        (requires pandas), ``data`` is a DataFrame of the features in their
        original units, one column per feature (categorical columns of
        ``category`` dtype), ``target`` a Series, ``frame`` and
        ``raw_frame`` are filled and ``actionability`` holds original column
        names: the input of a pipeline that does its own encoding, such as a
        :class:`~sklearn.compose.ColumnTransformer` over
        ``numeric_features`` and ``categorical_features``.
"""

_RETURNS_DOC = """
    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : {ndarray, DataFrame} of shape (n_samples, n_features)
            If ``as_frame=False``, the encoded features, float64. One-hot
            columns are named ``"<feature>=<category>"`` and are never
            standardised. If ``as_frame=True``, the features in their
            original units: numeric columns are int64 where the file holds
            integers and float64 otherwise; categorical columns are
            ``category`` dtype whose categories are the values of the file
            (ordered for ordinal columns, see Notes).
        target : {ndarray, Series} of shape (n_samples,)
            Integer labels (int64); 1 is the favourable outcome (for the
            three-class CTG target, 0 is normal).
        frame : DataFrame or None
            ``data`` and ``target`` side by side when ``as_frame=True``.
        raw_frame : DataFrame or None
            The parsed file (rows after filtering, every column including the
            label, values as read) when ``as_frame=True``. Kept for backward
            compatibility; ``data`` holds the same features with proper
            dtypes.
        feature_names : list of str
            Names of the columns of ``data``: the encoded columns, or the
            original column names when ``as_frame=True``.
        categorical_features : list of str or None
            The categorical (``category`` dtype) columns of ``data`` when
            ``as_frame=True``, e.g. for a one-hot encoder; None otherwise.
        numeric_features : list of str or None
            The numeric columns of ``data`` when ``as_frame=True``, e.g. for
            a scaler; None otherwise.
        target_names : ndarray of str
            ``target_names[k]`` describes label ``k``.
        DESCR : str
            Short description with source and license.
        actionability : dict
            Keyword arguments for a generator. If ``as_frame=False``:
            ``immutable``, ``increase_only``, ``decrease_only``,
            ``categorical`` (one list per one-hot group) and ``integer``
            (integer-valued numeric columns, empty when ``standardize=True``)
            as column indices; a one-directional feature that is one-hot
            encoded appears only in ``categorical``. If ``as_frame=True``:
            ``immutable``, ``increase_only``, ``decrease_only`` and
            ``integer`` (the int64 numeric columns) as original column names;
            categorical columns are known from their dtype, so
            ``categorical`` only appears to link columns that encode one fact
            (Adult: ``[("education", "education-num")]``, moved together), and
            an ordered categorical may be one-directional (an unordered one
            never is).
        feature_mean, feature_scale : ndarray of shape (n_features,) or None
            What was subtracted and divided per encoded column (0 and 1 for
            one-hot and unstandardised columns): ``data * feature_scale +
            feature_mean`` gives back the raw values. None when
            ``as_frame=True``.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above: ``(ndarray, ndarray)``,
        or ``(DataFrame, Series)`` when ``as_frame=True``.
"""


def _doc(func):
    if func.__doc__ is None:  # python -OO
        return func
    doc = func.__doc__.replace("    __AS_FRAME__\n", _AS_FRAME_DOC.lstrip("\n"))
    func.__doc__ = doc.replace("    __RETURNS__\n", _RETURNS_DOC.lstrip("\n"))
    return func


# --------------------------------------------------------------------------
# German credit
# --------------------------------------------------------------------------

_GERMAN_COLUMNS = [
    ("checking_status", True),
    ("duration", False),
    ("credit_history", True),
    ("purpose", True),
    ("credit_amount", False),
    ("savings_status", True),
    ("employment", True),
    ("installment_rate", False),
    ("personal_status", True),
    ("other_parties", True),
    ("residence_since", False),
    ("property_magnitude", True),
    ("age", False),
    ("other_payment_plans", True),
    ("housing", True),
    ("existing_credits", False),
    ("job", True),
    ("num_dependents", False),
    ("own_telephone", True),
    ("foreign_worker", True),
]

_GERMAN_DESCR = """\
German Credit (UCI Statlog) data set
------------------------------------

1,000 loan applicants described by 20 attributes (7 numeric, 13 categorical
coded with UCI symbols such as ``A11``; see UCI ``german.doc``). Label: credit
risk, 1 = good (favourable, 700 rows), 0 = bad (300 rows; UCI code 2).

Columns (UCI attribute number): checking_status (1), duration (2),
credit_history (3), purpose (4), credit_amount (5), savings_status (6),
employment (7, present employment since), installment_rate (8),
personal_status (9, personal status and sex), other_parties (10),
residence_since (11), property_magnitude (12), age (13),
other_payment_plans (14), housing (15), existing_credits (16), job (17),
num_dependents (18, people liable), own_telephone (19), foreign_worker (20).

Actionability: personal_status and foreign_worker are immutable; age and
residence_since can only increase; employment can only increase too: in the
encoded data it is one-hot encoded, so it is listed only as a categorical
group; in the raw frame (``as_frame=True``) it is an ordered categorical
(A71 < A72 < A73 < A74 < A75) listed as increase-only.

Source: UCI Machine Learning Repository, "Statlog (German Credit Data)",
donated by Prof. Hans Hofmann (Universitaet Hamburg). Hofmann, H. (1994),
https://doi.org/10.24432/C5NC77. License: CC BY 4.0. The copy shipped in
skcf/datasets/data/german.data is the verbatim UCI file.
"""


@validate_params(dict(_COMMON_PARAMS), prefer_skip_nested_validation=True)
@_doc
def load_german_credit(
    *,
    data_home=None,
    return_X_y=False,
    as_frame=False,
    standardize=True,
    download_if_missing=False,
):
    """Load the German credit (UCI Statlog) data set.

    1,000 rows, 20 attributes (7 numeric, 13 categorical, 61 columns once
    one-hot encoded); label 1 = good credit risk (favourable, 700 rows),
    0 = bad (300 rows). A verified copy of the UCI file ships with skcf, so
    this loader always works offline. With ``as_frame=True`` the 20
    attributes are returned as they are in the file: the 7 numeric ones as
    int64, the 13 categorical ones as ``category`` columns of UCI codes
    (``'A11'``, ...).

    The file ``german.data`` is looked up in ``data_home`` (either the file
    itself or a ``german_credit/`` sub-folder holding it), then in the folder
    named by the ``SKCF_DATA_HOME`` environment variable (same layout), then
    in the copy embedded in skcf. Its sha256 is checked before parsing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``german.data`` or ``german_credit/german.data``. If
        None, only ``SKCF_DATA_HOME`` and the embedded copy are used.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    __AS_FRAME__

    standardize : bool, default=True
        If True, z-score the numeric columns of the encoded data (population
        standard deviation over the loaded rows). One-hot columns are never
        scaled. Ignored when ``as_frame=True``: the DataFrame keeps the
        original units.

    download_if_missing : bool, default=False
        Kept for a uniform signature; the embedded copy makes a download
        unnecessary.

    __RETURNS__

    Raises
    ------
    FileNotFoundError
        If no copy of the file is found.
    ValueError
        If the sha256 of the file found does not match.

    See Also
    --------
    load_adult : Adult census income data set.
    load_taiwan_credit : Taiwanese credit card default data set.

    Notes
    -----
    Personal status/sex and foreign worker are immutable (all their one-hot
    columns); age and present residence since are increase-only; present
    employment since is increase-only as well: in the encoded data it is
    one-hot encoded, so it only appears in ``categorical``; in the raw frame
    it is an ordered categorical and appears in ``increase_only``. The
    one-hot columns, and the categories of the raw frame, follow the natural
    order of the UCI codes (``A40``, ``A41``, ..., ``A49``, ``A410``).

    In the raw frame (``as_frame=True``) only ``employment`` is an ordered
    categorical: A71 unemployed < A72 under 1 year < A73 1 to 4 years <
    A74 4 to 7 years < A75 7 years or more. ``savings_status`` (A61 under
    100 DM, A62 100 to 500 DM, A63 500 to 1000 DM, A64 1000 DM or more) and
    ``checking_status`` (A11 under 0 DM, A12 0 to 200 DM, A13 200 DM or
    more) have an order by amount, but each also has a code that fits nowhere
    in it (A65 unknown or no savings account, A14 no checking account), so
    both are unordered. So are the other categorical attributes: the data
    set documents no order for them (``job``, A171 to A174, reads like a
    skill scale but is not documented as ordinal).

    Source: UCI Machine Learning Repository (Hofmann, 1994), license
    CC BY 4.0.

    Examples
    --------
    >>> from skcf.datasets import load_german_credit
    >>> bunch = load_german_credit()
    >>> bunch.data.shape, bunch.target.shape, int(bunch.target.sum())
    ((1000, 61), (1000,), 700)
    >>> bunch.feature_names[:3]
    ['checking_status=A11', 'checking_status=A12', 'checking_status=A13']

    With ``as_frame=True`` the features keep their original units and codes:

    >>> X, y = load_german_credit(return_X_y=True, as_frame=True)
    >>> X.shape, y.name, int(y.sum())
    ((1000, 20), 'class', 700)
    >>> X.dtypes["checking_status"].name, X.loc[0, "checking_status"]
    ('category', 'A11')
    >>> X.dtypes["age"].name, int(X.loc[0, "age"])
    ('int64', 67)
    >>> X["employment"].cat.categories.tolist(), X["employment"].cat.ordered
    (['A71', 'A72', 'A73', 'A74', 'A75'], True)
    >>> bunch = load_german_credit(as_frame=True)
    >>> bunch.actionability["immutable"], bunch.actionability["increase_only"]
    (['personal_status', 'foreign_worker'], ['employment', 'residence_since', 'age'])
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> encoder = ColumnTransformer([
    ...     ("num", StandardScaler(), bunch.numeric_features),
    ...     ("cat", OneHotEncoder(), bunch.categorical_features),
    ... ])
    >>> model = make_pipeline(encoder, LogisticRegression(max_iter=1000))
    >>> model.fit(bunch.data, bunch.target).score(bunch.data, bunch.target) > 0.7
    True
    """
    content = _load_bytes("german_credit", "german.data", data_home, False)
    pd = import_optional("pandas")
    names = [name for name, _ in _GERMAN_COLUMNS]
    dtypes = {name: str for name, is_cat in _GERMAN_COLUMNS if is_cat}
    raw = pd.read_csv(
        io.BytesIO(content),
        sep=" ",
        header=None,
        names=[*names, "class"],
        dtype=dtypes,
    )
    return _finish(
        raw,
        (raw["class"] == 1).to_numpy(),
        features=names,
        categories={name: None for name, is_cat in _GERMAN_COLUMNS if is_cat},
        ordered={"employment": None},
        immutable=["personal_status", "foreign_worker"],
        increase_only=["employment", "residence_since", "age"],
        target_name="class",
        target_names=["bad", "good"],
        descr=_GERMAN_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
        standardize=standardize,
    )


# --------------------------------------------------------------------------
# Adult
# --------------------------------------------------------------------------

_ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
]

# Every category found in adult.data or adult.test (sorted), so that the
# encoded columns do not depend on ``subset``. '?' (missing) is appended when
# dropna=False; 'Never-worked' only occurs in rows with a missing occupation.
_ADULT_CATEGORIES = {
    "workclass": [
        "Federal-gov",
        "Local-gov",
        "Never-worked",
        "Private",
        "Self-emp-inc",
        "Self-emp-not-inc",
        "State-gov",
        "Without-pay",
    ],
    "education": [
        "10th",
        "11th",
        "12th",
        "1st-4th",
        "5th-6th",
        "7th-8th",
        "9th",
        "Assoc-acdm",
        "Assoc-voc",
        "Bachelors",
        "Doctorate",
        "HS-grad",
        "Masters",
        "Preschool",
        "Prof-school",
        "Some-college",
    ],
    "marital-status": [
        "Divorced",
        "Married-AF-spouse",
        "Married-civ-spouse",
        "Married-spouse-absent",
        "Never-married",
        "Separated",
        "Widowed",
    ],
    "occupation": [
        "Adm-clerical",
        "Armed-Forces",
        "Craft-repair",
        "Exec-managerial",
        "Farming-fishing",
        "Handlers-cleaners",
        "Machine-op-inspct",
        "Other-service",
        "Priv-house-serv",
        "Prof-specialty",
        "Protective-serv",
        "Sales",
        "Tech-support",
        "Transport-moving",
    ],
    "relationship": [
        "Husband",
        "Not-in-family",
        "Other-relative",
        "Own-child",
        "Unmarried",
        "Wife",
    ],
    "race": ["Amer-Indian-Eskimo", "Asian-Pac-Islander", "Black", "Other", "White"],
    "sex": ["Female", "Male"],
    "native-country": [
        "Cambodia",
        "Canada",
        "China",
        "Columbia",
        "Cuba",
        "Dominican-Republic",
        "Ecuador",
        "El-Salvador",
        "England",
        "France",
        "Germany",
        "Greece",
        "Guatemala",
        "Haiti",
        "Holand-Netherlands",
        "Honduras",
        "Hong",
        "Hungary",
        "India",
        "Iran",
        "Ireland",
        "Italy",
        "Jamaica",
        "Japan",
        "Laos",
        "Mexico",
        "Nicaragua",
        "Outlying-US(Guam-USVI-etc)",
        "Peru",
        "Philippines",
        "Poland",
        "Portugal",
        "Puerto-Rico",
        "Scotland",
        "South",
        "Taiwan",
        "Thailand",
        "Trinadad&Tobago",
        "United-States",
        "Vietnam",
        "Yugoslavia",
    ],
}
_ADULT_WITH_MISSING = ("workclass", "occupation", "native-country")
# education in the order of its code education-num (1 to 16), the order of the
# ordered categorical of the raw frame.
_ADULT_EDUCATION_ORDER = [
    "Preschool",
    "1st-4th",
    "5th-6th",
    "7th-8th",
    "9th",
    "10th",
    "11th",
    "12th",
    "HS-grad",
    "Some-college",
    "Assoc-voc",
    "Assoc-acdm",
    "Bachelors",
    "Masters",
    "Prof-school",
    "Doctorate",
]
_ADULT_N_TRAIN, _ADULT_N_TEST = 32561, 16281

_ADULT_DESCR = """\
Adult (Census Income) data set
------------------------------

Extract of the 1994 US Census: 32,561 training and 16,281 test rows, 14
attributes (6 numeric, 8 categorical). Label: income, 1 = ``>50K``
(favourable), 0 = ``<=50K``. ``fnlwgt`` (a census sampling weight) is dropped
by default and rows with a missing value (``?``) are dropped by default
(30,162 training and 15,060 test rows remain).

Actionability: race, sex, native-country, marital-status and relationship are
immutable; age and education-num can only increase; education can only
increase too: in the encoded data it is one-hot encoded, so it is listed only
as a categorical group; in the raw frame (``as_frame=True``) it is an ordered
categorical (in the order of education-num) listed as increase-only.

Source: UCI Machine Learning Repository "Adult" (Becker & Kohavi, 1996),
https://doi.org/10.24432/C5XW20. License: CC BY 4.0. Expected files:
adult.data.gz and adult.test.gz (gzip of the verbatim UCI files).
"""


def _read_adult_file(pd, content, filename, is_test):
    return pd.read_csv(
        io.BytesIO(_decompress(content, filename)),
        header=None,
        names=[*_ADULT_COLUMNS, "income"],
        skipinitialspace=True,
        skiprows=1 if is_test else 0,
        dtype={c: str for c in [*_ADULT_CATEGORIES, "income"]},
    )


def _adult_from_openml(pd, data_home, subset):
    if subset != "all":
        raise ValueError(
            "The OpenML copy of Adult mixes the UCI training and test files; "
            f"load_adult(download_if_missing=True) needs subset='all', got "
            f"{subset!r}. Place adult.data.gz and adult.test.gz in data_home to "
            "load a single subset."
        )
    frame = _fetch_openml_frame("adult", data_home)
    expected = {*_ADULT_COLUMNS, "class"}
    if set(frame.columns) != expected or len(frame) != _ADULT_N_TRAIN + _ADULT_N_TEST:
        raise ValueError(
            f"The OpenML copy of Adult (data_id={_OPENML_IDS['adult']}) does not "
            f"have the expected layout: got columns {list(frame.columns)} and "
            f"{len(frame)} rows."
        )
    raw = pd.DataFrame({"income": frame["class"].astype(str)})
    for col in _ADULT_COLUMNS:
        if col in _ADULT_CATEGORIES:
            raw[col] = frame[col].astype(object).where(frame[col].notna(), "?")
            raw[col] = raw[col].astype(str)
        else:
            raw[col] = pd.to_numeric(frame[col]).astype(np.int64)
    return raw[[*_ADULT_COLUMNS, "income"]]


@validate_params(
    {
        **_COMMON_PARAMS,
        "subset": [StrOptions({"train", "test", "all"})],
        "drop_fnlwgt": ["boolean"],
        "dropna": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
@_doc
def load_adult(
    *,
    data_home=None,
    subset="train",
    return_X_y=False,
    as_frame=False,
    standardize=True,
    drop_fnlwgt=True,
    dropna=True,
    download_if_missing=False,
):
    """Load the Adult (census income) data set.

    Label 1 = income ``>50K`` (favourable), 0 = ``<=50K``. With the defaults
    (``dropna=True``, ``drop_fnlwgt=True``) the training subset has 30,162
    rows and 103 columns once one-hot encoded. The encoded columns are the
    same for every ``subset``. With ``as_frame=True`` the 13 features are
    returned as they are in the file: 5 integer columns (6 with ``fnlwgt``)
    as int64 and 8 ``category`` columns whose categories are the values
    found in either file, so that the train and test frames share dtypes.

    The files ``adult.data.gz`` (train) and ``adult.test.gz`` (test) are
    looked up in ``data_home`` (either the file itself or an ``adult/``
    sub-folder holding it), then in the folder named by the ``SKCF_DATA_HOME``
    environment variable (same layout). Their sha256 is checked before
    parsing. The junk first line of the test file is skipped and the
    trailing ``.`` of its labels is removed.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the files or an ``adult/`` folder with them.

    subset : {"train", "test", "all"}, default="train"
        Which file to load; ``"all"`` concatenates train then test.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    __AS_FRAME__

    standardize : bool, default=True
        If True, z-score the numeric columns of the encoded data (population
        standard deviation over the loaded rows). One-hot columns are never
        scaled. Ignored when ``as_frame=True``: the DataFrame keeps the
        original units.

    drop_fnlwgt : bool, default=True
        If True, leave out ``fnlwgt`` (a census sampling weight, not a
        property of the person). It stays in ``raw_frame``.

    dropna : bool, default=True
        If True, drop the rows with a missing value (``?``). If False, keep
        them: in the encoded data ``?`` is its own category (``workclass=?``
        and so on); in the raw frame (``as_frame=True``) it is a missing value
        (NaN) of the categorical columns workclass, occupation and
        native-country, in 2,399 training and 1,221 test rows.

    download_if_missing : bool, default=False
        If True and the files are not found, fetch the OpenML copy
        (``data_id=1590``, needs network access and ``subset="all"``). That
        copy is not checked against the sha256 table (OpenML checks its own
        checksum) and its row order may differ from the UCI files.

    __RETURNS__

    Raises
    ------
    FileNotFoundError
        If a needed file is not found (and no download was asked for).
    ValueError
        If the sha256 of a file found does not match.

    See Also
    --------
    load_german_credit : German credit data set, shipped with skcf.

    Notes
    -----
    Immutable: race, sex, native-country, marital-status, relationship (all
    their one-hot columns). Increase-only: age, education-num, and education:
    in the encoded data education is one-hot encoded, so it only appears in
    ``categorical``; in the raw frame it is an ordered categorical and
    appears in ``increase_only``.

    In the raw frame (``as_frame=True``) only ``education`` is an ordered
    categorical, in the order of its code ``education-num`` (Preschool <
    1st-4th < ... < HS-grad < Some-college < Assoc-voc < Assoc-acdm <
    Bachelors < Masters < Prof-school < Doctorate). Both ``education`` and
    ``education-num`` are kept, as in the file. The other categorical columns
    are unordered, their categories sorted by name. Values are stripped of
    whitespace and ``?`` becomes NaN (see ``dropna``); the test file's
    ``income`` loses its trailing ``.`` and becomes the target.

    Source: UCI Machine Learning Repository (Becker & Kohavi, 1996), license
    CC BY 4.0.

    Examples
    --------
    >>> from skcf.datasets import load_adult
    >>> bunch = load_adult(data_home="/path/to/data")  # doctest: +SKIP
    >>> bunch.data.shape  # doctest: +SKIP
    (30162, 103)
    >>> bunch.feature_names[1]  # doctest: +SKIP
    'workclass=Federal-gov'
    >>> X, y = load_adult(
    ...     data_home="/path/to/data", return_X_y=True, as_frame=True
    ... )  # doctest: +SKIP
    >>> X.shape, X.dtypes["education"].ordered, int(X.loc[0, "age"])  # doctest: +SKIP
    ((30162, 13), True, 39)
    """
    pd = import_optional("pandas")
    wanted = {
        "train": [("adult.data.gz", False)],
        "test": [("adult.test.gz", True)],
        "all": [("adult.data.gz", False), ("adult.test.gz", True)],
    }[subset]
    contents = [
        _load_bytes("adult", name, data_home, download_if_missing) for name, _ in wanted
    ]
    if any(content is None for content in contents):
        raw = _adult_from_openml(pd, data_home, subset)
    else:
        raw = pd.concat(
            [
                _read_adult_file(pd, content, name, is_test)
                for content, (name, is_test) in zip(contents, wanted, strict=True)
            ],
            ignore_index=True,
        )
    raw["income"] = raw["income"].str.rstrip(".")
    categories = {col: list(cats) for col, cats in _ADULT_CATEGORIES.items()}
    if dropna:
        missing = (raw[list(_ADULT_WITH_MISSING)] == "?").any(axis=1)
        raw = raw.loc[~missing].reset_index(drop=True)
        categories["workclass"].remove("Never-worked")
    else:
        for col in _ADULT_WITH_MISSING:
            categories[col].append("?")
    features = [c for c in _ADULT_COLUMNS if not (drop_fnlwgt and c == "fnlwgt")]
    return _finish(
        raw,
        (raw["income"] == ">50K").to_numpy(),
        features=features,
        categories=categories,
        ordered={"education": _ADULT_EDUCATION_ORDER},
        na_values=("?",),
        immutable=["marital-status", "relationship", "race", "sex", "native-country"],
        increase_only=["age", "education", "education-num"],
        linked=[("education", "education-num")],
        target_name="income",
        target_names=["<=50K", ">50K"],
        descr=_ADULT_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
        standardize=standardize,
    )


# --------------------------------------------------------------------------
# HELOC
# --------------------------------------------------------------------------

_HELOC_INCREASE_ONLY = [
    "MSinceOldestTradeOpen",
    "AverageMInFile",
    "NumTrades60Ever2DerogPubRec",
    "NumTrades90Ever2DerogPubRec",
    "MaxDelqEver",
    "NumTotalTrades",
]

_HELOC_DESCR = """\
HELOC (FICO Explainable Machine Learning Challenge) data set
------------------------------------------------------------

10,459 anonymised home-equity line of credit applications, 23 integer-coded
numeric features. Label: RiskPerformance, 1 = ``Good`` (favourable, repaid as
agreed), 0 = ``Bad``. The 588 rows whose features are all ``-9`` (no bureau
record) are dropped by default, leaving 9,871 rows. The special values ``-7``
(condition not met) and ``-8`` (no usable trades) are kept as numbers; the two
ordinal delinquency codes (MaxDelq2PublicRecLast12M, MaxDelqEver) are kept as
numeric columns.

Actionability: ExternalRiskEstimate (a bureau score) is immutable;
MSinceOldestTradeOpen, AverageMInFile, NumTrades60Ever2DerogPubRec,
NumTrades90Ever2DerogPubRec, MaxDelqEver and NumTotalTrades can only increase.

Source: FICO xML Challenge 2018 (heloc_dataset_v1.csv). License: no open
license; FICO's data-use terms apply, check them before redistributing.
"""


@validate_params(
    {**_COMMON_PARAMS, "dropna": ["boolean"]},
    prefer_skip_nested_validation=True,
)
@_doc
def load_heloc(
    *,
    data_home=None,
    return_X_y=False,
    as_frame=False,
    standardize=True,
    dropna=True,
    download_if_missing=False,
):
    """Load the HELOC (FICO xML Challenge) data set.

    23 integer-coded numeric features; label 1 = ``Good`` (favourable),
    0 = ``Bad``. With ``dropna=True`` the 588 rows without a bureau record
    (all features ``-9``) are dropped, leaving 9,871 of 10,459 rows. With
    ``as_frame=True`` the 23 features are int64 columns holding the numbers
    of the file, special codes included (see Notes).

    The file ``heloc_dataset_v1.csv`` is looked up in ``data_home`` (either
    the file itself or a ``heloc/`` sub-folder holding it), then in the folder
    named by the ``SKCF_DATA_HOME`` environment variable (same layout). Its
    sha256 is checked before parsing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the file or a ``heloc/`` folder with it.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    __AS_FRAME__

    standardize : bool, default=True
        If True, z-score all columns of the encoded data (population standard
        deviation over the loaded rows). Ignored when ``as_frame=True``: the
        DataFrame keeps the original units.

    dropna : bool, default=True
        If True, drop the 588 rows whose 23 features are all ``-9``.

    download_if_missing : bool, default=False
        No public download source is configured for HELOC (FICO's terms);
        if True, the error message says so.

    __RETURNS__

    Raises
    ------
    FileNotFoundError
        If the file is not found.
    ValueError
        If the sha256 of the file found does not match.

    See Also
    --------
    load_german_credit : German credit data set, shipped with skcf.

    Notes
    -----
    Immutable: ExternalRiskEstimate. Increase-only: MSinceOldestTradeOpen,
    AverageMInFile, NumTrades60Ever2DerogPubRec, NumTrades90Ever2DerogPubRec,
    MaxDelqEver, NumTotalTrades. All 23 features are integer-valued.

    The file codes special cases as negative numbers, which both the encoded
    data and the raw frame keep as they are: ``-9`` no bureau record or not
    investigated (the 588 rows with ``-9`` in every feature are dropped with
    ``dropna=True``; other rows may still hold a ``-9``), ``-8`` no usable or
    valid trades or inquiries, ``-7`` condition not met (e.g. no
    delinquency). They are not missing values: a model or a generator that
    treats a column as a quantity should handle them, e.g. with a
    missing-value indicator. The two ordinal delinquency codes
    (MaxDelq2PublicRecLast12M, MaxDelqEver) stay numeric, so the raw frame
    has no categorical column.

    Source: FICO xML Challenge 2018; no open license (FICO data-use terms).

    Examples
    --------
    >>> from skcf.datasets import load_heloc
    >>> X, y = load_heloc(data_home="/path/to/data", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (9871, 23)
    >>> bunch = load_heloc(data_home="/path/to/data", as_frame=True)  # doctest: +SKIP
    >>> bunch.categorical_features, len(bunch.numeric_features)  # doctest: +SKIP
    ([], 23)
    """
    content = _load_bytes(
        "heloc", "heloc_dataset_v1.csv", data_home, download_if_missing
    )
    pd = import_optional("pandas")
    raw = pd.read_csv(io.BytesIO(content))
    features = [c for c in raw.columns if c != "RiskPerformance"]
    if dropna:
        raw = raw.loc[~(raw[features] == -9).all(axis=1)].reset_index(drop=True)
    return _finish(
        raw,
        (raw["RiskPerformance"] == "Good").to_numpy(),
        features=features,
        categories={},
        immutable=["ExternalRiskEstimate"],
        increase_only=_HELOC_INCREASE_ONLY,
        target_name="RiskPerformance",
        target_names=["Bad", "Good"],
        descr=_HELOC_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
        standardize=standardize,
    )


# --------------------------------------------------------------------------
# Taiwan credit
# --------------------------------------------------------------------------

_TAIWAN_LABEL = "default payment next month"
_TAIWAN_FEATURES = [
    "LIMIT_BAL",
    "SEX",
    "EDUCATION",
    "MARRIAGE",
    "AGE",
    "PAY_0",
    *(f"PAY_{i}" for i in range(2, 7)),
    *(f"BILL_AMT{i}" for i in range(1, 7)),
    *(f"PAY_AMT{i}" for i in range(1, 7)),
]

_TAIWAN_DESCR = """\
Default of credit card clients (Taiwan) data set
------------------------------------------------

30,000 credit card holders of a Taiwanese bank (April-September 2005), 23
features (the ID column is dropped). Label: 1 = no default next month
(favourable, 23,364 rows), 0 = default (6,636 rows); the file's column
``default payment next month`` is the opposite. SEX, EDUCATION and MARRIAGE
are nominal: one-hot encoded with their numeric codes (e.g. ``SEX=2`` is
female; EDUCATION 0, 5, 6 and MARRIAGE 0 are undocumented codes), or
``category`` columns of those integer codes in the raw frame
(``as_frame=True``); the repayment statuses PAY_0, PAY_2..PAY_6 are ordinal
and kept numeric.

Actionability: SEX and MARRIAGE are immutable; AGE can only increase;
EDUCATION can only increase too, but it is categorical without a usable order
(1 graduate school, 2 university, 3 high school, 4 others, and undocumented
codes), so it is listed only as categorical. The past repayment history
(PAY_*, BILL_AMT*, PAY_AMT*) is often also held fixed: add those columns to
``immutable`` if so.

Source: UCI Machine Learning Repository "default of credit card clients"
(Yeh, 2009), https://doi.org/10.24432/C55S3H. License: CC BY 4.0. Expected
file: default_of_credit_card_clients.csv.gz (UCI header, plain integers).
"""


def _taiwan_from_openml(pd, data_home):
    frame = _fetch_openml_frame("taiwan_credit", data_home)
    if frame.shape != (30000, len(_TAIWAN_FEATURES) + 1):
        raise ValueError(
            "The OpenML copy of the Taiwan credit data "
            f"(data_id={_OPENML_IDS['taiwan_credit']}) does not have the expected "
            f"layout: got shape {frame.shape}."
        )
    raw = pd.DataFrame(
        {
            name: pd.to_numeric(frame.iloc[:, i].astype(str)).astype(np.int64)
            for i, name in enumerate([*_TAIWAN_FEATURES, _TAIWAN_LABEL])
        }
    )
    return raw


@validate_params(dict(_COMMON_PARAMS), prefer_skip_nested_validation=True)
@_doc
def load_taiwan_credit(
    *,
    data_home=None,
    return_X_y=False,
    as_frame=False,
    standardize=True,
    download_if_missing=False,
):
    """Load the Taiwanese credit card default data set.

    30,000 rows, 23 features (33 columns once SEX, EDUCATION and MARRIAGE are
    one-hot encoded); label 1 = no default next month (favourable, 23,364
    rows), 0 = default (6,636 rows). With ``as_frame=True`` the features are
    the numbers of the file: 20 int64 columns and SEX, EDUCATION and
    MARRIAGE as ``category`` columns of their integer codes.

    The file ``default_of_credit_card_clients.csv.gz`` is looked up in
    ``data_home`` (either the file itself or a ``taiwan_credit/`` sub-folder
    holding it), then in the folder named by the ``SKCF_DATA_HOME``
    environment variable (same layout). Its sha256 is checked before parsing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the file or a ``taiwan_credit/`` folder with it.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    __AS_FRAME__

    standardize : bool, default=True
        If True, z-score the numeric columns of the encoded data (population
        standard deviation over the loaded rows). One-hot columns are never
        scaled. Ignored when ``as_frame=True``: the DataFrame keeps the
        original units.

    download_if_missing : bool, default=False
        If True and the file is not found, fetch the OpenML copy
        (``data_id=42477``, needs network access). That copy is not checked
        against the sha256 table (OpenML checks its own checksum).

    __RETURNS__

    Raises
    ------
    FileNotFoundError
        If the file is not found (and no download was asked for).
    ValueError
        If the sha256 of the file found does not match.

    See Also
    --------
    load_german_credit : German credit data set, shipped with skcf.

    Notes
    -----
    Immutable: SEX and MARRIAGE (all their one-hot columns). Increase-only:
    AGE. EDUCATION only increases in reality, but its codes have no usable
    order (4 "others" and the undocumented 0, 5 and 6 fit nowhere, and code 1
    is the highest level), so it is an unordered categorical in the raw frame
    and appears in neither ``increase_only`` list; in the encoded data it
    only appears in ``categorical``. The raw frame keeps SEX (1 male,
    2 female), EDUCATION and MARRIAGE (1 married, 2 single, 3 others) as
    unordered ``category`` columns of their integer codes, so that
    ``categorical_features`` one-hot encodes them as the encoded data does;
    the repayment statuses PAY_* (-2 to 8) stay numeric.

    Source: UCI Machine Learning Repository (Yeh, 2009), license CC BY 4.0.

    Examples
    --------
    >>> from skcf.datasets import load_taiwan_credit
    >>> bunch = load_taiwan_credit(data_home="/path/to/data")  # doctest: +SKIP
    >>> bunch.data.shape  # doctest: +SKIP
    (30000, 33)
    >>> bunch = load_taiwan_credit(
    ...     data_home="/path/to/data", as_frame=True
    ... )  # doctest: +SKIP
    >>> bunch.data.shape, bunch.categorical_features  # doctest: +SKIP
    ((30000, 23), ['SEX', 'EDUCATION', 'MARRIAGE'])
    """
    pd = import_optional("pandas")
    filename = "default_of_credit_card_clients.csv.gz"
    content = _load_bytes("taiwan_credit", filename, data_home, download_if_missing)
    if content is None:
        raw = _taiwan_from_openml(pd, data_home)
    else:
        raw = pd.read_csv(io.BytesIO(_decompress(content, filename)))
    return _finish(
        raw,
        (raw[_TAIWAN_LABEL] == 0).to_numpy(),
        features=_TAIWAN_FEATURES,
        categories={"SEX": None, "EDUCATION": None, "MARRIAGE": None},
        immutable=["SEX", "MARRIAGE"],
        increase_only=["EDUCATION", "AGE"],
        target_name="no_default",
        target_names=["default", "no default"],
        descr=_TAIWAN_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
        standardize=standardize,
    )


# --------------------------------------------------------------------------
# Cardiotocography
# --------------------------------------------------------------------------

_CTG_FEATURES = [
    "LB",
    "AC",
    "FM",
    "UC",
    "DL",
    "DS",
    "DP",
    "ASTV",
    "MSTV",
    "ALTV",
    "MLTV",
    "Width",
    "Min",
    "Max",
    "Nmax",
    "Nzeros",
    "Mode",
    "Mean",
    "Median",
    "Variance",
    "Tendency",
]

_CTG_DESCR = """\
Cardiotocography (CTG) data set
-------------------------------

2,126 fetal cardiotocograms, 21 features (signal measurements; AC, FM, UC, DL,
DS, DP are per-second rates; Tendency, -1/0/1, is categorical: one-hot
encoded, or a ``category`` column of its codes with ``as_frame=True``). Label:
fetal state NSP. With ``binary=True``: 1 = normal (favourable, 1,655 rows),
0 = suspect or pathologic (471 rows). With ``binary=False``: 0 = normal
(1,655), 1 = suspect (295), 2 = pathologic (176), i.e. NSP - 1. The
morphologic class CLASS is not used as a feature.

Actionability: no immutable or one-directional features. The histogram
summaries (Min, Max, Mode, Mean, Median, Width) are linked, so changes should
keep them consistent.

Source: UCI Machine Learning Repository "Cardiotocography" (Campos &
Bernardes, 2000), https://doi.org/10.24432/C51S4N. License: CC BY 4.0.
Expected file: ctg.csv (the 21 features, CLASS and NSP of sheet ``Data`` of
the UCI workbook CTG.xls).
"""


@validate_params(
    {**_COMMON_PARAMS, "binary": ["boolean"]},
    prefer_skip_nested_validation=True,
)
@_doc
def load_ctg(
    *,
    data_home=None,
    return_X_y=False,
    as_frame=False,
    standardize=True,
    binary=True,
    download_if_missing=False,
):
    """Load the Cardiotocography (CTG) data set.

    2,126 rows, 21 features (23 columns once Tendency is one-hot encoded).
    With ``binary=True`` the label is 1 = normal fetal state (favourable,
    1,655 rows) and 0 = suspect or pathologic; with ``binary=False`` it is
    0 = normal, 1 = suspect, 2 = pathologic. With ``as_frame=True`` the
    features are the numbers of the file: 12 int64 columns, 8 float64
    columns (the per-second rates AC, FM, UC, DL, DS, DP and MSTV, MLTV) and
    Tendency as a ``category`` column of its codes -1, 0, 1.

    The file ``ctg.csv`` is looked up in ``data_home`` (either the file itself
    or a ``ctg/`` sub-folder holding it), then in the folder named by the
    ``SKCF_DATA_HOME`` environment variable (same layout). Its sha256 is
    checked before parsing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the file or a ``ctg/`` folder with it.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    __AS_FRAME__

    standardize : bool, default=True
        If True, z-score the numeric columns of the encoded data (population
        standard deviation over the loaded rows). One-hot columns are never
        scaled. Ignored when ``as_frame=True``: the DataFrame keeps the
        original units.

    binary : bool, default=True
        If True, normal (1) versus not normal (0). If False, keep the three
        NSP classes as 0 = normal, 1 = suspect, 2 = pathologic.

    download_if_missing : bool, default=False
        No download source is configured for CTG; if True, the error message
        says so.

    __RETURNS__

    Raises
    ------
    FileNotFoundError
        If the file is not found.
    ValueError
        If the sha256 of the file found does not match.

    See Also
    --------
    load_heloc : HELOC data set (all numeric features).

    Notes
    -----
    No feature is immutable or one-directional. Tendency (histogram
    asymmetry: -1 left, 0 symmetric, 1 right) is an unordered categorical in
    the raw frame, as in the encoded data. Source: UCI Machine Learning
    Repository (Campos & Bernardes, 2000), license CC BY 4.0.

    Examples
    --------
    >>> from skcf.datasets import load_ctg
    >>> bunch = load_ctg(data_home="/path/to/data", binary=False)  # doctest: +SKIP
    >>> bunch.data.shape, bunch.target_names.tolist()  # doctest: +SKIP
    ((2126, 23), ['normal', 'suspect', 'pathologic'])
    >>> X, y = load_ctg(
    ...     data_home="/path/to/data", binary=False, return_X_y=True, as_frame=True
    ... )  # doctest: +SKIP
    >>> X.shape, sorted(y.unique().tolist())  # doctest: +SKIP
    ((2126, 21), [0, 1, 2])
    """
    content = _load_bytes("ctg", "ctg.csv", data_home, download_if_missing)
    pd = import_optional("pandas")
    raw = pd.read_csv(io.BytesIO(content))
    nsp = raw["NSP"].to_numpy()
    if binary:
        y = nsp == 1
        target_name, target_names = "normal", ["not normal", "normal"]
    else:
        y = nsp - 1
        target_name, target_names = "fetal_state", ["normal", "suspect", "pathologic"]
    return _finish(
        raw,
        y,
        features=_CTG_FEATURES,
        categories={"Tendency": None},
        target_name=target_name,
        target_names=target_names,
        descr=_CTG_DESCR,
        return_X_y=return_X_y,
        as_frame=as_frame,
        standardize=standardize,
    )


# --------------------------------------------------------------------------
# Fashion-MNIST T-shirt/top vs Trouser
# --------------------------------------------------------------------------

_FASHION_DESCR = """\
Fashion-MNIST subset: T-shirt/top (0) vs Trouser (1)
----------------------------------------------------

1,365 grey-scale 28x28 images (688 T-shirts/tops, 677 trousers): every image
of these two classes among the first 6,978 images of the official
Fashion-MNIST test set (t10k). The two-class task of seed 003 (Hardy et al.,
section 3.1). Pixels are scaled to [0, 1] (raw intensity / 255), so seed 003's
attack radii 8/255 and 16/255 apply as written. No feature is immutable,
one-directional or categorical; every pixel lies in [0, 1].

Source: Zalando Research, Fashion-MNIST (Xiao, Rasul, Vollgraf 2017); the
images come from a partial copy of t10k-images-idx3-ubyte.gz, the labels from
zalandoresearch/fashion-mnist (see shared/data/fashion_mnist_tshirt_trouser/
README.md). License: MIT.
"""


@validate_params(
    {
        "data_home": [str, os.PathLike, None],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist_tshirt_trouser(
    *, data_home=None, return_X_y=False, as_frame=False
):
    """Load the Fashion-MNIST T-shirt/top vs Trouser subset (seed 003).

    1,365 images of 28x28 pixels flattened to 784 features in [0, 1];
    label 0 = T-shirt/top (688 rows), 1 = Trouser (677 rows).

    The file ``fmnist_t10k_tshirt_trouser.csv.gz`` is looked up in
    ``data_home`` (either the file itself or a ``fashion_mnist_tshirt_trouser/``
    sub-folder holding it), then in the folder named by the ``SKCF_DATA_HOME``
    environment variable (same layout). Its sha256 is checked before parsing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the file or a ``fashion_mnist_tshirt_trouser/`` folder
        with it.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    as_frame : bool, default=False
        If True, ``data`` is a DataFrame (columns ``pixel0`` ... ``pixel783``),
        ``target`` a Series and ``frame`` holds both.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : {ndarray, DataFrame} of shape (1365, 784)
            Pixel intensities / 255, float64, row-major 28x28.
        target : {ndarray, Series} of shape (1365,)
            0 = T-shirt/top, 1 = Trouser.
        images : ndarray of shape (1365, 28, 28)
            The same pixels as images.
        frame : DataFrame or None
            ``data`` and ``target`` side by side when ``as_frame=True``.
        feature_names : list of str
            ``pixel0`` ... ``pixel783``.
        target_names : ndarray of str
            ``["T-shirt/top", "Trouser"]``.
        t10k_index : ndarray of shape (1365,)
            Index of each image in the official Fashion-MNIST test set.
        DESCR : str
            Short description with source and license.
        actionability : dict
            Keyword arguments for a generator: no immutable, one-directional,
            categorical or integer pixel, and ``bounds`` of (0, 1) per pixel.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    FileNotFoundError
        If the file is not found.
    ValueError
        If the sha256 of the file found does not match.

    See Also
    --------
    load_adult : the tabular data set of seed 003.

    Examples
    --------
    >>> from skcf.datasets import load_fashion_mnist_tshirt_trouser
    >>> bunch = load_fashion_mnist_tshirt_trouser(
    ...     data_home="/path/to/data")  # doctest: +SKIP
    >>> bunch.data.shape, bunch.target_names.tolist()  # doctest: +SKIP
    ((1365, 784), ['T-shirt/top', 'Trouser'])
    """
    folder, filename = (
        "fashion_mnist_tshirt_trouser",
        "fmnist_t10k_tshirt_trouser.csv.gz",
    )
    content = _load_bytes(folder, filename, data_home, False)
    table = np.loadtxt(
        io.BytesIO(_decompress(content, filename)),
        delimiter=",",
        skiprows=1,
        dtype=np.int64,
    )
    index, y, pixels = table[:, 0], table[:, 1], table[:, 2:]
    if pixels.shape[1] != 784 or not set(np.unique(y).tolist()) <= {0, 1}:
        raise ValueError(
            f"Unexpected layout of {filename!r}: {pixels.shape[1]} pixel columns "
            f"and labels {np.unique(y).tolist()} (expected 784 and [0, 1])."
        )
    X = pixels.astype(np.float64) / 255.0
    names = [f"pixel{i}" for i in range(784)]
    actionability = dict(
        immutable=[],
        increase_only=[],
        decrease_only=[],
        categorical=[],
        integer=[],
        bounds={j: (0.0, 1.0) for j in range(784)},
    )
    frame = None
    if as_frame:
        pd = import_optional("pandas")
        X = pd.DataFrame(X, columns=names)
        y = pd.Series(y, name="label")
        frame = pd.concat([X, y], axis=1)
        actionability["bounds"] = {n: (0.0, 1.0) for n in names}
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        images=pixels.reshape(-1, 28, 28).astype(np.float64) / 255.0,
        frame=frame,
        feature_names=names,
        target_names=np.asarray(["T-shirt/top", "Trouser"]),
        t10k_index=index,
        DESCR=_FASHION_DESCR,
        actionability=actionability,
    )
