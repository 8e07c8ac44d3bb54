"""The hand-over refuses to build on a root older than the one the owner's clients trust.

If the repository changed on the old server after the import (the owner
rotated its root there), the new server still holds the older root; the next
version built on it would clash with the version clients already trust. The
owner's trust directory has the newer root cached, so the tool compares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from notary_server.handover.cli import trusted_roots
from notary_server.handover.rotation import HandoverError, check_server_root_is_current
from notary_tuf.crypto import PrivateKey
from notary_tuf.rolenames import ROOT
from testkit.repo_builder import RepoBuilder

if TYPE_CHECKING:
    from pathlib import Path

GUN = "example.com/handover/current"


def _roots() -> tuple[bytes, bytes, bytes]:
    """Root v1, root v2, and another root v2 (ECDSA signatures differ on every signing)."""
    builder = RepoBuilder(GUN, timestamp_key=PrivateKey.generate("ecdsa").public_key)
    first = builder.root_file()
    builder.accept({ROOT: first})
    return first, builder.root_file(), builder.root_file()


def test_a_server_root_as_new_as_the_trusted_one_passes() -> None:
    first, second, _ = _roots()
    check_server_root_is_current(GUN, second, [first, second])
    check_server_root_is_current(GUN, second, [])


def test_an_older_server_root_is_refused() -> None:
    first, second, _ = _roots()
    with pytest.raises(
        HandoverError, match=r"holds root v1, but your trust directory trusts root v2"
    ):
        check_server_root_is_current(GUN, first, [second])


def test_the_same_version_with_other_bytes_is_refused() -> None:
    _, second, other = _roots()
    assert other != second
    with pytest.raises(HandoverError, match=r"trusts another root v2: .*import it again"):
        check_server_root_is_current(GUN, second, [other])


def test_trusted_roots_are_read_from_the_cli_and_docker_layouts(tmp_path: Path) -> None:
    first, _, _ = _roots()
    notary_dir, docker_dir = tmp_path / "notary", tmp_path / "docker-trust"
    cached = notary_dir / "tuf" / GUN / "metadata" / "root.json"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(first)
    assert trusted_roots([notary_dir, docker_dir], GUN) == [first]
    assert trusted_roots([docker_dir], GUN) == []
