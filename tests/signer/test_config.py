"""signer-config.json loading (Go cmd/notary-signer/config.go)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from notary_signer.config import (
    Passphrases,
    check_default_passphrase,
    load_config,
)
from notary_signer.errors import ConfigError, PassphraseError
from tests.signer.conftest import TLSFiles


def _write(tmp_path: Path, tls: TLSFiles, **storage: Any) -> Path:
    config = {
        "server": {
            "grpc_addr": ":7899",
            "tls_cert_file": str(tls.server.cert_file),
            "tls_key_file": str(tls.server.key_file),
            "client_ca_file": str(tls.ca_file),
        },
        "logging": {"level": "debug"},
        "storage": storage or {"backend": "memory"},
    }
    path = tmp_path / "signer-config.json"
    path.write_text(json.dumps(config))
    return path


def test_go_fixture_shape_memory(tmp_path: Path, tls_files: TLSFiles) -> None:
    config = load_config(_write(tmp_path, tls_files), {})
    assert config.grpc_addr == "[::]:7899"
    assert config.tls.client_ca_file == tls_files.ca_file
    assert config.storage.backend == "memory"
    assert config.logging_level == "debug"
    check_default_passphrase(config)  # memory needs none


def test_sql_backend_needs_alias_and_env_fallback(tmp_path: Path, tls_files: TLSFiles) -> None:
    path = _write(tmp_path, tls_files, backend="sqlite3", db_url="keys.db")
    with pytest.raises(ConfigError, match=r"storage\.default_alias"):
        load_config(path, {})
    config = load_config(path, {"NOTARY_SIGNER_DEFAULT_ALIAS": "timestamp_1"})
    assert config.storage.default_alias == "timestamp_1"
    assert config.storage.db_url == str(tmp_path / "keys.db")  # relative to the config file
    with pytest.raises(ConfigError, match="NOTARY_SIGNER_TIMESTAMP_1"):
        check_default_passphrase(config)


def test_env_overrides_and_relative_tls_paths(tmp_path: Path, tls_files: TLSFiles) -> None:
    (tmp_path / "c.crt").write_bytes(tls_files.server.cert_file.read_bytes())
    (tmp_path / "c.key").write_bytes(tls_files.server.key_file.read_bytes())
    path = _write(tmp_path, tls_files, backend="postgres", db_url="postgres://x/y")
    environ = {
        "NOTARY_SIGNER_SERVER_GRPC_ADDR": "127.0.0.1:1234",
        "NOTARY_SIGNER_SERVER_TLS_CERT_FILE": "c.crt",
        "NOTARY_SIGNER_SERVER_TLS_KEY_FILE": "c.key",
        "NOTARY_SIGNER_STORAGE_DEFAULT_ALIAS": "a.b",
        "NOTARY_SIGNER_A_B": "pw",
    }
    config = load_config(path, environ)
    assert config.grpc_addr == "127.0.0.1:1234"
    assert config.tls.cert_file == tmp_path / "c.crt"
    assert config.passphrases.get("a.b") == "pw"
    assert "pw" not in repr(config)
    check_default_passphrase(config)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"storage": {"backend": "mysql", "db_url": "x"}}, "storage.backend"),
        ({"storage": {"backend": "rethinkdb"}}, "storage.backend"),
        ({"storage": {"backend": "bogus"}}, "storage.backend"),
        ({"storage": {"backend": "postgres", "default_alias": "a"}}, "storage.db_url"),
        ({"server": {"grpc_addr": ""}}, "server.grpc_addr"),
        ({"server": {"grpc_addr": "nonsense"}}, "server.grpc_addr"),
        ({"server": {"tls_cert_file": ""}}, "server.tls_cert_file"),
        ({"server": {"tls_key_file": ""}}, "server.tls_key_file"),
        ({"logging": {"level": "loud"}}, "logging.level"),
    ],
)
def test_invalid_keys_are_named(
    tmp_path: Path, tls_files: TLSFiles, change: dict[str, dict[str, str]], key: str
) -> None:
    path = _write(tmp_path, tls_files)
    document = json.loads(path.read_text())
    for section, values in change.items():
        document[section].update(values)
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path, {})


def test_bad_tls_files_are_named(tmp_path: Path, tls_files: TLSFiles) -> None:
    path = _write(tmp_path, tls_files)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    for variable in ("SERVER_TLS_CERT_FILE", "SERVER_TLS_KEY_FILE", "SERVER_CLIENT_CA_FILE"):
        with pytest.raises(ConfigError, match=str(bad)):
            load_config(path, {f"NOTARY_SIGNER_{variable}": str(bad)})
    with pytest.raises(ConfigError, match=r"missing\.pem"):
        load_config(path, {"NOTARY_SIGNER_SERVER_TLS_KEY_FILE": str(tmp_path / "missing.pem")})
    other_key = tmp_path / "other.key"
    other_key.write_bytes(tls_files.client.key)
    with pytest.raises(ConfigError, match="does not match"):
        load_config(path, {"NOTARY_SIGNER_SERVER_TLS_KEY_FILE": str(other_key)})


def test_unreadable_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.json", {})
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad, {})


def test_passphrases() -> None:
    passphrases = Passphrases({"NOTARY_SIGNER_X": "1", "OTHER": "2", "NOTARY_SIGNER_EMPTY": ""})
    assert passphrases.get("x") == "1"
    for alias in ("empty", "missing"):
        with pytest.raises(
            PassphraseError, match=f"expected env variable to not be empty: {alias}$"
        ):
            passphrases.get(alias)
    assert "1" not in repr(passphrases)
