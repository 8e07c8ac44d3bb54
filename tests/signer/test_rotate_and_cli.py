"""``rotate-passphrase`` (resumable, idempotent) and the ``python -m notary_signer`` commands."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from notary_signer.__main__ import main
from notary_signer.config import Passphrases
from notary_signer.errors import PassphraseError
from notary_signer.keys import KeyService
from notary_signer.keystore import KeyStore, open_keystore
from notary_signer.rotate import rotate_passphrase
from testkit.gotools import free_port
from tests.signer.conftest import ALIAS, ENVIRON, TLSFiles
from tests.signer.gosigner import sync_channel

NEW = "new_alias"


class InterruptedRunError(Exception):
    pass


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    # main() configures the root logger, as the real process should; undo it.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[KeyStore]:
    store = await open_keystore("sqlite3", str(tmp_path / "rotate.db"))
    yield store
    await store.close()


async def _fill(store: KeyStore, count: int) -> list[str]:
    keys = KeyService(store, Passphrases(ENVIRON), ALIAS)
    return [
        (await keys.create_key("ecdsa" if i % 2 else "ed25519", f"gun{i}", "timestamp")).key_id
        for i in range(count)
    ]


async def _all_decrypt_under(store: KeyStore, ids: list[str], alias: str) -> None:
    # A passphrase set holding only the target alias proves nothing else is needed.
    only_new = Passphrases(
        {f"NOTARY_SIGNER_{alias.upper()}": ENVIRON[f"NOTARY_SIGNER_{alias.upper()}"]}
    )
    keys = KeyService(store, only_new, alias)
    for key_id in ids:
        assert (await store.get(key_id)).passphrase_alias == alias
        key, _ = await keys.get_key(key_id)
        assert key.key_id == key_id


async def test_rotation_interrupted_then_resumed(sqlite_store: KeyStore) -> None:
    ids = await _fill(sqlite_store, 6)
    passphrases = Passphrases(ENVIRON)
    seen: list[str] = []

    def fail_after_three(key_id: str) -> None:
        seen.append(key_id)
        if len(seen) == 3:
            raise InterruptedRunError

    with pytest.raises(InterruptedRunError):
        await rotate_passphrase(sqlite_store, passphrases, NEW, after_row=fail_after_three)
    aliases = [(await sqlite_store.get(key_id)).passphrase_alias for key_id in sorted(ids)]
    assert aliases == [NEW] * 3 + [ALIAS] * 3  # committed rows stay, the rest are untouched
    keys = KeyService(sqlite_store, passphrases, ALIAS)
    for key_id in ids:  # every key is usable mid-rotation, whichever alias it is under
        await keys.get_key(key_id)

    result = await rotate_passphrase(sqlite_store, passphrases, NEW)
    assert (result.rotated, result.skipped) == (3, 0)
    await _all_decrypt_under(sqlite_store, ids, NEW)

    again = await rotate_passphrase(sqlite_store, passphrases, NEW)  # idempotent
    assert (again.rotated, again.skipped) == (0, 0)


async def test_rotation_needs_target_passphrase(sqlite_store: KeyStore) -> None:
    ids = await _fill(sqlite_store, 1)
    with pytest.raises(PassphraseError):
        await rotate_passphrase(sqlite_store, Passphrases(ENVIRON), "unset_alias")
    assert (await sqlite_store.get(ids[0])).passphrase_alias == ALIAS


async def test_rotation_skips_deleted_keys(sqlite_store: KeyStore) -> None:
    ids = await _fill(sqlite_store, 2)
    await sqlite_store.delete(ids[0])
    result = await rotate_passphrase(sqlite_store, Passphrases(ENVIRON), NEW)
    assert result.rotated == 1


def _config(tmp_path: Path, tls: TLSFiles, storage: dict[str, str], port: int = 0) -> Path:
    path = tmp_path / "signer-config.json"
    path.write_text(
        json.dumps(
            {
                "server": {
                    "grpc_addr": f"127.0.0.1:{port}",
                    "tls_cert_file": str(tls.server.cert_file),
                    "tls_key_file": str(tls.server.key_file),
                    "client_ca_file": str(tls.ca_file),
                },
                "storage": storage,
            }
        )
    )
    return path


def test_cli_migrate_and_rotate(
    tmp_path: Path,
    tls_files: TLSFiles,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "cli.db"
    config = _config(
        tmp_path, tls_files, {"backend": "sqlite3", "db_url": str(db), "default_alias": ALIAS}
    )
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    assert main(["migrate", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "applied migrations: 1\n"
    assert main(["--config", str(config), "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out

    async def fill() -> list[str]:
        async with await open_keystore("sqlite3", str(db)) as store:
            return await _fill(store, 3)

    ids = asyncio.run(fill())
    assert main(["rotate-passphrase", "-config", str(config), "--to-alias", NEW]) == 0
    assert "re-encrypted 3 keys" in capsys.readouterr().out

    async def check() -> None:
        async with await open_keystore("sqlite3", str(db)) as store:
            await _all_decrypt_under(store, ids, NEW)

    asyncio.run(check())
    assert main(["rotate-passphrase", "--config", str(config), "--to-alias", "unset"]) == 1
    assert "expected env variable to not be empty: unset" in capsys.readouterr().err


def test_cli_errors_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 1
    assert "--config" in capsys.readouterr().err
    assert main(["-config", str(tmp_path / "absent.json")]) == 1
    assert "absent.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["rotate-passphrase", "--config", "x.json"])  # --to-alias is required
    assert exc.value.code == 2


def test_python_m_serves_and_stops_on_sigterm(tmp_path: Path, tls_files: TLSFiles) -> None:
    port = free_port()
    config = _config(
        tmp_path,
        tls_files,
        {"backend": "sqlite3", "db_url": str(tmp_path / "s.db"), "default_alias": ALIAS},
        port,
    )
    env = {**os.environ, **ENVIRON}
    proc = subprocess.Popen(
        [sys.executable, "-m", "notary_signer", "-config", str(config), "-logf", "logfmt"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        with sync_channel(tls_files, port) as channel:
            grpc.channel_ready_future(channel).result(timeout=20)
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="grpc.health.v1.Health.Signer"), timeout=5
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
