"""Counterfactual over-sampling: imbalanced-learn sampler on skcf generators."""

from __future__ import annotations

import time
import warnings
from numbers import Integral

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from scipy import sparse
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_consistent_length, check_random_state

from ..base import BaseGenerator
from ..exceptions import CounterfactualWarning
from ..models import is_differentiable
from ..models._adapters import _is_fitted
from ..models._space import is_raw_pipeline
from ..utils._docstring import Substitution
from ..utils._sklearn_compat import HasMethods, Interval, validate_data

__all__ = ["CounterfactualSampler"]


def _default_estimator():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


@Substitution(
    sampling_strategy=BaseOverSampler._sampling_strategy_docstring,
)
class CounterfactualSampler(BaseOverSampler):
    """Over-sample by counterfactuals of rows of the other classes.

    Counterfactual data augmentation (seed 002, §2.1): for each class to
    over-sample, rows of the *other* classes are pushed into that class by a
    counterfactual generator, and the counterfactuals are added to the data
    with the class as their label. Unlike SMOTE, which interpolates between
    minority rows, the synthetic rows sit where the model says the minority
    class begins, next to real rows of the other classes.

    Only *valid* counterfactuals are returned: each one is predicted as its
    class by the model and breaks none of the generator's actionability
    constraints (``immutable``, ``bounds``, one-hot groups...). Seed rows are
    drawn at random (``random_state``) among the rows of the other classes that
    the model does not already predict as the class; when the generator fails
    on some of them, other rows are drawn until the requested count is reached.
    When every seed row has been used, the valid counterfactuals found are
    repeated (a :class:`~skcf.exceptions.CounterfactualWarning` says how many);
    if none is valid, a ``ValueError`` is raised.

    Read more in the User Guide (``docs/sampling.md``).

    Parameters
    ----------
    generator : skcf generator or None, default=None
        Counterfactual generator, e.g.
        ``ElasticNetGenerator(None, immutable=[0], max_iter=50)``. It is cloned,
        its ``estimator`` replaced by the model (see ``estimator``), and fitted
        on ``X``. Its ``target`` is ignored: each call asks for the class being
        over-sampled. None means
        :class:`~skcf.generators.WachterGenerator` when the model is
        differentiable (linear models, MLPs, torch and skorch nets) and
        :class:`~skcf.generators.GrowingSpheresGenerator` (gradient-free) when it
        is not (forests, boosting...), both with default settings.

    estimator : object or None, default=None
        The classifier that decides which class a synthetic row belongs to. A
        fitted model is used as is and never modified (``clone`` keeps it, as
        the generators do); an unfitted one is cloned and fitted on ``(X, y)``
        in each ``fit_resample`` (as ``estimator_``). None uses the
        generator's ``estimator`` when it has one, otherwise
        ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))``
        fitted on ``(X, y)``.

    %(sampling_strategy)s

    random_state : int, RandomState instance or None, default=None
        Seeds the choice of the seed rows and, when the generator's own
        ``random_state`` is None, the generator.

    max_rounds : int, default=10
        Most rounds of generation per class. Each round asks the generator for
        the missing count, from rows not yet tried.

    verbose : int, default=0
        0: silent; 1: one line per over-sampled class (valid/tried, time).

    Attributes
    ----------
    sampling_strategy_ : dict
        Number of synthetic rows per over-sampled class.
    estimator_ : object
        The fitted model used (the given one if it was fitted).
    generator_ : skcf generator
        The fitted generator.
    seed_indices_ : ndarray of shape (n_synthetic,)
        For each synthetic row, in the order they are appended, the index in
        ``X`` of the row it is a counterfactual of.
    n_tried_ : dict
        Per over-sampled class, the number of seed rows given to the
        generator (``n_tried_[c] - sampling_strategy_[c]`` failed or were
        not needed).
    n_features_in_ : int
        Number of features in ``X``.
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    imblearn.over_sampling.SMOTE : interpolation between minority rows.
    skcf.generators.WachterGenerator : the default generator.

    Notes
    -----
    The default model, a standardised logistic regression, places the
    synthetic rows just across a *linear* boundary; pass the classifier you
    will train downstream (or a stronger one) to follow its boundary instead.
    Rows are over-sampled with the generator's default ``tau=0``: the
    counterfactuals sit just past the boundary. Raise the generator's ``tau``
    to push them deeper into the class.

    The generator is given all seed rows of one round in one call, so the
    work is batched; its cost is that of ``explain`` on the missing count.
    Sparse ``X`` is made dense for the generator (counterfactuals are dense
    rows) and the result is returned in the input's sparse format.

    References
    ----------
    Altmeyer, van Deursen, Liem. Counterfactual training: teaching models
    plausible and actionable explanations (seed 002), §2.1 (counterfactual
    data augmentation).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from skcf.sampling import CounterfactualSampler
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> np.bincount(y).tolist()
    [269, 31]
    >>> sampler = CounterfactualSampler(random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> np.bincount(y_res).tolist()
    [269, 269]
    >>> X_new = X_res[len(X):]
    >>> bool((sampler.estimator_.predict(X_new) == 1).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "generator": [HasMethods(["fit", "explain"]), None],
        "estimator": [HasMethods(["predict_proba"]), HasMethods(["forward"]), None],
        "max_rounds": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        generator=None,
        estimator=None,
        *,
        sampling_strategy="auto",
        random_state=None,
        max_rounds=10,
        verbose=0,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.generator = generator
        self.estimator = estimator
        self.random_state = random_state
        self.max_rounds = max_rounds
        self.verbose = verbose

    def __sklearn_clone__(self):
        # A fitted model is what the synthetic rows are judged by, not a
        # hyper-parameter to refit: keep it, as BaseGenerator does.
        if self.estimator is None or not _is_fitted(self.estimator):
            return super().__sklearn_clone__()
        params = {
            k: clone(v, safe=False)
            for k, v in self.get_params(deep=False).items()
            if k != "estimator"
        }
        return type(self)(estimator=self.estimator, **params)

    # ------------------------------------------------------------ model
    def _fit_estimator(self, X, y):
        est = self.estimator
        if est is None and self.generator is not None:
            est = getattr(self.generator, "estimator", None)
        if est is None:
            return _default_estimator().fit(X, y)
        if _is_fitted(est) or hasattr(est, "logits"):
            return est
        return clone(est).fit(X, y)

    def _make_generator(self, estimator, rng):
        if self.generator is None:
            from ..generators import GrowingSpheresGenerator, WachterGenerator

            cls = (
                WachterGenerator
                if is_differentiable(estimator)
                else GrowingSpheresGenerator
            )
            generator = cls(estimator)
        else:
            if not isinstance(self.generator, BaseGenerator):
                raise TypeError(
                    "The 'generator' parameter of CounterfactualSampler must be an "
                    f"skcf generator (e.g. WachterGenerator), got "
                    f"{type(self.generator).__name__}."
                )
            generator = clone(self.generator).set_params(estimator=estimator)
        # each call names its target class; "other" is valid for any model
        generator.set_params(target="other")
        if generator.get_params().get("random_state", 0) is None:
            generator.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
        return generator

    # ------------------------------------------------- the raw-data road
    def _raw_road(self):
        """Whether the model is a preprocessing pipeline taking raw rows."""
        est = self.estimator
        if est is None and self.generator is not None:
            est = getattr(self.generator, "estimator", None)
        return is_raw_pipeline(est)

    def _check_X_y(self, X, y, accept_sparse=None):
        if not self._raw_road():
            return super()._check_X_y(X, y, accept_sparse=accept_sparse)
        # raw rows (strings, categories) go to the pipeline as they are
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X = X if hasattr(X, "iloc") else np.asarray(X)
        validate_data(self, X, reset=True, skip_check_array=True)
        check_consistent_length(X, y)
        return X, y, binarize_y

    # ---------------------------------------------------------- resample
    def _fit_resample(self, X, y):
        rng = check_random_state(self.random_state)
        raw = self._raw_road()  # raw frames in, synthetic raw rows out
        sparse_format = X.format if sparse.issparse(X) and not raw else None
        if sparse_format is not None:  # generators work on dense rows
            X = X.toarray()
        X_in = X if raw else self._with_names(X)
        self.estimator_ = self._fit_estimator(X_in, y)
        generator = self._make_generator(self.estimator_, rng)
        self.generator_ = generator.fit(X_in, y)
        classes = np.asarray(self.generator_.classes_)
        # predictions of the model the synthetic rows are judged by
        y_pred = classes[self.generator_._judge_proba(X_in, X_in).argmax(axis=1)]

        X_parts, y_parts, seeds_all = [X], [y], []
        self.n_tried_ = {}
        for cls, n_needed in self.sampling_strategy_.items():
            if n_needed == 0:
                self.n_tried_[cls] = 0
                continue
            if cls not in set(classes.tolist()):
                raise ValueError(
                    f"CounterfactualSampler: class {cls} is not among the "
                    f"model's classes {classes.tolist()}; fit the estimator on "
                    "the same labels as y."
                )
            X_new, seeds = self._generate_class(X, y, y_pred, cls, n_needed, rng)
            if not hasattr(X_new, "iloc"):
                X_new = X_new.astype(X.dtype, copy=False)
            X_parts.append(X_new)
            y_parts.append(np.full(len(X_new), cls, dtype=y.dtype))
            seeds_all.append(seeds)
        self.seed_indices_ = (
            np.concatenate(seeds_all) if seeds_all else np.zeros(0, dtype=np.int64)
        )
        X_res = _stack(X_parts, ignore_index=True)
        if sparse_format is not None:
            X_res = sparse.csr_matrix(X_res).asformat(sparse_format)
        return X_res, np.concatenate(y_parts)

    def _with_names(self, X):
        names = getattr(self, "feature_names_in_", None)
        if names is None or hasattr(X, "iloc"):
            return X
        import pandas as pd

        return pd.DataFrame(X, columns=names)

    def _generate_class(self, X, y, y_pred, cls, n_needed, rng):
        start = time.perf_counter()
        label = cls.item() if isinstance(cls, np.generic) else cls
        pool = np.flatnonzero((y != cls) & (y_pred != cls))
        if pool.size == 0:
            raise ValueError(
                f"CounterfactualSampler cannot over-sample class {label!r}: every "
                "row of the other classes is already predicted as that class, so "
                "there is nothing to push into it. Check the estimator."
            )
        order = rng.permutation(pool)
        found_X, found_seed = [], []
        n_found, pos, rounds = 0, 0, 0
        while n_found < n_needed and pos < order.size and rounds < self.max_rounds:
            batch = order[pos : pos + (n_needed - n_found)]
            pos += batch.size
            rounds += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CounterfactualWarning)
                cf = self.generator_.explain(
                    _rows(self._with_names(X), batch), target=np.full(batch.size, cls)
                )
            valid = np.asarray(cf.valid, dtype=bool)
            found_X.append(_rows(cf.X_cf, np.flatnonzero(valid)))
            found_seed.append(batch[valid])
            n_found += int(valid.sum())
        self.n_tried_[cls] = pos
        X_new = _stack(found_X) if found_X else np.zeros((0, X.shape[1]))
        seeds = np.concatenate(found_seed) if found_seed else np.zeros(0, np.int64)
        if n_found == 0:
            raise ValueError(
                f"CounterfactualSampler found no valid counterfactual for class "
                f"{label!r} from {pos} rows of the other classes. Loosen the "
                "generator's constraints, give it more iterations (max_iter, "
                "max_layers...), or use another generator."
            )
        if n_found < n_needed:
            reuse = rng.choice(n_found, size=n_needed - n_found, replace=True)
            warnings.warn(
                f"CounterfactualSampler: only {n_found} valid counterfactuals for "
                f"class {label!r} from {pos} seed rows, {n_needed} requested; "
                f"{n_needed - n_found} of them are repeated. Raise max_rounds, "
                "loosen the generator's constraints or ask for fewer rows.",
                CounterfactualWarning,
                stacklevel=6,  # the caller of fit_resample
            )
            X_new = _stack([X_new, _rows(X_new, reuse)])
            seeds = np.concatenate([seeds, seeds[reuse]])
        if self.verbose:
            print(
                f"[CounterfactualSampler] class {label!r}: {n_found}/{pos} valid, "
                f"{n_needed} added in {time.perf_counter() - start:.2f}s"
            )
        return X_new, seeds

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = False
        return tags


def _rows(X, idx):
    """Rows ``idx`` (positions) of an array or a DataFrame."""
    return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]


def _stack(parts, ignore_index=False):
    """Rows of arrays or DataFrames one after the other."""
    if hasattr(parts[0], "iloc"):
        import pandas as pd

        return pd.concat(parts, ignore_index=ignore_index)
    return np.vstack([np.asarray(p) for p in parts])
