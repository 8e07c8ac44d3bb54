"""Unknown configuration keys are named with the nearest known one (issue #19).

``KNOWN_KEYS`` is each service's list of the keys it reads: every key the loader
looks up must be in it (or the warning would call a real key unknown), and Go's
own fixture configurations, the deploy configurations and what ``make run``
writes must load without a warning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from notary_runtime.config import ConfigReader, unknown_key_warnings, unknown_keys
from notary_server import config as server_config
from notary_signer import config as signer_config

REPO = Path(__file__).resolve().parents[2]
GO_CONFIGS = REPO / "tests" / "data" / "go_configs"

EVERY_SERVER_SECTION: dict[str, Any] = {
    "server": {"http_addr": "127.0.0.1:0", "workers": 1, "event_loop": "asyncio"},
    "trust_service": {
        "type": "remote",
        "hostname": "signer",
        "port": "7899",
        "key_algorithm": "ecdsa",
    },
    "storage": {"backend": "sqlite3", "db_url": "server.db"},
    "logging": {"level": "info"},
    "caching": {"max_age": {"current_metadata": 1, "consistent_metadata": 2}},
    "repositories": {"gun_prefixes": ["docker.io/"]},
    "resign": {"enabled": True, "interval": 60, "remaining_fraction": 0.5},
    "expiry": {"window_days": 10},
    "retention": {"enabled": False, "interval": 60, "keep_versions": 3, "keep_days": 4},
    "limits": {
        "max_body_bytes": 10**8,
        "max_parts": 10,
        "max_metadata_bytes": 10**7,
        "max_targets_per_file": 100,
        "max_changefeed_records": 10,
        "rate": {"requests_per_second": 5, "burst": 10, "clients": 100},
        "key_creation": {"per_second": 1, "burst": 10},
    },
    "metrics": {"listen_addr": "127.0.0.1:0", "require_auth": False, "gun_labels": True},
    "metadata_cache": {"max_bytes": 1000, "warm_seconds": 0},
}


def test_every_key_the_server_reads_is_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: set[str] = set()
    original = ConfigReader.get

    def recording(self: ConfigReader, key: str) -> Any:
        asked.add(key.lower())
        return original(self, key)

    monkeypatch.setattr(ConfigReader, "get", recording)
    path = tmp_path / "server-config.json"
    path.write_text(json.dumps(EVERY_SERVER_SECTION))
    warnings: list[str] = []
    server_config.load_config(path, {}, warn=warnings.append)
    assert warnings == []
    assert asked <= server_config.KNOWN_KEYS
    assert not unknown_keys(EVERY_SERVER_SECTION, server_config.KNOWN_KEYS)


def test_signer_keys_are_known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: set[str] = set()
    original = ConfigReader.get

    def recording(self: ConfigReader, key: str) -> Any:
        asked.add(key.lower())
        return original(self, key)

    monkeypatch.setattr(ConfigReader, "get", recording)
    document = {
        "server": {"grpc_addr": "127.0.0.1:0"},
        "storage": {"backend": "sqlite3", "db_url": "s.db", "default_alias": "a"},
        "logging": {"level": "info"},
    }
    path = tmp_path / "signer-config.json"
    path.write_text(json.dumps(document))
    with pytest.raises(signer_config.ConfigError, match="tls_cert_file"):  # keys read before
        signer_config.load_config(path, {})
    assert asked <= signer_config.KNOWN_KEYS


@pytest.mark.parametrize(
    "path",
    [
        *sorted(GO_CONFIGS.glob("*.json")),
        REPO / "deploy" / "server-config.json",
        REPO / "deploy" / "signer-config.json",
    ],
    ids=lambda p: p.name,
)
def test_go_and_deploy_configs_have_no_unknown_keys(path: Path) -> None:
    document = json.loads(path.read_text())
    module = signer_config if "signer" in path.name else server_config
    open_sections = (*module.OPEN_SECTIONS, "auth.options")
    assert unknown_key_warnings(document, module.KNOWN_KEYS, open_sections) == []


def test_nearest_known_key() -> None:
    document = {
        "storag": {"backend": "memory"},
        "storage": {"backnd": "memory"},
        "logging": {"levl": "info"},
        "Server": {"HTTP_ADR": ":4443"},
        "reporting": {"bugsnag": {"api_key": "x"}},
        "unrelated": 1,
    }
    assert unknown_key_warnings(document, server_config.KNOWN_KEYS) == [
        "storag: unknown key, ignored (did you mean storage?)",
        "storage.backnd: unknown key, ignored (did you mean storage.backend?)",
        "logging.levl: unknown key, ignored (did you mean logging.level?)",
        "Server.HTTP_ADR: unknown key, ignored (did you mean server.http_addr?)",
        "reporting: unknown key, ignored",
        "unrelated: unknown key, ignored",
    ]
    assert unknown_key_warnings(document, server_config.KNOWN_KEYS, ("reporting",))[-1] == (
        "unrelated: unknown key, ignored"
    )
