"""Shared pytest configuration.

Being a conftest, this file puts ``tests/`` on ``sys.path``, so test modules
import their helpers as ``from support import require_root``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def filterlists_dir() -> Path:
    """The real filter lists of the workplace (test data only)."""
    from support import require

    path = SHARED_DATA / "filterlists"
    require(path.is_dir(), f"needs the real filter lists in {path}")
    return path
