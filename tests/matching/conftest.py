"""Fixtures of the matching tests: the real MTConnect recordings in ../shared/data/mtconnect."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED

MTCONNECT = SHARED / "data" / "mtconnect"


@pytest.fixture(scope="session")
def mtc() -> Path:
    """The real agent documents and the Okuma SHDR recording (read-only)."""
    if not MTCONNECT.is_dir():
        pytest.fail(f"MTConnect recordings missing: {MTCONNECT} (../shared beside the repo)")
    return MTCONNECT
