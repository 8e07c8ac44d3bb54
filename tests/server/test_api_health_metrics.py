"""``/_notary_server/health`` and ``/metrics`` (docs/protocol.md#health-and-metrics)."""

from __future__ import annotations

import json
import re

import pytest
from pytest_aiohttp import AiohttpClient

from notary_server.app import create_app
from notary_server.storage import StorageError
from notary_server.storage.memory import MemoryMetaStore
from notary_server.trust.base import TrustServiceError
from notary_server.trust.local import LocalCryptoService
from testkit.server_helpers import (
    GUN,
    JSON_CONTENT_TYPE,
    AppClient,
    ClientFactory,
    make_config,
    publish_new,
    tuf_url,
)


class UnhealthyStore(MemoryMetaStore):
    """A memory store whose health check fails (a fake at our own seam)."""

    async def check_health(self) -> None:
        raise StorageError("tuf_files: relation does not exist (secret detail)")


class UnhealthyCrypto(LocalCryptoService):
    """A local trust service whose health check fails."""

    async def check_health(self) -> None:
        raise TrustServiceError("signer unreachable at 10.0.0.1 (secret detail)")


async def test_health_ok(client: AppClient) -> None:
    response = await client.get("/_notary_server/health")
    assert response.status == 200
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    assert await response.read() == b"{}"


@pytest.mark.parametrize(
    ("store_ok", "crypto_ok", "failing"),
    [
        (False, True, ["DB operational"]),
        (True, False, ["Trust operational"]),
        (False, False, ["DB operational", "Trust operational"]),
    ],
    ids=["store", "trust", "both"],
)
async def test_health_failure_is_503(
    aiohttp_client: AiohttpClient, store_ok: bool, crypto_ok: bool, failing: list[str]
) -> None:
    app = create_app(
        make_config(),
        store=MemoryMetaStore() if store_ok else UnhealthyStore(),
        crypto=LocalCryptoService() if crypto_ok else UnhealthyCrypto(),
    )
    client: AppClient = await aiohttp_client(app)
    response = await client.get("/_notary_server/health")
    assert response.status == 503
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    body = await response.read()
    checks = json.loads(body)
    assert list(checks) == failing  # Go marshals the map with sorted keys
    assert all(isinstance(v, str) and v for v in checks.values())
    assert b"secret detail" not in body


_SAMPLE_RE = re.compile(r"^(\w+)\{(.*)\} (\S+)$", re.MULTILINE)
_LABEL_RE = re.compile(r'(\w+)="([^"]*)"')


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one Prometheus sample in the text exposition, or None."""
    for found in _SAMPLE_RE.finditer(text):
        if found.group(1) == name and dict(_LABEL_RE.findall(found.group(2))) == labels:
            return float(found.group(3))
    return None


async def test_metrics_by_operation(client: AppClient) -> None:
    await publish_new(client)  # GetKey x1, UpdateTUF x1
    for _ in range(3):
        assert (await client.get(tuf_url(GUN, "root.json"))).status == 200
    assert (await client.get(tuf_url(GUN, "2.root.json"))).status == 404
    assert (await client.get("/nothing")).status == 404
    assert (await client.get("/v2/_trust/changefeed?records=1")).status == 200

    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()

    duration = "notary_server_http_request_duration_seconds_count"
    requests = "notary_server_http_requests_total"
    assert sample(text, duration, operation="GetRole") == 3
    assert sample(text, duration, operation="GetRoleByVersion") == 1
    assert sample(text, duration, operation="UpdateTUF") == 1
    assert sample(text, duration, operation="GetKey") == 1
    assert sample(text, duration, operation="Changefeed") == 1
    assert sample(text, requests, operation="GetRole", code="200") == 3
    assert sample(text, requests, operation="GetRoleByVersion", code="404") == 1
    # the catch-all, health and metrics routes are not instrumented (as in Go)
    assert 'operation=""' not in text


async def test_metrics_per_application(make_client: ClientFactory) -> None:
    first = await make_client()
    await first.get(tuf_url(GUN, "root.json"))
    second = await make_client()
    text = await (await second.get("/metrics")).text()
    assert (
        sample(text, "notary_server_http_request_duration_seconds_count", operation="GetRole")
        is None
    )
