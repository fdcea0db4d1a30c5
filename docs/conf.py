"""Sphinx configuration of the skcf documentation.

Build (warnings are errors; the example gallery is executed)::

    python -m sphinx -W -b html docs docs/_build/html              # full
    SKCF_DOCS_QUICK=1 python -m sphinx -W -b html docs docs/_build/html   # quick (CI)
    python -m sphinx -W -b html -D plot_gallery=0 docs docs/_build/html  # no examples

``make -C docs html`` / ``make -C docs html-quick`` run the same commands.
The API reference (``docs/api/``) is written from each module's ``__all__`` by
``docs/_ext/skcf_docs.py`` when this file is read; it and the gallery's output
(``docs/auto_examples/``, ``docs/api/generated/``, ``docs/gen_modules/``) are
generated, never edited by hand.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

from skcf_docs import write_api_reference  # noqa: E402

import skcf  # noqa: E402

write_api_reference(HERE / "api")

# -- project ----------------------------------------------------------------
project = "skcf"
author = "the skcf developers"
copyright = "the skcf developers, BSD-3-Clause"
release = skcf.__version__
version = release.split(".dev")[0]

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "skcf_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_templates",
    "_ext",
    "gallery",  # docs/gallery/plot_generators_2d.py: a script writing images/
    "auto_examples/*.ipynb",
    "auto_examples/**/*.ipynb",
    "**/*.codeobj.json",
    "Thumbs.db",
    ".DS_Store",
]

# -- autodoc / autosummary / numpydoc (as scikit-learn's docs) ----------------
autosummary_generate = True
# Inherited members are documented (fit/transform/explain/score come from
# BaseGenerator), except torch.nn.Module's (the MLP module): "Module" stops the
# inheritance walk there, and numpydoc's member table follows suit.
autodoc_default_options = {"members": True, "inherited-members": "Module"}
autodoc_typehints = "none"
autoclass_content = "class"
numpydoc_show_class_members = True
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False


def _torch_modules():
    import importlib

    import torch
    from skcf_docs import public_modules

    out = {}
    for mod_name, names in public_modules():
        mod = importlib.import_module(mod_name)
        for name in names:
            obj = getattr(mod, name)
            if isinstance(obj, type) and issubclass(obj, torch.nn.Module):
                out[f"{mod_name}.{name}"] = False
    return out


numpydoc_show_inherited_class_members = _torch_modules()

# -- markdown pages (myst) --------------------------------------------------
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# -- example gallery --------------------------------------------------------
#: SKCF_DOCS_QUICK=1: the examples use fewer rows, epochs and iterations (CI).
QUICK = os.environ.get("SKCF_DOCS_QUICK", "0") not in ("", "0")

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    "subsection_order": [
        "../examples/recourse",
        "../examples/comparison",
        "../examples/robustness",
        "../examples/sampling",
        "../examples/speed",
    ],
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skcf",),
    "reference_url": {"skcf": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "min_reported_time": 1,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    # matplotlib's defaults, then one torch thread for every example
    "reset_modules": ("matplotlib", "skcf_docs.reset_torch_threads"),
    "reset_modules_order": "before",
}

# -- HTML -------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skcf {release}"
html_static_path = ["_static"]
html_css_files = ["skcf.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
html_context = {"default_mode": "light"}
