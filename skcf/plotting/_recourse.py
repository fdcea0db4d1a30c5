"""Tabular recourse in original units: what each applicant changes, and how often."""

import inspect
from collections import Counter
from numbers import Integral, Real

import numpy as np

from ..base import _fmt
from ..utils._optional import check_matplotlib_support

_KINDS = ("both", "rows", "summary")
_NUMERIC_COLOR = "tab:blue"
_CATEGORY_COLOR = "tab:orange"
_NO_CF = "no valid counterfactual"


class RecourseDisplay:
    """Recourse of tabular counterfactuals, read in the data's original units.

    Two views of one :class:`~skcf.base.CounterfactualSet`, chosen with
    ``kind``:

    - ``"rows"``: one horizontal bar chart per selected applicant, titled with
      the row's index and its predicted → counterfactual class. One bar per
      changed column: the standardised change (a numeric change divided by the
      column's scale, signed; a changed category is a bar of length 1 in
      another colour), annotated with the change in original units
      (``"24 → 12"``, ``"'A11' → 'A14'"``). A selected row without a valid
      counterfactual reads "no valid counterfactual".
    - ``"summary"``: over the valid rows only, the fraction of rows changing
      each column (sorted) and, for numeric columns, a box plot of the
      standardised change among the rows that change it, annotated with the
      median change in original units; categorical columns are annotated with
      their most frequent from → to transitions.
    - ``"both"`` (default): the two views side by side.

    Build it with :meth:`from_counterfactuals` or :meth:`from_generator`;
    call :meth:`plot` to draw. The constructor stores plain arrays, so a
    display can also be built from saved results.

    Parameters
    ----------
    delta : ndarray of shape (n_samples, n_features)
        Change per row and column, as :attr:`CounterfactualSet.delta
        <skcf.base.CounterfactualSet.delta>`: in original units for numeric
        columns, 1.0 for a changed category, 0 where unchanged.
    labels : ndarray of str of shape (n_samples, n_features)
        The change as a person reads it (``"24 → 12"``), empty where
        unchanged.
    valid : ndarray of shape (n_samples,), dtype=bool
        Rows with a valid counterfactual; only these enter the summary.
    y_pred : ndarray of shape (n_samples,)
        Predicted class of each factual row.
    y_cf_pred : ndarray of shape (n_samples,)
        Predicted class of each counterfactual.
    feature_names : array-like of str of shape (n_features,)
        Column names.
    scale : ndarray of shape (n_features,), default=None
        Per-column unit of the standardised change (the median absolute
        deviation on the raw-data road, 1 for categories). None: no scaling,
        changes are drawn in feature units.
    categorical : ndarray of shape (n_features,), dtype=bool, default=None
        Columns whose change is a category switch (drawn as a bar of length
        1 in another colour). None: every column is numeric.
    row_names : array-like of shape (n_samples,), default=None
        Names of the rows in titles (the input's index); positions if None.
    rows : int or array-like of int, default=None
        Applicants drawn in the ``"rows"`` view: an int ``k`` takes the first
        ``k`` valid rows, an array takes these positions (0-based, whatever
        the index), valid or not. None: the first 3 valid rows.
    max_features : int, default=10
        At most this many bars per applicant (the largest changes) and columns
        in the summary (the most often changed).
    kind : {"both", "rows", "summary"}, default="both"
        Which view to draw.
    title : str, default=None
        Figure title; none if None.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        Every panel drawn: one per selected applicant (``"rows"``), then the
        frequency and magnitude panels (``"summary"``).
    rows_ax_ : list of matplotlib Axes
        One panel per selected applicant (empty for ``kind="summary"``).
    frequency_ax_ : matplotlib Axes or None
        Fraction of valid rows changing each column.
    magnitude_ax_ : matplotlib Axes or None
        Standardised change per column over the valid rows that change it.
    figure_ : matplotlib Figure
    rows_ : ndarray of int
        Positions of the applicants drawn.
    frequency_ : ndarray of shape (n_features,)
        Fraction of valid rows changing each column (0 with no valid row).

    See Also
    --------
    CounterfactualDisplay : Decision regions and arrows for 2-D data.
    skcf.base.CounterfactualSet.to_frame : The same changes as a table.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skcf.base import CounterfactualSet
    >>> from skcf.plotting import RecourseDisplay
    >>> cf = CounterfactualSet(X=np.zeros((3, 2)),
    ...     X_cf=np.array([[0., 1.], [2., 0.5], [0., 0.]]),
    ...     y_pred=np.array([0, 0, 0]), y_cf_pred=np.array([1, 1, 0]),
    ...     target=np.array([1, 1, 1], dtype=object),
    ...     valid=np.array([True, True, False]), violations=np.zeros(3, int),
    ...     n_iter=np.array([3, 4, 10]), feature_names=np.array(["a", "b"]),
    ...     elapsed=0.1)
    >>> disp = RecourseDisplay.from_counterfactuals(cf, rows=[1, 2])
    >>> [ax.get_title() for ax in disp.rows_ax_]
    ['row 1: 0 → 1', 'row 2: 0 (no valid counterfactual)']
    >>> [t.get_text() for t in disp.rows_ax_[0].texts]
    ['0 → 2', '0 → 0.5']
    >>> disp.frequency_.tolist()
    [0.5, 1.0]
    """

    def __init__(
        self,
        delta,
        labels,
        valid,
        y_pred,
        y_cf_pred,
        feature_names,
        *,
        scale=None,
        categorical=None,
        row_names=None,
        rows=None,
        max_features=10,
        kind="both",
        title=None,
    ):
        self.delta = delta
        self.labels = labels
        self.valid = valid
        self.y_pred = y_pred
        self.y_cf_pred = y_cf_pred
        self.feature_names = feature_names
        self.scale = scale
        self.categorical = categorical
        self.row_names = row_names
        self.rows = rows
        self.max_features = max_features
        self.kind = kind
        self.title = title

    # ------------------------------------------------------------ builders
    @classmethod
    def from_counterfactuals(
        cls,
        cf,
        *,
        rows=None,
        max_features=10,
        kind="both",
        scale=None,
        ax=None,
        title=None,
    ):
        """Plot the recourse of a ``CounterfactualSet``.

        Parameters
        ----------
        cf : CounterfactualSet
            As returned by a generator's ``explain``, on the raw-data road
            (original columns and units) or on encoded arrays.
        rows : int or array-like of int, default=None
            Applicants drawn one by one: an int ``k`` takes the first ``k``
            valid rows, an array takes these positions (0-based). None: the
            first 3 valid rows.
        max_features : int, default=10
            At most this many bars per applicant and columns in the summary.
        kind : {"both", "rows", "summary"}, default="both"
            Which view to draw (see the class docstring).
        scale : array-like of shape (n_features,), default=None
            Per-column unit of the standardised change. None: the column
            MADs of ``cf.space`` on the raw-data road, no scaling otherwise.
        ax : matplotlib Axes or sequence of Axes, default=None
            Where to draw. One Axes is split into the panels; a sequence
            gives one Axes per panel (see :meth:`plot`). A new figure if None.
        title : str, default=None
            Figure title.

        Returns
        -------
        display : RecourseDisplay
        """
        check_matplotlib_support("RecourseDisplay.from_counterfactuals")
        names = np.array([str(n) for n in cf.feature_names], dtype=object)
        delta = np.asarray(cf.delta, dtype=np.float64)
        labels = np.full(delta.shape, "", dtype=object)
        position = {name: j for j, name in enumerate(names)}
        for i, items in enumerate(cf._changes()):
            for name, a, b, _ in items:
                labels[i, position[name]] = f"{_short(a)} → {_short(b)}"
        space = cf.space
        if space is None:
            categorical = np.zeros(len(names), dtype=bool)
        else:
            categorical = np.array([c.kind != "numeric" for c in space.columns])
            if scale is None:
                scale = space.column_scale
        row_names = cf.X.index.to_numpy() if hasattr(cf.X, "index") else None
        disp = cls(
            delta,
            labels,
            np.asarray(cf.valid, dtype=bool),
            np.asarray(cf.y_pred),
            np.asarray(cf.y_cf_pred),
            names,
            scale=None if scale is None else np.asarray(scale, dtype=np.float64),
            categorical=categorical,
            row_names=row_names,
            rows=rows,
            max_features=max_features,
            kind=kind,
            title=title,
        )
        return disp.plot(ax=ax)

    @classmethod
    def from_generator(
        cls,
        generator,
        X,
        *,
        target=None,
        rows=None,
        max_features=10,
        kind="both",
        ax=None,
        title=None,
    ):
        """Explain ``X`` with a fitted generator and plot the recourse.

        On encoded arrays the changes are divided by the generator's
        ``scale_`` (the per-feature MAD its cost uses).

        Parameters
        ----------
        generator : fitted skcf generator
            Any generator, on the raw-data road (a preprocessing pipeline as
            estimator) or not.
        X : array-like or DataFrame of shape (n_samples, n_features)
            Factual rows.
        target : array-like of shape (n_samples,) or scalar, default=None
            Passed to ``explain``.
        rows : int or array-like of int, default=None
            Applicants drawn one by one (see :meth:`from_counterfactuals`).
        max_features : int, default=10
            At most this many bars per applicant and columns in the summary.
        kind : {"both", "rows", "summary"}, default="both"
            Which view to draw.
        ax : matplotlib Axes or sequence of Axes, default=None
            Where to draw; a new figure if None.
        title : str, default=None
            Defaults to the generator's name and validity.

        Returns
        -------
        display : RecourseDisplay
        """
        check_matplotlib_support("RecourseDisplay.from_generator")
        cf = generator.explain(X, target=target)
        scale = None
        if getattr(generator, "space_", None) is None:
            scale = getattr(generator, "scale_", None)
        if title is None:
            title = f"{type(generator).__name__} (validity {cf.validity:.2f})"
        return cls.from_counterfactuals(
            cf,
            rows=rows,
            max_features=max_features,
            kind=kind,
            scale=scale,
            ax=ax,
            title=title,
        )

    # ---------------------------------------------------------------- plot
    def plot(self, ax=None):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes: its area is split into the panels (it is hidden unless
            it holds the only panel). A sequence: one Axes per panel, in
            the order of ``ax_``: one per selected applicant for ``"rows"``,
            then frequency and magnitude for ``"summary"``. A new figure if
            None.

        Returns
        -------
        display : RecourseDisplay
            With ``ax_``, ``rows_ax_``, ``frequency_ax_``, ``magnitude_ax_``,
            ``figure_``, ``rows_`` and ``frequency_`` set.
        """
        check_matplotlib_support("RecourseDisplay.plot")
        import matplotlib.pyplot as plt

        data = self._validate()
        rows = self._select_rows(data)
        n_feat = len(data["names"])
        ok = data["valid"]
        changed = data["changed"]
        n_valid = int(ok.sum())
        frequency = changed[ok].mean(axis=0) if n_valid else np.zeros(n_feat)
        draw_rows = self.kind in ("both", "rows")
        draw_summary = self.kind in ("both", "summary")
        summary_cols = _top_columns(frequency, self.max_features)

        # panel heights (in bars) for sizing and height ratios
        row_heights = [
            max(min(int(changed[i].sum()), self.max_features), 1) + 1.2 for i in rows
        ] or [2.0]
        n_panels = (max(len(rows), 1) if draw_rows else 0) + 2 * draw_summary
        if ax is None:
            height = max(
                sum(row_heights) if draw_rows else 0.0,
                len(summary_cols) + 2.0 if draw_summary else 0.0,
            )
            width = {"both": 15.0, "rows": 6.5, "summary": 9.5}[self.kind]
            fig = plt.figure(
                figsize=(width, min(max(0.32 * height + 1.2, 3.0), 16.0)),
                layout="constrained",
            )
            spec = fig.add_gridspec(1, 1)[0]
            axes = self._make_axes(fig, spec, row_heights, draw_rows, draw_summary)
        elif _is_axes(ax):
            fig = ax.figure
            if n_panels == 1:
                axes = [ax]
            else:
                spec = ax.get_subplotspec()
                if spec is None:  # an Axes placed by hand: reuse its box
                    pos = ax.get_position()
                    spec = fig.add_gridspec(
                        1, 1, left=pos.x0, right=pos.x1, bottom=pos.y0, top=pos.y1
                    )[0]
                ax.set_axis_off()
                axes = self._make_axes(fig, spec, row_heights, draw_rows, draw_summary)
        else:
            axes = list(np.ravel(np.asarray(ax, dtype=object)))
            if len(axes) != n_panels:
                raise ValueError(
                    f"ax holds {len(axes)} Axes but kind={self.kind!r} with "
                    f"{len(rows)} selected row(s) draws {n_panels} panel(s)."
                )
            fig = axes[0].figure

        rows_ax = axes[: n_panels - 2 * draw_summary] if draw_rows else []
        if draw_rows:
            self._plot_rows(rows_ax, rows, data)
        freq_ax = mag_ax = None
        if draw_summary:
            freq_ax, mag_ax = axes[-2], axes[-1]
            self._plot_summary(freq_ax, mag_ax, summary_cols, frequency, data)
        if self.title:
            fig.suptitle(self.title)

        self.rows_ = rows
        self.frequency_ = frequency
        self.rows_ax_ = list(rows_ax)
        self.frequency_ax_ = freq_ax
        self.magnitude_ax_ = mag_ax
        self.ax_ = np.array(list(axes), dtype=object)
        self.figure_ = fig
        return self

    # ------------------------------------------------------------ helpers
    def _validate(self):
        if self.kind not in _KINDS:
            raise ValueError(
                f"kind must be 'both', 'rows' or 'summary', got {self.kind!r}."
            )
        if (
            not isinstance(self.max_features, Integral)
            or isinstance(self.max_features, bool)
            or self.max_features < 1
        ):
            raise ValueError(
                f"max_features must be a positive int, got {self.max_features!r}."
            )
        delta = np.asarray(self.delta, dtype=np.float64)
        if delta.ndim != 2:
            raise ValueError(f"delta must be 2-D, got shape {delta.shape}.")
        n, p = delta.shape
        names = np.array([str(f) for f in self.feature_names], dtype=object)
        labels = np.asarray(self.labels, dtype=object)
        valid = np.asarray(self.valid, dtype=bool)
        y_pred, y_cf = np.asarray(self.y_pred), np.asarray(self.y_cf_pred)
        scale = np.ones(p) if self.scale is None else np.asarray(self.scale, np.float64)
        categorical = (
            np.zeros(p, dtype=bool)
            if self.categorical is None
            else np.asarray(self.categorical, dtype=bool)
        )
        row_names = np.arange(n) if self.row_names is None else self.row_names
        row_names = np.asarray(row_names, dtype=object)
        for what, arr, shape in (
            ("labels", labels, (n, p)),
            ("valid", valid, (n,)),
            ("y_pred", y_pred, (n,)),
            ("y_cf_pred", y_cf, (n,)),
            ("feature_names", names, (p,)),
            ("scale", scale, (p,)),
            ("categorical", categorical, (p,)),
            ("row_names", row_names, (n,)),
        ):
            if arr.shape != shape:
                raise ValueError(
                    f"{what} has shape {arr.shape}; expected {shape} to match "
                    f"delta {delta.shape}."
                )
        safe = np.where(np.abs(scale) > 0, np.abs(scale), 1.0)
        change = np.where(categorical, (delta != 0).astype(np.float64), delta / safe)
        return {
            "n": n,
            "change": change,
            "changed": delta != 0,
            "labels": labels,
            "valid": valid,
            "y_pred": y_pred,
            "y_cf": y_cf,
            "names": names,
            "scale": scale,
            "categorical": categorical,
            "delta": delta,
            "row_names": row_names,
            "scaled": self.scale is not None,
        }

    def _select_rows(self, data):
        n, valid = data["n"], data["valid"]
        rows = 3 if self.rows is None else self.rows
        if isinstance(rows, Integral) and not isinstance(rows, bool):
            if rows < 0:
                raise ValueError(f"rows must be non-negative, got {rows}.")
            return np.flatnonzero(valid)[:rows]
        rows = np.atleast_1d(np.asarray(rows))
        if rows.size and (rows.dtype.kind not in "iu" or rows.ndim != 1):
            raise ValueError(
                "rows must be an int or a 1-D array of row positions, got "
                f"{self.rows!r}."
            )
        rows = rows.astype(np.int64)
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise ValueError(f"rows must be positions in [0, {n}), got {self.rows!r}.")
        return np.where(rows < 0, rows + n, rows)

    def _make_axes(self, fig, spec, row_heights, draw_rows, draw_summary):
        """Split ``spec`` into applicant panels and the two summary panels."""
        if draw_rows and draw_summary:
            outer = spec.subgridspec(1, 3, width_ratios=[1.25, 0.8, 1.0], wspace=0.08)
            row_spec, sum_specs = outer[0, 0], (outer[0, 1], outer[0, 2])
        elif draw_rows:
            row_spec, sum_specs = spec, None
        else:
            outer = spec.subgridspec(1, 2, width_ratios=[0.8, 1.0], wspace=0.08)
            row_spec, sum_specs = None, (outer[0, 0], outer[0, 1])
        axes = []
        if draw_rows:
            grid = row_spec.subgridspec(
                len(row_heights), 1, height_ratios=row_heights, hspace=0.15
            )
            first = None
            for k in range(len(row_heights)):
                a = fig.add_subplot(grid[k, 0], sharex=first)
                first = first or a
                axes.append(a)
        if draw_summary:
            freq = fig.add_subplot(sum_specs[0])
            axes += [freq, fig.add_subplot(sum_specs[1], sharey=freq)]
        return axes

    def _plot_rows(self, axes, rows, data):
        from matplotlib.patches import Patch

        change, changed, labels = data["change"], data["changed"], data["labels"]
        cat = data["categorical"]
        xlabel = (
            "standardised change (Δ / column scale"
            if data["scaled"]
            else "change (feature units"
        )
        xlabel += "; category switch = 1)" if cat.any() else ")"
        shown = [i for i in rows if data["valid"][i]]
        span = max(
            [np.abs(change[i][changed[i]]).max() for i in shown if changed[i].any()],
            default=1.0,
        )
        for a in axes:
            if shown:
                a.axvline(0.0, color="0.3", linewidth=0.8)
            a.set_xlim(-1.8 * span, 1.8 * span)
        if not len(rows):
            a = axes[0]
            a.set_yticks([])
            a.text(
                0.5,
                0.5,
                f"{_NO_CF} to show",
                ha="center",
                va="center",
                transform=a.transAxes,
                color="0.4",
            )
            a.set_title("selected applicants")
            a.set_xlabel(xlabel)
            return
        for a, i in zip(axes, rows):
            name = data["row_names"][i]
            y0, y1 = data["y_pred"][i], data["y_cf"][i]
            if not data["valid"][i]:
                a.set_title(f"row {name}: {y0} ({_NO_CF})", fontsize="medium")
                a.set_yticks([])
                a.text(
                    0.5,
                    0.5,
                    _NO_CF,
                    ha="center",
                    va="center",
                    transform=a.transAxes,
                    color="tab:red",
                )
                continue
            a.set_title(f"row {name}: {y0} → {y1}", fontsize="medium")
            cols = np.flatnonzero(changed[i])
            if not cols.size:
                a.set_yticks([])
                a.text(
                    0.5,
                    0.5,
                    "no change needed",
                    ha="center",
                    va="center",
                    transform=a.transAxes,
                    color="0.4",
                )
                continue
            order = np.argsort(-np.abs(change[i, cols]), kind="stable")
            cols = cols[order][: self.max_features]
            y = np.arange(len(cols))
            vals = change[i, cols]
            a.barh(
                y,
                vals,
                height=0.6,
                color=[_CATEGORY_COLOR if cat[j] else _NUMERIC_COLOR for j in cols],
            )
            for yy, v, j in zip(y, vals, cols):
                a.annotate(
                    labels[i, j],
                    (v, yy),
                    xytext=(4 if v >= 0 else -4, 0),
                    textcoords="offset points",
                    ha="left" if v >= 0 else "right",
                    va="center",
                    fontsize="small",
                )
            a.set_yticks(y, [data["names"][j] for j in cols])
            a.set_ylim(len(cols) - 0.5, -0.5)
            hidden = int(changed[i].sum()) - len(cols)
            if hidden > 0:
                a.text(
                    1.0,
                    0.0,
                    f"+{hidden} more",
                    ha="right",
                    va="bottom",
                    transform=a.transAxes,
                    fontsize="small",
                    color="0.4",
                )
        for a in axes[:-1]:
            a.tick_params(labelbottom=False)
        axes[-1].set_xlabel(xlabel)
        handles = [Patch(color=_NUMERIC_COLOR, label="numeric")]
        if cat.any():
            handles.append(Patch(color=_CATEGORY_COLOR, label="category switch"))
        axes[0].legend(handles=handles, loc="lower right", fontsize="small")

    def _plot_summary(self, freq_ax, mag_ax, cols, frequency, data):
        from matplotlib.patches import Patch

        ok, changed, cat = data["valid"], data["changed"], data["categorical"]
        n_valid = int(ok.sum())
        freq_ax.set_title(f"How often ({n_valid} of {data['n']} rows valid)")
        freq_ax.set_xlabel("fraction of valid rows changing the column")
        freq_ax.set_xlim(0.0, 1.18)
        mag_ax.set_title("By how much (valid rows changing the column)")
        mag_ax.set_xlabel(
            "standardised change (Δ / column scale)"
            if data["scaled"]
            else "change (feature units)"
        )
        if data["categorical"].any():
            mag_ax.set_xlabel(
                mag_ax.get_xlabel()
                + "\nlabels: median Δ in original units; top switches"
            )
        mag_ax.axvline(0.0, color="0.3", linewidth=0.8)
        if not len(cols):
            message = _NO_CF if not n_valid else "no column changed"
            for a in (freq_ax, mag_ax):
                a.set_yticks([])
                a.text(
                    0.5,
                    0.5,
                    message,
                    ha="center",
                    va="center",
                    transform=a.transAxes,
                    color="0.4",
                )
            return
        y = np.arange(len(cols))
        colors = [_CATEGORY_COLOR if cat[j] else _NUMERIC_COLOR for j in cols]
        freq_ax.barh(y, frequency[cols], height=0.6, color=colors)
        counts = changed[ok].sum(axis=0)
        for yy, j in zip(y, cols):
            freq_ax.annotate(
                f"{counts[j]}/{n_valid}",
                (frequency[j], yy),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize="small",
            )
        freq_ax.set_yticks(y, [data["names"][j] for j in cols])
        freq_ax.set_ylim(len(cols) - 0.5, -0.9)  # room for the first annotation
        handles = [Patch(color=_NUMERIC_COLOR, label="numeric")]
        if cat.any():
            handles.append(Patch(color=_CATEGORY_COLOR, label="category switch"))
        freq_ax.legend(handles=handles, loc="lower right", fontsize="small")

        num = [(yy, j) for yy, j in zip(y, cols) if not cat[j]]
        if num:
            samples = [data["change"][ok & changed[:, j], j] for _, j in num]
            mag_ax.boxplot(
                samples,
                positions=[yy for yy, _ in num],
                widths=0.5,
                **_horizontal(mag_ax),
                patch_artist=True,
                boxprops={"facecolor": _NUMERIC_COLOR, "alpha": 0.45},
                medianprops={"color": "k"},
                flierprops={"markersize": 3},
                manage_ticks=False,
            )
            lo = min(min(s.min() for s in samples), 0.0)
            hi = max(max(s.max() for s in samples), 0.0)
        else:
            lo, hi = -1.0, 1.0
        pad = 0.08 * (hi - lo or 1.0)
        mag_ax.set_xlim(lo - pad, hi + pad)
        for yy, j in zip(y, cols):
            rows = ok & changed[:, j]
            if cat[j]:
                top = Counter(data["labels"][rows, j]).most_common(2)
                text = ", ".join(f"{t} ×{c}" for t, c in top)
                if len(set(data["labels"][rows, j])) > 2:
                    text += ", …"
            else:
                median = _short(float(np.median(data["delta"][rows, j])))
                text = f"median Δ {median}"
            mag_ax.text(
                0.99,
                yy if cat[j] else yy - 0.3,
                text,
                transform=mag_ax.get_yaxis_transform(),
                ha="right",
                va="center" if cat[j] else "bottom",
                fontsize="small",
                color="tab:brown" if cat[j] else "0.2",
            )
        mag_ax.tick_params(labelleft=False)


def _horizontal(ax):
    """Keyword for horizontal boxes: ``orientation`` from matplotlib 3.10."""
    params = inspect.signature(ax.boxplot).parameters
    return {"orientation": "horizontal"} if "orientation" in params else {"vert": False}


def _is_axes(ax):
    from matplotlib.axes import Axes

    return isinstance(ax, Axes)


def _top_columns(frequency, max_features):
    """The most often changed columns (frequency > 0), most frequent first."""
    order = np.argsort(-frequency, kind="stable")
    return order[frequency[order] > 0][:max_features]


def _short(value):
    """``_fmt`` with 4 significant digits for non-integer floats."""
    if isinstance(value, (Real, np.floating)) and not isinstance(
        value, (bool, np.bool_, Integral, np.integer)
    ):
        v = float(value)
        if not v.is_integer():
            return f"{v:.4g}"
    return _fmt(value)
