"""Issue #14, hardening round 2: request-level attacks through the real HTTP API (ADR 0018).

* Writes through ambiguous paths (dot segments, ``%2F``, ``%5C``, ``%252F``,
  a backslash) are 400 ``INVALID_GUN``; reads keep Go's redirect and decoding.
* Compressed upload bodies are refused unread (400 ``MALFORMED_UPLOAD``), never
  inflated.
* ``/metrics`` names no repository unless ``metrics.gun_labels`` is set, and
  asks for a token whenever token auth is on.
* Deep nesting with a ``\\u`` escape is no 500, and no traceback makes a huge
  log line.

Every refused attack leaves the stored state as it was, and the owner can still
publish afterwards. Go's answers to the same requests are pinned in
``tests/hardening/test_requests_round2_go.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import logging
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from notary_runtime.logs import MAX_FIELD_CHARS
from notary_server.appkeys import METRICS_KEY
from notary_server.config import MaintenanceConfig, MetricsConfig, load_config
from notary_server.logs import JSONFormatter, LogfmtFormatter
from notary_server.maintenance import resign_pass
from notary_tuf.rolenames import SNAPSHOT, TARGETS
from testkit.gotools.server import multipart_body
from testkit.issuer import TestIssuer
from testkit.repo_builder import sign_signed
from testkit.server_helpers import RawResponse, form, make_config, raw_request, tuf_url
from tests.hardening.attacks import GUN, assert_still_publishable, published_repo
from tests.hardening.state import error_of, store_state

if TYPE_CHECKING:
    from notary_server.storage.capabilities import Backend
    from notary_server.storage.memory import MemoryMetaStore
    from testkit.server_helpers import AppClient, ClientFactory

PARENT, LEAF = GUN.rsplit("/", 1)


async def raw_post(
    client: AppClient, target: str, body: bytes, headers: dict[str, str]
) -> RawResponse:
    """``POST target`` with ``body``, the target sent verbatim (no client normalisation)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        writer.write(
            f"POST {target} HTTP/1.1\r\nHost: localhost\r\n{head}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    head_bytes, _, payload = data.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    parsed = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return RawResponse(int(status_line.split()[1]), parsed, payload)


def assert_invalid_gun(response: RawResponse) -> None:
    assert response.status == 400, response
    assert "location" not in response.headers
    error = json.loads(response.body)["errors"][0]
    assert error["code"] == "INVALID_GUN", error
    assert "path of a write" in error["detail"]


# ------------------------------------------------------------------ 6: GUN paths on writes

# Each would publish into (or delete, or rotate a key of) GUN, or redirect there;
# a proxy or authorisation layer in front sees another name.
AMBIGUOUS_WRITE_GUNS = {
    "dotdot": f"{PARENT}/evil/../{LEAF}",
    "dot": f"{PARENT}/./{LEAF}",
    "double-slash": f"{PARENT}//{LEAF}",
    "encoded-dotdot": f"{PARENT}/evil/%2E%2E/{LEAF}",
    "encoded-slash": f"{PARENT}%2F{LEAF}",
    "encoded-slash-lower": f"{PARENT}%2f{LEAF}",
    "encoded-backslash": f"{PARENT}%5C{LEAF}",
    "raw-backslash": f"{PARENT}\\{LEAF}",
    "double-encoded-slash": f"{PARENT}%252F{LEAF}",
}


async def check_ambiguous_write_paths(client: AppClient, store: Backend, gun: str) -> None:
    builder = await published_repo(client)
    builder.add_target("evil", b"malware\n")
    body, content_type = multipart_body(builder.publish())
    before = await store_state(store)
    response = await raw_post(client, tuf_url(gun), body, {"Content-Type": content_type})
    assert_invalid_gun(response)
    assert_invalid_gun(await raw_request(client, "DELETE", tuf_url(gun)))
    for role in ("timestamp", "snapshot"):  # key rotation
        assert_invalid_gun(await raw_request(client, "POST", tuf_url(gun, f"{role}.key")))
    assert await store_state(store) == before
    # Reads keep Go's behaviour: a redirect to the clean path, or the decoded GUN.
    response = await raw_request(client, "GET", tuf_url(gun, "root.json"))
    assert response.status in (200, 301, 404), response
    await assert_still_publishable(client, builder)


@pytest.mark.parametrize("gun", AMBIGUOUS_WRITE_GUNS.values(), ids=AMBIGUOUS_WRITE_GUNS.keys())
async def test_write_through_ambiguous_gun_path_is_refused(
    memory_env: tuple[AppClient, MemoryMetaStore], gun: str
) -> None:
    await check_ambiguous_write_paths(*memory_env, gun)


async def test_reads_keep_gos_redirect_and_decoding(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    # Go redirects an unclean read and matches the decoded path; no real client
    # sends either (Go's client resolves the URL, which drops dot segments, and
    # the notary CLI goes offline for a GUN holding %2F, %252F, a backslash or
    # "..": it sends no request at all). A read changes nothing, so nothing is
    # ambiguous about what it does.
    client, _ = memory_env
    builder = await published_repo(client)
    response = await raw_request(client, "GET", tuf_url(f"{PARENT}/evil/../{LEAF}", "root.json"))
    assert (response.status, response.headers["location"]) == (301, tuf_url(GUN, "root.json"))
    response = await raw_request(client, "GET", tuf_url(f"{PARENT}%2F{LEAF}", "targets.json"))
    assert response.status == 200
    assert response.body == builder.current[TARGETS]


# ------------------------------------------------------------------ 8: compressed bodies


async def test_gzip_bomb_upload_is_refused_unread(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    # 57 KiB on the wire inflated to a 57 MiB parse. The body is refused before
    # a byte of it is read (aiohttp's auto_decompress is off). Go drops the
    # connection on any compressed body (it does not inflate either, and then
    # dereferences a nil multipart part).
    client, store = memory_env
    builder = await published_repo(client)
    before = await store_state(store)
    bomb = b"--b\r\nContent-Disposition: form-data; name=files; filename=targets\r\n\r\n"
    bomb = gzip.compress(bomb + b" " * (57 << 20))
    assert len(bomb) < 64 << 10
    response = await raw_post(
        client,
        tuf_url(GUN),
        bomb,
        {"Content-Type": "multipart/form-data; boundary=b", "Content-Encoding": "gzip"},
    )
    assert response.status == 400
    error = json.loads(response.body)["errors"][0]
    assert (error["code"], error["detail"].split(" is not")[0]) == (
        "MALFORMED_UPLOAD",
        "Content-Encoding gzip",
    )
    assert await store_state(store) == before
    await assert_still_publishable(client, builder)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "x-gzip", "identity, gzip"])
async def test_compressed_valid_upload_is_refused_not_inflated(
    memory_env: tuple[AppClient, MemoryMetaStore], coding: str
) -> None:
    client, store = memory_env
    builder = await published_repo(client)
    builder.add_target("compressed", b"compressed\n")
    body, content_type = multipart_body(builder.publish())
    body = zlib.compress(body) if coding == "deflate" else gzip.compress(body)
    before = await store_state(store)
    response = await client.post(
        tuf_url(GUN), data=body, headers={"Content-Type": content_type, "Content-Encoding": coding}
    )
    error = await error_of(response)
    assert (response.status, error["code"]) == (400, "MALFORMED_UPLOAD")
    assert "Content-Encoding" in str(error["detail"])
    assert await store_state(store) == before
    await assert_still_publishable(client, builder)


async def test_compressed_upload_is_answered_without_reading_its_body(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    client, store = memory_env
    before = await store_state(store)
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(
            (
                f"POST {tuf_url(GUN)} HTTP/1.1\r\nHost: localhost\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Encoding: gzip\r\nContent-Length: {1 << 30}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        response = await reader.read()  # no body byte was sent: answered and closed
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"400"
    assert json.loads(body)["errors"][0]["code"] == "MALFORMED_UPLOAD"
    assert await store_state(store) == before


# ------------------------------------------------------------------ 10: /metrics


def _expiry_config(**metrics: object) -> object:
    return dataclasses.replace(
        make_config(),
        maintenance=MaintenanceConfig(resign_enabled=False, expiry_window_days=5000),
        metrics=MetricsConfig(**metrics),  # type: ignore[arg-type]
    )


async def test_metrics_name_no_repository_by_default(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    # notary_server_maintenance_expires_timestamp_seconds{gun,...} listed every
    # GUN expiring within the window to anyone; the publishers chose how many.
    client = await make_client(memory_store, _expiry_config())
    await published_repo(client)
    await resign_pass(client.app)
    text = await (await client.get("/metrics")).text()
    assert GUN not in text
    assert "expires_timestamp_seconds" not in text
    registry = client.app[METRICS_KEY].registry
    for days, count in (("0", 0), ("1", 0), ("7", 0), ("5000", 1)):
        sample = registry.get_sample_value(
            "notary_server_maintenance_expiring_items_within", {"kind": "root", "days": days}
        )
        assert sample == count, days


async def test_metrics_gun_labels_when_configured(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    client = await make_client(memory_store, _expiry_config(gun_labels=True))
    await published_repo(client)
    await resign_pass(client.app)
    text = await (await client.get("/metrics")).text()
    assert f'notary_server_maintenance_expires_timestamp_seconds{{gun="{GUN}"' in text


async def test_metrics_need_a_token_when_token_auth_is_on(
    make_client: ClientFactory, memory_store: MemoryMetaStore, tmp_path: Path
) -> None:
    issuer = TestIssuer()
    config = dataclasses.replace(make_config(), auth=issuer.config(tmp_path))
    client = await make_client(memory_store, config)
    response = await client.get("/metrics")
    assert response.status == 401
    assert 'scope="registry:catalog:*"' in response.headers["WWW-Authenticate"]
    catalog = issuer.token([("registry", "catalog", ("*",))])
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {catalog}"})
    assert response.status == 200
    # The operator may open it again explicitly.
    opened = dataclasses.replace(config, metrics=MetricsConfig(require_auth=False))
    client = await make_client(memory_store, opened)
    assert (await client.get("/metrics")).status == 200


def test_metrics_config_defaults(tmp_path: Path) -> None:
    def load(document: dict[str, object]) -> MetricsConfig:
        path = tmp_path / "config.json"
        base = {
            "server": {"http_addr": ":4443"},
            "trust_service": {"type": "local"},
            "storage": {"backend": "memory"},
        }
        path.write_text(json.dumps(base | document))
        return load_config(path, {}).metrics

    default = load({})
    assert (default.require_auth, default.gun_labels) == (None, False)
    assert not default.auth_required(token_auth=False)
    assert default.auth_required(token_auth=True)
    assert not load({"metrics": {"require_auth": False}}).auth_required(token_auth=True)
    assert load({"metrics": {"gun_labels": True}}).gun_labels


# ------------------------------------------------------------------ 11: deep nesting


def nested(depth: int, leaf: str = '"\\u0041"', *, arrays: bool = True) -> str:
    """JSON nested ``depth`` deep: objects outside, then arrays (only objects: ``arrays=False``)."""
    objects = depth // 2 if arrays else depth
    lists = depth - objects
    return '{"a":' * objects + "[" * lists + leaf + "]" * lists + "}" * objects


async def test_deep_nesting_with_unicode_escape_is_no_500(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    # A part nested ~600 deep holding any \u escape raised RecursionError in
    # canonical._clean_strings: a 500 and a 193 KiB traceback per 1.4 KB request.
    # Go answers this unsigned file 400 INVALID_UPDATE (its signature is bad).
    client, store = memory_env
    builder = await published_repo(client)
    before = await store_state(store)
    for depth in (600, 900):
        document = (
            '{"signed":{"_type":"Targets","version":2,'
            f'"expires":"2100-01-01T00:00:00Z","x":{nested(depth)}}},"signatures":[]}}'
        )
        response = await client.post(tuf_url(GUN), data=form([(TARGETS, document.encode())]))
        assert response.status == 400, depth
        assert (await error_of(response))["code"] == "INVALID_UPDATE", depth
    assert await store_state(store) == before
    await assert_still_publishable(client, builder)


async def test_nesting_beyond_the_decoder_limit_is_malformed_json(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    # Go's decoder stops at 10,000 levels (MALFORMED_JSON); ours at Python's
    # recursion limit (about 1,000 levels, ADR 0018), with the same answer.
    client, store = memory_env
    builder = await published_repo(client)
    before = await store_state(store)
    document = '{"signed":' + nested(20_000) + ',"signatures":[]}'
    response = await client.post(tuf_url(GUN), data=form([(TARGETS, document.encode())]))
    assert response.status == 400
    assert (await error_of(response))["code"] == "MALFORMED_JSON"
    assert await store_state(store) == before
    await assert_still_publishable(client, builder)


@pytest.mark.parametrize("leaf", ['"\\u0041"', '"quote\\"d"'], ids=["escape", "slow-path"])
async def test_deeply_nested_custom_data_signed_by_the_owner_is_stored_as_in_go(
    memory_env: tuple[AppClient, MemoryMetaStore], leaf: str
) -> None:
    # Go accepts (and serves back) a correctly signed targets file whose
    # target's custom data nests 600 levels; so do we, whichever canonical
    # writer runs (the C encoder, or the iterative Python one for escapes).
    client, _ = memory_env
    builder = await published_repo(client)
    signed = json.loads(builder.targets_file())["signed"]
    signed["targets"]["app"]["custom"] = json.loads(nested(600, leaf, arrays=False))
    data = sign_signed(signed, builder.targets_keys)
    parts = {TARGETS: data, SNAPSHOT: builder.snapshot_file({TARGETS: data})}
    response = await client.post(tuf_url(GUN), data=form(parts.items()))
    assert response.status == 200, await response.text()
    builder.accept(parts)
    served = await client.get(tuf_url(GUN, "targets.json"))
    assert await served.read() == data
    await assert_still_publishable(client, builder)


def _deep_recursion_error() -> RecursionError:
    # Two alternating frames, as _clean_strings and its dict comprehension made:
    # Python's traceback does not fold them into "[Previous line repeated]".
    def down(value: int) -> int:
        return other(value + 1) + 1

    def other(value: int) -> int:
        return down(value + 1) + 1

    try:
        down(0)
    except RecursionError as e:
        return e
    raise AssertionError  # pragma: no cover


@pytest.mark.parametrize("formatter", [JSONFormatter(), LogfmtFormatter()], ids=["json", "logfmt"])
def test_a_traceback_makes_no_huge_log_line(formatter: logging.Formatter) -> None:
    error = _deep_recursion_error()
    record = logging.LogRecord(
        "notary_server.middlewares",
        logging.ERROR,
        __file__,
        1,
        "POST %s",
        ("/v2/" + "x" * 50_000,),
        (type(error), error, error.__traceback__),
    )
    assert len(logging.Formatter().formatException(record.exc_info)) > 10 * MAX_FIELD_CHARS  # type: ignore[arg-type]
    line = formatter.format(record)
    assert len(line) < 3 * MAX_FIELD_CHARS
    assert "RecursionError" in line  # the tail, where the exception is named, is kept
    assert "characters omitted" in line
