"""Helpers for the admin tests: run ``python -m notary_server admin``, and raw SQL."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import asyncpg

from testkit.gotools import no_proxy_env

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from testkit.ourserver import OurNotaryServer

ADMIN_TIMEOUT = 120.0


def admin(
    config: Path,
    command: str,
    *args: str,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m notary_server admin COMMAND --config CONFIG ARGS``; never raises.

    ``env``: variables to set on top of this process's environment.
    """
    argv = [sys.executable, "-m", "notary_server", "admin", command, "--config", str(config)]
    return subprocess.run(
        [*argv, *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=no_proxy_env(os.environ) | dict(env or {}),
        timeout=ADMIN_TIMEOUT,
        check=False,
    )


def sql(server: OurNotaryServer, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one statement in the server's database, as an operator would by hand."""
    assert server.db_url is not None
    if server.storage == "sqlite3":
        conn = sqlite3.connect(server.db_url, timeout=10, isolation_level=None)
        try:
            return list(conn.execute(statement.replace("$1", "?"), params).fetchall())
        finally:
            conn.close()

    async def run() -> list[tuple[Any, ...]]:
        assert server.db_url is not None
        conn = await asyncpg.connect(server.db_url, timeout=10)
        try:
            return [tuple(row) for row in await conn.fetch(statement, *params)]
        finally:
            await conn.close()

    return asyncio.run(run())


def psql(server: OurNotaryServer, statement: str) -> str:
    """Run ``statement`` with the ``psql`` (or ``sqlite3``) command-line client."""
    assert server.db_url is not None
    tool = ["psql", server.db_url, "-v", "ON_ERROR_STOP=1", "-c"]
    if server.storage == "sqlite3":
        tool = ["sqlite3", server.db_url]
    proc = subprocess.run(
        [*tool, statement], capture_output=True, text=True, timeout=30, check=True
    )
    return proc.stdout


def changefeed(server: OurNotaryServer, gun: str) -> list[dict[str, Any]]:
    """The GUN's changefeed records as served."""
    response = server.get(f"/v2/{gun}/_trust/changefeed?records=100")
    assert response.status == 200, response.body
    records: list[dict[str, Any]] = json.loads(response.body)["records"]
    return records
