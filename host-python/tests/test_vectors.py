"""Every shared vector (spec-tests/vectors and $SOLARWIRE_EXTRA_VECTORS)
through the public Python API, one test per vector, with ids `file:id`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from suites import FIELDS, FileError, failure

PROJECT_VECTORS = Path(__file__).resolve().parents[2] / "spec-tests" / "vectors"


def vector_files() -> list[tuple[Path, Path]]:
    """(root, file) for every `*.json` below each vector root, sorted per root."""
    extra = os.environ.get("SOLARWIRE_EXTRA_VECTORS", "")
    roots = [PROJECT_VECTORS] + [Path(p) for p in extra.split(":") if p]
    found = []
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"vector directory {root} does not exist")
        files = [root] if root.is_file() else sorted(root.rglob("*.json"))
        found += [(root, f) for f in files]
    return found


def cases() -> list[Any]:
    """One case per vector; a file that cannot be read is one failing case."""
    out = []
    for root, path in vector_files():
        name = path.name if path == root else path.relative_to(root).as_posix()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            suite, vectors = data["suite"], data["vectors"]
            if suite not in FIELDS["suites"]:
                raise ValueError(f"unknown suite {suite!r}")
        except (ValueError, KeyError, TypeError) as e:
            out.append(pytest.param(None, {"file_error": str(e)}, id=f"{name}:<file>"))
            continue
        for i, vector in enumerate(vectors):
            vid = vector.get("id", f"#{i}") if isinstance(vector, dict) else f"#{i}"
            out.append(pytest.param(suite, vector, id=f"{name}:{vid}"))
    return out


@pytest.mark.parametrize(("suite", "vector"), cases())
def test_vector(suite: str | None, vector: Any) -> None:
    if suite is None or not isinstance(vector, dict):
        pytest.fail(f"cannot run: {vector}")
    try:
        why = failure(suite, vector)
    except FileError as e:
        pytest.fail(f"cannot run: {e}")
    comment = vector.get("comment")
    assert why is None, f"{why}" + (f' "{comment}"' if comment else "")
