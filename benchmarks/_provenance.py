"""Where a benchmark number came from: the git commit and the files modified in the work tree."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def provenance(hashed: tuple[str, ...] = ()) -> dict:
    """Commit, modified tracked files, and short hashes of ``hashed`` source files (repo-relative)."""

    def git(*a):
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    out = {
        "commit": git("rev-parse", "HEAD"),
        "modified": git("status", "--porcelain", "--untracked-files=no").splitlines(),
    }
    if hashed:
        out["sha256"] = {
            f: hashlib.sha256((ROOT / f).read_bytes()).hexdigest()[:16] for f in hashed if (ROOT / f).exists()
        }
    return out


def write_results(
    path: str | Path, settings: dict, rows: list[dict], table_markdown: str, started: dict | None = None
) -> Path:
    """The benchmark's JSON record: settings, provenance, every run and the printed table.

    ``started`` is :func:`provenance` taken when the benchmark started (the code it ran); the
    work tree may have moved on by the time it finishes.
    """
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "settings": settings,
                "provenance": started or provenance(),
                "runs": rows,
                "table_markdown": table_markdown,
            },
            indent=1,
        )
    )
    print(f"\nwrote {path}")
    return path
