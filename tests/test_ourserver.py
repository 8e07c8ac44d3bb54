"""Tests of :class:`testkit.ourserver.OurNotaryServer`, the harness running our server."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import asyncpg
import pytest

from testkit.ourserver import OurNotaryServer
from testkit.pg import CONNECT_TIMEOUT, admin_dsn

if TYPE_CHECKING:
    from pathlib import Path


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2.0)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
def test_memory_server_starts_answers_and_stops(tmp_path: Path, tls: bool) -> None:
    server = OurNotaryServer(tmp_path, tls=tls)
    with server:
        assert server.url.startswith("https://" if tls else "http://")
        assert server.get("/v2/")[::2] == (200, b"{}")
        assert server.get_metadata("example.com/x", "root").status == 404
        port = server.port
    assert port_is_closed(port)
    assert '"storage": {\n    "backend": "memory"\n  }' in server.config_path.read_text()


def test_sqlite_server_is_migrated(tmp_path: Path) -> None:
    with OurNotaryServer(tmp_path, storage="sqlite3") as server:
        assert server.get("/_notary_server/health")[::2] == (200, b"{}")
        assert server.db_url is not None
    assert (tmp_path / "notary-server.db").is_file()


async def _database_exists(dsn: str) -> bool:
    name = urlsplit(dsn).path.lstrip("/")
    conn = await asyncpg.connect(admin_dsn(), timeout=CONNECT_TIMEOUT)
    try:
        found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await conn.close()
    return bool(found == 1)


@pytest.mark.postgres
def test_postgres_server_has_its_own_database_dropped_on_stop(tmp_path: Path) -> None:
    with OurNotaryServer(tmp_path, storage="postgres") as server:
        assert server.get("/_notary_server/health")[::2] == (200, b"{}")
        assert server.db_url is not None
        dsn = server.db_url
        assert asyncio.run(_database_exists(dsn))
    assert not asyncio.run(_database_exists(dsn))


def test_unknown_storage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown storage backend"):
        OurNotaryServer(tmp_path, storage="mysql")  # type: ignore[arg-type]
