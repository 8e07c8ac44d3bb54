"""Two server processes on one PostgreSQL database: every cached read is coherent.

Each process caches current chains and immutable files; the database's change
notifications (migration 0003) keep them coherent. Nothing here sleeps or
retries: the *very next* request after a publish, a DELETE through the API or
a DELETE in SQL must see the new state, on both processes.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

import pytest

from testkit.pg import admin_dsn, create_database, drop_database, require_postgres
from tests.perf_coherence.helpers import Publisher, WorkerServer, psql, timestamp_names

if TYPE_CHECKING:
    from collections.abc import Iterator

    from testkit.gotools.server import NotaryServerProcess

ROUNDS = 15


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    admin = admin_dsn()
    require_postgres(admin)
    dsn = asyncio.run(create_database(admin, "notary_coherence"))
    try:
        yield dsn
    finally:
        asyncio.run(drop_database(admin, dsn))


@pytest.fixture(scope="module")
def replicas(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerServer, WorkerServer]]:
    base = tmp_path_factory.mktemp("replicas")
    with (
        WorkerServer(base / "a", db_url=database) as first,
        WorkerServer(base / "b", db_url=database) as second,
    ):
        yield first, second


def _get(server: NotaryServerProcess, gun: str, name: str) -> bytes:
    status, _, body = server.get_metadata(gun, name)
    assert status == 200, (name, status, body[:200])
    return body


def _assert_current(servers: tuple[WorkerServer, ...], gun: str, targets: bytes) -> None:
    for server in servers:
        assert _get(server, gun, "targets") == targets
        snapshot = _get(server, gun, "snapshot")
        assert timestamp_names(_get(server, gun, "timestamp"), snapshot)
        assert b'"targets"' in snapshot


def test_publish_on_one_replica_is_seen_by_the_other_at_once(
    replicas: tuple[WorkerServer, WorkerServer],
) -> None:
    gun = "example.com/coherence/publish"
    publisher = Publisher(replicas[0], gun)  # the keys live in the first process (local trust)
    _assert_current(replicas, gun, publisher.publish())  # both caches now hold the chain
    for _ in range(ROUNDS):
        _assert_current(replicas, gun, publisher.publish())


def test_api_delete_is_seen_by_both_replicas_at_once(
    replicas: tuple[WorkerServer, WorkerServer],
) -> None:
    gun = "example.com/coherence/api-delete"
    targets = Publisher(replicas[0], gun).publish()
    _assert_current(replicas, gun, targets)
    by_checksum = f"targets.{hashlib.sha256(targets).hexdigest()}"
    for server in replicas:  # warm every cache kind
        _get(server, gun, by_checksum)
        _get(server, gun, "1.root")
    status, _, _ = replicas[1].request("DELETE", f"/v2/{gun}/_trust/tuf/")
    assert status == 200
    for server in replicas:
        for name in ("timestamp", "snapshot", "root", "targets", by_checksum, "1.root"):
            assert server.get_metadata(gun, name).status == 404, (server.port, name)


def test_sql_delete_is_seen_by_both_replicas_at_once(
    replicas: tuple[WorkerServer, WorkerServer], database: str
) -> None:
    gun = "example.com/coherence/sql-delete"
    targets = Publisher(replicas[0], gun).publish()
    by_checksum = f"targets.{hashlib.sha256(targets).hexdigest()}"
    for server in replicas:
        _assert_current((server,), gun, targets)
        _get(server, gun, by_checksum)
        _get(server, gun, "1.root")
    assert psql(database, "DELETE FROM tuf_files WHERE gun = $1", gun) != "DELETE 0"
    for server in replicas:
        for name in ("timestamp", "snapshot", "root", "targets", by_checksum, "1.root"):
            assert server.get_metadata(gun, name).status == 404, (server.port, name)


def test_sql_rollback_to_an_older_timestamp_is_seen_at_once(
    replicas: tuple[WorkerServer, WorkerServer], database: str
) -> None:
    """An operator removing the newest version makes the previous one current again."""
    gun = "example.com/coherence/sql-rollback"
    publisher = Publisher(replicas[0], gun)
    first = publisher.publish()
    second = publisher.publish()
    _assert_current(replicas, gun, second)
    psql(
        database,
        "DELETE FROM tuf_files WHERE gun = $1 AND role IN ('timestamp', 'snapshot') "
        "AND version = (SELECT max(version) FROM tuf_files WHERE gun = $1 AND role = 'timestamp')",
        gun,
    )
    _assert_current(replicas, gun, first)
