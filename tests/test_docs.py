"""Every ```python block of README.md and docs/*.md runs as written.

One test per page: its python blocks run in order in one shared namespace, as a
reader pastes them into one session, in a temporary working directory (files
written by examples do not litter the repo), with matplotlib's Agg backend.
Other fences (bash, text, bare) are not executed. A block opts out only with an
HTML comment on the line right before its fence, giving a reason::

    <!-- skip: needs a CUDA device -->

Skipped blocks are reported as pytest skips (``pytest -rs`` lists the reasons).
Tracebacks name ``<page>:block<i>`` with the page's own line numbers.

The real data sets are read from ``<repo>/../shared/data`` (``SKCF_DATA_HOME``);
a page that loads one of them is skipped when that folder is missing.
"""

import linecache
import re
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The hand-written pages: README.md and the markdown pages directly in docs/.
# Not the Sphinx machinery (docs/conf.py, docs/_ext/, rst templates) nor what
# a build generates (docs/_build/, docs/api/, docs/auto_examples/,
# docs/gen_modules/): the glob is not recursive and takes only *.md.
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHARED_DATA = ROOT.parent / "shared" / "data"
# Loaders that read files not shipped with skcf (German credit is embedded).
NEEDS_DATA = re.compile(
    r"load_(adult|heloc|taiwan_credit|ctg|fashion_mnist_tshirt_trouser)\b"
    r"|SKCF_DATA_HOME|shared/data"
)

FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
SKIP_MARKER = re.compile(r"^\s*<!--\s*skip\b\s*:?(?P<reason>.*?)-->\s*$")


@dataclass
class Block:
    page: str
    index: int  # 1-based, counting the page's python blocks
    line: int  # 1-based line of the first code line
    source: str
    skip: str | None  # None: runs; otherwise the skip marker's reason ("" if none)


def _blocks(path):
    """The fenced ``python`` blocks of a markdown page, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE_OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], match["indent"]
        close = re.compile(rf"^[ \t]*{fence[0]}{{{len(fence)},}}\s*$")
        end = i + 1
        while end < len(lines) and not close.match(lines[end]):
            end += 1
        lang = match["info"].split()[0].lower() if match["info"].strip() else ""
        if lang in ("python", "py"):
            body = [
                line[len(indent) :] if line.startswith(indent) else line
                for line in lines[i + 1 : end]
            ]
            marker = SKIP_MARKER.match(lines[i - 1]) if i else None
            blocks.append(
                Block(
                    page=path.name,
                    index=sum(b.page == path.name for b in blocks) + 1,
                    line=i + 2,
                    source=textwrap.dedent("\n".join(body)) + "\n",
                    skip=marker["reason"].strip() if marker else None,
                )
            )
        i = end + 1
    return blocks


BLOCKS = {path.name: _blocks(path) for path in PAGES}
SKIPPED = [b for blocks in BLOCKS.values() for b in blocks if b.skip is not None]


def test_pages_are_collected():
    """README.md and every docs page are covered; README has runnable blocks."""
    assert (ROOT / "README.md") in PAGES
    assert len(PAGES) > 1, "no docs/*.md page found"
    assert any(b.skip is None for b in BLOCKS["README.md"])
    assert all(p.suffix == ".md" and p.parent in (ROOT, ROOT / "docs") for p in PAGES)


def test_skip_markers_precede_python_blocks():
    """A skip marker that is not right before a python fence is a mistake."""
    stray = []
    for path in PAGES:
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines, start=1):
            if SKIP_MARKER.match(line):
                nxt = FENCE_OPEN.match(lines[n]) if n < len(lines) else None
                info = nxt["info"].strip().lower() if nxt else ""
                if not info.startswith(("python", "py")):
                    stray.append(f"{path.name}:{n}")
    assert not stray, f"skip markers not followed by a python fence: {stray}"


@pytest.mark.parametrize(
    "block",
    SKIPPED or [pytest.param(None, marks=pytest.mark.skip(reason="no skips"))],
    ids=[f"{b.page}:block{b.index}" for b in SKIPPED] or None,
)
def test_skipped_block_has_reason(block):
    assert block.skip, (
        f"{block.page}:block{block.index} (line {block.line}) is skipped without "
        "a reason; write <!-- skip: why -->"
    )
    pytest.skip(f"{block.page}:block{block.index} (line {block.line}): {block.skip}")


@pytest.mark.parametrize("page", list(BLOCKS))
def test_page_runs(page, tmp_path, monkeypatch):
    blocks = [b for b in BLOCKS[page] if b.skip is None]
    if not blocks:
        pytest.skip(f"{page} has no runnable python block")
    monkeypatch.setenv("HOME", str(tmp_path))  # examples may write to ~/...
    if SHARED_DATA.is_dir():
        monkeypatch.setenv("SKCF_DATA_HOME", str(SHARED_DATA))
    elif any(NEEDS_DATA.search(b.source) for b in blocks):
        pytest.skip(f"{page} needs the data sets of {SHARED_DATA}")

    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            for block in blocks:
                filename = f"{page}:block{block.index}"
                # Pad so that tracebacks show the page's line numbers and code.
                source = "\n" * (block.line - 1) + block.source
                linecache.cache[filename] = (
                    len(source),
                    None,
                    source.splitlines(keepends=True),
                    filename,
                )
                exec(compile(source, filename, "exec"), namespace)
    finally:
        plt.close("all")
