"""Every fenced Python block of README.md and docs/**/*.md runs.

Each block runs in a fresh namespace, in a temporary working directory (one per page) that holds
links to the repository's ``cases/``, ``meshes/`` and ``docs/``, so relative paths in the docs resolve and
nothing is written into the repository's ``runs/`` or ``data/``. The blocks of a page run in page
order, as a reader would run them: a later block may read a file an earlier one wrote (running a
single block runs the ones before it first). Trainings are cut short by ``SCIML_MAX_STEPS``
(docs/python_api.md). A block that is not meant to run on its own is fenced ``python no-run`` or
follows a ``<!-- no-run -->`` line; keep those rare.
"""

from __future__ import annotations

import os
import re
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
STEPS = "20"  # SCIML_MAX_STEPS for the docs' trainings
FENCE = re.compile(r"^(\s*)```(\S*)(.*)$")


def python_blocks(path: Path) -> list[tuple[int, str, bool]]:
    """``(first line number, code, runs)`` of every fenced ``python`` block of a Markdown page."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, rest = m.groups()
        j = i + 1
        while j < len(lines) and not (lines[j].strip() == "```" and lines[j].startswith(indent)):
            j += 1
        if lang.lower() in ("python", "py"):
            before = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
            runs = "no-run" not in rest and before != "<!-- no-run -->"
            code = "\n".join(ln[len(indent) :] for ln in lines[i + 1 : j])
            blocks.append((i + 1, code, runs))
        i = j + 1
    return blocks


BLOCKS = [(page, n, line, code, runs) for page in PAGES for n, (line, code, runs) in enumerate(python_blocks(page))]
_RESULTS: dict[tuple[Path, int], str | None] = {}  # (page, block index) -> None (ran) or the error
_WORKDIRS: dict[Path, Path] = {}


def _workdir(page: Path, factory) -> Path:
    if page not in _WORKDIRS:
        d = factory.mktemp(re.sub(r"\W", "_", str(page.relative_to(ROOT))))
        for name in ("cases", "meshes", "docs"):
            (d / name).symlink_to(ROOT / name, target_is_directory=True)
        _WORKDIRS[page] = d
    return _WORKDIRS[page]


def _exec(page: Path, index: int, factory) -> str | None:
    """Run block ``index`` of ``page`` (after the page's earlier blocks); None or the error text."""
    key = (page, index)
    if key in _RESULTS:
        return _RESULTS[key]
    for k in range(index):
        _exec(page, k, factory)
    line, code, runs = python_blocks(page)[index]
    if not runs:
        _RESULTS[key] = None
        return None
    name = str(page.relative_to(ROOT))
    here, old = Path.cwd(), os.environ.get("SCIML_MAX_STEPS")
    os.chdir(_workdir(page, factory))
    os.environ["SCIML_MAX_STEPS"] = STEPS
    try:
        # the code's line numbers are the page's: a traceback points into the Markdown file
        exec(compile("\n" * line + code, name, "exec"), {"__name__": "__docs__"})
        _RESULTS[key] = None
    except BaseException:
        _RESULTS[key] = traceback.format_exc(limit=-8)
    finally:
        os.chdir(here)
        if old is None:
            os.environ.pop("SCIML_MAX_STEPS", None)
        else:
            os.environ["SCIML_MAX_STEPS"] = old
    return _RESULTS[key]


def _repo_outputs() -> set[str]:
    return {str(p.relative_to(ROOT)) for d in ("runs", "data") for p in (ROOT / d).glob("**/*")}


def test_docs_have_python_blocks():
    assert sum(runs for *_, runs in BLOCKS) >= 5


@pytest.mark.parametrize(
    "page,index,line",
    [(p, n, ln) for p, n, ln, _, _ in BLOCKS],
    ids=[f"{p.relative_to(ROOT)}:{ln}" for p, _, ln, _, _ in BLOCKS],
)
def test_doc_block_runs(page, index, line, tmp_path_factory):
    if not BLOCKS[[(p, n) for p, n, *_ in BLOCKS].index((page, index))][4]:
        pytest.skip("marked no-run")
    before = _repo_outputs()
    error = _exec(page, index, tmp_path_factory)
    earlier = [python_blocks(page)[k][0] for k in range(index) if _RESULTS.get((page, k))]
    if error is not None:
        pytest.fail(
            f"{page.relative_to(ROOT)}:{line}: the Python block fails"
            + (f" (so did the blocks before it at lines {earlier})" if earlier else "")
            + f"\n{error}",
            pytrace=False,
        )
    assert _repo_outputs() == before, f"{page.relative_to(ROOT)}:{line} wrote into the repository's runs/ or data/"


def test_block_extraction(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(
        "text\n\n```python\na = 1\n```\n\n<!-- no-run -->\n```python\nb\n```\n"
        "```python no-run\nc\n```\n```bash\nd\n```\n- item:\n  ```python\n  e = 2\n  ```\n"
    )
    assert python_blocks(page) == [(3, "a = 1", True), (8, "b", False), (11, "c", False), (18, "e = 2", True)]
