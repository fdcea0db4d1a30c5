"""2-D display of a model's decision regions with factual → counterfactual arrows."""

import numpy as np

from ..utils._optional import check_matplotlib_support


class CounterfactualDisplay:
    """Decision regions of a 2-D classifier, data, and one arrow per counterfactual.

    Build it with :meth:`from_generator`; call :meth:`plot` to draw on an axis.

    Parameters
    ----------
    xx, yy : ndarray of shape (grid, grid)
        Mesh of the plotted region.
    proba : ndarray of shape (grid, grid)
        Probability of the class drawn in colour (the last class).
    X, X_cf : ndarray of shape (n_samples, 2)
        Factuals and counterfactuals.
    valid : ndarray of shape (n_samples,), dtype=bool
    X_train, y_train : ndarray, default=None
        Background data.
    title : str, default=None

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcf.datasets import make_moons
    >>> from skcf.generators import WachterGenerator
    >>> from skcf.plotting import CounterfactualDisplay
    >>> X, y = make_moons(100, random_state=0)
    >>> gen = WachterGenerator(LogisticRegression().fit(X, y), random_state=0).fit(X)
    >>> disp = CounterfactualDisplay.from_generator(gen, X[:10], X_train=X, y_train=y)
    >>> disp.ax_.get_title()
    'WachterGenerator (validity 1.00)'
    """

    def __init__(
        self, xx, yy, proba, X, X_cf, valid, *, X_train=None, y_train=None, title=None
    ):
        self.xx = xx
        self.yy = yy
        self.proba = proba
        self.X = X
        self.X_cf = X_cf
        self.valid = valid
        self.X_train = X_train
        self.y_train = y_train
        self.title = title

    @classmethod
    def from_generator(
        cls,
        generator,
        X,
        *,
        X_train=None,
        y_train=None,
        grid=150,
        margin=0.5,
        ax=None,
        title=None,
    ):
        """Explain ``X`` with a fitted 2-feature ``generator`` and plot the result.

        Parameters
        ----------
        generator : fitted skcf generator
            Must have ``n_features_in_ == 2``.
        X : array-like of shape (n_samples, 2)
            Factual rows.
        X_train, y_train : array-like, default=None
            Background points coloured by label.
        grid : int, default=150
            Resolution of the decision-region mesh.
        margin : float, default=0.5
            Padding around the data.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if None.
        title : str, default=None
            Defaults to the generator's name and validity.

        Returns
        -------
        display : CounterfactualDisplay
        """
        check_matplotlib_support("CounterfactualDisplay.from_generator")
        if generator.n_features_in_ != 2:
            raise ValueError(
                "CounterfactualDisplay draws 2-D data; the generator was fitted on "
                f"{generator.n_features_in_} features."
            )
        cf = generator.explain(X)
        pts = [np.asarray(cf.X), np.asarray(cf.X_cf)]
        if X_train is not None:
            pts.append(np.asarray(X_train, dtype=np.float64))
        allp = np.vstack(pts)
        lo, hi = allp.min(axis=0) - margin, allp.max(axis=0) + margin
        xx, yy = np.meshgrid(
            np.linspace(lo[0], hi[0], grid), np.linspace(lo[1], hi[1], grid)
        )
        proba = generator.model_.predict_proba(np.c_[xx.ravel(), yy.ravel()])[:, -1]
        if title is None:
            title = f"{type(generator).__name__} (validity {cf.validity:.2f})"
        disp = cls(
            xx,
            yy,
            proba.reshape(xx.shape),
            np.asarray(cf.X),
            np.asarray(cf.X_cf),
            cf.valid,
            X_train=X_train,
            y_train=y_train,
            title=title,
        )
        return disp.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : CounterfactualDisplay
            With ``ax_`` and ``figure_`` set.
        """
        check_matplotlib_support("CounterfactualDisplay.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 4))
        ax.contourf(
            self.xx,
            self.yy,
            self.proba,
            levels=20,
            cmap="RdBu",
            alpha=0.35,
            vmin=0,
            vmax=1,
        )
        ax.contour(self.xx, self.yy, self.proba, levels=[0.5], colors="k", linewidths=1)
        if self.X_train is not None:
            ax.scatter(
                np.asarray(self.X_train)[:, 0],
                np.asarray(self.X_train)[:, 1],
                c=self.y_train,
                cmap="RdBu",
                s=8,
                alpha=0.5,
                edgecolors="none",
            )
        ok = np.asarray(self.valid, dtype=bool)
        d = self.X_cf - self.X
        ax.quiver(
            self.X[ok, 0],
            self.X[ok, 1],
            d[ok, 0],
            d[ok, 1],
            angles="xy",
            scale_units="xy",
            scale=1,
            color="k",
            width=0.004,
        )
        ax.scatter(
            self.X[:, 0],
            self.X[:, 1],
            c="gold",
            edgecolors="k",
            s=25,
            zorder=3,
            label="factual",
        )
        ax.scatter(
            self.X_cf[ok, 0],
            self.X_cf[ok, 1],
            marker="*",
            c="lime",
            edgecolors="k",
            s=70,
            zorder=4,
            label="counterfactual",
        )
        if (~ok).any():
            ax.scatter(
                self.X[~ok, 0],
                self.X[~ok, 1],
                marker="x",
                c="red",
                s=40,
                zorder=4,
                label="no valid CF",
            )
        ax.set_title(self.title or "")
        ax.set_xticks([])
        ax.set_yticks([])
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
