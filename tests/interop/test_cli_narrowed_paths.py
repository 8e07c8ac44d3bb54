"""A publish that adds a delegated target and narrows the delegation's paths is accepted.

Found by the client walks (seed 11010): the notary CLI applies a publish's
staged changes in order, so adding ``app/a`` to ``targets/qa`` while it has all
paths, then removing its paths, uploads a ``targets/qa`` that lists ``app/a``
beside a ``targets`` that no longer admits it. Go's server stores it (its
clients ignore the target); ours refused it as outside the delegated paths.
A target within the paths the role had before the update passes now; a
delegate alone still cannot list one outside them (``tests/hardening``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from testkit.gotools import NotaryCLI, make_delegation_key, require_go_tools
from testkit.ourserver import OurNotaryServer

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.gotools

GUN = "example.com/cli/narrowed"


def test_adding_to_a_role_then_narrowing_its_paths_publishes(tmp_path: Path) -> None:
    require_go_tools()
    qa = make_delegation_key(tmp_path / "keys", "qa")
    files = tmp_path / "files"
    files.mkdir()
    (files / "a.bin").write_bytes(b"app a\n")
    (files / "t3.bin").write_bytes(b"t3\n")
    with OurNotaryServer(tmp_path / "ours", storage="sqlite3") as ours:
        owner = NotaryCLI(tmp_path / "owner", server_url=ours.url, ca_path=ours.ca_path)
        owner.run("init", GUN)
        owner.run("publish", GUN)
        owner.run("delegation", "add", GUN, "targets/qa", qa.cert_path, "--all-paths", "-p")
        owner.run("add", GUN, "app/a", files / "a.bin", "--roles", "targets/qa")
        owner.run("delegation", "remove", GUN, "targets/qa", "--all-paths")
        owner.run("key", "import", qa.key_path, "--role", "targets/qa")

        published = owner.run("add", GUN, "t3", files / "t3.bin", "-p", check=False)

        assert published.returncode == 0, published.stdout + published.stderr
        fresh = NotaryCLI(tmp_path / "fresh", server_url=ours.url, ca_path=ours.ca_path)
        assert [row.name for row in fresh.list_targets(GUN)] == ["t3"]


def test_widening_adding_and_narrowing_in_one_publish(tmp_path: Path) -> None:
    """Seed 12014: the stored paths never admitted the target; a staged change did."""
    require_go_tools()
    qa = make_delegation_key(tmp_path / "keys", "qa")
    digest = "2bed85a46a17b7f1f3ab801515a7ca954bd3c8fda1437bd354ce0485f80ee3e8"
    with OurNotaryServer(tmp_path / "ours", storage="sqlite3") as ours:
        owner = NotaryCLI(tmp_path / "owner", server_url=ours.url, ca_path=ours.ca_path)
        owner.run("init", GUN)
        owner.run("delegation", "add", GUN, "targets/qa", qa.cert_path, "--paths", "docs/", "-p")
        owner.run("key", "import", qa.key_path, "--role", "targets/qa")
        owner.run("delegation", "add", GUN, "targets/qa", "--all-paths")
        owner.run("addhash", GUN, "app/a", "2919", "--sha256", digest, "--roles", "targets/qa")

        published = owner.run(
            "delegation", "remove", GUN, "targets/qa", "--all-paths", "-p", check=False
        )

        assert published.returncode == 0, published.stdout + published.stderr
