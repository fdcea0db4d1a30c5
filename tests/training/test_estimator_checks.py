"""scikit-learn's estimator checks on the training nets.

skorch nets fail two checks for reasons inside skorch itself, listed below.
"""

import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from skcf.generators import WachterGenerator
from skcf.training import (
    AdversarialTrainingClassifier,
    CounterfactualTrainingClassifier,
)

from .conftest import TinyNet

SKORCH_EXPECTED_FAILED = {
    "check_no_attributes_set_in_init": (
        "skorch.NeuralNet.__init__ sets history_, initialized_ and "
        "virtual_params_ itself (skorch design)."
    ),
    "check_set_params": (
        "skorch exposes its private _params_to_validate set through get_params "
        "(every attribute not ending in '_' is a parameter); the check sets it "
        "to a float and skorch's set_params then calls .add on it."
    ),
}


def _instances():
    kw = dict(
        max_epochs=8,
        lr=0.1,
        optimizer=torch.optim.Adam,
        train_split=None,
        verbose=0,
        random_state=0,
    )
    yield AdversarialTrainingClassifier(TinyNet, steps=2, **kw)
    gen = WachterGenerator(None, n_search_steps=1, max_iter=3)
    yield CounterfactualTrainingClassifier(TinyNet, generator=gen, **kw)


@parametrize_with_checks(
    list(_instances()), expected_failed_checks=lambda est: SKORCH_EXPECTED_FAILED
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
