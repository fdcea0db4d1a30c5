"""Counterfactuals in the user's own terms: the raw road against the encoded road.

Raw Adult (train split) and raw German credit, each explained through the
user's own fitted pipeline: ``ColumnTransformer(StandardScaler on the numeric
columns, OneHotEncoder(handle_unknown="ignore") on the categorical ones,
sparse_threshold=0)``
followed by (a) sklearn's ``MLPClassifier``, (b) a skorch
``NeuralNetClassifier(skcf.models.MLP)`` (after a float32 cast) or (c)
``HistGradientBoostingClassifier`` (not differentiable: gradient generators are
reported "n/a"). The query rows are rows the pipeline rejects (and the
encoded-road model too, so both roads explain the same rows towards the same
class): held-out rows first (German: 700/300 split, Adult: ``--n-train``
training rows), then training rows where too few held-out rows qualify (German
only); every generator of ``skcf.generators`` plus
``StableNeighborSearch(ElasticNetGenerator)`` runs with its defaults and the
dataset's actionability by column name, on the raw frame.

Per (dataset, model, generator): validity judged by ``pipe.predict`` on the
returned DataFrame; "lies" (rows ``cf.valid`` claims that the pipeline does
not flip; must be 0); violations in original units (``cf.violations`` plus
independent checks on the returned frame: immutable columns unchanged,
increase-/decrease-only columns not moved the wrong way (ordered categoricals
by category code), integer columns integral, categories among those seen in
training, index/columns/dtypes as the input's); mean changed columns and ℓ1
(MADs per numeric column + 1 per changed category) of the valid rows; time per
counterfactual and its ratio to the same generator on the pre-encoded matrix
(the loader's ``as_frame=False`` data, the same model type trained on the same
training rows, the same query rows, the loader's index-based actionability).
Targets: validity ≥ 0.95, 0 lies, 0 violations, ratio ≤ 1.2×. Torch threads
are left at the library default; the load average is recorded beside every
timing. DiCE's random and genetic methods run on the same pipeline and rows
for reference when ``dice_ml`` is importable (it is never a dependency).

    python benchmarks/bench_original_units.py [--datasets german adult]
        [--n-queries 1000] [--models mlp skorch hgb] [--generators ...]
        [--n-train 5000] [--quick] [--profile] [--data-home ../shared/data]
        [--device cpu] [--out benchmarks/results] [--tag gs]
"""

import argparse
import copy
import cProfile
import importlib.util
import inspect
import io
import json
import os
import platform
import pstats
import subprocess
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import skcf
from skcf.datasets import load_adult, load_german_credit
from skcf.exceptions import CounterfactualWarning, NotDifferentiableError
from skcf.generators import ElasticNetGenerator, StableNeighborSearch
from skcf.models import MLP
from skcf.utils import all_estimators

HIDDEN = {"german": (128, 64, 16), "adult": (64, 32)}
EPOCHS = {"german": 40, "adult": 15}
MODELS = ("mlp", "skorch", "hgb")
SNS = "StableNeighborSearch(ElasticNetGenerator)"
TARGETS = dict(validity=0.95, violations=0, lies=0, ratio=1.2)


def _to_float32(X):
    """skorch nets take float32: the pipeline's last preprocessing step."""
    return np.asarray(X, dtype=np.float32)


# --------------------------------------------------------------------- data
def load(name, data_home):
    """The raw frame (Bunch) and the encoded Bunch of the same rows."""
    if name == "german":
        raw, enc = load_german_credit(as_frame=True), load_german_credit()
    else:
        kw = dict(data_home=data_home, subset="train")
        raw, enc = load_adult(as_frame=True, **kw), load_adult(**kw)
    y_raw, y_enc = np.asarray(raw.target), np.asarray(enc.target)
    if len(raw.data) != len(enc.data) or not np.array_equal(y_raw, y_enc):
        raise RuntimeError(f"{name}: raw and encoded rows are not aligned")
    return raw, enc


def same_question(raw):
    """The raw frame and actionability asked the encoded road's question.

    Integer columns become float64 (no integer grid), ordered categoricals
    unordered (no rank direction), no linked columns, and the ordered columns
    leave ``increase_only``/``decrease_only``: what the loader's encoded
    actionability enforces. ``--same-question`` fits the raw road's
    generators on it under ``category_cost="encoded"`` (each one-hot slot
    scaled by its MAD/std) and compares them with the road a user takes by
    hand (:func:`hand_encoded`: the pipeline's own encoding and its own fitted
    model), so the ratio measures the road itself.
    """
    data = raw.data.copy()
    ordered = []
    for col in data.columns:
        dtype = data[col].dtype
        if pd.api.types.is_integer_dtype(dtype):
            data[col] = data[col].astype(np.float64)
        elif isinstance(dtype, pd.CategoricalDtype) and dtype.ordered:
            data[col] = data[col].cat.as_unordered()
            ordered.append(col)
    act = dict(raw.actionability)
    act["integer"] = []
    act.pop("categorical", None)
    for key in ("increase_only", "decrease_only"):
        act[key] = [c for c in act.get(key, []) if c not in ordered]
    out = copy.copy(raw)
    out.data, out.actionability = data, act
    return out


def make_model(kind, dataset, n_features, seed, device):
    if kind == "mlp":
        return MLPClassifier(HIDDEN[dataset], max_iter=200, random_state=seed)
    if kind == "hgb":
        return HistGradientBoostingClassifier(random_state=seed)
    from skorch import NeuralNetClassifier

    return NeuralNetClassifier(
        MLP,
        module__n_features=n_features,
        module__hidden=HIDDEN[dataset],
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=EPOCHS[dataset],
        batch_size=64,
        train_split=None,
        verbose=0,
        device=device,
    )


def fit_models(kind, dataset, raw, enc, train, seed, device):
    """The user's pipeline on the raw frame and the same model on the encoded matrix."""
    X_raw, y = raw.data.iloc[train], np.asarray(raw.target)[train].astype(np.int64)
    # sparse_threshold=0: Adult's one-hot output would otherwise be a sparse
    # matrix, which neither the float32 cast (np.asarray) nor HGB accepts
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), raw.numeric_features),
            ("cat", OneHotEncoder(handle_unknown="ignore"), raw.categorical_features),
        ],
        sparse_threshold=0,
    )
    width = prep.fit(X_raw).transform(X_raw.iloc[:1]).shape[1]
    steps = [("prep", prep)]
    if kind == "skorch":
        steps.append(("float32", FunctionTransformer(_to_float32)))
    torch.manual_seed(seed)
    steps.append(("model", make_model(kind, dataset, width, seed, device)))
    pipe = Pipeline(steps)
    start = time.perf_counter()
    pipe.fit(X_raw, y)
    fit_raw = time.perf_counter() - start
    X_enc = enc.data[train]
    if kind == "skorch":
        X_enc = X_enc.astype(np.float32)
    torch.manual_seed(seed)
    model = make_model(kind, dataset, X_enc.shape[1], seed, device)
    start = time.perf_counter()
    model.fit(X_enc, y)
    fit_enc = time.perf_counter() - start
    return pipe, model, width, fit_raw, fit_enc


def hand_encoded(pipe, raw):
    """The encoded road as a user takes it by hand, for ``--same-question``.

    The pipeline's own preprocessing encodes the rows
    (``pipe[:-1].transform``), its own fitted last step is the model, and the
    actionability is rebuilt on the ``ColumnTransformer``'s output columns by
    hand: an immutable column freezes all its outputs, directions go to the
    (scaled, so still monotone) numeric outputs, each one-hot block is a
    categorical group, bounds are inferred. Both roads then explain the same
    fitted model under the same constraints. Returns ``(encode, model, act)``
    with ``encode(rows)`` the encoded matrix of those rows of ``raw.data``.
    """
    prep, model = pipe[:-1], pipe[-1]
    ct = pipe.named_steps["prep"]
    outputs = {}  # original column -> its output indices
    for name, trans, cols in ct.transformers_:
        if name == "remainder" or trans == "drop":
            continue
        at = ct.output_indices_[name].start
        if hasattr(trans, "categories_"):  # OneHotEncoder, drop=None
            for col, cats in zip(cols, trans.categories_, strict=True):
                outputs[col] = list(range(at, at + len(cats)))
                at += len(cats)
        else:
            for col in cols:
                outputs[col] = [at]
                at += 1
    act = raw.actionability

    def pick(key):
        return sorted(j for c in act.get(key, []) for j in outputs[c])

    hand = dict(
        immutable=pick("immutable"),
        increase_only=pick("increase_only"),
        decrease_only=pick("decrease_only"),
        categorical=[outputs[c] for c in raw.categorical_features],
        integer=[],
    )

    def encode(rows):
        return np.asarray(prep.transform(raw.data.iloc[rows]))

    return encode, model, hand


def enc_matrix(enc, rows, kind):
    X = enc.data[rows]
    return X.astype(np.float32) if kind == "skorch" else X


# --------------------------------------------------------------- generators
def generator_settings(selected):
    """``(label, build(estimator, actionability, seed, device))`` per generator."""
    out = []
    for name, cls in all_estimators("generator"):
        params = inspect.signature(cls).parameters

        def build(est, act, seed, device, cls=cls, params=params):
            kw = dict(random_state=seed, **act)
            if device is not None and "device" in params:
                kw["device"] = device
            return cls(est, **kw)

        out.append((name, build))

    def build_sns(est, act, seed, device):
        kw = dict(random_state=seed, **act)
        if device is not None:
            kw["device"] = device
        return StableNeighborSearch(ElasticNetGenerator(est, **kw), random_state=seed)

    out.append((SNS, build_sns))
    if selected:
        keep = set(selected)
        out = [
            (label, b)
            for label, b in out
            if label in keep or label.split("(")[0] in keep
        ]
    return out


def _head(X, n):
    return X.iloc[:n] if hasattr(X, "iloc") else X[:n]


def _judge_ms(model, X, repeats=5):
    """Fastest ``model.predict_proba(X)`` in ms: what judging the rows costs
    (``explain`` on the raw road judges factuals and counterfactuals in one
    pipeline call up to 4,096 rows, in two above)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_proba(X)
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def _time_search(gen):
    """Record the seconds ``gen`` spends in its engine search (``_generate``:
    the chunks through the engine) per ``explain`` call, on the instance: the
    rest of ``explain`` (validation, encode, judging, decode, violations) is
    what the road itself costs."""
    inner, spent = gen._generate, []

    def _generate(*args, **kwargs):
        start = time.perf_counter()
        out = inner(*args, **kwargs)
        spent.append(time.perf_counter() - start)
        return out

    gen._generate = _generate
    return spent


def timed_pair(gen_raw, X_raw, gen_enc, X_enc, repeats, profiles=None):
    """Warm both roads up on 5 rows, then time ``explain`` of every row on each.

    The two roads alternate ``repeats`` times (raw, encoded, raw, ...), so load
    from other processes falls on both alike; the fastest call of each counts
    (extra load only ever adds time). Returns the last counterfactual sets,
    the call times, the seconds of each call spent in the engine search
    (empty where a generator does not search through ``_generate``) and the
    1-min load average before each call. With ``profiles=(raw, encoded)`` the
    first call of each road is profiled.
    """
    cfs, seconds, search, loads = [None, None], [[], []], [[], []], [[], []]
    pairs = ((gen_raw, X_raw), (gen_enc, X_enc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        for gen, X in pairs:
            if gen is not None:
                gen.explain(_head(X, 5))
        spent = [_time_search(g) if g is not None else [] for g, _ in pairs]
        for r in range(repeats):
            for k, (gen, X) in enumerate(pairs):
                if gen is None:
                    continue
                prof = profiles[k] if profiles is not None and r == 0 else None
                loads[k].append(os.getloadavg()[0])
                if prof is not None:
                    prof.enable()
                before = len(spent[k])
                start = time.perf_counter()
                cfs[k] = gen.explain(X)
                seconds[k].append(time.perf_counter() - start)
                if prof is not None:
                    prof.disable()
                if len(spent[k]) > before:
                    search[k].append(sum(spent[k][before:]))
    return cfs, seconds, search, loads


# ----------------------------------------------------------------- checks
def _changed(a, b):
    """Cell-wise 'value differs', NaN equal to NaN, for two aligned Series."""
    a, b = a.astype(object).to_numpy(), b.astype(object).to_numpy()
    both_na = pd.isna(a) & pd.isna(b)
    return ~(both_na | (a == b))


def _direction(x, x_cf):
    """Signed move of one column: numbers by value, ordered categories by code."""
    if isinstance(x.dtype, pd.CategoricalDtype):
        if not x.dtype.ordered:
            return None
        return x_cf.cat.codes.to_numpy() - x.cat.codes.to_numpy()
    return x_cf.to_numpy(dtype=np.float64) - x.to_numpy(dtype=np.float64)


def own_checks(X, X_cf, act, raw, X_train):
    """Independent checks of the returned frame; counts of (row, column) breaks."""
    frame_ok = (
        isinstance(X_cf, pd.DataFrame)
        and X_cf.index.equals(X.index)
        and list(X_cf.columns) == list(X.columns)
        and all(X_cf.dtypes.iloc[j] == X.dtypes.iloc[j] for j in range(X.shape[1]))
    )
    if not isinstance(X_cf, pd.DataFrame):
        X_cf = pd.DataFrame(np.asarray(X_cf), columns=X.columns, index=X.index)
    n = len(X)
    per_row = np.zeros(n, dtype=np.int64)
    counts = dict(immutable=0, direction=0, integer=0, unseen_category=0)
    unordered_directional = []

    def add(key, bad):
        counts[key] += int(bad.sum())
        per_row[:] += bad.astype(np.int64)

    for col in act.get("immutable", []):
        add("immutable", _changed(X[col], X_cf[col]))
    for key, sign in (("increase_only", 1), ("decrease_only", -1)):
        for col in act.get(key, []):
            move = _direction(X[col], X_cf[col])
            if move is None:  # unordered category: no direction to check
                unordered_directional.append(col)
                continue
            add("direction", sign * move < 0)
    for col in act.get("integer", []):
        v = X_cf[col].to_numpy(dtype=np.float64)
        add("integer", np.isfinite(v) & (v != np.round(v)))
    for col in raw.categorical_features:
        seen = set(X_train[col].dropna().astype(object))
        v = X_cf[col].astype(object)
        add("unseen_category", (~v.isin(seen) & v.notna()).to_numpy())
    beyond = 0  # numeric values outside the training range (bounds="infer" allows it)
    for col in raw.numeric_features:
        v = X_cf[col].to_numpy(dtype=np.float64)
        lo, hi = X_train[col].min(), X_train[col].max()
        beyond += int(((v < lo) | (v > hi)).sum())
    return dict(
        frame_ok=bool(frame_ok),
        own_violations=int(per_row.sum()),
        own_rows=per_row,
        beyond_train_range=beyond,
        unordered_directional=unordered_directional,
        **{f"own_{k}": v for k, v in counts.items()},
    )


def _mean(values, mask):
    return float(np.mean(values[mask])) if mask.any() else float("nan")


# ------------------------------------------------------------------- DiCE
def run_dice(pipe, raw, X_train, y_train, query, seed, method="random"):
    """A DiCE method (random, genetic) on the same pipeline and rows."""
    import dice_ml

    frame = X_train.copy()
    frame["_y"] = y_train
    data = dice_ml.Data(
        dataframe=frame,
        continuous_features=list(raw.numeric_features),
        outcome_name="_y",
    )
    model = dice_ml.Model(model=pipe, backend="sklearn")
    exp = dice_ml.Dice(data, model, method=method)
    features_to_vary = [
        c for c in query.columns if c not in raw.actionability.get("immutable", [])
    ]
    # only the random method takes a seed; the others draw from numpy's
    seeded = dict(random_seed=seed) if method == "random" else {}
    np.random.seed(seed)
    rows, start = [], time.perf_counter()
    for i in range(len(query)):
        try:
            res = exp.generate_counterfactuals(
                query.iloc[i : i + 1],
                total_CFs=1,
                desired_class="opposite",
                features_to_vary=features_to_vary,
                **seeded,
            )
            df = res.cf_examples_list[0].final_cfs_df
            rows.append(None if df is None or not len(df) else df.iloc[0])
        except Exception:  # DiCE raises when it finds nothing
            rows.append(None)
    seconds = time.perf_counter() - start
    found = np.array([r is not None for r in rows])
    X_cf = query.copy()
    for i, r in enumerate(rows):
        if r is not None:
            for c in query.columns:
                X_cf.iloc[i, X_cf.columns.get_loc(c)] = r[c]
    X_cf = X_cf.astype(query.dtypes.to_dict())
    flipped = (pipe.predict(X_cf) != pipe.predict(query)) & found
    return X_cf, flipped, seconds


# ------------------------------------------------------------------ main
def run_case(args, dataset, raw, enc, kind, train, pool, rows_out, profiles):
    seed = args.seed
    pipe, model, width, fit_raw, fit_enc = fit_models(
        kind, dataset, raw, enc, train, seed, args.device
    )
    y = np.asarray(raw.target).astype(np.int64)
    if args.same_question:  # the same fitted model, encoded by hand
        encode, model, act_enc = hand_encoded(pipe, raw)
    else:  # the loader's encoding and a model trained on it
        act_enc = dict(enc.actionability)

        def encode(rows):
            return enc_matrix(enc, rows, kind)

    X_pool = raw.data.iloc[pool]
    rej_pipe = pipe.predict(X_pool) == 0
    rej_enc = model.predict(encode(pool)) == 0
    both = pool[rej_pipe & rej_enc]
    held = ~np.isin(pool, train)  # accuracy and rejection counts: held-out rows
    pool_h = pool[held]
    q = both[: args.n_queries]
    n_from_train = int(np.isin(q, train).sum())
    acc_raw = float((pipe.predict(raw.data.iloc[pool_h]) == y[pool_h]).mean())
    acc_enc = float((model.predict(encode(pool_h)) == y[pool_h]).mean())
    X_train, Xq = raw.data.iloc[train], raw.data.iloc[q]
    Ztrain, Zq = encode(train), encode(q)
    judge_raw, judge_enc = _judge_ms(pipe, Xq), _judge_ms(model, Zq)
    case = dict(
        judge_ms_raw=judge_raw,
        judge_ms_enc=judge_enc,
        dataset=dataset,
        model=kind,
        width_raw=width,
        width_enc=int(Zq.shape[1]),
        fit_model_s_raw=fit_raw,
        fit_model_s_enc=fit_enc,
        acc_raw=acc_raw,
        acc_enc=acc_enc,
        n_held_out=int(held.sum()),
        n_rejected_pipe_held_out=int(rej_pipe[held].sum()),
        n_rejected_pipe=int(rej_pipe.sum()),
        n_rejected_both=int(len(both)),
        n_queries=int(len(q)),
        n_queries_from_train=n_from_train,
    )
    print(
        f"{dataset}/{kind}: width {width} (encoded {Zq.shape[1]}), held-out "
        f"accuracy {acc_raw:.3f} (encoded {acc_enc:.3f}); pipeline rejects "
        f"{case['n_rejected_pipe_held_out']} of {held.sum()} held-out rows "
        f"({case['n_rejected_pipe']} of all {len(pool)}), both roads "
        f"{len(both)}; {len(q)} queries ({n_from_train} of them training rows)",
        flush=True,
    )
    act_raw = dict(raw.actionability)
    base = dict(dataset=dataset, model=kind, n_queries=int(len(q)))
    for label, build in generator_settings(args.generators):
        row = dict(base, generator=label, torch_threads=torch.get_num_threads())
        gen = build(pipe, act_raw, seed, args.device)
        cost = "encoded" if args.same_question else None
        try:
            start = time.perf_counter()
            with skcf.config_context(category_cost=cost):
                gen.fit(X_train)
            row["fit_s_raw"] = time.perf_counter() - start
        except NotDifferentiableError as exc:
            row.update(status="n/a: not differentiable", error=str(exc)[:300])
            rows_out.append(row)
            print(f"  {label:42s} n/a: not differentiable", flush=True)
            continue
        except Exception as exc:  # a finding: report, do not fix
            row.update(status="error (raw fit)", error=f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
            rows_out.append(row)
            continue
        # the same generator on the pre-encoded matrix
        gen_e = build(model, act_enc, seed, args.device)
        try:
            start = time.perf_counter()
            gen_e.fit(Ztrain)
            row["fit_s_enc"] = time.perf_counter() - start
        except Exception as exc:
            row.update(error_enc=f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
            gen_e = None
        profs = (cProfile.Profile(), cProfile.Profile()) if args.profile else None
        try:
            (cf, cf_e), (sec, sec_e), (srch, srch_e), (load, load_e) = timed_pair(
                gen, Xq, gen_e, Zq, args.repeats, profs
            )
        except Exception as exc:
            row.update(status="error (explain)", error=f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
            rows_out.append(row)
            continue
        if profs is not None:
            profiles.append((f"{dataset}/{kind}/{label} raw", profs[0]))
            profiles.append((f"{dataset}/{kind}/{label} encoded", profs[1]))
        pred0 = pipe.predict(Xq)
        pred_cf = pipe.predict(cf.X_cf)
        flipped = pred_cf != pred0
        checks = own_checks(Xq, cf.X_cf, act_raw, raw, X_train)
        own_rows = checks.pop("own_rows")
        clean = (np.asarray(cf.violations) == 0) & (own_rows == 0)
        ok = np.asarray(cf.valid, dtype=bool)
        # a row returned unchanged and not claimed valid is "no counterfactual
        # found"; its flags are the factual's own (e.g. a value outside the
        # inferred bounds that the search could not move), not a breach
        moved = np.zeros(len(Xq), dtype=bool)
        for col in Xq.columns:
            moved |= _changed(Xq[col], cf.X_cf[col])
        flagged = np.asarray(cf.violations) > 0
        unmoved = flagged & ~moved & ~ok
        nq = max(len(q), 1)
        row.update(
            status="ok",
            validity_claimed=cf.validity,
            validity_pipe=float(np.mean(flipped & clean)) if len(q) else float("nan"),
            flipped_pipe=float(np.mean(flipped)) if len(q) else float("nan"),
            lies=int((ok & ~flipped).sum()),
            unclaimed_flips=int((~ok & flipped).sum()),
            cf_violations=int(np.sum(np.asarray(cf.violations)[~unmoved])),
            violations=int(np.sum(np.asarray(cf.violations)[~unmoved]))
            + checks["own_violations"],
            unmoved_flagged=int(unmoved.sum()),
            l0=_mean(np.asarray(cf.l0, dtype=float), ok),
            l1=_mean(np.asarray(cf.l1, dtype=float), ok),
            seconds_raw=min(sec),
            seconds_raw_all=sec,
            ms_per_cf_raw=1000 * min(sec) / nq,
            ms_per_cf_raw_median=1000 * float(np.median(sec)) / nq,
            load_raw=max(load),
            steps_raw=float(np.mean(cf.n_iter)),
            **checks,
        )
        if cf_e is not None:
            row.update(
                validity_enc=cf_e.validity,
                seconds_enc=min(sec_e),
                seconds_enc_all=sec_e,
                ms_per_cf_enc=1000 * min(sec_e) / nq,
                ms_per_cf_enc_median=1000 * float(np.median(sec_e)) / nq,
                load_enc=max(load_e),
                ratio=min(sec) / min(sec_e),
                ratio_median=float(np.median(sec) / np.median(sec_e)),
                steps_enc=float(np.mean(cf_e.n_iter)),
            )
            if srch and srch_e and len(srch) == len(sec) and len(srch_e) == len(sec_e):
                # the fastest call of each road, split into engine search and
                # the rest; the road's own cost is the rest beyond the encoded
                # road's rest, as a share of the encoded time
                i, j = int(np.argmin(sec)), int(np.argmin(sec_e))
                row.update(
                    search_s_raw=srch[i],
                    search_s_enc=srch_e[j],
                    search_ratio=srch[i] / srch_e[j],
                    road_overhead=((sec[i] - srch[i]) - (sec_e[j] - srch_e[j]))
                    / sec_e[j],
                )
        else:
            row["ratio"] = float("nan")
        row["pass"] = passes(row)
        rows_out.append(row)
        print(
            f"  {label:42s} valid {row['validity_pipe']:.3f} (claimed "
            f"{row['validity_claimed']:.3f}) lies {row['lies']} viol "
            f"{row['cf_violations']}+{row['own_violations']} cols {row['l0']:.2f} "
            f"l1 {row['l1']:.2f} {row['ms_per_cf_raw']:.1f} ms/CF vs "
            f"{row.get('ms_per_cf_enc', float('nan')):.1f} encoded = "
            f"{row['ratio']:.2f}x (load {row['load_raw']:.1f}/"
            f"{row.get('load_enc', 0):.1f}; fit {row['fit_s_raw']:.1f}/"
            f"{row.get('fit_s_enc', float('nan')):.1f} s)",
            flush=True,
        )
    if args.dice:
        Xd = Xq.iloc[: args.dice_queries]
        for method in args.dice_methods:
            rows_out.append(
                dice_row(args, base, pipe, raw, X_train, y[train], Xd, method)
            )
    return case


def dice_row(args, base, pipe, raw, X_train, y_train, Xq, method="random"):
    row = dict(base, generator=f"DiCE ({method}, first {len(Xq)} rows)")
    if importlib.util.find_spec("dice_ml") is None:
        row.update(status="not installed")
        return row
    try:
        X_cf, flipped, seconds = run_dice(
            pipe, raw, X_train, y_train, Xq, args.seed, method
        )
        checks = own_checks(Xq, X_cf, dict(raw.actionability), raw, X_train)
        checks.pop("own_rows")
        row.update(
            status="ok",
            validity_pipe=float(np.mean(flipped)),
            violations=checks["own_violations"],
            ms_per_cf_raw=1000 * seconds / max(len(Xq), 1),
            **checks,
        )
    except Exception as exc:
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
    return row


def passes(row):
    return bool(
        row.get("validity_pipe", 0) >= TARGETS["validity"]
        and row.get("violations", 1) == 0
        and row.get("lies", 1) == 0
        and row.get("frame_ok", False)
        and row.get("ratio", np.inf) <= TARGETS["ratio"]
    )


def _git(*cmd):
    try:
        return subprocess.run(
            ["git", *cmd],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
            check=False,
        ).stdout.strip()
    except OSError:
        return ""


def _fmt(v, spec=".2f"):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    return format(v, spec)


def _steps_ratio(r):
    if not r.get("steps_enc"):
        return float("nan")
    return r["steps_raw"] / r["steps_enc"]


def _summary(rows):
    done = [r for r in rows if r.get("status") == "ok" and "lies" in r]
    bad_valid = [r for r in done if not r["validity_pipe"] >= TARGETS["validity"]]
    bad_ratio = [r for r in done if not r.get("ratio", np.inf) <= TARGETS["ratio"]]
    name = lambda r: f"{r['dataset']}/{r['model']}/{r['generator']}"  # noqa: E731
    lines = [
        f"- Settings run: {len(done)} (dataset, model, generator); "
        f"{sum(r['pass'] for r in done)} meet every target.",
        f"- Lies: {sum(r['lies'] for r in done)}; violations: "
        f"{sum(r['violations'] for r in done)} "
        f"({sum(r['cf_violations'] for r in done)} from `cf.violations`, "
        f"{sum(r['own_violations'] for r in done)} from the own checks); "
        f"unmoved flagged (factual outside the inferred bounds, returned "
        f"unchanged as not found): {sum(r.get('unmoved_flagged', 0) for r in done)}"
        "; returned "
        f"frames with the wrong index/columns/dtypes: "
        f"{sum(not r['frame_ok'] for r in done)}.",
        f"- Validity < {TARGETS['validity']} ({len(bad_valid)}): "
        + (
            ", ".join(
                f"{name(r)} {r['validity_pipe']:.3f} (encoded "
                f"{_fmt(r.get('validity_enc'), '.3f')})"
                for r in bad_valid
            )
            or "none"
        )
        + ".",
        f"- Ratio > {TARGETS['ratio']}× ({len(bad_ratio)} of {len(done)}): "
        + (
            ", ".join(
                f"{name(r)} {_fmt(r.get('ratio'))}× (search "
                f"{_fmt(r.get('search_ratio'))}×, steps "
                f"{_fmt(_steps_ratio(r))}×, road "
                f"{_fmt(100 * r.get('road_overhead', np.nan), '+.0f')}%)"
                for r in bad_ratio
            )
            or "none"
        )
        + ".",
    ]
    split = [r for r in done if "road_overhead" in r]
    if split:
        over = [r for r in split if r["road_overhead"] > TARGETS["ratio"] - 1]
        lines.append(
            f"- The road's own cost (time outside the engine search beyond the "
            f"encoded road's, as a share of the encoded time): median "
            f"{100 * np.median([r['road_overhead'] for r in split]):+.0f}%, "
            f"max {100 * max(r['road_overhead'] for r in split):+.0f}% over "
            f"{len(split)} settings; above {100 * (TARGETS['ratio'] - 1):.0f}% in "
            f"{len(over)}"
            + (": " + ", ".join(name(r) for r in over) if over else "")
            + ". The rest of each ratio is the search itself (`search` = raw ÷ "
            "encoded search time, `steps` = raw ÷ encoded mean engine steps per row)."
        )
    na = sorted(
        {r["generator"] for r in rows if str(r.get("status")).startswith("n/a")}
    )
    if na:
        lines.append(f"- n/a (not differentiable) with `hgb`: {', '.join(na)}.")
    other = [r for r in rows if r.get("status") not in ("ok", "not installed")]
    other = [r for r in other if not str(r.get("status")).startswith("n/a")]
    for r in other:
        lines.append(f"- {name(r)}: {r.get('status')}: {r.get('error', '')[:200]}")
    dice = {r.get("status") for r in rows if r["generator"].startswith("DiCE")}
    if dice:
        lines.append(f"- DiCE (`dice_ml`): {', '.join(sorted(dice))}.")
    return lines


def write_markdown(path, meta, cases, rows):
    lines = [
        "# Counterfactuals in the user's own terms (raw road vs encoded road)",
        "",
        "Raw frame → user's `Pipeline(ColumnTransformer(StandardScaler, "
        "OneHotEncoder(handle_unknown='ignore'), sparse_threshold=0), [float32 "
        "cast,] model)`, every generator with its defaults and the dataset's "
        "actionability by column name. "
        "`valid` = share of rows the pipeline's own `predict` flips on the "
        "returned DataFrame with no violation found; `claimed` = `cf.validity`; "
        "`lies` = rows `cf.valid` claims that `pipe.predict` does not flip; "
        "`viol.` = `cf.violations` summed + own checks of the returned frame "
        "(immutable unchanged, increase-/decrease-only direction, ordered "
        "categoricals by code, integral integer columns, categories seen in "
        "training), over rows the generator moved or claims valid; a row "
        "returned unchanged as not found keeps its `cf.violations` flag when the "
        "factual itself breaks a constraint (a value outside the inferred "
        "bounds), counted apart as `unmoved flagged` in the summary, not as a "
        "breach; `frame` = index/columns/dtypes as the input's; `cols` / `ℓ1` "
        "= mean changed columns / ℓ1 (MADs + 1 per changed category) of the "
        "valid rows; `out` = numeric values outside the training range "
        '(allowed by `bounds="infer"`, μ ± 3σ; not a violation); '
        f"`ms/CF` = the fastest of {meta['repeats']} timed `explain` "
        "calls (after a 5-row warm-up; raw and encoded calls alternate); "
        + (
            "`enc ms/CF` and `enc valid` = the same generator on the same rows "
            "encoded by the pipeline's own preprocessing, explaining the "
            "pipeline's own fitted model (actionability rebuilt on the encoded "
            "columns); "
            if meta.get("same_question")
            else "`enc ms/CF` and `enc valid` = the same generator, same model "
            "type, same rows on the loader's encoded matrix (`as_frame=False`, "
            "index-based actionability); "
        )
        + "`ratio` = raw ÷ encoded time, split into `search` = raw ÷ encoded "
        "time in the engine search (`_generate`), `steps` = raw ÷ encoded mean "
        "engine steps per row (`cf.n_iter`) and `road` = the raw road's own "
        "cost: its time outside the search minus the encoded road's, as a "
        "share of the encoded time (encode, judging by the pipeline, decode, "
        "checks in original units); `load` = highest 1-min load average "
        "seen before the raw / encoded calls.",
        "",
    ]
    if not meta.get("same_question"):
        lines += [
            "The two roads do not enforce the same constraints: the raw road "
            "keeps integer columns integral and moves ordered categoricals "
            "(German `employment`, Adult `education`) in their allowed direction "
            "only; the loader's encoded actionability has no integer columns and "
            "treats those categoricals as plain one-hot groups. Part of the "
            "ratio is that extra work.",
            "",
        ]
    lines += [
        f"Targets: validity ≥ {TARGETS['validity']}, 0 lies, 0 violations, "
        f"ratio ≤ {TARGETS['ratio']}×. Machine: {meta['cpu_count']} cores, torch "
        f"{meta['torch_threads']} threads ("
        + (
            "pinned by `--threads`"
            if meta["threads_pinned"]
            else "library default, not pinned"
        )
        + f"), load "
        f"average {meta['load_start']:.1f} at the start and {meta['load_end']:.1f} "
        f"at the end; skcf {meta['skcf']} at {meta['git_commit'][:10]}"
        + (f" (uncommitted: {meta['git_dirty']})" if meta["git_dirty"] else "")
        + f"; wall time {meta['wall_s'] / 60:.1f} min.",
    ]
    if meta.get("note"):
        lines += ["", meta["note"]]
    if meta.get("same_question"):
        lines += [
            "",
            "**`--same-question`**: the raw road asked the encoded road's question "
            "(integer columns as float64, ordered categoricals unordered, no "
            'linked columns or rank directions, `category_cost="encoded"`), '
            "against the road a user takes by hand: the pipeline's own "
            "preprocessing encodes the rows, its own fitted model is explained, "
            "the constraints are rebuilt on the encoded columns. Both roads "
            "explain the same model, so the ratio measures the road itself.",
        ]
    lines += ["", "## Summary", ""] + _summary(rows)
    for dataset in dict.fromkeys(c["dataset"] for c in cases):
        lines += ["", f"## {dataset}", ""]
        for c in (c for c in cases if c["dataset"] == dataset):
            short = (
                f" (fewer than the {meta['n_queries']} asked for)"
                if c["n_queries"] < meta["n_queries"]
                else ""
            )
            lines.append(
                f"- `{c['model']}`: {c['n_queries']} queries{short}, "
                f"{c['n_queries_from_train']} of them training rows — the pipeline "
                f"rejects {c['n_rejected_pipe_held_out']} of {c['n_held_out']} "
                f"held-out rows ({c['n_rejected_pipe']} of all rows), "
                f"{c['n_rejected_both']} rejected by both roads; held-out accuracy "
                f"{c['acc_raw']:.3f} raw / {c['acc_enc']:.3f} encoded; "
                f"{c['width_raw']} model inputs raw / {c['width_enc']} encoded."
                + (
                    f" Judging the {c['n_queries']} query rows takes the "
                    f"user's pipeline {c['judge_ms_raw']:.1f} ms "
                    f"(`predict_proba` on the frame) and the encoded model "
                    f"{c['judge_ms_enc']:.1f} ms; `explain` on the raw road "
                    "judges factuals and counterfactuals in one call (up to "
                    "4,096 rows)."
                    if "judge_ms_raw" in c
                    else ""
                )
            )
        lines += [
            "",
            "| model | generator | valid | claimed | enc valid | lies "
            "| viol. (cf+own) | frame | cols | ℓ1 | out | ms/CF | enc ms/CF "
            "| ratio | search | steps | road | load | targets |",
            "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:"
            "|---:|---:|---:|---:|---|---|",
        ]
        for r in (r for r in rows if r["dataset"] == dataset):
            if r.get("status") != "ok":
                lines.append(
                    f"| {r['model']} | {r['generator']} | {r.get('status')} "
                    + "| " * 16
                    + "|"
                )
                continue
            if r["generator"].startswith("DiCE"):
                lines.append(
                    f"| {r['model']} | {r['generator']} | "
                    f"{_fmt(r['validity_pipe'], '.3f')} | – | – | – | "
                    f"{r['violations']} | – | – | – | – | "
                    f"{_fmt(r['ms_per_cf_raw'], '.1f')} | – | – | – | – | – "
                    "| – | reference |"
                )
                continue
            lines.append(
                f"| {r['model']} | {r['generator']} | "
                f"{_fmt(r['validity_pipe'], '.3f')} | "
                f"{_fmt(r['validity_claimed'], '.3f')} | "
                f"{_fmt(r.get('validity_enc'), '.3f')} | {r['lies']} | "
                f"{r['violations']} ({r['cf_violations']}+{r['own_violations']}) | "
                f"{'ok' if r['frame_ok'] else 'BAD'} | {_fmt(r['l0'])} | "
                f"{_fmt(r['l1'])} | {r['beyond_train_range']} | "
                f"{_fmt(r['ms_per_cf_raw'], '.1f')} | "
                f"{_fmt(r.get('ms_per_cf_enc'), '.1f')} | "
                f"{_fmt(r.get('ratio'))}× | {_fmt(r.get('search_ratio'))}× | "
                f"{_fmt(_steps_ratio(r))}× | "
                f"{_fmt(100 * r.get('road_overhead', np.nan), '+.0f')}% | "
                f"{r['load_raw']:.1f}/"
                f"{_fmt(r.get('load_enc'), '.1f')} | "
                f"{'PASS' if r['pass'] else fails(r)} |"
            )
    lines.append("")
    path.write_text("\n".join(lines) + "\n")


def fails(r):
    out = []
    if not r.get("validity_pipe", 0) >= TARGETS["validity"]:
        out.append("validity")
    if r.get("lies", 1):
        out.append("lies")
    if r.get("violations", 1):
        out.append("violations")
    if not r.get("frame_ok", False):
        out.append("frame")
    if not r.get("ratio", np.inf) <= TARGETS["ratio"]:
        out.append("ratio")
    return "FAIL: " + ", ".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["german", "adult"])
    parser.add_argument("--n-queries", "--n-samples", type=int, default=1000)
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--generators", nargs="+", default=None)
    parser.add_argument("--quick", action="store_true", help="100 queries, German")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed calls per road (fastest counts)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: not pinned)"
    )
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--same-question",
        action="store_true",
        help="raw road without integer grid, ordered categories or links, "
        "encoded-road category weights, against the pipeline's own encoding "
        "and model by hand: the road itself",
    )
    parser.add_argument("--no-dice", dest="dice", action="store_false")
    parser.add_argument(
        "--dice-methods",
        nargs="+",
        default=["random", "genetic"],
        choices=["random", "genetic", "kdtree"],
    )
    parser.add_argument(
        "--dice-queries",
        type=int,
        default=200,
        help="DiCE runs one row at a time: the first N query rows only",
    )
    parser.add_argument(
        "--data-home",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="a line for the markdown")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument(
        "--tag", default="", help="suffix of the result files (original_units_TAG)"
    )
    parser.add_argument(
        "--render", metavar="JSON", help="only rewrite the markdown of a JSON result"
    )
    args = parser.parse_args(argv)
    if args.render:
        res = json.loads(Path(args.render).read_text())
        write_markdown(
            Path(args.render).with_suffix(".md"), res["meta"], res["cases"], res["rows"]
        )
        return
    if args.quick:
        args.n_queries, args.datasets = min(args.n_queries, 100), ["german"]
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0, load_start = time.perf_counter(), os.getloadavg()[0]
    cases, rows, profiles = [], [], []
    for dataset in args.datasets:
        raw, enc = load(dataset, args.data_home)
        if args.same_question:
            raw = same_question(raw)
        n = len(raw.data)
        idx = np.random.default_rng(args.seed).permutation(n)
        n_train = min(args.n_train, int(0.7 * n))
        train, held_out = idx[:n_train], idx[n_train:]
        # held-out rows first; training rows only where too few are held out
        pool = np.concatenate([held_out, train])
        for kind in args.models:
            cases.append(
                run_case(args, dataset, raw, enc, kind, train, pool, rows, profiles)
            )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = (
        "original_units"
        + (f"_threads{args.threads}" if args.threads else "")
        + ("_quick" if args.quick else "")
        + (f"_{args.tag}" if args.tag else "")
    )
    meta = dict(
        device=args.device,
        seed=args.seed,
        n_queries=args.n_queries,
        n_train=args.n_train,
        datasets=args.datasets,
        models=args.models,
        quick=args.quick,
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        threads_pinned=bool(args.threads),
        repeats=args.repeats,
        load_start=load_start,
        load_end=os.getloadavg()[0],
        wall_s=time.perf_counter() - t0,
        dice="installed"
        if importlib.util.find_spec("dice_ml") is not None
        else "not installed",
        torch=torch.__version__,
        sklearn=sklearn.__version__,
        pandas=pd.__version__,
        numpy=np.__version__,
        skcf=skcf.__version__,
        python=platform.python_version(),
        git_commit=_git("rev-parse", "HEAD"),
        git_dirty=" ".join(
            line.split(maxsplit=1)[-1]
            for line in _git("status", "--porcelain", "skcf").splitlines()
            if line.strip()
        ),
        note=args.note,
        same_question=args.same_question,
    )
    (out / f"{stem}.json").write_text(
        json.dumps(dict(meta=meta, cases=cases, rows=rows), indent=2, default=_json)
    )
    write_markdown(out / f"{stem}.md", meta, cases, rows)
    if profiles:
        text = io.StringIO()
        for label, prof in profiles:
            text.write(f"==== {label} ====\n")
            pstats.Stats(prof, stream=text).sort_stats("cumtime").print_stats(15)
        (out / f"{stem}_profile.txt").write_text(text.getvalue())
        print(text.getvalue())
    print(f"wrote {out}/{stem}.{{json,md}} in {meta['wall_s'] / 60:.1f} min")


def _json(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


if __name__ == "__main__":
    main()
