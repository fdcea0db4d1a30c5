"""Every public object is documented: numpydoc Parameters match the signature,
and there is an Examples section (STYLE §11)."""

import inspect

import pytest

numpydoc = pytest.importorskip("numpydoc.docscrape")

import skcf.datasets  # noqa: E402
import skcf.evaluation  # noqa: E402
import skcf.generators  # noqa: E402
import skcf.metrics  # noqa: E402
import skcf.models  # noqa: E402
import skcf.plotting  # noqa: E402
import skcf.sampling  # noqa: E402
import skcf.training  # noqa: E402

MODULES = [
    skcf.generators,
    skcf.metrics,
    skcf.models,
    skcf.datasets,
    skcf.plotting,
    skcf.evaluation,
    skcf.training,
    skcf.sampling,
]


def _public_objects():
    for mod in MODULES:
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{mod.__name__}.{name}", obj


@pytest.mark.parametrize("name, obj", list(_public_objects()))
def test_docstring_matches_signature(name, obj):
    doc = numpydoc.ClassDoc(obj) if inspect.isclass(obj) else numpydoc.FunctionDoc(obj)
    assert doc["Examples"], f"{name} has no Examples section"
    func = obj.__init__ if inspect.isclass(obj) else obj
    signature = [
        p
        for p in inspect.signature(func).parameters
        if p not in ("self", "args", "kwargs")
    ]
    documented = []
    for param in doc["Parameters"]:
        documented += [
            p.strip() for p in param.name.split(",") if not p.strip().startswith("*")
        ]
    if inspect.isclass(obj) and not signature:
        return
    assert documented == signature, (
        f"{name}: documented parameters {documented} != signature {signature}"
    )
