"""Training nets that use counterfactuals and adversarial examples.

Both are skorch ``NeuralNetClassifier`` subclasses, usable wherever a skorch
net is (``GridSearchCV``, ``Pipeline``, pickling), whose extra training inputs
come from skcf's one engine. A divergence guard watches their training
(:class:`TrainingDivergedError`, :class:`TrainingDivergedWarning`).
"""

from ._adversarial import AdversarialTrainingClassifier
from ._counterfactual import CounterfactualTrainingClassifier
from ._guard import TrainingDivergedError, TrainingDivergedWarning

__all__ = [
    "AdversarialTrainingClassifier",
    "CounterfactualTrainingClassifier",
    "TrainingDivergedError",
    "TrainingDivergedWarning",
]
