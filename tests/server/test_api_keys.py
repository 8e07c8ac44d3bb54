"""Server-managed keys (spec §1.2, §2.11): GET (get or create) and POST (rotate) ``{role}.key``."""

from __future__ import annotations

import base64
import json
import re

import pytest

from notary_tuf.rolenames import SNAPSHOT, TIMESTAMP
from tests.server.helpers import (
    GUN,
    AppClient,
    fetch_key,
    publish_new,
    tuf_url,
)

KEY_BODY_RE = re.compile(
    rb'^\{"keytype":"ed25519","keyval":\{"public":"([A-Za-z0-9+/=]+)","private":null\}\}$'
)
ROLES = [TIMESTAMP, SNAPSHOT]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("role", ROLES)
async def test_key_body_is_go_json(client: AppClient, method: str, role: str) -> None:
    response = await client.request(method, tuf_url(GUN, f"{role}.key"))
    assert response.status == 200
    body = await response.read()
    found = KEY_BODY_RE.match(body)
    assert found is not None, body
    assert len(base64.b64decode(found.group(1))) == 32  # a raw ed25519 public key


@pytest.mark.parametrize("role", ROLES)
async def test_get_without_root_creates_a_key_each_time(client: AppClient, role: str) -> None:
    # The local service makes a fresh key on every create (Go's memory signer does too).
    first = await fetch_key(client, GUN, role)
    second = await fetch_key(client, GUN, role)
    assert first.key_id != second.key_id


@pytest.mark.parametrize("role", ROLES)
async def test_get_with_root_returns_the_roots_key(client: AppClient, role: str) -> None:
    published = await publish_new(client, server_snapshot=role == SNAPSHOT)
    expected = (
        published.builder.timestamp_key if role == TIMESTAMP else published.builder.snapshot_public
    )
    for _ in range(2):
        assert (await fetch_key(client, GUN, role)).key_id == expected.key_id


async def test_get_with_root_but_key_not_held_creates_one(client: AppClient) -> None:
    # A client-held snapshot key: the server holds none of root's snapshot keys.
    published = await publish_new(client)
    held = await fetch_key(client, GUN, SNAPSHOT)
    assert held.key_id != published.builder.snapshot_public.key_id


@pytest.mark.parametrize("role", ROLES)
async def test_rotate_makes_a_new_key_each_time(client: AppClient, role: str) -> None:
    published = await publish_new(client, server_snapshot=True)
    listed = {published.builder.timestamp_key.key_id, published.builder.snapshot_public.key_id}
    rotated = []
    for _ in range(3):
        response = await client.post(tuf_url(GUN, f"{role}.key"))
        assert response.status == 200
        rotated.append(json.loads(await response.read())["keyval"]["public"])
    assert len(set(rotated)) == 3
    # rotation changes no metadata: GET still answers with the key the root lists
    assert (await fetch_key(client, GUN, role)).key_id in listed
    assert (await client.get(tuf_url(GUN, "timestamp.json"))).status == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("role", ["root", "targets", "targets/releases"])
async def test_other_roles_fall_into_catch_all(client: AppClient, method: str, role: str) -> None:
    response = await client.request(method, tuf_url(GUN, f"{role}.key"))
    assert response.status == 404
    body = json.loads(await response.read())
    assert body == {
        "errors": [
            {
                "code": "METADATA_NOT_FOUND",
                "message": "You have requested metadata that does not exist.",
            }
        ]
    }
