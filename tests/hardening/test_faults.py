"""Faults: PostgreSQL restarted under load; SQLite read-only or out of space.

PostgreSQL here is a cluster of our own (:mod:`tests.hardening.owncluster`),
never the shared one. While publishers and readers run, the cluster is killed
(``-m immediate``) and started again: requests in flight fail with a 5xx JSON
envelope or succeed, none hangs (each is bounded by a client timeout), the
server reconnects by itself, and what is stored is a complete, verifiable
chain with no gaps.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from typing import TYPE_CHECKING

import aiohttp
import pytest

from notary_server.storage.migrate import migrate_postgres, migrate_sqlite
from notary_server.storage.postgres import connect
from notary_server.storage.sqlite import open_sqlite
from notary_tuf.rolenames import TARGETS, TIMESTAMP
from testkit.ci import missing_real_part
from testkit.server_helpers import form, tuf_url
from tests.hardening.attacks import publish, published_repo
from tests.hardening.chain import verified_chain
from tests.hardening.owncluster import OwnCluster
from tests.hardening.state import report

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from testkit.server_helpers import AppClient, ClientFactory

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
LOAD_ROUNDS = 30


async def _status(
    client: AppClient, method: str, url: str, data: aiohttp.FormData | None = None
) -> int:
    async with client.request(method, url, timeout=REQUEST_TIMEOUT, data=data) as response:
        body = await response.read()
        if response.status >= 500:
            assert json.loads(body)["errors"][0]["code"] in ("UNKNOWN", "UPDATING"), body
        return response.status


@pytest.mark.postgres
async def test_postgres_restart_under_load(make_client: ClientFactory) -> None:
    with OwnCluster() as cluster:
        await migrate_postgres(cluster.dsn)
        store = await connect(cluster.dsn, min_size=1, max_size=10)
        client = await make_client(store)
        try:
            gun = "example.com/faults/pg"
            builder = await published_repo(client, gun=gun)
            statuses: dict[int, int] = {}
            loop = asyncio.get_running_loop()

            async def reader() -> None:
                for _ in range(LOAD_ROUNDS * 4):
                    status = await _status(client, "GET", tuf_url(gun, "timestamp.json"))
                    statuses[status] = statuses.get(status, 0) + 1

            async def crash() -> None:
                await asyncio.sleep(0)  # let the readers start
                await loop.run_in_executor(None, cluster.stop)
                for _ in range(LOAD_ROUNDS):  # requests while the database is down
                    status = await _status(client, "GET", tuf_url(gun, "root.json"))
                    statuses[status] = statuses.get(status, 0) + 1
                    builder.add_target("down", b"down")
                    parts = builder.publish()
                    status = await _status(client, "POST", tuf_url(gun), data=form(parts.items()))
                    statuses[status] = statuses.get(status, 0) + 1
                    assert status != 200
                await loop.run_in_executor(None, cluster.start)

            await asyncio.gather(reader(), reader(), crash())
            assert all(status in (200, 500, 503) for status in statuses), statuses
            # Reconnected by itself: the very next publish works and is served whole.
            del builder.targets[TARGETS]["down"]
            parts = await publish(client, builder)
            files = await verified_chain(client, gun)
            assert files[TARGETS].envelope.raw == parts[TARGETS]
            rows = await store._pool.fetch(
                "SELECT version FROM tuf_files WHERE gun=$1 AND role=$2 ORDER BY version",
                gun,
                TIMESTAMP,
            )
            assert [row["version"] for row in rows] == [1, 2]  # nothing half-written
            report(
                f"\nPostgreSQL killed and restarted under load: statuses {sorted(statuses.items())}"
            )
        finally:
            await client.close()  # the app (and its LISTEN connection) before the store
            await asyncio.wait_for(store.close(), 30)


async def test_sqlite_read_only_file_gives_clear_errors(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "notary.db"
    migrate_sqlite(str(path))
    writable = await open_sqlite(str(path))
    try:
        client = await make_client(writable)
        builder = await published_repo(client, gun="example.com/faults/ro")
    finally:
        await writable.close()
    url = f"file:{path}?mode=ro"
    store = await open_sqlite(url)
    try:
        client = await make_client(store)
        response = await client.get(tuf_url(builder.gun, "targets.json"))
        assert response.status == 200  # reads still work
        builder.add_target("new", b"new")
        parts = builder.publish()
        response = await client.post(tuf_url(builder.gun), data=form(parts.items()))
        assert response.status == 500
        assert json.loads(await response.read())["errors"][0]["code"] == "UPDATING"
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM tuf_files").fetchone()[0] == 4


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root; skipped otherwise)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        missing_real_part("cannot mount a tmpfs here (not root?)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True, capture_output=True, timeout=30)


async def test_sqlite_full_disk_gives_clear_errors(
    make_client: ClientFactory, tiny_disk: Path
) -> None:
    path = tiny_disk / "notary.db"
    migrate_sqlite(str(path))
    store = await open_sqlite(str(path))
    try:
        client = await make_client(store)
        builder = await published_repo(client, gun="example.com/faults/full")
        filler = tiny_disk / "filler"
        with filler.open("wb") as out:  # take the rest of the disk
            for _ in range(64):  # bounded: 64 x 64 KiB > 1 MiB
                try:
                    out.write(b"\0" * 65536)
                    out.flush()
                except OSError:
                    break
        for index in range(40):  # bounded: bigger and bigger targets files
            builder.add_target(f"big-{index}-" + "x" * 200, b"x")
        parts = builder.publish()
        response = await client.post(tuf_url(builder.gun), data=form(parts.items()))
        assert response.status == 500
        assert json.loads(await response.read())["errors"][0]["code"] == "UPDATING"
        filler.unlink()  # space is back: the server recovers by itself
        await publish(client, builder)
        await verified_chain(client, builder.gun)
    finally:
        await store.close()
