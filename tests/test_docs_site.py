"""The documentation site's generated parts, checked without a Sphinx build.

``docs/_ext/skcf_docs.py`` writes the API reference from every public module's
``__all__`` and renders the "Which generator?" table from
``benchmarks/results/which.json``; these tests call those functions directly
(no Sphinx needed, a second or two). The full build (``python -m sphinx -W -b
html docs docs/_build/html``) runs in ``.ci/run``.
"""

import importlib
import inspect
import json
import re
import sys
from pathlib import Path

import pytest

from skcf.utils import all_estimators

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
skcf_docs = pytest.importorskip("skcf_docs")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    modules = skcf_docs.write_api_reference(out)
    return out, modules, skcf_docs.documented_names(out)


def _public_modules():
    """skcf's public submodules: in ``skcf.__all__`` or not ``_``-prefixed."""
    import pkgutil

    import skcf

    names = {f"skcf.{n}" for n in skcf.__all__ if inspect.ismodule(getattr(skcf, n))}
    names |= {
        m.name
        for m in pkgutil.iter_modules(skcf.__path__, "skcf.")
        if not m.name.split(".")[-1].startswith("_")
    }
    return sorted(names - set(skcf_docs.SCRIPTS))


def test_every_public_name_is_documented(reference):
    """Every name of every public module's ``__all__`` has an autosummary entry."""
    import skcf

    _, modules, documented = reference
    expected = {
        f"skcf.{n}"  # top-level functions: set_config, show_versions, ...
        for n in skcf.__all__
        if not n.startswith("__") and not inspect.ismodule(getattr(skcf, n))
    }
    for mod_name in _public_modules():
        mod = importlib.import_module(mod_name)
        assert mod_name in modules
        if hasattr(mod, "__all__"):
            expected |= {f"{mod_name}.{n}" for n in mod.__all__}
    missing = sorted(expected - documented)
    assert not missing, f"public names missing from the API reference: {missing}"
    assert not documented - expected, "the reference lists names not in __all__"


def test_every_estimator_is_documented(reference):
    """``all_estimators()`` (generators, meta-generators, nets, samplers)."""
    _, _, documented = reference
    for name, cls in all_estimators():
        entries = [d for d in documented if d.rsplit(".", 1)[1] == name]
        assert entries, f"{name} is not in the API reference"
        mod, attr = entries[0].rsplit(".", 1)
        assert getattr(importlib.import_module(mod), attr) is cls


def test_pages_are_written_per_module(reference):
    out, modules, _ = reference
    index = (out / "index.rst").read_text(encoding="utf-8")
    for mod in modules:
        page = (out / f"{mod}.rst").read_text(encoding="utf-8")
        assert f".. currentmodule:: {mod}" in page
        assert ":toctree: generated/" in page
        assert f"   {mod}\n" in index  # in the index's toctree
    assert set(modules) >= {
        "skcf",
        "skcf.generators",
        "skcf.density",
        "skcf.models",
        "skcf.metrics",
        "skcf.evaluation",
        "skcf.training",
        "skcf.sampling",
        "skcf.datasets",
        "skcf.plotting",
        "skcf.exceptions",
        "skcf.utils",
    }


def test_reference_follows_all(reference, tmp_path, monkeypatch):
    """A name added to a module's ``__all__`` appears; a stale page goes."""
    import skcf.plotting

    out = tmp_path / "api"
    (out).mkdir()
    (out / "skcf.gone.rst").write_text("stale")
    monkeypatch.setattr(
        skcf.plotting, "__all__", [*skcf.plotting.__all__, "NewDisplay"]
    )
    monkeypatch.setattr(
        skcf.plotting, "NewDisplay", type("NewDisplay", (), {}), raising=False
    )
    skcf_docs.write_api_reference(out)
    assert "skcf.plotting.NewDisplay" in skcf_docs.documented_names(out)
    assert not (out / "skcf.gone.rst").exists()


# -- "Which generator?" --------------------------------------------------------

GENERATORS = all_estimators("generator") + all_estimators("meta-generator")


def test_committed_which_json_is_readable():
    path = ROOT / "benchmarks" / "results" / "which.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    assert results["meta"]["setting"]
    for row in results["rows"]:
        for key in ("generator", "validity", "ms_per_cf", "model", "paper"):
            assert key in row, (row.get("generator"), key)


def test_which_table_lists_every_generator():
    text = skcf_docs.which_table_rst()
    for name, _ in GENERATORS:
        assert f"skcf.generators.{name}`" in text, name


def test_unmeasured_generators_say_so(tmp_path):
    """A generator missing from the JSON is "not measured", never dropped; a
    JSON row of a generator that left skcf is kept and marked."""
    measured, *rest = GENERATORS
    results = {
        "rows": [
            {
                "generator": measured[0],
                "validity": 1.0,
                "l0": 2.0,
                "l1": 1.5,
                "knn": 3.0,
                "ms_per_cf": 4.0,
                "model": "m",
                "constraints": "c",
                "paper": "p",
            },
            {"generator": "RetiredGenerator", "validity": 0.5, "ms_per_cf": 1.0},
            {"generator": rest[0][0], "error": "ValueError: no"},
        ]
    }
    rows = {r["generator"]: r for r in skcf_docs.which_rows(results, GENERATORS)}
    assert rows[measured[0]]["validity"] == "1.00"
    assert rows[measured[0]]["model"] == skcf_docs.generator_facts(measured[1])["model"]
    assert rows[rest[0][0]]["validity"] == skcf_docs.FAILED
    rest = rest[1:]
    for name, _ in rest:
        assert rows[name]["validity"] == skcf_docs.NOT_MEASURED
        assert rows[name]["ms_per_cf"] == skcf_docs.NOT_MEASURED
        assert rows[name]["model"] and rows[name]["paper"]  # from the class
    assert "RetiredGenerator (not in skcf)" in rows
    path = tmp_path / "which.json"
    path.write_text(json.dumps(results))
    text = skcf_docs.which_table_rst(path)
    assert text.count(skcf_docs.NOT_MEASURED) == 5 * len(rest)
    assert "RetiredGenerator (not in skcf)" in text


def test_missing_json_lists_every_generator_as_not_measured(tmp_path):
    text = skcf_docs.which_table_rst(tmp_path / "absent.json")
    assert text.count(skcf_docs.NOT_MEASURED) == 5 * len(GENERATORS)
    assert "bench_which.py" in text


def test_generator_facts():
    from skcf.generators import GrowingSpheresGenerator, StableNeighborSearch

    facts = skcf_docs.generator_facts(GrowingSpheresGenerator)
    assert facts["model"] == "any predict_proba"
    assert "2018" in facts["paper"] and "seed 003" in facts["paper"]
    assert skcf_docs.generator_facts(StableNeighborSearch)["model"].startswith("as ")


# -- pages and gallery ---------------------------------------------------------


def test_pages_toctree_links_every_page():
    found = ["index", "a", "b", "new_page", "api/index", "sg_execution_times"]
    assert skcf_docs.pages_in_order(found, ["b", "a", "gone"]) == [
        "b",
        "a",
        "new_page",
    ]
    assert skcf_docs.pages_in_order(found, ["b"], exclude=["a"]) == ["b", "new_page"]


EXAMPLES = sorted((ROOT / "examples").rglob("plot_*.py"))


def test_gallery_examples_are_complete():
    """Ten or more examples, each titled, each reading the quick switch, each
    in a gallery section that docs/conf.py orders."""
    conf = (ROOT / "docs" / "conf.py").read_text(encoding="utf-8")
    assert len(EXAMPLES) >= 10
    for path in EXAMPLES:
        text = path.read_text(encoding="utf-8")
        assert re.match(r'"""\n[^\n]+\n=+\n', text), f"{path.name}: no RST title"
        assert "SKCF_DOCS_QUICK" in text, path.name
        assert f'"../examples/{path.parent.name}"' in conf, path.parent.name
        assert (path.parent / "README.rst").exists()
        assert "urlopen" not in text and "fetch_openml" not in text  # no downloads
