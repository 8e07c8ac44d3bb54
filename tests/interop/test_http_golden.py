"""HTTP golden test: the same requests to the Go notary-server and to ours.

One sequence of good and bad requests (:data:`STEPS`) runs, in order, against
the Debian ``notary-server`` and against ``python -m notary_server``, both with
memory storage and the local trust service. Each step reduces the answer to an
*observation* -- status, ``Location``, the error envelope (code, message,
detail), and the body where it is deterministic, or its shape where it is not
(keys, changefeed records, "the body is the bytes we uploaded") -- and one test
per step compares the two.

The repository is published with :class:`~testkit.repo_builder.RepoBuilder`
on each server separately (the timestamp key is per server), so checksums and
key IDs differ between the servers while the observations do not.

Set ``NOTARY_GOLDEN_TABLE=FILE`` to have the whole table written as Markdown.

A last test compares empty changefeed pages of both servers on PostgreSQL.

Steps where our answer deliberately differs name the ADR that decides it
(``adr``) and the observation our server must give instead; for them the test
asserts that the servers do differ and that ours answers as the ADR says.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from notary_server.storage.migrate import migrate
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from testkit.gotools import (
    GoNotaryServer,
    NotaryServerProcess,
    require_go_tools,
)
from testkit.ourserver import OurNotaryServer
from testkit.pg import admin_dsn, require_postgres, throwaway_database
from tests.interop.golden_http_requests import (
    GUN,
    GUN_ESCAPED,
    GUN_LONGER,
    TABLE_ENV,
    TUF,
    UNKNOWN_GUN,
    Context,
    Observation,
    Observe,
    Send,
    body_is,
    by_checksum,
    changefeed_shape,
    first_publish,
    get,
    get_key_for,
    metadata_shape,
    post_parts,
    post_raw,
    request,
    root_by_targets_checksum,
    sha256_hex,
    snapshot_from_timestamp,
    uploaded,
    with_body,
)

pytestmark = pytest.mark.gotools

# --------------------------------------------------------------------------- the sequence


@dataclass(frozen=True)
class Step:
    """One request of the sequence and how to reduce its answer."""

    name: str
    send: Send
    observe: Observe = with_body
    adr: str | None = None
    ours: Observation | None = None


def _step(name: str, send: Send, observe: Observe = with_body, **kw: Any) -> Step:
    return Step(name, send, observe, **kw)


_multipart_no_filename = (
    b'--b\r\nContent-Disposition: form-data; name="files"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n{}\r\n--b--\r\n"
)
_TARGETS_V1 = (
    b'{"signed":{"_type":"Targets","version":1,"expires":"2030-01-01T00:00:00Z"},"signatures":[]}'
)
_multipart_part_head = (
    b'--b\r\nContent-Disposition: form-data; name="files"; filename="targets"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
)
_multipart_truncated_in_part = _multipart_part_head + _TARGETS_V1[:20]
_multipart_truncated_after_part = _multipart_part_head + _TARGETS_V1

# Go's memory store answers "records":null for an empty page (and crashes on a
# negative page size from the start); its SQL stores, and we, answer a list (ADR 0007).
_EMPTY_PAGE: Observation = {"status": 200, "count": 0, "records": []}
_CHANGEFEED_DIFFERENCES: dict[str, dict[str, Any]] = {
    "?records=-10": {"adr": "0007", "ours": {"status": 200}},
    "?change_id=1&records=10": {"adr": "0007", "ours": _EMPTY_PAGE},
    "?change_id=1000&records=10": {"adr": "0007", "ours": _EMPTY_PAGE},
}

_INVALID_GUN = "The server does not support actions on images of this name."
_UNCLEAN_WRITE = "the path of a write must be clean: no '.', '..' or empty segment"

STEPS: tuple[Step, ...] = (
    # ---- fixed routes
    _step("GET /v2/", get("/v2/")),
    _step("GET health", get("/_notary_server/health")),
    # ---- the catch-all and mux's 405
    *(
        _step(f"{method} unknown path", request(method, "/no/such/path"))
        for method in ("GET", "POST", "PUT", "HEAD", "DELETE", "PATCH", "OPTIONS")
    ),
    _step("GET /v2 without slash", get("/v2")),
    _step("GET unknown path under /v2/", get("/v2/foo")),
    _step("HEAD metadata (GET-only route)", request("HEAD", f"{TUF}root.json")),
    _step("PUT metadata upload path", request("PUT", TUF, body=b"")),
    _step("GET upload path", get(TUF)),
    _step("GET without the trailing slash", get(TUF.rstrip("/"))),
    _step("GET unknown role", get(f"{TUF}foo.json")),
    _step("GET role with star in GUN", get("/v2/a*b/_trust/tuf/root.json")),
    # ---- unclean paths
    _step("GET double slash", get("/v2//x/_trust/tuf/root.json")),
    _step("GET dot segment", get(f"/v2/./{GUN}/_trust/tuf/root.json")),
    _step("GET dot-dot segment", get(f"{TUF}../tuf/root.json")),
    _step("GET trailing slash kept", get("/v2//a/")),
    _step("GET unclean with query", get("/v2//a/_trust/changefeed?records=1")),
    # Go redirects a write too; we refuse it: a proxy in front sees another name.
    _step(
        "POST unclean upload path",
        request("POST", f"/v2//{GUN}/_trust/tuf/", body=b""),
        adr="0018",
        ours={
            "status": 400,
            "errors": [{"code": "INVALID_GUN", "message": _INVALID_GUN, "detail": _UNCLEAN_WRITE}],
        },
    ),
    _step("GET unclean with %2F", get(f"/v2//{GUN_ESCAPED}/_trust/tuf/root.json")),
    # ---- before any upload
    *(
        _step(f"GET {role}.json before upload", get(f"{TUF}{role}.json"))
        for role in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP, "targets/releases")
    ),
    _step("GET 1.root.json before upload", get(f"{TUF}1.root.json")),
    _step("GET root by checksum before upload", get(f"{TUF}root.{'ab' * 32}.json")),
    _step("GET %2F GUN before upload", get(f"/v2/{GUN_ESCAPED}/_trust/tuf/root.json")),
    _step(
        "GET changefeed before upload",
        get("/v2/_trust/changefeed?records=10"),
        changefeed_shape,
        adr="0007",
        ours=_EMPTY_PAGE,
    ),
    _step("GET snapshot.key", *get_key_for(GUN, SNAPSHOT)),
    _step("GET timestamp.key", *get_key_for(GUN, TIMESTAMP)),
    _step("GET timestamp.key again", *get_key_for(GUN, TIMESTAMP)),
    _step("GET root.key (not a server role)", get(f"{TUF}root.key")),
    _step("GET targets.key (not a server role)", get(f"{TUF}targets.key")),
    # ---- multipart errors
    _step("POST not multipart", post_raw(b"{}", "application/json")),
    _step("POST multipart without boundary", post_raw(b"", "multipart/form-data")),
    _step(
        "POST multipart without filename",
        post_raw(_multipart_no_filename, "multipart/form-data; boundary=b"),
    ),
    _step("POST invalid role foo", post_parts({"foo": b"{}"})),
    _step("POST invalid role x/targets/releases", post_parts({"x/targets/releases": b"{}"})),
    _step("POST non-JSON part", post_parts({TARGETS: b"not json"})),
    _step("POST JSON of the wrong shape", post_parts({TARGETS: b'{"signed": 5}'})),
    _step(
        "POST no parts (empty multipart)", post_raw(b"--b--\r\n", "multipart/form-data; boundary=b")
    ),
    _step("POST targets only, new repo", post_parts({TARGETS: _TARGETS_V1})),
    _step(
        "POST multipart truncated inside a part",
        post_raw(_multipart_truncated_in_part, "multipart/form-data; boundary=b"),
        adr="0007",
        ours={
            "status": 400,
            "errors": [
                {"code": "MALFORMED_UPLOAD", "message": "The body of your request is malformed."}
            ],
        },
    ),
    _step(
        "POST multipart truncated after a part",
        post_raw(_multipart_truncated_after_part, "multipart/form-data; boundary=b"),
        adr="0007",
        ours={
            "status": 400,
            "errors": [
                {"code": "MALFORMED_UPLOAD", "message": "The body of your request is malformed."}
            ],
        },
    ),
    # ---- a valid first publish
    _step("POST valid first publish", first_publish(GUN)),
    _step("GET root.json", get(f"{TUF}root.json"), body_is(uploaded(ROOT))),
    _step("GET targets.json", get(f"{TUF}targets.json"), body_is(uploaded(TARGETS))),
    _step("GET snapshot.json", get(f"{TUF}snapshot.json"), body_is(uploaded(SNAPSHOT))),
    _step(
        "GET %2F GUN root.json",
        get(f"/v2/{GUN_ESCAPED}/_trust/tuf/root.json"),
        body_is(uploaded(ROOT)),
    ),
    _step("GET 1.root.json", get(f"{TUF}1.root.json"), body_is(uploaded(ROOT))),
    _step("GET 2.root.json (no such version)", get(f"{TUF}2.root.json")),
    _step("GET 0.root.json", get(f"{TUF}0.root.json")),
    _step("GET 01.root.json", get(f"{TUF}01.root.json"), body_is(uploaded(ROOT))),
    _step("GET 1.targets.json", get(f"{TUF}1.targets.json"), body_is(uploaded(TARGETS))),
    _step("GET 2.targets.json (no such version)", get(f"{TUF}2.targets.json")),
    _step("GET 1.timestamp.json", get(f"{TUF}1.timestamp.json"), metadata_shape),
    _step("GET timestamp.json", get(f"{TUF}timestamp.json"), metadata_shape),
    _step("GET root by sha256", by_checksum(ROOT, sha256_hex), body_is(uploaded(ROOT))),
    _step("GET targets by sha256", by_checksum(TARGETS, sha256_hex), body_is(uploaded(TARGETS))),
    _step(
        "GET snapshot by the timestamp's checksum",
        snapshot_from_timestamp,
        body_is(uploaded(SNAPSHOT)),
    ),
    _step("GET root by uppercase sha256", by_checksum(ROOT, lambda d: sha256_hex(d).upper())),
    _step(
        "GET root by sha384 (96 hex)", by_checksum(ROOT, lambda d: hashlib.sha384(d).hexdigest())
    ),
    _step(
        "GET root by sha512 (128 hex)", by_checksum(ROOT, lambda d: hashlib.sha512(d).hexdigest())
    ),
    _step("GET root by 63 hex", by_checksum(ROOT, lambda d: sha256_hex(d)[:63])),
    _step("GET targets by an unknown sha256", by_checksum(TARGETS, lambda _d: "0" * 64)),
    _step(
        "GET root by the targets file's sha256",
        root_by_targets_checksum,
        adr="0007",
        ours={
            "status": 404,
            "errors": [
                {
                    "code": "METADATA_NOT_FOUND",
                    "message": "You have requested metadata that does not exist.",
                    "detail": {},
                }
            ],
        },
    ),
    _step("GET unknown delegation", get(f"{TUF}targets/releases.json")),
    _step("POST same publish again (old version)", lambda ctx: ctx.server.upload(GUN, ctx.parts())),
    _step("GET timestamp.key after publish", *get_key_for(GUN, TIMESTAMP)),
    # ---- changefeed
    *(
        _step(
            f"GET changefeed {query or '(no query)'}",
            get(f"/v2/_trust/changefeed{query}"),
            changefeed_shape,
            **_CHANGEFEED_DIFFERENCES.get(query, {}),
        )
        for query in (
            "",
            "?records=",
            "?records=abc",
            "?records=2147483648",
            "?records=0",
            "?records=10",
            "?records=-10",
            "?change_id=-1&records=10",
            "?change_id=-1&records=-10",
            "?change_id=0&records=10",
            "?change_id=abc&records=10",
            "?change_id=1&records=10",
            "?change_id=1&records=-10",
            "?change_id=9999999999&records=10",
            "?change_id=1000&records=10",
            "?change_id=1.5&records=10",
        )
    ),
    _step(
        "GET per-GUN changefeed", get(f"/v2/{GUN}/_trust/changefeed?records=10"), changefeed_shape
    ),
    _step(
        "GET per-GUN changefeed missing records",
        get(f"/v2/{GUN}/_trust/changefeed"),
        changefeed_shape,
    ),
    _step(
        "GET per-GUN changefeed of an unknown GUN",
        get(f"/v2/{UNKNOWN_GUN}/_trust/changefeed?records=10"),
        changefeed_shape,
    ),
    _step(
        "GET per-GUN changefeed, %2F GUN",
        get(f"/v2/{GUN_ESCAPED}/_trust/changefeed?records=10"),
        changefeed_shape,
    ),
    # ---- deletion
    _step("DELETE missing GUN", request("DELETE", f"/v2/{UNKNOWN_GUN}/_trust/tuf/")),
    _step("DELETE without trailing slash", request("DELETE", f"/v2/{UNKNOWN_GUN}/_trust/tuf")),
    _step("GET timestamp.key of the longer GUN", *get_key_for(GUN_LONGER, TIMESTAMP)),
    _step("POST first publish of the longer GUN", first_publish(GUN_LONGER)),
    _step("DELETE the GUN", request("DELETE", TUF)),
    _step("GET root.json after DELETE", get(f"{TUF}root.json")),
    _step("GET 1.root.json after DELETE", get(f"{TUF}1.root.json")),
    _step("GET root by sha256 after DELETE", by_checksum(ROOT, sha256_hex)),
    _step("GET timestamp.json after DELETE", get(f"{TUF}timestamp.json")),
    _step(
        "GET root.json of the longer GUN after DELETE",
        get(f"/v2/{GUN_LONGER}/_trust/tuf/root.json"),
        body_is(uploaded(ROOT, GUN_LONGER)),
        adr="0007",
        ours={"status": 200, "body is the expected file": True},
    ),
    _step(
        "GET changefeed after DELETE",
        get("/v2/_trust/changefeed?records=-100&change_id=-1"),
        changefeed_shape,
    ),
    _step("DELETE the GUN again", request("DELETE", TUF)),
    _step("GET health at the end", get("/_notary_server/health")),
)


def run_sequence(server: NotaryServerProcess) -> dict[str, Observation]:
    ctx = Context(server)
    observations: dict[str, Observation] = {}
    for step in STEPS:
        try:
            answer = step.send(ctx)
            if isinstance(answer, str):
                observations[step.name] = {"transport": answer.split(" (")[0]}
            else:
                observations[step.name] = step.observe(ctx, answer)
        except (KeyError, ValueError, AssertionError) as err:  # an earlier step went wrong
            observations[step.name] = {"step failed": f"{type(err).__name__}: {err}"}
    return observations


@dataclass(frozen=True)
class Golden:
    go: dict[str, Observation]
    ours: dict[str, Observation]


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Golden:
    require_go_tools()
    base = tmp_path_factory.mktemp("http-golden")
    with GoNotaryServer(base / "go") as go_server:
        go = run_sequence(go_server)
    with OurNotaryServer(base / "ours", storage="memory") as our_server:
        ours = run_sequence(our_server)
    result = Golden(go, ours)
    if table := os.environ.get(TABLE_ENV):
        Path(table).write_text(render_table(result) + "\n", encoding="utf-8")
    return result


def test_step_names_are_unique() -> None:
    names = [step.name for step in STEPS]
    assert len(names) == len(set(names))


def _subset(expected: Observation, actual: Observation) -> bool:
    return all(actual.get(k) == v for k, v in expected.items())


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_same_answer_as_go(golden: Golden, step: Step) -> None:
    go, ours = golden.go[step.name], golden.ours[step.name]
    if step.adr is None:
        assert ours == go
        return
    assert step.ours is not None
    assert ours != go, f"ADR {step.adr} difference no longer observed; Go: {go}"
    assert _subset(step.ours, ours), f"ADR {step.adr}: ours {ours} vs expected {step.ours}"


def render_table(golden: Golden) -> str:
    """The golden table as Markdown (written to ``$NOTARY_GOLDEN_TABLE`` when set)."""
    lines = ["| step | Go | ours | |", "|---|---|---|---|"]
    for step in STEPS:
        go, ours = golden.go[step.name], golden.ours[step.name]
        mark = f"ADR {step.adr}" if step.adr else ("same" if go == ours else "DIFFERS")
        lines.append(f"| {step.name} | {_brief(go)} | {_brief(ours)} | {mark} |")
    return "\n".join(lines)


def _brief(obs: Observation) -> str:
    if "transport" in obs:
        return str(obs["transport"])
    text = str(obs["status"])
    if "location" in obs:
        text += f" → {obs['location']}"
    if "count" in obs:
        records = obs["records"]
        text += f" count={obs['count']} records={'null' if records is None else len(records)}"
    for error in obs.get("errors", []):
        detail = json.dumps(error["detail"]) if "detail" in error else ""
        text += f" {error['code']} {detail}".rstrip()
    return text.replace("|", "\\|")


# --------------------------------------------------------------------------- PostgreSQL


EMPTY_CHANGEFEED_QUERIES = (
    "/v2/_trust/changefeed?records=10",
    "/v2/_trust/changefeed?change_id=-1&records=10",
    "/v2/_trust/changefeed?records=-10",
    f"/v2/{UNKNOWN_GUN}/_trust/changefeed?records=10",
)


@pytest.mark.postgres
def test_empty_changefeed_on_postgres_same_as_go(tmp_path: Path) -> None:
    """An empty changefeed page from a SQL store: Go (gorm ``Find``) answers ``[]``."""
    require_go_tools()
    admin = admin_dsn()
    require_postgres(admin)
    answers: dict[str, list[tuple[int, bytes]]] = {}
    with throwaway_database(admin, "golden_go") as go_dsn:
        asyncio.run(migrate("postgres", go_dsn))
        storage = {"backend": "postgres", "db_url": f"{go_dsn}?sslmode=disable"}
        with GoNotaryServer(tmp_path / "go", storage=storage) as go_server:
            answers["go"] = [go_server.get(q)[::2] for q in EMPTY_CHANGEFEED_QUERIES]
    with OurNotaryServer(tmp_path / "ours", storage="postgres") as our_server:
        answers["ours"] = [our_server.get(q)[::2] for q in EMPTY_CHANGEFEED_QUERIES]
    assert answers["go"] == [(200, b'{"count":0,"records":[]}')] * len(EMPTY_CHANGEFEED_QUERIES)
    assert answers["ours"] == answers["go"]
