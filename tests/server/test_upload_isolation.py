"""Uploads over 1 MiB are parsed and validated in a child process, with the same answers.

The server process must not decode such an upload (it would hold the
interpreter lock and stall every other request of the worker, ADR 0028); the
answer must be byte-identical to an in-process validation. Each upload below
goes to two fresh repositories: once validated in process (the threshold
raised out of reach) and once in the child.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import os
import re
import signal
from typing import TYPE_CHECKING

import pytest

import notary_server.multipart as multipart_module
import notary_server.services.isolation as isolation_module
import notary_server.services.updates as updates_module
from notary_server.limit_settings import LimitsConfig
from notary_server.services.isolation import ISOLATE_BYTES
from notary_tuf.rolenames import SNAPSHOT, TARGETS
from testkit.server_helpers import make_config, new_builder, tuf_url, upload

if TYPE_CHECKING:
    from collections.abc import Callable

    from testkit.repo_builder import RepoBuilder
    from testkit.server_helpers import AppClient, ClientFactory

BIG_TARGETS = ISOLATE_BYTES // 150  # about 190 bytes each: well over the threshold


async def _big_builder(client: AppClient, gun: str) -> RepoBuilder:
    builder = await new_builder(client, gun)
    for i in range(BIG_TARGETS):
        builder.add_target(f"artifact-{i:06}", f"{i}".encode())
    return builder


def _valid(builder: RepoBuilder) -> dict[str, bytes]:
    return builder.publish()


def _bad_signature(builder: RepoBuilder) -> dict[str, bytes]:
    parts = builder.publish()
    parts[TARGETS] = parts[TARGETS].replace(b'"sig":"', b'"sig":"AAAA', 1)
    return parts


def _version_far_ahead(builder: RepoBuilder) -> dict[str, bytes]:
    parts = builder.publish()
    parts[TARGETS] = builder.targets_file(version=2**31 - 1)
    parts[SNAPSHOT] = builder.snapshot_file({k: v for k, v in parts.items() if k != SNAPSHOT})
    return parts


def _malformed(builder: RepoBuilder) -> dict[str, bytes]:
    parts = builder.publish()
    parts[TARGETS] = parts[TARGETS][:-1]  # the closing brace gone
    return parts


UPLOADS: dict[str, Callable[[RepoBuilder], dict[str, bytes]]] = {
    "valid": _valid,
    "bad-signature": _bad_signature,
    "version-far-ahead": _version_far_ahead,
    "malformed-json": _malformed,
}


async def _answer(
    client: AppClient, gun: str, make: Callable[[RepoBuilder], dict[str, bytes]]
) -> tuple[int, bytes]:
    builder = await _big_builder(client, gun)
    parts = make(builder)
    assert sum(map(len, parts.values())) > ISOLATE_BYTES
    response = await upload(client, gun, parts)
    return response.status, await response.read()


@pytest.mark.parametrize("name", UPLOADS)
async def test_the_child_answers_as_the_server_process_would(
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    client = await make_client()
    caplog.set_level(logging.DEBUG, logger="notary_server.services.isolation")
    isolated = await _answer(client, f"example.com/isolated/{name}", UPLOADS[name])
    pids = {int(p) for p in re.findall(r"in process (\d+)", caplog.text)}
    assert pids, "the upload was not validated in the child"
    assert os.getpid() not in pids

    for module in (multipart_module, updates_module):
        monkeypatch.setattr(module, "ISOLATE_BYTES", 1 << 40)
    in_process = await _answer(client, f"example.com/in-process/{name}", UPLOADS[name])

    assert isolated[0] == in_process[0], (isolated, in_process)
    assert isolated[1].replace(b"isolated", b"in-process") == in_process[1]
    if name == "valid":
        assert isolated[0] == 200
        response = await client.get(tuf_url(f"example.com/isolated/{name}", "targets.json"))
        assert response.status == 200
    else:
        assert isolated[0] == 400


async def test_the_targets_limit_is_checked_in_the_child(make_client: ClientFactory) -> None:
    limits = dataclasses.replace(LimitsConfig(), max_targets_per_file=BIG_TARGETS - 1)
    client = await make_client(dataclasses.replace(make_config(), limits=limits))
    status, body = await _answer(client, "example.com/isolated/limit", _valid)
    assert status == 413
    assert b"TOO_LARGE" in body


async def test_a_child_that_dies_is_replaced(make_client: ClientFactory) -> None:
    client = await make_client()
    assert (await _answer(client, "example.com/isolated/before", _valid))[0] == 200
    pool = isolation_module._pool
    assert pool is not None
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    status, _ = await _answer(client, "example.com/isolated/during", _valid)
    assert status in (200, 500)  # the pool may notice the death before or with this upload
    assert (await _answer(client, "example.com/isolated/after", _valid))[0] == 200


async def test_the_server_made_snapshot_records_the_isolated_upload(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    gun = "example.com/isolated/server-snapshot"
    builder = await new_builder(client, gun, server_snapshot=True)
    for i in range(BIG_TARGETS):
        builder.add_target(f"artifact-{i:06}", f"{i}".encode())
    parts = builder.publish()
    assert SNAPSHOT not in parts
    assert (await upload(client, gun, parts)).status == 200
    snapshot = json.loads(await (await client.get(tuf_url(gun, "snapshot.json"))).read())
    recorded = snapshot["signed"]["meta"][TARGETS]["hashes"]["sha256"]
    assert base64.b64decode(recorded) == hashlib.sha256(parts[TARGETS]).digest()
