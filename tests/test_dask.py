"""Generators mapped over dask blocks give the single-process result.

A fitted generator is shipped to each block (pickled for worker processes) and
``transform`` runs on each block alone. The result of a row depends only on the
row and the generator (Growing Spheres keys its random draws by row content), so
the blocks reassemble into exactly what one ``transform`` call returns: bit for
bit with a float64 model, to float32 rounding with a float32 network (batched
matrix products round differently for different batch sizes).

Fast settings (short searches, a few thousand rows, the threaded scheduler or an
in-process ``LocalCluster``) keep the module to a few seconds.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from skcf.datasets import load_german_credit
from skcf.exceptions import CounterfactualWarning
from skcf.generators import ElasticNetGenerator, GrowingSpheresGenerator

da = pytest.importorskip("dask.array")

FAST = {
    "en": (ElasticNetGenerator, dict(max_iter=20, n_search_steps=2)),
    "gs": (GrowingSpheresGenerator, dict(n_samples=50, max_layers=20)),
}


@pytest.fixture(autouse=True)
def no_cf_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        yield


def _rows(X, n, numeric, seed=0):
    """``n`` rows drawn from ``X``, numeric columns jittered (all distinct)."""
    rng = np.random.default_rng(seed)
    rows = X[rng.integers(0, len(X), n)].copy()
    rows[:, numeric] += rng.normal(0, 0.05, (n, len(numeric))).astype(X.dtype)
    return rows


@pytest.fixture(scope="module")
def credit():
    data = load_german_credit()
    numeric = [i for i, c in enumerate(data.feature_names) if "=" not in c]
    return data, _rows(data.data, 2000, numeric)


@pytest.fixture(scope="module")
def lr(credit):
    data, _ = credit
    return LogisticRegression(max_iter=1000).fit(data.data, data.target)


def _fit(kind, model, X, actionability):
    cls, fast = FAST[kind]
    return cls(model, random_state=0, **fast, **actionability).fit(X)


def _parallel_post_fit(gen, X):
    """``ParallelPostFit(gen).transform`` (``map_blocks`` without dask-ml)."""
    meta = X._meta[:0] if hasattr(X, "_meta") else None
    try:
        from dask_ml.wrappers import ParallelPostFit
    except ImportError:
        if hasattr(X, "map_partitions"):
            return X.map_partitions(gen.transform, meta=meta)
        return X.map_blocks(gen.transform, meta=meta)
    return ParallelPostFit(gen, transform_meta=meta).transform(X)


@pytest.mark.parametrize("kind", ["en", "gs"])
def test_array_blocks_bit_identical_float64(credit, lr, kind):
    data, rows = credit
    gen = _fit(kind, lr, data.data, data.actionability)
    expected = gen.transform(rows)
    assert (expected != rows).any()  # the searches moved rows
    X = da.from_array(rows, chunks=(333, -1))  # uneven blocks
    got = _parallel_post_fit(gen, X).compute(scheduler="threads", num_workers=2)
    np.testing.assert_array_equal(got, expected)


def test_array_blocks_float32_net_to_rounding(credit):
    """A float32 net: equal up to float32 rounding; the same rows move."""
    from skorch import NeuralNetClassifier

    from skcf.models import MLP

    data, rows = credit
    X32 = data.data.astype(np.float32)
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MLP,
        module__n_features=X32.shape[1],
        module__hidden=(16,),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=10,
        lr=0.05,
        train_split=None,
        verbose=0,
    ).fit(X32, data.target.astype(np.int64))
    gen = _fit("en", net, X32, data.actionability)
    rows32 = rows.astype(np.float32)
    expected = gen.transform(rows32)
    got = _parallel_post_fit(gen, da.from_array(rows32, chunks=(333, -1))).compute(
        scheduler="sync"
    )
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal((got != rows32).any(1), (expected != rows32).any(1))
    assert (got == expected).all(axis=1).mean() > 0.99  # most rows bit-identical


@pytest.fixture(scope="module")
def frame():
    pytest.importorskip("dask.dataframe")  # needs pyarrow
    bunch = load_german_credit(as_frame=True)
    X, y = bunch.data, bunch.target
    rng = np.random.default_rng(1)
    rows = X.iloc[rng.integers(0, len(X), 2000)].reset_index(drop=True)
    rows["credit_amount"] += rng.integers(-50, 51, len(rows))
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), bunch.numeric_features),
            ("cat", OneHotEncoder(handle_unknown="ignore"), bunch.categorical_features),
        ]
    )
    pipe = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))])
    return bunch, pipe.fit(X, y), rows


@pytest.mark.parametrize("kind", ["en", "gs"])
def test_dataframe_partitions_identical(frame, kind):
    import dask.dataframe as dd
    import pandas as pd

    bunch, pipe, rows = frame
    gen = _fit(kind, pipe, bunch.data, bunch.actionability)
    expected = gen.transform(rows)
    assert not expected.equals(rows)
    X = dd.from_pandas(rows, chunksize=333)
    got = _parallel_post_fit(gen, X).compute(scheduler="threads", num_workers=2)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_dataframe_float32_net_identical(frame):
    """Raw road with a float32 net: integer columns and categories absorb rounding."""
    import dask.dataframe as dd
    import pandas as pd
    from skorch import NeuralNetClassifier

    from skcf.models import MLP

    bunch, pipe, rows = frame
    prep = pipe.named_steps["prep"]
    width = prep.transform(bunch.data[:1]).shape[1]
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MLP,
        module__n_features=width,
        module__hidden=(16,),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=10,
        lr=0.05,
        train_split=None,
        verbose=0,
    )
    pn = Pipeline(
        [("prep", prep), ("f32", FunctionTransformer(np.float32)), ("net", net)]
    ).fit(bunch.data, bunch.target.astype(np.int64))
    gen = _fit("en", pn, bunch.data, bunch.actionability)
    expected = gen.transform(rows[:1000])
    X = dd.from_pandas(rows[:1000], npartitions=3)
    got = _parallel_post_fit(gen, X).compute(scheduler="sync")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_local_cluster_matches_single_process(credit, lr):
    distributed = pytest.importorskip("distributed")
    data, rows = credit
    gen = _fit("gs", lr, data.data, data.actionability)
    expected = gen.transform(rows[:600])
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(warnings.simplefilter, "ignore", CounterfactualWarning)
        X = da.from_array(rows[:600], chunks=(150, -1))
        got = _parallel_post_fit(gen, X).compute()
    np.testing.assert_array_equal(got, expected)


def test_fitted_generator_pickles_small_and_equal(credit, lr):
    data, rows = credit
    gen = _fit("gs", lr, data.data, data.actionability)
    blob = pickle.dumps(gen)
    assert len(blob) < 64_000  # model + fitted constraints, no data
    np.testing.assert_array_equal(
        pickle.loads(blob).transform(rows[:200]), gen.transform(rows[:200])
    )
