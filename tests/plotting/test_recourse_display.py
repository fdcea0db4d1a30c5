"""RecourseDisplay: per-applicant changes and change statistics in original units."""

import copy
import warnings

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skcf.datasets import load_german_credit
from skcf.exceptions import CounterfactualWarning
from skcf.generators import ElasticNetGenerator

matplotlib = pytest.importorskip("matplotlib")
pytest.importorskip("pandas")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from skcf.plotting import RecourseDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def german():
    bunch = load_german_credit(as_frame=True)
    X, y = bunch.data, bunch.target
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), bunch.numeric_features),
            ("cat", OneHotEncoder(handle_unknown="ignore"), bunch.categorical_features),
        ]
    )
    pipe = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))])
    pipe.fit(X, y)
    gen = ElasticNetGenerator(
        pipe, random_state=0, max_iter=60, n_search_steps=3, **bunch.actionability
    ).fit(X)
    X_rej = X[pipe.predict(X) == 0].head(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CounterfactualWarning)
        cf = gen.explain(X_rej)
    assert cf.space is not None and cf.valid.sum() >= 5 and cf.l0.max() >= 2
    return gen, X_rej, cf


@pytest.fixture(scope="module")
def encoded():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] - 0.5 * X[:, 2] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    gen = ElasticNetGenerator(model, random_state=0, max_iter=60).fit(X)
    X_rej = X[model.predict(X) == 0][:20]
    return gen, X_rej


def _invalidated(cf, rows):
    """A copy of ``cf`` whose ``rows`` have no valid counterfactual."""
    out = copy.copy(cf)
    out.valid = np.asarray(cf.valid).copy()
    out.valid[rows] = False
    return out


def _tick_labels(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def test_rows_panel_shows_each_change_in_original_units(german):
    _, _, cf = german
    valid = np.flatnonzero(cf.valid)
    rows = [valid[int(np.argmax(cf.l0[valid]))], valid[0], valid[1]]
    disp = RecourseDisplay.from_counterfactuals(cf, rows=rows)
    assert len(disp.rows_ax_) == 3 and list(disp.rows_) == rows
    cells = cf.to_frame("delta")
    changes = cf.to_frame("changes")
    names = [str(n) for n in cf.feature_names]
    kinds = [c.kind for c in cf.space.columns]
    for ax, i in zip(disp.rows_ax_, rows):
        label = cf.X.index[i]
        # one bar per changed column, one annotation per bar
        assert len(ax.patches) == cf.l0[i]
        assert len(ax.texts) == cf.l0[i]
        assert ax.get_title() == f"row {label}: {cf.y_pred[i]} → {cf.y_cf_pred[i]}"
        mine = changes[changes["row"] == label]
        assert sorted(_tick_labels(ax)) == sorted(mine["feature"])
        # annotation = the original-unit cell of to_frame("delta"), e.g. "48 → 43"
        for bar, tick, text in zip(ax.patches, _tick_labels(ax), ax.texts):
            j = names.index(tick)
            assert text.get_text() == cells.iloc[i][tick]
            assert "→" in text.get_text()
            row = mine[mine["feature"] == tick].iloc[0]
            assert str(row["to"]) in text.get_text()
            if kinds[j] == "numeric":
                expected = cf.delta[i, j] / cf.space.column_scale[j]
                assert bar.get_width() == pytest.approx(expected)
            else:
                assert bar.get_width() == pytest.approx(1.0)
        # categorical and numeric bars have different colours
        colours = {
            kinds[names.index(t)] == "numeric": tuple(b.get_facecolor())
            for b, t in zip(ax.patches, _tick_labels(ax))
        }
        if len(colours) == 2:
            assert colours[True] != colours[False]
    assert disp.rows_ax_[-1].get_xlabel().startswith("standardised change")
    assert disp.rows_ax_[0].get_legend() is not None


def test_summary_frequencies_match_delta(german):
    _, _, cf = german
    disp = RecourseDisplay.from_counterfactuals(cf, max_features=30)
    changed = np.abs(cf.delta) > 0
    expected = changed[cf.valid].mean(axis=0)
    np.testing.assert_allclose(disp.frequency_, expected)
    # bars: every changed column once, sorted by frequency, widths = fractions
    names = [str(n) for n in cf.feature_names]
    ax = disp.frequency_ax_
    ticks = _tick_labels(ax)
    widths = [b.get_width() for b in ax.patches]
    assert sorted(ticks) == sorted(n for n, f in zip(names, expected) if f > 0)
    np.testing.assert_allclose(widths, [expected[names.index(t)] for t in ticks])
    assert widths == sorted(widths, reverse=True)
    assert ax.get_xlabel() == "fraction of valid rows changing the column"
    assert f"{int(cf.valid.sum())} of {len(cf)}" in ax.get_title()
    assert ax.get_legend() is not None
    # magnitude: one box per numeric column, transitions for categorical ones
    mag = disp.magnitude_ax_
    assert mag.get_xlabel().startswith("standardised change")
    kinds = {c.name: c.kind for c in cf.space.columns}
    texts = [t.get_text() for t in mag.texts]
    assert len(texts) == len(ticks)
    for tick, text in zip(ticks, texts):
        if kinds[tick] == "numeric":
            j = names.index(tick)
            rows = cf.valid & changed[:, j]
            median = np.median(cf.delta[rows, j])
            assert text.startswith("median Δ")
            assert float(text.split()[-1]) == pytest.approx(median, rel=1e-3)
        else:
            assert "→" in text and "×" in text
    # the top transition of the most frequently switched categorical column
    cat = [t for t in ticks if kinds[t] != "numeric"]
    if cat:
        col = cat[0]
        cells = cf.to_frame("delta")[col][cf.valid]
        top = cells[cells != ""].value_counts().index[0]
        assert texts[ticks.index(col)].startswith(f"{top} ×")
    # default max_features caps the summary
    few = RecourseDisplay.from_counterfactuals(cf, max_features=2, kind="summary")
    assert len(few.frequency_ax_.patches) == min(2, int((expected > 0).sum()))


def test_invalid_rows_are_excluded_and_flagged(german):
    _, _, cf = german
    bad = np.flatnonzero(cf.valid)[:2]
    cf2 = _invalidated(cf, bad)
    disp = RecourseDisplay.from_counterfactuals(cf2)
    changed = np.abs(cf.delta) > 0
    np.testing.assert_allclose(disp.frequency_, changed[cf2.valid].mean(axis=0))
    # default rows: the first 3 valid ones
    assert list(disp.rows_) == list(np.flatnonzero(cf2.valid)[:3])
    # an explicitly selected invalid row says so and draws no bar
    disp = RecourseDisplay.from_counterfactuals(cf2, rows=[bad[0]], kind="rows")
    (ax,) = disp.rows_ax_
    assert len(ax.patches) == 0
    assert [t.get_text() for t in ax.texts] == ["no valid counterfactual"]
    assert "no valid counterfactual" in ax.get_title()
    # rows=k: the first k valid rows
    disp = RecourseDisplay.from_counterfactuals(cf2, rows=1, kind="rows")
    assert list(disp.rows_) == [np.flatnonzero(cf2.valid)[0]]


def test_zero_valid_rows_draw_messages(german):
    _, _, cf = german
    cf0 = _invalidated(cf, slice(None))
    disp = RecourseDisplay.from_counterfactuals(cf0)
    np.testing.assert_array_equal(disp.frequency_, np.zeros(len(cf.feature_names)))
    assert disp.rows_.size == 0 and len(disp.rows_ax_) == 1
    for ax in (*disp.rows_ax_, disp.frequency_ax_, disp.magnitude_ax_):
        assert len(ax.patches) == 0
        assert any("no valid counterfactual" in t.get_text() for t in ax.texts)
    assert disp.frequency_ax_.get_xlabel()
    disp.figure_.canvas.draw()  # renders without error
    # and with no rows at all
    empty = RecourseDisplay(
        np.zeros((0, 2)), np.zeros((0, 2), dtype=object), np.zeros(0, bool),
        np.zeros(0), np.zeros(0), ["a", "b"],
    ).plot()  # fmt: skip
    assert empty.frequency_.tolist() == [0.0, 0.0]


def test_encoded_road(encoded):
    gen, X = encoded
    disp = RecourseDisplay.from_generator(gen, X, rows=[0, 1])
    cf = gen.explain(X)
    assert cf.space is None
    names = [str(n) for n in cf.feature_names]
    for ax, i in zip(disp.rows_ax_, [0, 1]):
        assert len(ax.patches) == cf.l0[i]
        for bar, tick, text in zip(ax.patches, _tick_labels(ax), ax.texts):
            j = names.index(tick)
            assert bar.get_width() == pytest.approx(cf.delta[i, j] / gen.scale_[j])
            a, b = text.get_text().split(" → ")
            assert float(a) == pytest.approx(cf.X[i, j], rel=1e-3, abs=1e-4)
            assert float(b) == pytest.approx(cf.X_cf[i, j], rel=1e-3, abs=1e-4)
    np.testing.assert_allclose(
        disp.frequency_, (np.abs(cf.delta) > 0)[cf.valid].mean(axis=0)
    )
    assert disp.figure_._suptitle.get_text().startswith("ElasticNetGenerator")
    assert "category" not in disp.magnitude_ax_.get_xlabel()
    # without the generator, changes stay in feature units
    raw = RecourseDisplay.from_counterfactuals(cf, rows=[0])
    j = names.index(_tick_labels(raw.rows_ax_[0])[0])
    assert raw.rows_ax_[0].patches[0].get_width() == pytest.approx(cf.delta[0, j])
    assert raw.rows_ax_[0].get_xlabel() == "change (feature units)"


def test_max_features_caps_bars(german):
    _, _, cf = german
    i = int(np.argmax(np.where(cf.valid, cf.l0, -1)))
    assert cf.l0[i] >= 2
    disp = RecourseDisplay.from_counterfactuals(cf, rows=[i], max_features=1)
    ax = disp.rows_ax_[0]
    assert len(ax.patches) == 1
    assert f"+{cf.l0[i] - 1} more" in [t.get_text() for t in ax.texts]
    # the one bar kept is the largest standardised change
    assert abs(ax.patches[0].get_width()) == pytest.approx(np.abs(cf._cost[i]).max())


def test_ax_is_respected(german):
    _, _, cf = german
    fig, (left, right) = plt.subplots(1, 2)
    disp = RecourseDisplay.from_counterfactuals(cf, rows=2, ax=right)
    assert disp.figure_ is fig
    assert len(disp.ax_) == 2 + 2
    assert all(a.figure is fig for a in disp.ax_)
    assert not right.axison and left.axison  # the given Axes is split
    box = right.get_position()
    for a in disp.ax_:
        pos = a.get_position()
        assert pos.x0 >= box.x0 - 1e-6 and pos.x1 <= box.x1 + 1e-6
    # one panel: drawn on the Axes itself
    fig, ax = plt.subplots()
    disp = RecourseDisplay.from_counterfactuals(cf, rows=1, kind="rows", ax=ax)
    assert disp.rows_ax_ == [ax] and ax.patches
    # a sequence: one Axes per panel
    fig, axes = plt.subplots(1, 4)
    disp = RecourseDisplay.from_counterfactuals(cf, rows=2, ax=axes)
    assert list(disp.ax_) == list(axes)
    assert disp.frequency_ax_ is axes[2] and disp.magnitude_ax_ is axes[3]
    with pytest.raises(ValueError, match="ax holds 3 Axes"):
        RecourseDisplay.from_counterfactuals(cf, rows=2, ax=axes[:3])


def test_bad_parameters(german):
    _, _, cf = german
    with pytest.raises(ValueError, match="kind must be"):
        RecourseDisplay.from_counterfactuals(cf, kind="table")
    with pytest.raises(ValueError, match="max_features"):
        RecourseDisplay.from_counterfactuals(cf, max_features=0)
    with pytest.raises(ValueError, match="rows must be positions"):
        RecourseDisplay.from_counterfactuals(cf, rows=[len(cf)])
    with pytest.raises(ValueError, match="rows must be"):
        RecourseDisplay.from_counterfactuals(cf, rows=["a"])
    with pytest.raises(ValueError, match="labels has shape"):
        RecourseDisplay(
            np.zeros((2, 2)), np.zeros((2, 3), dtype=object), [True, True],
            [0, 0], [1, 1], ["a", "b"],
        ).plot()  # fmt: skip
