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
def easyprivacy() -> Path:
    """The real EasyPrivacy list: the workplace's copy beside the project, or
    the same snapshot from Debian's webext-ublock-origin-firefox, which the
    setup installs (a clean clone elsewhere has only the second)."""
    from support import require

    from netwarden.lab.daemon_config import DEBIAN_EASYPRIVACY

    candidates = (SHARED_DATA / "filterlists" / "easyprivacy.txt", DEBIAN_EASYPRIVACY)
    found = next((path for path in candidates if path.is_file()), None)
    require(
        found is not None, f"needs the real EasyPrivacy list at one of {candidates}"
    )
    assert found is not None
    return found
