"""Sphinx helpers of the skcf documentation.

Two jobs, both done at build time from the installed package, never from a
hand-typed list:

1. :func:`write_api_reference` writes the API reference (``docs/api/``): one
   page per public module of ``skcf.__all__``, each an ``autosummary`` table of
   the module's own ``__all__``, plus a page for the top-level functions. A class
   added to a module's ``__all__`` appears at the next build.
2. :func:`which_table_rst` renders the "Which generator?" table from the JSON
   that ``benchmarks/bench_which.py`` writes. Every public generator
   (``skcf.utils.all_estimators``) gets a row; one missing from the JSON says
   "not measured" instead of vanishing.

The functions import neither Sphinx nor docutils, so ``tests/test_docs_site.py``
runs them without a build. :func:`setup` (the Sphinx extension entry point)
registers the ``which-generator-table`` directive.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

#: the docs folder (this file is docs/_ext/skcf_docs.py)
DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
#: default place of the benchmark result the guide renders
WHICH_JSON = ROOT / "benchmarks" / "results" / "which.json"

#: one-line descriptions of the modules' pages (a new module gets its docstring)
_TITLES = {"skcf": "Top-level functions"}

_CONSTRAINT_PARAMS = (
    "immutable",
    "increase_only",
    "decrease_only",
    "bounds",
    "categorical",
    "integer",
)

NOT_MEASURED = "not measured"
#: shown when the benchmark ran a generator and it raised (see which.md)
FAILED = "failed"


# --------------------------------------------------------------------------
# Gallery
# --------------------------------------------------------------------------


def reset_torch_threads(gallery_conf, fname, when=None):
    """sphinx-gallery ``reset_modules`` hook: one torch thread per example.

    The examples train small skorch networks, which run on torch's own thread
    pool (skcf scopes threads only for its searches, ``skcf.set_config``). On
    a shared 2-core machine that pool mostly spins: a German-credit 128-64-16
    net trained in 3 s on one thread and 25 s on two under load. Run
    standalone, an example keeps torch's default.
    """
    import torch

    torch.set_num_threads(1)


# --------------------------------------------------------------------------
# API reference
# --------------------------------------------------------------------------


#: public-looking modules that are programs, not API (``python -m skcf.demo``)
SCRIPTS = ("skcf.demo",)


def public_modules():
    """``(module name, public names)`` of skcf, from the ``__all__`` lists.

    The first entry is ``"skcf"`` itself with its top-level functions (the
    subpackages and dunder names of ``skcf.__all__`` are left out); then every
    public submodule, sorted, with its own ``__all__``: those named in
    ``skcf.__all__`` and every other module or package of ``skcf/`` whose name
    does not start with ``_`` (so a new subpackage is documented even before
    it joins ``skcf.__all__``), except the programs of :data:`SCRIPTS`.
    """
    import pkgutil

    import skcf

    top, modules = [], set()
    for name in skcf.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(skcf, name)
        if inspect.ismodule(obj):
            modules.add(obj.__name__)
        else:
            top.append(name)
    for info in pkgutil.iter_modules(skcf.__path__, "skcf."):
        if not info.name.rsplit(".", 1)[1].startswith("_"):
            modules.add(info.name)
    out = [("skcf", sorted(top))]
    for mod_name in sorted(modules - set(SCRIPTS)):
        mod = importlib.import_module(mod_name)
        names = getattr(mod, "__all__", None)
        if names is None:  # a module without __all__: its public callables
            names = [
                n
                for n, v in vars(mod).items()
                if not n.startswith("_")
                and (inspect.isclass(v) or inspect.isfunction(v))
                and getattr(v, "__module__", "").startswith(mod_name)
            ]
        out.append((mod_name, sorted(names, key=_sort_key)))
    return out


def _sort_key(name):
    return (name.lower(), name)


def _kind(obj):
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "exception"
        return "class"
    if callable(obj):
        return "function"
    return "data"


def _summary(mod):
    doc = inspect.getdoc(mod) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def _underline(text, char):
    return f"{text}\n{char * len(text)}\n"


def module_page(mod_name, names):
    """The reStructuredText of one module's API page."""
    mod = importlib.import_module(mod_name)
    title = f":mod:`{mod_name}`" if mod_name != "skcf" else "``skcf``"
    if mod_name in _TITLES:
        title += f": {_TITLES[mod_name]}"
    lines = [_underline(title, "="), f".. automodule:: {mod_name}"]
    lines += ["   :no-members:", "   :no-inherited-members:", ""]
    if mod_name == "skcf":
        # the package docstring is on the index; here only its functions
        lines = [_underline(title, "="), ".. currentmodule:: skcf", ""]
    else:
        lines += [f".. currentmodule:: {mod_name}", ""]
    groups = {}
    for name in names:
        groups.setdefault(_kind(getattr(mod, name)), []).append(name)
    headings = {
        "class": "Classes",
        "function": "Functions",
        "exception": "Exceptions and warnings",
        "data": "Data",
    }
    for kind in ("class", "exception", "function", "data"):
        if kind not in groups:
            continue
        # paths under templates_path (docs/_templates/autosummary/*.rst)
        template = {
            "class": "autosummary/class.rst",
            "exception": "autosummary/class.rst",
            "function": "autosummary/function.rst",
        }.get(kind, "autosummary/base.rst")
        lines += [_underline(headings[kind], "-")]
        lines += [
            ".. autosummary::",
            "   :nosignatures:",
            "   :toctree: generated/",
            f"   :template: {template}",
            "",
        ]
        lines += [f"   {name}" for name in groups[kind]]
        lines.append("")
    return "\n".join(lines)


def index_page(modules):
    """The reStructuredText of the API reference's index page."""
    lines = [
        ".. _api_ref:",
        "",
        _underline("API reference", "="),
        "This reference is generated at build time from the ``__all__`` list "
        "of every public module of skcf (``docs/_ext/skcf_docs.py``); import "
        "everything from the modules listed here, never from an ``_`` module.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 30 70",
        "",
        "   * - module",
        "     - contents",
    ]
    for mod_name, names in modules:
        mod = importlib.import_module(mod_name)
        summary = "configuration and versions" if mod_name == "skcf" else _summary(mod)
        lines += [
            f"   * - :doc:`{mod_name} <{mod_name}>`",
            f"     - {summary} ({len(names)} public names)",
        ]
    lines += ["", ".. toctree::", "   :hidden:", "   :maxdepth: 1", ""]
    lines += [f"   {mod_name}" for mod_name, _ in modules]
    lines.append("")
    return "\n".join(lines)


def write_api_reference(outdir=DOCS / "api"):
    """Write ``index.rst`` and one ``<module>.rst`` per public module.

    Files are rewritten only when their text changes (Sphinx then rebuilds only
    what changed). Returns ``{module name: [public names]}``.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    modules = public_modules()
    pages = {"index.rst": index_page(modules)}
    for mod_name, names in modules:
        pages[f"{mod_name}.rst"] = module_page(mod_name, names)
    keep = set(pages)
    for old in outdir.glob("*.rst"):  # a module that left skcf.__all__
        if old.name not in keep:
            old.unlink()
    for name, text in pages.items():
        path = outdir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return dict(modules)


def documented_names(outdir=DOCS / "api"):
    """Fully qualified names listed in the autosummary tables under ``outdir``."""
    names = set()
    for path in Path(outdir).glob("*.rst"):
        module, in_table = None, False
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"\.\. currentmodule:: (\S+)", line)
            if m:
                module = m[1]
            if line.startswith(".. autosummary::"):
                in_table = True
            elif in_table and line.strip() and not line.startswith("   "):
                in_table = False
            elif in_table and line.strip() and not line.strip().startswith(":"):
                names.add(f"{module}.{line.strip()}")
    return names


# --------------------------------------------------------------------------
# "Which generator?" table
# --------------------------------------------------------------------------


def generator_facts(cls):
    """Static facts about a generator class, read from the class itself.

    ``model``: what the explained model must offer (a generator whose
    ``_requires_gradients`` is false only calls ``predict_proba``; a
    meta-generator needs what its inner generator needs); ``constraints``:
    the actionability parameters the constructor takes; ``paper``: the first
    sentence of the docstring's References section.
    """
    params = inspect.signature(cls).parameters
    if "generator" in params and "estimator" not in params:
        model = "as its inner generator"
    elif getattr(cls, "_requires_gradients", True):
        model = "gradients (differentiable model)"
    else:
        model = "any predict_proba"
    cons = [p for p in _CONSTRAINT_PARAMS if p in params]
    if len(cons) == len(_CONSTRAINT_PARAMS):
        constraints = "all (immutable, direction, bounds, one-hot, integer)"
    elif cons:
        constraints = ", ".join(cons)
    else:
        constraints = "inherits its inner generator's"
    return dict(model=model, constraints=constraints, paper=_reference(cls))


def _reference(cls):
    doc = inspect.getdoc(cls) or ""
    m = re.search(r"^References\n-+\n(.*?)(?:\n\n|\Z)", doc, re.S | re.M)
    if not m:
        return "—"
    text = " ".join(m[1].split())
    authors = re.match(r"(.+?\(\d{4}\))", text)
    first = authors[1] if authors else text.split(". ")[0]
    seeds = sorted(set(re.findall(r"[Ss]eed (\d{3})", text)))
    if seeds:
        first += "; seed " + ", ".join(seeds)
    return first


def _fmt(value, spec):
    if value is None:
        return "—"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value != value:  # NaN: no valid counterfactual to measure
        return "—"
    return format(value, spec)


#: (JSON key, column title, format) of the measured columns
MEASURED = [
    ("validity", "validity", ".2f"),
    ("l0", "ℓ0", ".1f"),
    ("l1", "ℓ1", ".2f"),
    ("knn", "kNN dist.", ".2f"),
    ("ms_per_cf", "ms / CF", ".2f"),
]
STATIC = [
    ("model", "model needs"),
    ("constraints", "constraints"),
    ("paper", "method / paper"),
]


def which_rows(results, generators):
    """One row per generator: measured values from ``results`` or "not measured".

    ``results`` is the JSON written by ``benchmarks/bench_which.py`` (its
    ``rows`` list, keyed by ``generator``); ``generators`` is
    ``[(name, class), ...]``. The static columns are read from the classes
    (:func:`generator_facts`), so they are current even when the numbers are
    older. A generator that raised in the benchmark reads "failed"; rows of
    the JSON whose generator no longer exists are kept (marked "not in
    skcf"), so nothing disappears silently.
    """
    by_name = {r["generator"]: r for r in results.get("rows", [])}
    rows = []
    for name, cls in generators:
        facts = generator_facts(cls)
        measured = by_name.pop(name, None)
        row = dict(generator=name, measured=measured is not None)
        if measured is not None and "error" in measured:
            row.update({k: FAILED for k, _, _ in MEASURED})
            row["measured"] = False
        elif measured is not None:
            row.update({k: _fmt(measured.get(k), f) for k, _, f in MEASURED})
        else:
            row.update({k: NOT_MEASURED for k, _, _ in MEASURED})
        row.update(facts)
        rows.append(row)
    for name, measured in by_name.items():
        row = dict(generator=f"{name} (not in skcf)", measured=True)
        row.update({k: _fmt(measured.get(k), f) for k, _, f in MEASURED})
        row.update({k: measured.get(k, "—") for k, _ in STATIC})
        rows.append(row)
    return rows


def _all_generators():
    from skcf.utils import all_estimators

    return all_estimators("generator") + all_estimators("meta-generator")


def which_table(json_path=WHICH_JSON, generators=None):
    """``(columns, rows, caption)`` of the "Which generator?" table.

    ``columns`` is ``[(key, title), ...]``, ``rows`` the dicts of
    :func:`which_rows`, ``caption`` a plain-text sentence on where the numbers
    come from (or that the JSON is missing).
    """
    json_path = Path(json_path)
    results = (
        json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {}
    )
    generators = _all_generators() if generators is None else generators
    rows = which_rows(results, generators)
    cols = [("generator", "generator")] + [(k, t) for k, t, _ in MEASURED] + STATIC
    meta = results.get("meta", {})
    if meta:
        caption = (
            f"Measured by benchmarks/bench_which.py ({meta.get('date', '?')}, "
            f"{meta.get('device', 'cpu')}, {meta.get('n_threads', '?')} torch "
            f"thread(s), skcf {meta.get('skcf', '?')}): {meta.get('setting', '')}"
        )
    else:
        caption = (
            f"No benchmark result at {json_path.name}: run "
            "python benchmarks/bench_which.py."
        )
    return cols, rows, caption


def which_table_rst(json_path=WHICH_JSON, generators=None):
    """The table as reStructuredText (a ``list-table``) and its caption.

    The same content the ``which-generator-table`` directive builds as nodes
    (the directive cannot hand reST to a Markdown page's parser).
    """
    cols, rows, caption = which_table(json_path, generators)
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :class: which-generator",
        "",
    ]
    for i, (_, title) in enumerate(cols):
        lines.append(f"   {'* -' if i == 0 else '  -'} {title}")
    for row in rows:
        for i, (key, _) in enumerate(cols):
            value = str(row[key]).replace("\n", " ") or "—"
            if key == "generator" and not value.endswith("(not in skcf)"):
                value = f":class:`~skcf.generators.{value}`"
            lines.append(f"   {'* -' if i == 0 else '  -'} {value}")
    return "\n".join(lines) + "\n\n" + caption + "\n"


#: Cross-reference targets of *other projects'* documentation, named by
#: docstrings that skcf classes inherit (scikit-learn's ``set_output``,
#: ``get_metadata_routing``, ``set_*_request``, ``ClassifierMixin.score``;
#: skorch's ``set_fit_request``). They resolve in those projects' sites, not in
#: ours (intersphinx would need the network), so a warning about exactly these
#: names is dropped; any other unresolved reference still fails ``-W``.
FOREIGN_TARGETS = frozenset(
    {
        "metadata_routing",
        "sklearn:metadata_routing",
        "df_output_transform",
        "sphx_glr_auto_examples_miscellaneous_plot_set_output.py",
        "accuracy_score",
        "meta-estimator",
    }
)


#: Known defects of skcf's own docstrings that fail ``-W``, dropped only at
#: these places until they are fixed in ``skcf/`` (each a one-line change):
#: ``(path fragment of the docstring's source, exact message)``.
KNOWN_DOCSTRING_ISSUES: tuple = (
    # (path fragment, exact message) of skcf docstring defects tolerated while
    # they are fixed; empty: the density docstrings were fixed at the source
)


def _location(record):
    """The source a warning points at, as text (path, docname or node source)."""
    loc = getattr(record, "location", None)
    if loc is None:
        return ""
    if isinstance(loc, tuple):
        return ":".join(str(x) for x in loc if x is not None)
    if isinstance(loc, str):
        return loc
    return str(getattr(loc, "source", "") or "")


class ForeignTargetFilter:
    """Logging filter: drops the warnings of :data:`FOREIGN_TARGETS` and of
    :data:`KNOWN_DOCSTRING_ISSUES`, and counts them."""

    _pattern = re.compile(r"^(?:undefined label|term not in glossary): '(.+)'$")

    def __init__(self):
        self.dropped = 0
        self.dropped_known = 0

    def filter(self, record):
        message = record.getMessage()
        location = _location(record)
        for fragment, known in KNOWN_DOCSTRING_ISSUES:
            if message == known and fragment in location:
                self.dropped_known += 1
                return False
        if getattr(record, "type", "") != "ref" or getattr(
            record, "subtype", ""
        ) not in ("ref", "term"):
            return True
        m = self._pattern.match(message)
        if m and m[1] in FOREIGN_TARGETS:
            self.dropped += 1
            return False
        return True


def _install_foreign_filter(app):
    import logging

    from sphinx.util.logging import NAMESPACE, WarningStreamHandler

    flt = ForeignTargetFilter()
    for handler in logging.getLogger(NAMESPACE).handlers:
        if isinstance(handler, WarningStreamHandler):
            handler.filters.insert(0, flt)  # before Sphinx counts the warning

    def report(app, exc):
        print(
            f"skcf_docs: dropped {flt.dropped} warnings about other projects' "
            "reference targets in inherited docstrings (FOREIGN_TARGETS) and "
            f"{flt.dropped_known} of known skcf docstring defects "
            "(KNOWN_DOCSTRING_ISSUES)"
        )

    app.connect("build-finished", report)


#: top-level pages that tools generate (sphinx-gallery's timing table)
GENERATED_PAGES = ("index", "sg_execution_times")


def pages_in_order(found, ordered, exclude=()):
    """Top-level pages for the guide's toctree: ``ordered`` first (those that
    exist), then every other top-level page of ``found`` (sorted) that is
    neither in ``exclude`` nor generated (pages in folders are generated:
    ``api/``, ``auto_examples/``)."""
    found = set(found)
    head = [d for d in ordered if d in found]
    skip = set(head) | set(exclude) | set(GENERATED_PAGES)
    rest = sorted(d for d in found if "/" not in d and d not in skip)
    return head + rest


def setup(app):
    """Sphinx entry point: the ``which-generator-table`` and ``pages-toctree``
    directives, the foreign-target filter and the gallery's thread reset."""
    _install_foreign_filter(app)
    from docutils import nodes
    from docutils.parsers.rst import directives
    from sphinx import addnodes
    from sphinx.util.docutils import SphinxDirective

    class WhichGeneratorTable(SphinxDirective):
        """The table as docutils nodes (works on reST and MyST pages alike)."""

        has_content = False
        optional_arguments = 1  # a JSON path relative to the repository root

        def run(self):
            path = ROOT / self.arguments[0] if self.arguments else WHICH_JSON
            self.env.note_dependency(str(path))
            cols, rows, caption = which_table(path)
            table = nodes.table(classes=["which-generator"])
            group = nodes.tgroup(cols=len(cols))
            table += group
            for _ in cols:
                group += nodes.colspec(colwidth=1)
            head = nodes.thead()
            head += self._row([nodes.Text(title) for _, title in cols])
            group += head
            body = nodes.tbody()
            for row in rows:
                cells = []
                for key, _ in cols:
                    value = str(row[key]) or "—"
                    if key == "generator" and not value.endswith("(not in skcf)"):
                        cells.append(self._class_ref(value))
                    else:
                        cells.append(nodes.Text(value))
                body += self._row(cells)
            group += body
            return [table, nodes.paragraph(text=caption)]

        @staticmethod
        def _row(cells):
            row = nodes.row()
            for cell in cells:
                entry = nodes.entry()
                entry += nodes.paragraph("", "", cell)
                row += entry
            return row

        @staticmethod
        def _class_ref(name):
            target = f"skcf.generators.{name}"
            ref = addnodes.pending_xref(
                "",
                refdomain="py",
                reftype="class",
                reftarget=target,
                refexplicit=True,
                refwarn=True,
            )
            ref += nodes.literal(name, name, classes=["xref", "py", "py-class"])
            return ref

    class PagesTocTree(SphinxDirective):
        """A hidden toctree of the listed pages, then every other top-level
        page of ``docs/`` (a page someone adds is linked, never orphaned)."""

        has_content = True
        option_spec = {"caption": directives.unchanged, "exclude": directives.unchanged}

        def run(self):
            exclude = self.options.get("exclude", "").split()
            ordered = [line.strip() for line in self.content if line.strip()]
            docs = pages_in_order(self.env.found_docs, ordered, exclude)
            toc = addnodes.toctree()
            toc["parent"] = self.env.docname
            toc["entries"] = [(None, d) for d in docs]
            toc["includefiles"] = docs
            toc["maxdepth"] = 2
            toc["caption"] = self.options.get("caption")
            toc["glob"] = False
            toc["hidden"] = True
            toc["includehidden"] = False
            toc["numbered"] = 0
            toc["titlesonly"] = False
            wrapper = nodes.compound(classes=["toctree-wrapper"])
            wrapper.append(toc)
            return [wrapper]

    def _reread_index(app, env, added, changed, removed):
        return ["index"] if (added or removed) and "index" in env.all_docs else []

    app.add_directive("which-generator-table", WhichGeneratorTable)
    app.add_directive("pages-toctree", PagesTocTree)
    app.connect("env-get-outdated", _reread_index)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
