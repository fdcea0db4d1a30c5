"""Training nets that use counterfactuals and adversarial examples.

Both are skorch ``NeuralNetClassifier`` subclasses, usable wherever a skorch
net is (``GridSearchCV``, ``Pipeline``, pickling), whose extra training inputs
come from skcf's one engine.
"""

from ._adversarial import AdversarialTrainingClassifier
from ._counterfactual import CounterfactualTrainingClassifier

__all__ = ["AdversarialTrainingClassifier", "CounterfactualTrainingClassifier"]
