"""Go's route table (docs/protocol.md#routes): methods, precedence, catch-all, path cleaning,
GUN prefixes.

A handler's "not found" carries ``"detail":{}`` (Go ``WithDetail(storage.ErrNotFound{})``)
while the catch-all's has no detail (Go ``WithDetail(nil)``), so the body tells
which route answered.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS
from testkit.server_helpers import (
    GUN,
    AppClient,
    ClientFactory,
    error_body,
    make_config,
    publish_new,
    raw_request,
    tuf_url,
    upload,
)

NOT_FOUND_MESSAGE = "You have requested metadata that does not exist."
CATCH_ALL_404 = error_body("METADATA_NOT_FOUND", NOT_FOUND_MESSAGE, has_detail=False)
HANDLER_404 = error_body("METADATA_NOT_FOUND", NOT_FOUND_MESSAGE, detail={}, has_detail=True)
HEX64 = "ab" * 32


async def test_v2_ping(client: AppClient) -> None:
    response = await client.get("/v2/")
    assert response.status == 200
    assert await response.read() == b"{}"


# Each route of docs/protocol.md#routes with Go's method, on an empty store: the answer
# proves the route (not the catch-all) served it.
EMPTY_STORE_ROUTES = [
    ("GET", "/v2/", 200, b"{}"),
    ("GET", tuf_url(GUN, f"root.{HEX64}.json"), 404, HANDLER_404),
    ("GET", tuf_url(GUN, "1.root.json"), 404, HANDLER_404),
    ("GET", tuf_url(GUN, "root.json"), 404, HANDLER_404),
    ("GET", tuf_url(GUN, "timestamp.json"), 404, HANDLER_404),
    ("GET", tuf_url(GUN, "snapshot.json"), 404, HANDLER_404),
    ("DELETE", tuf_url(GUN), 200, b""),
    ("GET", "/_notary_server/health", 200, b"{}"),
]


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    EMPTY_STORE_ROUTES,
    ids=[
        "ping",
        "get-by-hash",
        "get-by-version",
        "get-current",
        "get-timestamp",
        "get-snapshot",
        "delete",
        "health",
    ],
)
async def test_route_on_empty_store(
    client: AppClient, method: str, path: str, status: int, body: bytes
) -> None:
    response = await client.request(method, path)
    assert response.status == status
    assert await response.read() == body


async def test_post_update_route_reaches_handler(client: AppClient) -> None:
    response = await client.post(tuf_url(GUN), data=b"not multipart")
    assert response.status == 400
    assert json.loads(await response.read())["errors"][0]["code"] == "MALFORMED_UPLOAD"


@pytest.mark.parametrize("method", ["GET", "POST"], ids=["get-key", "rotate-key"])
@pytest.mark.parametrize("role", ["timestamp", "snapshot"])
async def test_key_routes(client: AppClient, method: str, role: str) -> None:
    response = await client.request(method, tuf_url(GUN, f"{role}.key"))
    assert response.status == 200
    assert json.loads(await response.read())["keytype"] == "ed25519"


@pytest.mark.parametrize(
    "path",
    [f"/v2/{GUN}/_trust/changefeed?records=10", "/v2/_trust/changefeed?records=10"],
    ids=["per-gun", "global"],
)
async def test_changefeed_routes(client: AppClient, path: str) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert await response.read() == b'{"count":0,"records":[]}'


async def test_metrics_route(client: AppClient) -> None:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")


CATCH_ALL_CASES = [
    ("GET", "/nothing/here"),
    ("POST", "/nothing/here"),
    ("PUT", "/nothing/here"),
    ("DELETE", "/nothing/here"),
    ("GET", "/v2"),
    ("POST", "/v2/"),
    ("DELETE", "/v2/"),
    ("PUT", tuf_url(GUN)),
    ("GET", tuf_url(GUN)),
    ("POST", f"/v2/{GUN}/_trust/tuf"),  # the trailing slash is significant
    ("DELETE", f"/v2/{GUN}/_trust/tuf"),
    ("DELETE", tuf_url(GUN, "root.json")),
    ("POST", tuf_url(GUN, "root.json")),
    ("GET", tuf_url(GUN, "root.key")),
    ("POST", tuf_url(GUN, "root.key")),
    ("GET", tuf_url(GUN, "targets.key")),
    ("GET", tuf_url(GUN, "unknown.json")),
    ("GET", tuf_url(GUN, "targets/.json")),
    ("GET", tuf_url(GUN, "root")),
    ("GET", f"/v2/{GUN}*/_trust/tuf/root.json"),  # '*' is not allowed in a GUN
    ("GET", "/v2//_trust/tuf/root.json".replace("//", "/")),  # empty GUN
    ("POST", "/_notary_server/health"),
    ("POST", "/metrics"),
    ("POST", f"/v2/{GUN}/_trust/changefeed"),
]


@pytest.mark.parametrize(
    ("method", "path"), CATCH_ALL_CASES, ids=[f"{m} {p}" for m, p in CATCH_ALL_CASES]
)
async def test_catch_all_404(client: AppClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert response.status == 404
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await response.read() == CATCH_ALL_404


@pytest.mark.parametrize(
    "path",
    ["/nothing", tuf_url(GUN, "root.json"), "/v2/", "/_notary_server/health", "/metrics"],
    ids=["unknown", "get-current", "ping", "health", "metrics"],
)
async def test_head_is_not_a_get_route(client: AppClient, path: str) -> None:
    # gorilla/mux does not map HEAD onto GET routes: HEAD falls into the catch-all.
    response = await client.head(path)
    assert response.status == 404


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS"])
@pytest.mark.parametrize(
    "path", ["/nothing", tuf_url(GUN), tuf_url(GUN, "root.json"), "/v2/"], ids=str
)
async def test_other_methods_405_empty(client: AppClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert response.status == 405
    assert await response.read() == b""


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("//v2/", "/v2/"),
        (f"/v2//{GUN}/_trust/tuf/root.json", f"/v2/{GUN}/_trust/tuf/root.json"),
        (f"/v2/{GUN}/./_trust/tuf/root.json", f"/v2/{GUN}/_trust/tuf/root.json"),
        (f"/v2/x/../{GUN}/_trust/tuf/", f"/v2/{GUN}/_trust/tuf/"),
        ("/v2/x/../_trust/changefeed?records=5", "/v2/_trust/changefeed?records=5"),
        ("/v2/a%2F..%2Fb/_trust/tuf/root.json", "/v2/b/_trust/tuf/root.json"),
        ("/nothing/./here", "/nothing/here"),
    ],
    ids=["double-slash-root", "double-slash", "dot", "dot-dot", "query-kept", "encoded", "other"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
async def test_unclean_path_redirects(
    client: AppClient, method: str, target: str, location: str
) -> None:
    # Go redirects every method; we redirect reads only. A write to an unclean
    # path is refused (ADR 0018): a proxy in front would see another name.
    response = await raw_request(client, method, target)
    if method in ("POST", "DELETE"):
        assert response.status == 400
        assert json.loads(response.body)["errors"][0]["code"] == "INVALID_GUN"
        return
    assert response.status == 301
    assert response.headers["location"] == location
    assert response.body == b""


async def test_encoded_slash_in_gun_is_decoded(client: AppClient) -> None:
    gun = "example.com/a/b"
    await publish_new(client, gun)
    encoded = f"/v2/{gun.replace('/', '%2F')}/_trust/tuf/root.json"
    response = await raw_request(client, "GET", encoded)
    assert response.status == 200
    assert response.body == (await (await client.get(tuf_url(gun, "root.json"))).read())


async def test_route_precedence(client: AppClient) -> None:
    published = await publish_new(client)
    root = published.parts[ROOT]
    checksum = hashlib.sha256(root).hexdigest()

    by_hash = await client.get(tuf_url(GUN, f"root.{checksum}.json"))
    by_version = await client.get(tuf_url(GUN, "1.root.json"))
    current = await client.get(tuf_url(GUN, "root.json"))
    for response in (by_hash, by_version, current):
        assert response.status == 200
        assert await response.read() == root
    # The cache policy tells the routes apart: only the current route must revalidate.
    assert "must-revalidate" not in by_hash.headers["Cache-Control"]
    assert "must-revalidate" not in by_version.headers["Cache-Control"]
    assert "must-revalidate" in current.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("01.root.json", ROOT),  # Go's strconv.Atoi accepts leading zeros
        ("1.targets.json", TARGETS),
        ("1.snapshot.json", SNAPSHOT),
    ],
    ids=["leading-zero", "targets", "snapshot"],
)
async def test_version_route(client: AppClient, tail: str, expected: str) -> None:
    published = await publish_new(client)
    response = await client.get(tuf_url(GUN, tail))
    assert response.status == 200
    assert await response.read() == published.parts[expected]


@pytest.mark.parametrize(
    "tail",
    [
        "0.root.json",
        "2.root.json",
        "99999999999999999999999.root.json",
        f"targets.{HEX64}.json",
        f"root.{'ab' * 48}.json",
        f"root.{'ab' * 64}.json",
        "targets/missing.json",
    ],
    ids=["version-0", "version-2", "version-huge", "hash-unknown", "hex96", "hex128", "delegation"],
)
async def test_handler_not_found(client: AppClient, tail: str) -> None:
    await publish_new(client)
    response = await client.get(tuf_url(GUN, tail))
    assert response.status == 404
    assert await response.read() == HANDLER_404


@pytest.mark.parametrize("role", [ROOT, TARGETS, SNAPSHOT])
async def test_uppercase_checksum_not_found(client: AppClient, role: str) -> None:
    # Checksums are stored as lowercase hex; the route admits uppercase but nothing matches.
    published = await publish_new(client)
    checksum = hashlib.sha256(published.parts[role]).hexdigest()
    lower = await client.get(tuf_url(GUN, f"{role}.{checksum}.json"))
    upper = await client.get(tuf_url(GUN, f"{role}.{checksum.upper()}.json"))
    assert lower.status == 200
    assert upper.status == 404
    assert await upper.read() == HANDLER_404


async def test_gun_may_contain_trust_segment(client: AppClient) -> None:
    # {gun} is the greedy [^*]+: it may itself contain "/_trust/tuf/".
    gun = "example.com/_trust/tuf/x"
    published = await publish_new(client, gun)
    response = await client.get(tuf_url(gun, "root.json"))
    assert response.status == 200
    assert await response.read() == published.parts[ROOT]


# --- gun_prefixes ---------------------------------------------------------------------

PREFIXES = ("docker.io/", "quay.io/")
OUTSIDE = "example.com/other"
INVALID_GUN = error_body(
    "INVALID_GUN",
    "The server does not support actions on images of this name.",
    detail="Require GUNs with prefix: [docker.io/ quay.io/]",
    has_detail=True,
)


async def test_prefix_post_outside_is_invalid_gun(make_client: ClientFactory) -> None:
    client = await make_client(make_config(gun_prefixes=PREFIXES))
    response = await upload(client, OUTSIDE, {})
    assert response.status == 400
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await response.read() == INVALID_GUN


@pytest.mark.parametrize(
    ("method", "tail"),
    [
        ("GET", f"_trust/tuf/root.{HEX64}.json"),
        ("GET", "_trust/tuf/1.root.json"),
        ("GET", "_trust/tuf/root.json"),
        ("GET", "_trust/tuf/timestamp.json"),
        ("GET", "_trust/tuf/timestamp.key"),
        ("POST", "_trust/tuf/snapshot.key"),
        ("DELETE", "_trust/tuf/"),
        ("GET", "_trust/changefeed?records=1"),
    ],
    ids=["by-hash", "by-version", "current", "timestamp", "get-key", "rotate", "delete", "feed"],
)
async def test_prefix_other_routes_outside_404(
    make_client: ClientFactory, method: str, tail: str
) -> None:
    client = await make_client(make_config(gun_prefixes=PREFIXES))
    response = await client.request(method, f"/v2/{OUTSIDE}/{tail}")
    assert response.status == 404
    assert "Cache-Control" not in response.headers
    assert await response.read() == CATCH_ALL_404


async def test_prefix_inside_and_global_changefeed_pass(make_client: ClientFactory) -> None:
    client = await make_client(make_config(gun_prefixes=PREFIXES))
    await publish_new(client, "quay.io/x/y")
    assert (await client.get(tuf_url("quay.io/x/y", "root.json"))).status == 200
    feed = await client.get("/v2/_trust/changefeed?records=10")
    assert feed.status == 200
    assert json.loads(await feed.read())["count"] == 1


async def test_prefix_is_plain_string_prefix(make_client: ClientFactory) -> None:
    # strings.HasPrefix: "docker.io/" admits "docker.io/x" but not "docker.io" or "docker.iox/".
    client = await make_client(make_config(gun_prefixes=PREFIXES))
    assert (await client.get(tuf_url("docker.io/x", "timestamp.key"))).status == 200
    for gun in ("docker.io", "docker.iox/y", "DOCKER.IO/x"):
        assert (await client.get(tuf_url(gun, "timestamp.key"))).status == 404, gun
