"""Requests and observations for the HTTP golden test (tests/interop/test_http_golden.py).

Each request is a ``Send`` (context → response); each ``Observe`` reduces a
response to what the two servers must agree on.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from testkit.gotools import NotaryServerProcess, Response, multipart_body, sha256_hex_from_meta
from testkit.repo_builder import RepoBuilder

GUN = "example.com/golden/app"
GUN_ESCAPED = GUN.replace("/", "%2F")
# Go's memory store deletes by string prefix (ADR 0007): a GUN that GUN prefixes.
GUN_LONGER = GUN + "-longer"
UNKNOWN_GUN = "example.com/golden/never-published"
TUF = f"/v2/{GUN}/_trust/tuf/"
CONNECTION_DROPPED = "connection dropped"
TABLE_ENV = "NOTARY_GOLDEN_TABLE"  # a file to write the Go-vs-ours table to

Observation = dict[str, Any]


@dataclass
class Context:
    """Per-server state the sequence builds up."""

    server: NotaryServerProcess
    keys: dict[str, list[PublicKey]] = field(default_factory=dict)
    builders: dict[str, RepoBuilder] = field(default_factory=dict)
    uploaded: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def parts(self, gun: str = GUN) -> dict[str, bytes]:
        return self.uploaded[gun]


Send = Callable[[Context], Response | str]
Observe = Callable[[Context, Response], Observation]


# --------------------------------------------------------------------------- observations


def envelope(body: bytes) -> list[dict[str, Any]] | None:
    """The ``errors`` list of an error body, or None if the body is not one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or set(parsed) != {"errors"}:
        return None
    errors: list[dict[str, Any]] = parsed["errors"]
    return errors


def base_observation(response: Response) -> Observation:
    obs: Observation = {"status": response.status}
    for header in ("Content-Type", "Cache-Control", "Pragma"):
        if header in response.headers:
            obs[header] = response.headers[header]
    if "Last-Modified" in response.headers:  # the time differs, Go's layout and zone do not
        obs["Last-Modified zone"] = response.headers["Last-Modified"].rsplit(" ", 1)[-1]
    if 300 <= response.status < 400:
        obs["location"] = response.headers.get("Location")
    errors = envelope(response.body)
    if errors is not None:
        obs["errors"] = errors
        obs["body"] = response.body.decode()
    return obs


def with_body(_ctx: Context, response: Response) -> Observation:
    """Status, errors and the whole body (deterministic answers)."""
    obs = base_observation(response)
    obs["body"] = response.body.decode(errors="replace")
    return obs


def body_is(expected: Callable[[Context], bytes]) -> Observe:
    """200s whose body must be bytes we know per server (what we uploaded)."""

    def observe(ctx: Context, response: Response) -> Observation:
        obs = base_observation(response)
        if response.status == 200:
            obs["body is the expected file"] = response.body == expected(ctx)
        else:
            obs["body"] = response.body.decode(errors="replace")
        return obs

    return observe


def key_shape(role: str) -> Observe:
    """A ``{role}.key`` answer: the key's shape, and whether it repeats the last one."""

    def observe(ctx: Context, response: Response) -> Observation:
        obs = base_observation(response)
        if response.status != 200:
            obs["body"] = response.body.decode(errors="replace")
            return obs
        raw = json.loads(response.body)
        key = PublicKey.from_dict(raw)
        seen = ctx.keys.setdefault(role, [])
        obs["fields"] = list(raw)
        obs["keyval fields"] = list(raw["keyval"])
        obs["keytype"] = raw["keytype"]
        obs["private"] = raw["keyval"]["private"]
        obs["same key as the previous answer"] = bool(seen) and seen[-1].key_id == key.key_id
        seen.append(key)
        return obs

    return observe


def metadata_shape(_ctx: Context, response: Response) -> Observation:
    """A 200 with server-made metadata (a timestamp): its type and version."""
    obs = base_observation(response)
    if response.status != 200:
        obs["body"] = response.body.decode(errors="replace")
        return obs
    signed = json.loads(response.body)["signed"]
    obs["_type"] = signed["_type"]
    obs["version"] = signed["version"]
    return obs


_DIGITS = re.compile(r"^[0-9]+$")
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def changefeed_shape(_ctx: Context, response: Response) -> Observation:
    """A changefeed answer with IDs, times and checksums reduced to their form."""
    obs = base_observation(response)
    if response.status != 200:
        obs["body"] = response.body.decode(errors="replace")
        return obs
    raw = json.loads(response.body)
    obs["fields"] = list(raw)
    obs["count"] = raw["count"]
    records = raw["records"]
    if records is None:
        obs["records"] = None
        return obs
    obs["records"] = [
        {
            # "Actor" is our one extra key (ADR 0009): Go's clients ignore it.
            "fields": [name for name in r if name != "Actor"],
            "ID is a decimal string": isinstance(r["ID"], str) and bool(_DIGITS.match(r["ID"])),
            "CreatedAt is RFC 3339": bool(_RFC3339.match(r["CreatedAt"])),
            "GUN": r["GUN"],
            "Version": r["Version"],
            "SHA256": "64 hex" if re.fullmatch("[0-9a-f]{64}", r["SHA256"]) else r["SHA256"],
            "Category": r["Category"],
        }
        for r in records
    ]
    ids = [int(r["ID"]) for r in records]
    obs["IDs ascending"] = ids == sorted(ids)
    return obs


# --------------------------------------------------------------------------- requests


def request(
    method: str, path: str, *, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> Send:
    def send(ctx: Context) -> Response | str:
        try:
            return ctx.server.request(method, path, body=body, headers=headers)
        except (http.client.HTTPException, ConnectionError) as err:
            return f"{CONNECTION_DROPPED} ({type(err).__name__})"

    return send


def get(path: str) -> Send:
    return request("GET", path)


def post_raw(body: bytes, content_type: str, gun: str = GUN) -> Send:
    return request(
        "POST", f"/v2/{gun}/_trust/tuf/", body=body, headers={"Content-Type": content_type}
    )


def post_parts(parts: Mapping[str, bytes]) -> Send:
    body, content_type = multipart_body(parts)
    return post_raw(body, content_type)


def first_publish(gun: str) -> Send:
    """Build the first publish of ``gun`` with the *first* timestamp key the server gave.

    Before a root exists, every ``GET timestamp.key`` makes a new key (Go
    ``GetOrCreateTimestampKey``); the server must still sign with any of them.
    """

    def send(ctx: Context) -> Response | str:
        timestamp_key = ctx.keys[f"{gun} {TIMESTAMP}"][0]
        builder = RepoBuilder(gun, timestamp_key=timestamp_key)
        builder.add_target("app-v1", b"golden release 1\n")
        parts = builder.publish()
        response = ctx.server.upload(gun, parts)
        if response.status == 200:
            builder.accept(parts)
            ctx.builders[gun] = builder
            ctx.uploaded[gun] = parts
        return response

    return send


def get_key_for(gun: str, role: str) -> tuple[Send, Observe]:
    """GET ``{role}.key`` of ``gun``, remembering the key under ``"<gun> <role>"``."""
    return get(f"/v2/{gun}/_trust/tuf/{role}.key"), key_shape(f"{gun} {role}")


def uploaded(role: str, gun: str = GUN) -> Callable[[Context], bytes]:
    return lambda ctx: ctx.parts(gun)[role]


def by_checksum(role: str, transform: Callable[[bytes], str]) -> Send:
    def send(ctx: Context) -> Response | str:
        return get(f"{TUF}{role}.{transform(ctx.parts()[role])}.json")(ctx)

    return send


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def root_by_targets_checksum(ctx: Context) -> Response | str:
    return get(f"{TUF}{ROOT}.{sha256_hex(ctx.parts()[TARGETS])}.json")(ctx)


def snapshot_from_timestamp(ctx: Context) -> Response | str:
    status, _, body = ctx.server.get_metadata(GUN, TIMESTAMP)
    assert status == 200, body
    hex_digest = sha256_hex_from_meta(json.loads(body)["signed"]["meta"][SNAPSHOT])
    return get(f"{TUF}{SNAPSHOT}.{hex_digest}.json")(ctx)
