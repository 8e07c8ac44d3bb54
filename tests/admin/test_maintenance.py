"""The background maintenance in a running app, and its configuration keys."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from notary_server.app import create_app
from notary_server.appkeys import METRICS_KEY
from notary_server.config import ConfigError, MaintenanceConfig, load_config
from notary_server.storage.memory import MemoryMetaStore
from notary_server.trust.local import LocalCryptoService
from notary_tuf.rolenames import TIMESTAMP
from testkit.server_helpers import GUN, make_config, publish_new

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_aiohttp import AiohttpClient


async def test_loop_resigns_and_sets_gauges(aiohttp_client: AiohttpClient) -> None:
    store, crypto = MemoryMetaStore(), LocalCryptoService()
    # A fresh 14-day timestamp is due once 0.1 s of it has passed.
    maintenance = MaintenanceConfig(
        resign_interval=0.1, remaining_fraction=1 - 1e-7, expiry_window_days=5000
    )
    config = replace(make_config(), maintenance=maintenance)
    app = create_app(config, store=store, crypto=crypto)
    client = await aiohttp_client(app)
    await publish_new(client)
    registry = app[METRICS_KEY].registry
    # The pass counts what it re-signed once it has been through every repository,
    # which may be after the store already holds the new timestamp: wait for both.
    for _ in range(100):
        await asyncio.sleep(0.05)
        resigned = registry.get_sample_value(
            "notary_server_maintenance_resigned_files_total", {"role": "timestamp"}
        )
        if resigned:
            break
    else:
        pytest.fail("no timestamp was counted as re-signed in 5 s")
    assert [i.version for i in await store.list_files(GUN) if i.role == TIMESTAMP][-1] > 1
    roots = None
    for _ in range(40):
        roots = registry.get_sample_value(
            "notary_server_maintenance_expiring_items", {"kind": "root"}
        )
        if roots == 1:
            break
        await asyncio.sleep(0.05)
    assert roots == 1
    within = registry.get_sample_value(
        "notary_server_maintenance_expiring_items_within", {"kind": "root", "days": "5000"}
    )
    assert within == 1
    metrics = await (await client.get("/metrics")).text()
    # No repository names unless metrics.gun_labels is set (ADR 0018).
    assert "notary_server_maintenance_expires_timestamp_seconds" not in metrics
    assert GUN not in metrics


def test_config_keys(tmp_path: Path) -> None:
    path = tmp_path / "server-config.json"
    document = {
        "server": {"http_addr": "127.0.0.1:4443"},
        "trust_service": {"type": "local"},
        "storage": {"backend": "memory"},
        "resign": {"interval": 60, "remaining_fraction": 0.5},
        "retention": {"enabled": True, "keep_versions": 3, "keep_days": 7},
        "expiry": {"window_days": 14},
    }
    path.write_text(json.dumps(document))
    config = load_config(path, {"NOTARY_SERVER_RESIGN_ENABLED": "false"}).maintenance
    assert config == MaintenanceConfig(
        resign_enabled=False,
        resign_interval=60,
        remaining_fraction=0.5,
        expiry_window_days=14,
        retention_enabled=True,
        keep_versions=3,
        keep_days=7,
    )
    path.write_text(json.dumps({**document, "resign": {"remaining_fraction": 1}}))
    with pytest.raises(ConfigError, match=r"resign\.remaining_fraction"):
        load_config(path, {})
