"""Fuzzing: metadata parsing, update validation and the HTTP upload path.

Three seeded mutation fuzzers (raw bytes; JSON structure, half of it
correctly re-signed so it reaches the semantic checks; random multipart
bodies through the real app), one hypothesis property over generated
metadata documents, and two generators of issue #14: path forms of a GUN for
writes (dot segments, encoded and double-encoded separators, backslashes) and
deeply nested documents. The properties: no exception other than the documented
ones, no 5xx, no redirect of a write, and nothing stored by a refused upload. Each test prints how
many inputs it ran (``pytest -s``); the whole file stays well under three
minutes on two cores.
"""

from __future__ import annotations

import json
import random
import re
import urllib.parse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notary_server.routes import clean_path
from notary_tuf.canonical import parse_json
from notary_tuf.crypto import PrivateKey
from notary_tuf.errors import InvalidRoleNameError, NotaryTufError, ValidationError
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.validation import validate_update
from testkit.gotools.server import multipart_body
from testkit.repo_builder import RepoBuilder, SigningKey, sign_signed
from testkit.server_helpers import form, raw_request, tuf_url
from tests.hardening.attacks import RELEASES, published_repo
from tests.hardening.mutate import (
    INTERESTING,
    deep_json,
    mutate_bytes,
    mutate_file,
    random_multipart,
    write_path_form,
)
from tests.hardening.state import report, store_state
from tests.hardening.test_requests_round2 import raw_post

if TYPE_CHECKING:
    from notary_server.storage.memory import MemoryMetaStore
    from testkit.server_helpers import AppClient

SEED = 20261123
VALIDATION_INPUTS = 60_000
PARSE_INPUTS = 40_000
HTTP_INPUTS = 30_000
HYPOTHESIS_EXAMPLES = 2_000
PATH_INPUTS = 3_000
DEEP_INPUTS = 150
GUN = "example.com/fuzz"


def _repo() -> tuple[RepoBuilder, dict[str, bytes], dict[str, bytes]]:
    """A repository (held files) and a valid next upload with a delegation."""
    builder = RepoBuilder(GUN, timestamp_key=PrivateKey.generate("ecdsa").public_key)
    builder.add_target("a", b"a")
    first = builder.publish()
    builder.accept(first)
    builder.delegate(RELEASES, [SigningKey.generate()])
    builder.add_target("rel", b"rel", RELEASES)
    builder.add_target("b", b"b")
    return builder, first, builder.publish(TARGETS, RELEASES)


def test_validate_update_survives_mutated_uploads() -> None:
    rng = random.Random(SEED)  # noqa: S311 - seeded: reproducible
    builder, first, update = _repo()
    now = datetime.now(UTC)
    bases = [({}, first), (builder.current, update)]
    outcomes = {"accepted": 0, "refused": 0}
    for index in range(VALIDATION_INPUTS):
        current, base = bases[index % 2]
        uploads = dict(base)
        for role in rng.sample(sorted(uploads), rng.randint(1, 2)):
            uploads[role] = mutate_file(rng, uploads[role], builder.signers(role))
        stray = rng.random() < 0.02
        if stray:
            uploads[rng.choice(("foo", "targets/x", "timestamp", "Targets"))] = base[TARGETS]
        try:
            validate_update(gun=GUN, current=current, uploads=uploads, now=now)
        except ValidationError:
            outcomes["refused"] += 1
        except InvalidRoleNameError:  # the HTTP layer refuses such names before (INVALID_ROLE)
            assert stray, index
            outcomes["refused"] += 1
        else:
            outcomes["accepted"] += 1
    report(f"validate_update: {VALIDATION_INPUTS} mutated uploads, {outcomes}")
    assert outcomes["refused"] > VALIDATION_INPUTS // 2


def test_metadata_parsing_survives_mutated_files() -> None:
    rng = random.Random(SEED + 1)  # noqa: S311 - seeded: reproducible
    _, first, update = _repo()
    files = [(role, data) for role, data in (*first.items(), *update.items())]
    parsed = 0
    for _ in range(PARSE_INPUTS):
        role, data = rng.choice(files)
        mutated = mutate_bytes(rng, data) if rng.random() < 0.5 else mutate_file(rng, data, [])
        try:
            metadata: Metadata[Any] = Metadata.from_bytes(role, mutated)
            metadata.go_bytes()
        except NotaryTufError:
            continue
        parsed += 1
    report(f"metadata parsing: {PARSE_INPUTS} mutated files, {parsed} still parsed")


_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.sampled_from(INTERESTING)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_signed = st.fixed_dictionaries(
    {
        "_type": st.sampled_from(["Targets", "Root", "Snapshot", "targets", ""]),
        "expires": st.sampled_from(["2100-01-01T00:00:00Z", "2000-01-01T00:00:00Z", "x"]),
        "version": st.one_of(st.integers(), st.sampled_from([2**31, 2**31 - 1, 0, -1])),
    },
    optional={"targets": _json, "delegations": _json, "meta": _json, "keys": _json, "roles": _json},
)


def test_generated_metadata_is_refused_cleanly() -> None:
    """Generated ``signed`` documents, signed by the role's keys: only ValidationError escapes."""
    builder, _, update = _repo()
    now = datetime.now(UTC)
    outcomes = {"accepted": 0, "refused": 0}

    @settings(
        max_examples=HYPOTHESIS_EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(signed=_signed, role=st.sampled_from([TARGETS, RELEASES, SNAPSHOT, ROOT]))
    def check(signed: dict[str, Any], role: str) -> None:
        try:
            data = sign_signed(signed, builder.signers(role))
        except NotaryTufError:  # not canonically encodable (e.g. a float): send it unsigned
            data = json.dumps({"signed": signed, "signatures": []}).encode()
        uploads = dict(update) | {role: data}
        try:
            validate_update(gun=GUN, current=builder.current, uploads=uploads, now=now)
        except ValidationError:
            outcomes["refused"] += 1
        else:
            outcomes["accepted"] += 1

    check()
    report(f"hypothesis: {sum(outcomes.values())} generated metadata documents, {outcomes}")
    # Hypothesis stops early only when it has run out of distinct inputs; these never do.
    assert sum(outcomes.values()) >= HYPOTHESIS_EXAMPLES // 2
    assert outcomes["refused"] > 0


async def test_http_upload_path_never_fails_with_5xx(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    client, store = memory_env
    rng = random.Random(SEED + 2)  # noqa: S311 - seeded: reproducible
    builder = await published_repo(client, gun=GUN)
    builder.add_target("next", b"next")
    files = list(builder.publish().values()) + list(builder.current.values())
    before = await store_state(store)
    statuses: dict[int, int] = {}
    for index in range(HTTP_INPUTS):
        body, content_type = random_multipart(rng, files)
        response = await client.post(
            tuf_url(GUN), data=body, headers={"Content-Type": content_type}
        )
        payload = await response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
        assert response.status < 500, (index, response.status, payload[:300])
        if response.status == 200:  # a valid upload survived the mutations: new baseline
            before = await store_state(store)
            continue
        assert json.loads(payload)["errors"][0]["code"], payload
        if index % 16 == 0:
            assert await store_state(store) == before, index
    assert await store_state(store) == before
    report(f"HTTP uploads: {HTTP_INPUTS} random multipart bodies, {sorted(statuses.items())}")


_AMBIGUOUS_ESCAPE = re.compile("%(?:2f|5c|25)", re.IGNORECASE)


def _ambiguous(raw_path: str) -> bool:
    """The oracle (ADR 0018): a write path names its repository only one way."""
    decoded = urllib.parse.unquote(raw_path)
    return (
        clean_path(decoded) != decoded
        or _AMBIGUOUS_ESCAPE.search(raw_path) is not None
        or "\\" in decoded
    )


async def _files_of(store: MemoryMetaStore, gun: str) -> list[tuple[str, int, str]]:
    return [(i.role, i.version, i.sha256) for i in await store.list_files(gun)]


async def test_write_path_forms_never_reach_another_repository(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    # Issue #14: "<parent>/evil/../<repo>" was redirected and "<parent>%2F<repo>"
    # published into "<parent>/<repo>". The forms here start from a GUN below a
    # published repository; the upload would be valid for that repository, so
    # any form that climbs or glues its way there and is not refused publishes.
    client, store = memory_env
    rng = random.Random(SEED + 3)  # noqa: S311 - seeded: reproducible
    builder = await published_repo(client, gun=GUN)
    builder.add_target("next", b"next")
    body, content_type = multipart_body(builder.publish())
    repository = await _files_of(store, GUN)
    baseline = await store_state(store)
    outcomes: dict[str, int] = {}
    for index in range(PATH_INPUTS):
        path = write_path_form(rng, f"{GUN}/ghost")
        method = rng.choice(("POST", "DELETE", "ROTATE"))
        target = tuf_url(path, f"{TIMESTAMP}.key" if method == "ROTATE" else "")
        if method == "POST":
            response = await raw_post(client, target, body, {"Content-Type": content_type})
        else:
            response = await raw_request(client, "POST" if method == "ROTATE" else method, target)
        assert response.status not in (301, 308), (index, target)
        assert response.status < 500, (index, target, response.body[:300])
        if _ambiguous(urllib.parse.urlsplit(target).path):
            error = json.loads(response.body)["errors"][0]
            assert (response.status, error["code"]) == (400, "INVALID_GUN"), (index, target)
            outcomes["refused"] = outcomes.get("refused", 0) + 1
            if index % 8 == 0:
                assert await store_state(store) == baseline, (index, target)
            continue
        outcomes[str(response.status)] = outcomes.get(str(response.status), 0) + 1
        assert await _files_of(store, GUN) == repository, (index, target)
        baseline = await store_state(store)  # a rotation below the repository may record
    assert await _files_of(store, GUN) == repository
    report(f"write path forms: {PATH_INPUTS} requests, {sorted(outcomes.items())}")
    assert outcomes["refused"] > PATH_INPUTS // 2
    assert len(outcomes) > 1  # unambiguous forms were generated too


def _deep_upload(rng: random.Random, builder: RepoBuilder, depth: int) -> list[tuple[str, bytes]]:
    value = deep_json(rng, depth)
    where = rng.choice(("custom", "signed", "signature", "root"))
    if where == "custom" and depth < 800:  # correctly signed: reaches validation
        signed = json.loads(builder.targets_file())["signed"]
        signed["targets"]["app"]["custom"] = parse_json(value.encode())  # as Go decodes it
        data = sign_signed(signed, builder.targets_keys)
        return [(TARGETS, data), (SNAPSHOT, builder.snapshot_file({TARGETS: data}))]
    head = '{"_type":"Targets","version":99,"expires":"2100-01-01T00:00:00Z"'
    if where == "signature":
        signature = f'{{"keyid":"a","method":"ed25519","sig":"AAAA","x":{value}}}'
        return [(TARGETS, f'{{"signed":{head}}},"signatures":[{signature}]}}'.encode())]
    role = ROOT if where == "root" else TARGETS
    return [(role, f'{{"signed":{head},"x":{value}}},"signatures":[]}}'.encode())]


async def test_deep_nesting_never_fails_with_5xx(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    # Issue #14: a part nested ~600 deep holding a \u escape was a 500.
    client, store = memory_env
    rng = random.Random(SEED + 4)  # noqa: S311 - seeded: reproducible
    builder = await published_repo(client, gun=GUN)
    before = await store_state(store)
    statuses: dict[str, int] = {}
    for index in range(DEEP_INPUTS):
        depth = rng.choice(
            (rng.randint(1, 60), rng.randint(400, 1_100), rng.randint(1_100, 12_000))
        )
        parts = _deep_upload(rng, builder, depth)
        response = await client.post(tuf_url(GUN), data=form(parts))
        payload = await response.read()
        assert response.status < 500, (index, depth, payload[:300])
        if response.status == 200:
            builder.accept(dict(parts))
            served = await client.get(tuf_url(GUN, "targets.json"))
            assert await served.read() == dict(parts)[TARGETS]
            before = await store_state(store)
            statuses["200"] = statuses.get("200", 0) + 1
            continue
        code = json.loads(payload)["errors"][0]["code"]
        statuses[code] = statuses.get(code, 0) + 1
        assert await store_state(store) == before, (index, depth)
    report(f"deep nesting: {DEEP_INPUTS} uploads, {sorted(statuses.items())}")
    assert statuses.get("200", 0) > 0
    assert statuses.get("MALFORMED_JSON", 0) > 0
