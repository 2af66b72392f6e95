"""Shared test fixtures: paths to the reference data and the bundled default model."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SHARED_PARTS = SHARED / "data" / "parts"


@pytest.fixture(scope="session")
def shared_parts() -> Path:
    """The real part files in ../shared/data/parts (read-only)."""
    if not SHARED_PARTS.is_dir():
        pytest.fail(f"reference parts missing: {SHARED_PARTS} (../shared beside the repo)")
    return SHARED_PARTS


@pytest.fixture(scope="session")
def default_model():  # type: ignore[no-untyped-def]
    """The bundled default model, as `make model` (a prerequisite of `make test`) builds it."""
    from quote.persistence import default_model_path, load_model

    path = default_model_path()
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make model` (make test does it first)")
    return load_model(path)
