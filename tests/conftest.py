"""Shared fixtures.

The Go reference tools (Debian package ``notary``) are a hard requirement in CI:
fixtures that need them fail when ``CI=true`` and skip elsewhere with the install
hint, so a developer without the package can still run the pure tests.
"""

from __future__ import annotations

from testkit.gotools import reference_vectors

__all__ = ["reference_vectors"]
