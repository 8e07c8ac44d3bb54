"""Issue #14 item 1 against Go's notary-server on PostgreSQL: Go stores the brick.

Go's notary-server 0.7 runs on a database our migration made (its own DDL:
``version integer``). It accepts targets at version 2,147,483,647; from then on
no targets version is accepted: Go answers 400 ``VERSION`` to the next one,
which does not fit the column, and to every one that does. Ours refuses the first upload
(``tests/hardening/test_version_brick.py``, ADR 0023).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import TYPE_CHECKING

import pytest

from notary_server.storage.migrate import migrate_postgres
from notary_tuf.rolenames import SNAPSHOT, TARGETS
from notary_tuf.validation import MAX_VERSION
from testkit.gotools import GoNotaryServer, require_go_tools
from testkit.pg import admin_dsn, require_postgres, throwaway_database
from tests.hardening.test_requests_round2_go import assert_publishable, builder_for

if TYPE_CHECKING:
    from pathlib import Path

    from testkit.repo_builder import RepoBuilder

pytestmark = [pytest.mark.gotools, pytest.mark.postgres]


def targets_at(builder: RepoBuilder, version: int) -> dict[str, bytes]:
    builder.add_target(f"v{version}", b"jump\n")
    parts = {TARGETS: builder.targets_file(version=version)}
    parts[SNAPSHOT] = builder.snapshot_file(parts)
    return parts


def test_go_stores_targets_at_2147483647_and_is_bricked(tmp_path: Path) -> None:
    require_go_tools()
    root_dsn = admin_dsn()
    require_postgres(root_dsn)
    gun = f"example.com/brick/{secrets.token_hex(4)}"
    with throwaway_database(root_dsn, "notary_brick_go") as dsn:
        asyncio.run(migrate_postgres(dsn))
        storage = {"backend": "postgres", "db_url": f"{dsn}?sslmode=disable"}
        with GoNotaryServer(tmp_path / "go", storage=storage) as go:
            builder = builder_for(go, gun)
            assert_publishable(go, builder)
            parts = targets_at(builder, MAX_VERSION)
            response = go.upload(gun, parts)
            assert response.status == 200, response  # Go does the wrong thing
            builder.accept(parts)
            # The owner's next publish needs 2,147,483,648, which the column cannot hold,
            # and every version it can hold is old: whatever the owner sends, Go
            # answers "a newer version is already available".
            for version in (MAX_VERSION + 1, MAX_VERSION, 2):
                response = go.upload(gun, targets_at(builder, version))
                assert response.status == 400, (version, response)
                assert json.loads(response.body)["errors"][0]["code"] == "VERSION"
            assert go.get_metadata(gun, TARGETS).body == builder.current[TARGETS]
