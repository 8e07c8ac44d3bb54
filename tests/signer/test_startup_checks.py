"""The signer refuses to start when it could not do its job, and says why in one line.

Issue #19: with a wrong ``NOTARY_SIGNER_<ALIAS>`` passphrase the signer used to
start and report healthy, and every publish then failed with "server does not
hold current snapshot key". Now it decrypts one stored key per alias at start-up
and exits naming the alias and the variable; a key that cannot be decrypted later
is logged with its ID and alias; a PostgreSQL database without the key table
names the migrate command.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notary_signer.config import Passphrases
from notary_signer.errors import KeyDecryptionError
from notary_signer.keys import KeyService
from notary_signer.keystore import open_keystore
from testkit.pg import admin_dsn, require_postgres, throwaway_database
from tests.signer.conftest import ALIAS, ENVIRON, PASSPHRASE, TLSFiles
from tests.signer.gosigner import SignerProcess

pytestmark = pytest.mark.timeout(120)

NEW = "new_alias"


def _store_key(db: str, alias: str) -> str:
    async def create() -> str:
        async with await open_keystore("sqlite3", db) as store:
            keys = KeyService(store, Passphrases(ENVIRON), alias)
            return (await keys.create_key("ecdsa", "example.com/app", "timestamp")).key_id

    return asyncio.run(create())


def _config(tmp_path: Path, tls: TLSFiles, storage: dict[str, str]) -> Path:
    path = tmp_path / "signer-config.json"
    server = {
        "grpc_addr": "127.0.0.1:0",
        "tls_cert_file": str(tls.server.cert_file),
        "tls_key_file": str(tls.server.key_file),
        "client_ca_file": str(tls.ca_file),
    }
    path.write_text(json.dumps({"server": server, "storage": storage}))
    return path


def _start(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the signer; a refusal exits at once (a start would hit the timeout)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NOTARY_SIGNER_")}
    return subprocess.run(
        [sys.executable, "-m", "notary_signer", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**environment, **env},
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_wrong_passphrase_refuses_to_start(tmp_path: Path, tls_files: TLSFiles) -> None:
    db = str(tmp_path / "keys.db")
    key_id = _store_key(db, ALIAS)
    config = _config(
        tmp_path, tls_files, {"backend": "sqlite3", "db_url": db, "default_alias": ALIAS}
    )
    result = _start(config, {"NOTARY_SIGNER_TIMESTAMP_1": "not-the-passphrase"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        (
            "notary_signer: the passphrase in NOTARY_SIGNER_TIMESTAMP_1 does not decrypt key "
            f"{key_id} (passphrase alias {ALIAS!r}): is it the right one? "
            "(cannot decrypt private key: DecodeError)"
        )
    ], result.stderr


def test_an_alias_without_its_variable_refuses_to_start(
    tmp_path: Path, tls_files: TLSFiles
) -> None:
    db = str(tmp_path / "keys.db")
    _store_key(db, NEW)  # an older alias, still holding keys
    config = _config(
        tmp_path, tls_files, {"backend": "sqlite3", "db_url": db, "default_alias": ALIAS}
    )
    result = _start(config, {"NOTARY_SIGNER_TIMESTAMP_1": PASSPHRASE})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        (
            f"notary_signer: keys are encrypted under passphrase alias {NEW!r}, "
            "but NOTARY_SIGNER_NEW_ALIAS is not set"
        )
    ], result.stderr


def test_right_passphrases_start(tmp_path: Path, tls_files: TLSFiles) -> None:
    db = str(tmp_path / "keys.db")
    _store_key(db, ALIAS)
    _store_key(db, NEW)
    storage = {"backend": "sqlite3", "db_url": db, "default_alias": ALIAS}
    with SignerProcess(tmp_path / "ok", tls_files, storage, dict(ENVIRON), go=False) as signer:
        assert signer.running


async def test_decrypt_failure_names_key_and_alias(tmp_path: Path) -> None:
    async with await open_keystore("sqlite3", str(tmp_path / "keys.db")) as store:
        created = await KeyService(store, Passphrases(ENVIRON), ALIAS).create_key(
            "ecdsa", "example.com/app", "snapshot"
        )
        wrong = KeyService(store, Passphrases({"NOTARY_SIGNER_TIMESTAMP_1": "wrong"}), ALIAS)
        with pytest.raises(KeyDecryptionError) as caught:
            await wrong.sign(created.key_id, b"message")
    assert str(caught.value) == (
        f"cannot decrypt private key: DecodeError (key {created.key_id}, "
        f"passphrase alias {ALIAS!r})"
    )


def test_postgres_without_tables_names_migrate(tmp_path: Path, tls_files: TLSFiles) -> None:
    admin = admin_dsn()
    require_postgres(admin)
    with throwaway_database(admin, "notary_signer_empty") as dsn:
        storage = {"backend": "postgres", "db_url": dsn, "default_alias": ALIAS}
        config = _config(tmp_path, tls_files, storage)
        result = _start(config, dict(ENVIRON))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        (
            "notary_signer: Cannot access table: private_keys: the database has no key table yet; "
            f"create it with `python -m notary_signer migrate --config {config}`"
        )
    ], result.stderr


def test_unknown_keys_are_named_with_the_nearest_known_one(
    tmp_path: Path, tls_files: TLSFiles
) -> None:
    config = _config(tmp_path, tls_files, {"backnd": "sqlite3", "db_url": "x.db"})
    result = _start(config, dict(ENVIRON))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        (
            "notary_signer: warning: storage.backnd: unknown key, ignored "
            "(did you mean storage.backend?)"
        ),
        (
            "notary_signer: storage.backend: '' is not an allowed backend, "
            "must be one of: memory, sqlite3, postgres"
        ),
    ]
