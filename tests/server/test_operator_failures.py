"""``python -m notary_server`` failures that explain themselves, and quiet logs (issue #19).

Each test drives the real command, as an operator would: a second server on the
same port, no ``--config``, a database without tables, a configuration with a
typo or a bad level, a server whose signer is down; and the log of a running
server: one line per request, the GUN and role on a 404, a line at shutdown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.gotools import free_port
from testkit.ourserver import OurNotaryServer
from testkit.pg import admin_dsn, require_postgres, throwaway_database
from tests.signer.conftest import ALIAS, ENVIRON, write_tls_files
from tests.signer.gosigner import SignerProcess

pytestmark = pytest.mark.timeout(180)


def _run_server(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m notary_server ARGS`` to completion (a refusal exits at once)."""
    return subprocess.run(
        [sys.executable, "-m", "notary_server", *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("NOTARY_SERVER_")},
        timeout=timeout,
        check=False,
    )


def _config(path: Path, **sections: Any) -> Path:
    config: dict[str, Any] = {
        "server": {"http_addr": f"127.0.0.1:{free_port()}"},
        "trust_service": {"type": "local"},
        "storage": {"backend": "memory"},
    }
    config.update(sections)
    path.write_text(json.dumps(config))
    return path


def _records(log: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OurNotaryServer]:
    with OurNotaryServer(tmp_path_factory.mktemp("ours"), log_level="info") as server:
        yield server


def test_second_server_on_the_port_says_so_in_one_line(ours: OurNotaryServer) -> None:
    result = _run_server("--config", ours.config_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"notary_server: cannot listen on 127.0.0.1:{ours.port}: address already in use "
        "(is another notary-server running?)"
    )
    assert "Traceback" not in result.stderr
    assert "serving on" not in result.stderr  # logged only once bound
    assert f"serving on https://127.0.0.1:{ours.port}" in ours.log
    assert ours.get("/_notary_server/health").status == 200  # the first one is untouched


def test_config_is_required() -> None:
    result = _run_server()
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        (
            "notary_server: a configuration file is required: --config FILE "
            "(`make run` writes one to notary-data/server-config.json; see the README)"
        )
    ]


def test_unknown_keys_warn_with_the_nearest_known_one(tmp_path: Path) -> None:
    config = _config(
        tmp_path / "typos.json",
        storage={"backnd": "memory"},
        logging={"levl": "info"},
    )
    result = _run_server("--config", config)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        (
            "notary_server: warning: storage.backnd: unknown key, ignored "
            "(did you mean storage.backend?)"
        ),
        "notary_server: warning: logging.levl: unknown key, ignored (did you mean logging.level?)",
        "notary_server: storage.backend: must be one of memory, sqlite3, postgres",
    ]


def test_an_invalid_level_is_an_error(tmp_path: Path) -> None:
    result = _run_server("--config", _config(tmp_path / "c.json", logging={"level": "verbose"}))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        (
            "notary_server: logging.level: 'verbose' is not a log level "
            "(one of debug, info, warn, error, fatal, panic)"
        )
    ]


def test_postgres_without_tables_names_migrate(tmp_path: Path) -> None:
    admin = admin_dsn()
    require_postgres(admin)
    with throwaway_database(admin, "notary_server_empty") as dsn:
        config = _config(tmp_path / "pg.json", storage={"backend": "postgres", "db_url": dsn})
        result = _run_server("--config", config)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "notary_server: Cannot access table: tuf_files: the database has no notary schema yet; "
        f"create it with `python -m notary_server migrate --config {config}`"
    )
    assert "Traceback" not in result.stderr


def test_signer_down_is_one_log_line(tmp_path: Path) -> None:
    tls = write_tls_files(tmp_path)
    storage = {"backend": "sqlite3", "db_url": str(tmp_path / "keys.db"), "default_alias": ALIAS}
    signer = SignerProcess(tmp_path / "signer", tls, storage, dict(ENVIRON), go=False)
    signer.start()
    trust = {
        "type": "remote",
        "hostname": "127.0.0.1",
        "port": str(signer.port),
        "key_algorithm": "ecdsa",
        "tls_ca_file": str(tls.ca_file),
        "tls_client_cert": str(tls.client_cert_file),
        "tls_client_key": str(tls.client_key_file),
    }
    try:
        with OurNotaryServer(tmp_path / "server", log_level="info", trust_service=trust) as server:
            signer.stop()
            response = server.get("/v2/example.com/no-signer/_trust/tuf/timestamp.key", timeout=30)
            assert response.status == 500
            server.stop()
            log = server.log
    finally:
        signer.stop()
    failures = [r for r in _records(log) if r["level"] == "error"]
    assert [r["msg"] for r in failures] == [
        (
            "GET /v2/example.com/no-signer/_trust/tuf/timestamp.key: UNKNOWN: "
            f"trust service unavailable at 127.0.0.1:{signer.port} (UNAVAILABLE)"
        )
    ]
    assert "error" not in failures[0]  # no traceback
    assert "Traceback" not in log


def test_each_request_logged_once_404_names_gun_and_role_shutdown_logged(
    tmp_path: Path,
) -> None:
    with OurNotaryServer(tmp_path, log_level="info") as server:
        assert server.get_metadata("example.com/absent", "root").status == 404
        assert server.get("/_notary_server/health").status == 200
        proc = server.popen
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        time.sleep(0)  # the log file is complete once the process has exited
        records = _records(server.log)
    lines = [r for r in records if "/_trust/tuf/root.json" in r["msg"]]
    assert [(r["logger"], r["msg"]) for r in lines] == [
        (
            "notary_server.middlewares",
            (
                "GET /v2/example.com/absent/_trust/tuf/root.json: METADATA_NOT_FOUND "
                "(gun example.com/absent, role root)"
            ),
        ),
        ("notary_server.requestlog", "GET /v2/example.com/absent/_trust/tuf/root.json 404"),
    ]
    health = [r for r in records if "/_notary_server/health" in r["msg"]]
    assert len(health) >= 1
    assert {r["logger"] for r in health} == {"notary_server.requestlog"}  # no aiohttp.access
    assert not [r for r in records if r["logger"] == "aiohttp.access"]
    assert [r["msg"] for r in records][-2:] == [
        "stopping: closing connections and the store",
        "stopped",
    ]
