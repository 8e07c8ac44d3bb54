"""The changefeed (docs/protocol.md#changefeed): parameters as Go parses them, paging,
GUN filter, body shape."""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from notary_server.storage.base import MetaUpdate
from notary_tuf.gotime import format_go_time
from testkit.server_helpers import GUN, AppClient, publish_new, tuf_url

if TYPE_CHECKING:
    from notary_server.storage.memory import MemoryMetaStore

GLOBAL = "/v2/_trust/changefeed"
GUN_A = "example.com/a"
GUN_B = "example.com/b"
RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$")


def feed_url(gun: str | None = None) -> str:
    return GLOBAL if gun is None else f"/v2/{gun}/_trust/changefeed"


async def seed(store: MemoryMetaStore) -> None:
    """Six timestamp writes, alternating A and B: change IDs 1..6 (A: 1,3,5; B: 2,4,6)."""
    for version in (1, 2, 3):
        for gun in (GUN_A, GUN_B):
            data = f"timestamp {gun} {version}".encode()
            await store.update_many(gun, [MetaUpdate(role="timestamp", version=version, data=data)])


async def feed(client: AppClient, query: str, gun: str | None = None) -> dict[str, Any]:
    response = await client.get(f"{feed_url(gun)}?{query}")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    body: dict[str, Any] = json.loads(await response.read())
    return body


def ids(body: dict[str, Any]) -> list[str]:
    assert body["count"] == len(body["records"] or [])
    return [r["ID"] for r in body["records"] or []]


INVALID_RECORDS = "invalid records parameter: strconv.ParseInt: parsing {}: invalid syntax"


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("", INVALID_RECORDS.format('""')),
        ("change_id=1", INVALID_RECORDS.format('""')),
        ("records=", INVALID_RECORDS.format('""')),
        ("records=abc", INVALID_RECORDS.format('"abc"')),
        ("records=1.5", INVALID_RECORDS.format('"1.5"')),
        ("records=0x10", INVALID_RECORDS.format('"0x10"')),
        ("records=%EF%BC%91", INVALID_RECORDS.format('"\uff11"')),  # a full-width digit
        (
            "records=2147483648",
            'invalid records parameter: strconv.ParseInt: parsing "2147483648": value out of range',
        ),
        ("records=10&change_id=abc", {}),
        ("records=10&change_id=2147483648", {}),
        ("records=10&change_id=1.0", {}),
    ],
    ids=[
        "missing",
        "missing-with-change-id",
        "empty",
        "letters",
        "float",
        "hex",
        "unicode-digit",
        "records-out-of-range",
        "change-id-letters",
        "change-id-out-of-range",
        "change-id-float",
    ],
)
@pytest.mark.parametrize("gun", [None, GUN], ids=["global", "per-gun"])
async def test_invalid_parameters(
    client: AppClient, query: str, detail: Any, gun: str | None
) -> None:
    response = await client.get(f"{feed_url(gun)}?{query}")
    assert response.status == 400
    assert json.loads(await response.read()) == {
        "errors": [
            {
                "code": "INVALID_PARAMETERS",
                "message": "The parameters provided are not valid.",
                "detail": detail,
            }
        ]
    }


async def test_empty_feed_body(client: AppClient) -> None:
    response = await client.get(f"{GLOBAL}?records=10")
    assert await response.read() == b'{"count":0,"records":[]}'


async def test_record_shape_exact_bytes(client: AppClient, memory_store: MemoryMetaStore) -> None:
    await publish_new(client)
    timestamp = await memory_store.get_current(GUN, "timestamp")
    (change,) = await memory_store.get_changes(0, 10, None)
    created = format_go_time(change.created_at)
    assert RFC3339_NANO.match(created)
    response = await client.get(f"{GLOBAL}?records=10")
    expected = (
        '{"count":1,"records":[{"ID":"1","CreatedAt":"'
        + created
        + f'","GUN":"{GUN}","Version":1,"SHA256":"{hashlib.sha256(timestamp.data).hexdigest()}"'
        + ',"Category":"update","Actor":"anonymous"}]}'  # Actor: beyond Go (ADR 0009)
    )
    assert await response.read() == expected.encode()


@pytest.mark.parametrize(
    ("query", "gun", "expected"),
    [
        ("records=0", None, ["1", "2", "3", "4", "5", "6"]),
        ("records=0&change_id=0", None, ["1", "2", "3", "4", "5", "6"]),
        ("records=2", None, ["1", "2"]),
        ("records=%2B2", None, ["1", "2"]),  # "+2"; a raw "+" is a space, as in Go
        ("records=2&change_id=2", None, ["3", "4"]),
        ("records=10&change_id=5", None, ["6"]),
        ("records=10&change_id=6", None, []),
        ("records=10&change_id=100", None, []),
        ("records=2&change_id=-1", None, ["5", "6"]),
        ("records=-2", None, ["5", "6"]),
        ("records=-2&change_id=0", None, ["5", "6"]),
        ("records=-2&change_id=5", None, ["3", "4"]),
        ("records=-10&change_id=3", None, ["1", "2"]),
        ("records=-2&change_id=1", None, []),
        ("records=0", GUN_A, ["1", "3", "5"]),
        ("records=0", GUN_B, ["2", "4", "6"]),
        ("records=1&change_id=1", GUN_A, ["3"]),
        ("records=2&change_id=-1", GUN_B, ["4", "6"]),
        ("records=-1&change_id=5", GUN_A, ["3"]),
        ("records=10", "example.com", []),  # exact GUN, not a prefix
    ],
    ids=[
        "default-page",
        "default-page-explicit-start",
        "first-page",
        "plus-sign",
        "next-page",
        "last-partial-page",
        "past-the-end",
        "far-past-the-end",
        "latest-two",
        "negative-records",
        "negative-records-zero-start",
        "backwards-before-5",
        "backwards-before-3",
        "backwards-before-1",
        "gun-a",
        "gun-b",
        "gun-a-paged",
        "gun-b-latest",
        "gun-a-backwards",
        "gun-prefix-is-not-a-match",
    ],
)
async def test_paging(
    client: AppClient,
    memory_store: MemoryMetaStore,
    query: str,
    gun: str | None,
    expected: list[str],
) -> None:
    await seed(memory_store)
    body = await feed(client, query, gun)
    assert ids(body) == expected
    if not expected:
        assert body == {"count": 0, "records": []}  # Go's SQL stores (ADR 0007)
    for record in body["records"] or []:
        assert list(record) == ["ID", "CreatedAt", "GUN", "Version", "SHA256", "Category"]
        if gun is not None:
            assert record["GUN"] == gun


async def test_default_page_is_100(client: AppClient, memory_store: MemoryMetaStore) -> None:
    for version in range(1, 106):
        await memory_store.update_many(
            GUN_A, [MetaUpdate(role="timestamp", version=version, data=b"t%d" % version)]
        )
    assert len(ids(await feed(client, "records=0"))) == 100
    assert len(ids(await feed(client, "records=105"))) == 105


async def test_delete_adds_a_deletion_record(client: AppClient) -> None:
    await publish_new(client)
    response = await client.delete(tuf_url(GUN))
    assert response.status == 200
    assert await response.read() == b""
    records = (await feed(client, "records=10", GUN))["records"]
    assert [(r["ID"], r["Category"], r["Version"], r["SHA256"]) for r in records] == [
        ("1", "update", 1, records[0]["SHA256"]),
        ("2", "deletion", 0, ""),
    ]
    assert RFC3339_NANO.match(records[1]["CreatedAt"])


async def test_delete_of_unknown_gun_records_nothing(client: AppClient) -> None:
    await publish_new(client)
    assert (await client.delete(tuf_url("example.com/none"))).status == 200
    assert ids(await feed(client, "records=10")) == ["1"]


async def test_gun_is_html_escaped_like_go(
    client: AppClient, memory_store: MemoryMetaStore
) -> None:
    gun = "example.com/a&b<c>"
    await memory_store.update_many(gun, [MetaUpdate(role="timestamp", version=1, data=b"t")])
    response = await client.get(f"{GLOBAL}?records=1")
    body = await response.read()
    assert b'"GUN":"example.com/a\\u0026b\\u003cc\\u003e"' in body
    assert json.loads(body)["records"][0]["GUN"] == gun
