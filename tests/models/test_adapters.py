"""Model adapters: skorch (softmax and logits), torch, pipelines, black boxes."""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    PolynomialFeatures,
    StandardScaler,
)

from skcf.exceptions import NotDifferentiableError
from skcf.models import BlackBoxModel, as_differentiable, as_model, is_differentiable


def test_skorch_softmax_module_detected_as_probabilities(tabular, skorch_softmax):
    X, _ = tabular
    model = as_differentiable(skorch_softmax)
    assert model.output == "proba"
    assert_allclose(model.predict_proba(X), skorch_softmax.predict_proba(X), atol=1e-5)


def test_skorch_logits_module_detected_as_logits(tabular, skorch_logits):
    X, _ = tabular
    model = as_differentiable(skorch_logits)
    assert model.output == "logits"
    # skorch applies the softmax itself in predict_proba for CrossEntropyLoss
    assert_allclose(model.predict_proba(X), skorch_logits.predict_proba(X), atol=1e-5)
    raw = skorch_logits.module_(torch.as_tensor(X[:4]))
    assert_allclose(model.logits(torch.as_tensor(X[:4])).detach(), raw.detach())


def test_user_can_override_output(tabular, skorch_softmax):
    X, _ = tabular
    wrong = as_differentiable(skorch_softmax, output="logits")
    right = as_differentiable(skorch_softmax, output="proba")
    assert wrong.output == "logits" and right.output == "proba"
    assert not np.allclose(wrong.predict_proba(X), right.predict_proba(X))


def test_softmax_and_logits_nets_give_same_gradient_direction(tabular, skorch_softmax):
    """Logits recovered from probabilities differ by a per-row constant only."""
    X, _ = tabular
    model = as_differentiable(skorch_softmax)
    x = torch.as_tensor(X[:5])
    z = model.logits(x)
    p = torch.as_tensor(skorch_softmax.predict_proba(X[:5]))
    assert_allclose(torch.softmax(z, 1).detach().numpy(), p.numpy(), atol=1e-5)


def test_plain_torch_module():
    module = torch.nn.Sequential(torch.nn.Linear(3, 2))
    model = as_differentiable(module)
    assert model.output == "logits"
    x = torch.randn(4, 3, requires_grad=True)
    (g,) = torch.autograd.grad(model.logits(x)[:, 1].sum(), x)
    assert_allclose(g.numpy(), np.tile((module[0].weight[1]).detach().numpy(), (4, 1)))
    softmax = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1))
    assert as_differentiable(softmax).output == "proba"


def test_module_with_one_output_is_binary():
    model = as_differentiable(torch.nn.Linear(3, 1))
    assert model.logits(torch.zeros(2, 3)).shape == (2, 2)


@pytest.mark.parametrize("scaler", [StandardScaler(), MinMaxScaler(), MaxAbsScaler()])
def test_pipeline_scalers_are_folded_in(tabular, scaler):
    X, y = tabular
    X = X * 3 + 5  # raw units differ from the scaled ones
    pipe = make_pipeline(scaler, LogisticRegression()).fit(X, y)
    model = as_differentiable(pipe)
    assert_allclose(model.predict_proba(X), pipe.predict_proba(X), atol=1e-6)


def test_pipeline_with_skorch_net(tabular, skorch_logits):
    X, y = tabular
    scaler = StandardScaler().fit(X * 2)
    from sklearn.pipeline import Pipeline

    pipe = Pipeline([("scale", scaler), ("net", skorch_logits)])
    model = as_differentiable(pipe)
    expected = skorch_logits.predict_proba(scaler.transform(X * 2).astype(np.float32))
    assert_allclose(model.predict_proba(X * 2), expected, atol=1e-5)


def test_sklearn_mlp_and_linear(tabular):
    X, y = tabular
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(X, y)
    assert_allclose(
        as_differentiable(mlp).predict_proba(X), mlp.predict_proba(X), atol=1e-6
    )
    X3 = np.vstack([X, X[:50] + 3])
    y3 = np.concatenate([y, np.full(50, 2)])
    lr = LogisticRegression(max_iter=500).fit(X3, y3)
    assert_allclose(
        as_differentiable(lr).predict_proba(X3), lr.predict_proba(X3), atol=1e-6
    )


def test_black_box_is_refused_with_alternatives(tabular):
    X, y = tabular
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(NotDifferentiableError, match="not differentiable.*gradient"):
        as_differentiable(forest)
    with pytest.raises(TypeError):  # NotDifferentiableError is a TypeError too
        as_differentiable(forest)
    assert not is_differentiable(forest)
    assert isinstance(as_model(forest), BlackBoxModel)


def test_non_scaler_pipeline_step_is_refused(tabular):
    X, y = tabular
    pipe = make_pipeline(PolynomialFeatures(), LogisticRegression()).fit(X, y)
    with pytest.raises(NotDifferentiableError, match="PolynomialFeatures"):
        as_differentiable(pipe)


def test_unfitted_models_are_refused():
    from skorch import NeuralNetClassifier

    with pytest.raises(NotFittedError):
        as_differentiable(
            NeuralNetClassifier(
                torch.nn.Linear, module__in_features=2, module__out_features=2
            )
        )
    with pytest.raises(NotFittedError):
        as_differentiable(make_pipeline(StandardScaler(), torch.nn.Linear(2, 2)))


def test_user_module_is_never_modified(tabular):
    module = torch.nn.Sequential(
        torch.nn.Linear(6, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 2)
    )
    module.train()
    before = [p.clone() for p in module.parameters()]
    model = as_differentiable(module)
    assert module.training  # not flipped to eval
    assert not model.module.training  # but the adapter evaluates in eval mode
    x = torch.as_tensor(tabular[0][:8])
    assert torch.equal(model.logits(x), model.logits(x))  # dropout is off
    assert all(torch.equal(a, b) for a, b in zip(before, module.parameters()))


def test_bad_output_and_cuda_requests():
    with pytest.raises(ValueError, match="output"):
        as_differentiable(torch.nn.Linear(2, 2), output="probabilities")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            as_differentiable(torch.nn.Linear(2, 2), device="cuda")


def test_pickle_round_trip(tabular, skorch_logits):
    X, _ = tabular
    model = as_differentiable(skorch_logits)
    clone = pickle.loads(pickle.dumps(model))
    assert_allclose(clone.predict_proba(X), model.predict_proba(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_copy_keeps_user_module_on_cpu(tabular):
    module = torch.nn.Linear(6, 2)
    model = as_differentiable(module, device="cuda")
    assert next(module.parameters()).device.type == "cpu"
    assert model.device.type == "cuda"
    X = tabular[0]
    cpu = as_differentiable(module).predict_proba(X)
    assert_allclose(model.predict_proba(X), cpu, atol=1e-5)


def test_skorch_binary_classifier(tabular):
    from skorch import NeuralNetBinaryClassifier

    from skcf.generators import WachterGenerator
    from skcf.models import MLP

    X, y = tabular
    torch.manual_seed(0)
    net = NeuralNetBinaryClassifier(
        MLP,
        module__n_features=6,
        module__n_classes=1,
        module__hidden=(8,),
        max_epochs=20,
        lr=0.05,
        optimizer=torch.optim.Adam,
        train_split=None,
        verbose=0,
    ).fit(X, y.astype(np.float32))
    model = as_differentiable(net)
    assert model.output == "binary_logit"
    assert_allclose(model.predict_proba(X), net.predict_proba(X), atol=1e-5)
    cf = WachterGenerator(net, random_state=0).fit(X).explain(X[:20])
    assert cf.validity >= 0.95
    assert (net.predict(cf.X_cf[cf.valid]) != net.predict(X[:20][cf.valid])).all()


def test_unfitted_skorch_net_with_string_labels(tabular):
    from skorch import NeuralNetClassifier

    from skcf.generators import ElasticNetGenerator
    from skcf.models import MLP

    X, y = tabular
    labels = np.array(["bad", "good"])[y]
    net = NeuralNetClassifier(
        MLP,
        module__n_features=6,
        module__hidden=(8,),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=15,
        lr=0.05,
        optimizer=torch.optim.Adam,
        train_split=None,
        verbose=0,
    )
    gen = ElasticNetGenerator(net, target="good", random_state=0).fit(X, labels)
    assert list(gen.classes_) == ["bad", "good"]
    q = X[gen.model_.predict(X) == 0][:10]
    cf = gen.explain(q)
    assert (cf.y_pred == "bad").all() and (cf.y_cf_pred[cf.valid] == "good").all()
    assert cf.validity >= 0.9


def test_gradient_free_names_match_discovery():
    """The adapters name the gradient-free generators without importing them."""
    from skcf.models._adapters import GRADIENT_FREE_GENERATORS
    from skcf.utils import all_estimators

    found = sorted(
        name
        for name, cls in all_estimators(type_filter="generator")
        if not getattr(cls, "_requires_gradients", True)
    )
    assert sorted(GRADIENT_FREE_GENERATORS) == found


def test_models_import_without_the_generators():
    """No import circle: skcf.models loads without skcf.base or discovery."""
    import subprocess
    import sys

    code = (
        "import sys, skcf.models; "
        "bad = [m for m in ('skcf.base', 'skcf.utils.discovery', 'skcf.generators') "
        "if m in sys.modules]; print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
