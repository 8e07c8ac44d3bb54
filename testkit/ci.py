"""What a test does when a real part it needs is missing: skip locally, fail under CI.

CI (``CI=true``, exported by ``.ci/run``) installs every real part, so a missing
one there is a broken machine, never a reason to pass quietly.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["missing_real_part", "under_ci"]


def under_ci() -> bool:
    """True when the run is CI's (``CI=true``)."""
    return os.environ.get("CI") == "true"


def missing_real_part(reason: str) -> NoReturn:
    """Fail the test under CI, skip it otherwise, naming what is missing."""
    if under_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)
