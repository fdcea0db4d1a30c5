"""Shared parameter documentation, substituted into docstrings (imblearn style)."""


class Substitution:
    """Decorator filling ``%(name)s`` placeholders of a docstring."""

    def __init__(self, **kwargs):
        self.params = kwargs

    def __call__(self, obj):
        if obj.__doc__:
            obj.__doc__ = obj.__doc__ % self.params
        return obj


_estimator_docstring = """estimator : object
        The classifier to explain: a skorch ``NeuralNetClassifier``, a
        ``torch.nn.Module``, an sklearn linear classifier or ``MLPClassifier``, a
        ``Pipeline`` of scalers ending in one of these, or a
        :class:`~skcf.models.DifferentiableModel` (use
        :func:`~skcf.models.as_differentiable` with ``output=`` to say whether a
        network returns logits or probabilities). A fitted model is used as is and
        never modified, and ``clone`` (hence ``GridSearchCV``) keeps it rather
        than refitting it, like ``sklearn.frozen.FrozenEstimator``; an unfitted
        one is cloned and fitted on ``(X, y)`` in ``fit`` (as ``estimator_``)."""

_target_docstring = """target : {"opposite", "other"} or int or str, default="opposite"
        Desired class: ``"opposite"`` (binary models only), ``"other"`` (any class
        but the predicted one, untargeted), or a class label. ``explain`` also
        accepts an array of per-row targets."""

_actionability_docstring = """immutable : array-like of int or str, default=None
        Features that must not change (indices, or column names when ``X`` is a
        DataFrame).

    increase_only : array-like of int or str, default=None
        Features that may only increase (e.g. age).

    decrease_only : array-like of int or str, default=None
        Features that may only decrease.

    bounds : "infer", dict or None, default="infer"
        Feasible range per feature. ``"infer"`` learns
        ``[min(mu - 3 sigma, min), max(mu + 3 sigma, max)]`` from the training data
        (seed 002, App. B.3); a dict maps a feature to ``(low, high)`` (None for
        unbounded) and leaves the others unbounded; None means no bounds. One-hot
        columns are always kept in ``[0, 1]``. On the raw-data road bounds are
        in original units (``"infer"`` keeps non-negative columns
        non-negative), and a categorical column may map to its allowed
        categories (``{"housing": ["own", "rent"]}``).

    categorical : list, default=None
        One-hot groups (each a list of feature indices or names). Every
        counterfactual has exactly one active column per group. On the
        raw-data road (``estimator`` is a preprocessing pipeline) also a column
        name (an ordinal-encoded column searched as unordered categories) or a
        link ``("education", "education-num")``: numeric columns tied to an
        encoded column, moved with its category (see docs/raw_data.md).

    integer : array-like of int or str, default=None
        Integer-valued features, rounded after optimisation.

    tau : float, default=0.0
        Minimum target-class probability for a counterfactual to count as valid
        (seed 002, App. B.1.2); the predicted class must be the target in any
        case."""

_engine_docstring = """batch_size : int or None, default=1024
        Rows optimised together; bounds memory. Results do not depend on it.

    device : str, default=None
        Torch device, e.g. ``"cpu"`` or ``"cuda"``; None uses the model's own
        device (CPU for sklearn models). The model is copied, never moved.

    random_state : int, RandomState instance or None, default=None
        Seeds the random parts of the search (random starts), for reproducible
        output across calls.

    verbose : int, default=0
        0: silent; 1: one summary line per call; 2: a progress bar over chunks."""

_SHARED = dict(
    estimator=_estimator_docstring,
    target=_target_docstring,
    actionability=_actionability_docstring,
    engine=_engine_docstring,
)


def generator_docstring(cls):
    """Substitute the shared generator parameter docs into ``cls.__doc__``."""
    return Substitution(**_SHARED)(cls)
