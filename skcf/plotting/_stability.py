"""Invalidation rate versus cost, one colour per method (seed 001 §3, Table 1)."""

import numpy as np

from ..utils._optional import check_matplotlib_support


class StabilityDisplay:
    """Scatter of each counterfactual's invalidation rate against its cost.

    One colour per method, with the method's mean as a large marker and the
    R² of a linear regression of invalidation on cost over all points in the
    title (seed 001 argues that cost alone does not explain invalidation).
    Build it with :meth:`from_generators` (fitted generators and a model
    family) or directly from per-method arrays; call :meth:`plot` to draw.

    Parameters
    ----------
    costs : dict of str to ndarray of shape (n_i,)
        Cost (e.g. ℓ2 distance) of every valid counterfactual, per method.
    invalidation : dict of str to ndarray of shape (n_i,)
        Invalidation rate of the same counterfactuals.
    cost_name : str, default="ℓ2 cost"
        Label of the x axis.
    title : str, default=None
        Defaults to the R² of invalidation on cost.

    Attributes
    ----------
    r2_ : float
        R² of invalidation on cost over all methods (set by ``plot``).
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skcf.plotting import StabilityDisplay
    >>> disp = StabilityDisplay(
    ...     {"Min-l2": np.array([1.0, 1.2]), "+SNS": np.array([3.0, 3.1])},
    ...     {"Min-l2": np.array([0.5, 0.3]), "+SNS": np.array([0.0, 0.0])},
    ... ).plot()
    >>> disp.ax_.get_xlabel(), round(disp.r2_, 2)
    ('ℓ2 cost', 0.93)
    """

    def __init__(self, costs, invalidation, *, cost_name="ℓ2 cost", title=None):
        self.costs = costs
        self.invalidation = invalidation
        self.cost_name = cost_name
        self.title = title

    @classmethod
    def from_generators(
        cls, generators, X, base, family, *, cost="l2", ax=None, title=None
    ):
        """Explain ``X`` with every generator and plot invalidation against cost.

        Parameters
        ----------
        generators : dict of str to fitted skcf generator
            Methods to compare, by display name.
        X : array-like of shape (n_samples, n_features)
            Factual rows.
        base : object
            The model the counterfactuals are computed for.
        family : ModelFamily or list of fitted classifiers
            Retrained models (:func:`~skcf.evaluation.make_model_family`).
        cost : {"l1", "l2", "linf", "l0"}, default="l2"
            Cost of a counterfactual (an attribute of the ``CounterfactualSet``).
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if None.
        title : str, default=None
            Defaults to the R² of invalidation on cost.

        Returns
        -------
        display : StabilityDisplay
        """
        check_matplotlib_support("StabilityDisplay.from_generators")
        from ..evaluation import invalidation_rate

        if cost not in ("l0", "l1", "l2", "linf"):
            raise ValueError(
                f"cost must be one of 'l0', 'l1', 'l2', 'linf', got {cost!r}."
            )
        costs, ivs = {}, {}
        for name, gen in generators.items():
            cf = gen.explain(X)
            v = cf.valid
            costs[name] = getattr(cf, cost)[v]
            ivs[name] = invalidation_rate(cf.X_cf[v], base, family, average=False)
        label = {"l0": "ℓ0", "l1": "ℓ1", "l2": "ℓ2", "linf": "ℓ∞"}[cost] + " cost"
        return cls(costs, ivs, cost_name=label, title=title).plot(ax=ax)

    def plot(self, ax=None):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : StabilityDisplay
            With ``ax_``, ``figure_`` and ``r2_`` set.
        """
        check_matplotlib_support("StabilityDisplay.plot")
        import matplotlib.pyplot as plt

        from ..evaluation import cost_invalidation_r2

        if set(self.costs) != set(self.invalidation):
            raise ValueError("costs and invalidation must have the same methods.")
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 4))
        colors = plt.get_cmap("tab10")
        all_c, all_iv = [], []
        for i, name in enumerate(self.costs):
            c = np.asarray(self.costs[name], dtype=np.float64)
            iv = np.asarray(self.invalidation[name], dtype=np.float64)
            if c.shape != iv.shape:
                raise ValueError(
                    f"Method {name!r} has {c.size} costs but {iv.size} "
                    "invalidation rates."
                )
            col = colors(i % 10)
            ax.scatter(c, iv, s=12, alpha=0.5, color=col, edgecolors="none")
            if c.size:
                ax.scatter(
                    c.mean(), iv.mean(), s=120, marker="D", color=col,
                    edgecolors="k", label=f"{name} ({iv.mean():.2f})", zorder=3,
                )  # fmt: skip
            all_c.append(c)
            all_iv.append(iv)
        c, iv = np.concatenate(all_c), np.concatenate(all_iv)
        self.r2_ = cost_invalidation_r2(c, iv) if c.size else 0.0
        ax.set_xlabel(self.cost_name)
        ax.set_ylabel("invalidation rate")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(self.title or f"R² of invalidation on cost: {self.r2_:.2f}")
        ax.legend(fontsize="small", title="method (mean IV)")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
