"""Shared pytest configuration.

Being a conftest, this file puts ``tests/`` on ``sys.path``, so test modules
import their helpers as ``from support import require_root``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The machines are shared: a slow example is load, not a defect. Without a
# deadline Hypothesis judges results only, never timing.
settings.register_profile(
    "netwarden", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# A deeper search for a session that hunts for rare cases:
# HYPOTHESIS_PROFILE=thorough pytest tests/rules ...
settings.register_profile(
    "thorough", parent=settings.get_profile("netwarden"), max_examples=2000
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "netwarden"))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def filterlists_dir() -> Path:
    """The real filter lists of the workplace (test data only)."""
    from support import require

    path = SHARED_DATA / "filterlists"
    require(path.is_dir(), f"needs the real filter lists in {path}")
    return path
