"""The upload differential: each mutated upload goes to Go's server and ours; verdicts compared.

A :class:`Case` is a base repository (:data:`BASES`), a stage (``initial``: the
mutated upload is the repository's first publish; ``update``: a valid first
publish, then the mutated second one) and a :class:`~tests.differential.mutations.Mutation`.
Each case runs on a fresh GUN on both servers with the same root, targets,
snapshot and delegation keys (only the server-held timestamp key, and for the
``server`` base the snapshot key, differ), built by
:class:`testkit.repo_builder.RepoBuilder`, which writes the shapes and the
byte layout of the Go client.

Compared: the HTTP status and, for an error, ``errors[0].code``.  When both
servers accept an upload whose snapshot the server made, each server's served
``snapshot.json`` must hash every uploaded file as that server serves it; a Go
server that fails this "breaks itself" (recorded, not a difference).

Local sweep: ``.venv/bin/python -m tests.differential.uploads --cases N --seed S``.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import http.client
import json
import random
import re
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from notary_tuf.certs import new_root_certificate
from notary_tuf.crypto import PrivateKey
from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS
from notary_tuf.signed import Signature
from testkit.gotools import Response, multipart_body
from testkit.repo_builder import RepoBuilder, SigningKey
from tests.differential.intended import INTENDED_DIFFERENCES
from tests.differential.mutations import (
    ENVELOPE,
    KEY,
    RELEASES,
    SIGNED,
    Mutation,
    dumps,
    envelope_mutations,
    envelope_tree,
    file_bytes,
    key_swaps,
    random_variant,
    root_mutations,
    signing_message,
    snapshot_mutations,
    targets_mutations,
)
from tests.differential.servers import SIDES, ServerPair

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from testkit.gotools import NotaryServerProcess


BASES: Final = ("client", "server", "delegation")
"""``client``: client-signed snapshot; ``server``: the server signs the snapshot;
``delegation``: client-signed snapshot and a delegation ``targets/releases``."""
STAGES: Final = ("initial", "update")

SWEEP_TIME_LIMIT: Final = 900.0
"""Seconds a sweep may run; cases not started by then are reported as not run."""
MAX_HARNESS_ERRORS: Final = 50
"""After this many failed cases (e.g. a server died) the rest are not started."""


# ---------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One mutated upload on one base repository."""

    index: int
    base: str
    stage: str
    mutation: Mutation

    @property
    def kind(self) -> str:
        """The mutation kind (what ``INTENDED_DIFFERENCES`` is keyed by)."""
        return self.mutation.kind

    def describe(self) -> str:
        """``#index base/stage kind``."""
        return f"#{self.index} {self.base}/{self.stage} {self.kind}"


def _mutations_for(base: str) -> Iterator[Mutation]:
    delegating = base == "delegation"
    yield from root_mutations()
    yield from targets_mutations(TARGETS, TARGETS, delegating=delegating)
    yield from key_swaps(TARGETS)
    yield from envelope_mutations(ROOT)
    yield from envelope_mutations(TARGETS)
    if delegating:
        yield from targets_mutations(RELEASES, "delegation", delegating=False)
        yield from key_swaps(RELEASES, "delegation")
        yield from envelope_mutations(RELEASES, "delegation")
    if base != "server":
        yield from snapshot_mutations(with_delegation=delegating)
        yield from envelope_mutations(SNAPSHOT)


def catalog() -> list[tuple[str, str, Mutation]]:
    """Every systematic (base, stage, mutation) combination, in a fixed order."""
    return [
        (base, stage, mutation)
        for base in BASES
        for stage in STAGES
        for mutation in _mutations_for(base)
    ]


def build_cases(count: int, seed: int) -> list[Case]:
    """``count`` cases: a seeded sample of :func:`catalog`, then seeded random values."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    combos = catalog()
    rng.shuffle(combos)
    chosen = combos[:count]
    signed = [c for c in combos if c[2].layer == SIGNED]
    for extra in range(max(0, count - len(combos))):
        base, stage, mutation = rng.choice(signed)
        chosen.append((base, stage, random_variant(mutation, rng, f"#{seed}.{extra}")))
    return [Case(i, base, stage, mutation) for i, (base, stage, mutation) in enumerate(chosen)]


# ---------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class KeyPool:
    """Keys reused across cases (GUNs differ, so reuse is harmless); RSA is slow to make."""

    targets: SigningKey
    snapshot: SigningKey
    delegate: SigningKey
    by_type: Mapping[str, SigningKey]

    @classmethod
    def generate(cls) -> KeyPool:
        """Make one key of each kind."""
        now = datetime.now(UTC)
        by_type: dict[str, SigningKey] = {"ecdsa": SigningKey.generate()}
        for keytype in ("rsa", "ed25519"):
            private = PrivateKey.generate(keytype)
            by_type[keytype] = SigningKey(private, private.public_key)
        for keytype in ("ecdsa", "rsa"):
            private = PrivateKey.generate(keytype)
            cert = new_root_certificate(
                private,
                f"{keytype}-x509",
                not_before=now - timedelta(hours=1),
                not_after=now + timedelta(days=3650),
            )
            by_type[f"{keytype}-x509"] = SigningKey(private, PublicKey.from_certificate(cert))
        return cls(SigningKey.generate(), SigningKey.generate(), SigningKey.generate(), by_type)


@dataclass(frozen=True)
class CaseKeys:
    """The client keys of one case, the same on both servers."""

    root: SigningKey
    targets: SigningKey
    snapshot: SigningKey
    delegate: SigningKey


def case_keys(case: Case, gun: str, pool: KeyPool) -> CaseKeys:
    """The case's keys: a root certificate for ``gun``; pooled keys, swapped if the case says so."""
    targets, delegate = pool.targets, pool.delegate
    if case.mutation.layer == KEY:
        swapped = pool.by_type[str(case.mutation.variant.make(None))]
        if case.mutation.role == TARGETS:
            targets = swapped
        else:
            delegate = swapped
    return CaseKeys(SigningKey.root(gun), targets, pool.snapshot, delegate)


# ---------------------------------------------------------------------------- requests


class KeepAlive:
    """HTTPS requests to one server over one kept-alive connection per thread.

    A fresh TLS connection per request would cost more than the upload.  A request
    that fails on a reused connection (the server may have closed it while idle)
    is repeated once on a new one; a failure on a new connection is the answer
    (Go drops the connection when a handler panics).
    """

    def __init__(self, server: NotaryServerProcess, timeout: float = 30.0) -> None:
        """Talk to ``server``."""
        self.server = server
        self.timeout = timeout
        self._local = threading.local()
        self._opened: list[http.client.HTTPSConnection] = []
        self._opened_lock = threading.Lock()

    def _connection(self) -> tuple[http.client.HTTPSConnection, bool]:
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.server.port, context=self.server.ssl_context, timeout=self.timeout
        )
        self._local.conn = conn
        with self._opened_lock:
            self._opened.append(conn)
        return conn, False

    def _drop(self) -> None:
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] = {}
    ) -> Response:
        """Send one request; raise :class:`OSError` if a fresh connection fails too."""
        for _attempt in range(2):
            conn, reused = self._connection()
            try:
                conn.request(method, path, body=body, headers=dict(headers))
                answer = conn.getresponse()
                data = answer.read()
            except (OSError, http.client.HTTPException) as err:
                self._drop()
                if reused:
                    continue
                raise OSError(f"{type(err).__name__}: {err}") from err
            if answer.will_close:
                self._drop()
            return Response(answer.status, answer.headers, data)
        raise OSError("unreachable: the second attempt always uses a fresh connection")

    def close(self) -> None:
        """Close every connection any thread opened."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()

    def upload(self, gun: str, parts: Mapping[str, bytes]) -> Response:
        """POST ``parts`` as the Go client does."""
        body, content_type = multipart_body(parts)
        return self.request("POST", f"/v2/{gun}/_trust/tuf/", body, {"Content-Type": content_type})

    def get_metadata(self, gun: str, name: str) -> Response:
        """GET ``name.json``."""
        return self.request("GET", f"/v2/{gun}/_trust/tuf/{name}.json")

    def key(self, gun: str, role: str) -> PublicKey:
        """GET ``role.key`` (the server creates it on first request)."""
        status, _, body = self.request("GET", f"/v2/{gun}/_trust/tuf/{role}.key")
        if status != 200:
            raise AssertionError(f"GET {role}.key for {gun}: {status} {body[:300]!r}")
        return PublicKey.from_dict(json.loads(body))


# ---------------------------------------------------------------------------- server keys

ServerKeys = tuple[PublicKey, PublicKey | None]
"""A GUN's timestamp key and, for the ``server`` base, its snapshot key."""


def create_server_keys(
    server: KeepAlive, cases: Sequence[Case], tag: str, deadline: float
) -> dict[int, ServerKeys]:
    """Have ``server`` create every case's keys, one request at a time, before any upload.

    Go's notary-server 0.7 with the local trust service keeps its keys in a plain
    map (``tuf/signed/ed25519.go``): creating a key (``GET …/timestamp.key``) while
    another request creates a key or signs kills the whole server with ``fatal
    error: concurrent map writes``.  That Go bug is outside what this differential
    compares, so keys are made up front and uploads then run concurrently.
    """
    made: dict[int, ServerKeys] = {}
    for case in cases:
        if time.monotonic() > deadline:
            break
        gun = gun_of(case, tag)
        timestamp = server.key(gun, "timestamp")
        snapshot = server.key(gun, SNAPSHOT) if case.base == "server" else None
        made[case.index] = (timestamp, snapshot)
    return made


def gun_of(case: Case, tag: str) -> str:
    """The case's GUN (the same on both servers; ``tag`` keeps runs apart)."""
    return f"example.com/diff-{tag}/c{case.index}"


# ---------------------------------------------------------------------------- one upload


@dataclass(frozen=True)
class Verdict:
    """A server's answer: HTTP status, ``errors[0].code``, and the detail (reported only)."""

    status: int
    code: str | None = None
    detail: str = ""

    @property
    def key(self) -> tuple[int, str | None]:
        """What is compared."""
        return (self.status, self.code)

    def __str__(self) -> str:
        return f"{self.status} {self.code}" if self.code else str(self.status)


def verdict_of(response: Response) -> Verdict:
    """Status and error code of an upload's response."""
    if response.status == 200:
        return Verdict(200)
    try:
        error = json.loads(response.body)["errors"][0]
        detail = error.get("detail")
        return Verdict(response.status, str(error.get("code")), json.dumps(detail)[:300])
    except (ValueError, KeyError, IndexError, TypeError):
        return Verdict(
            response.status, "<no JSON error>", response.body[:300].decode(errors="replace")
        )


@dataclass(frozen=True)
class SideResult:
    """What one server did with a case."""

    verdict: Verdict
    setup_failure: str = ""
    broken_hashes: str = ""  # the served snapshot does not hash what the server serves
    mutated_signed: str = ""


def _sign(text: str, keys: Sequence[SigningKey]) -> list[Signature]:
    message = signing_message(text)
    return [
        Signature(keyid=k.key_id, method=k.private.method, sig=k.private.sign(message))
        for k in keys
    ]


def mutate_file(data: bytes, mutation: Mutation, keys: Sequence[SigningKey]) -> tuple[bytes, str]:
    """Apply ``mutation`` to a file, re-signing a mutated ``signed``; return bytes and signed."""
    signed = json.loads(data)["signed"]
    if mutation.layer == SIGNED:
        text = dumps(mutation.apply(signed))
        return file_bytes(envelope_tree(text, _sign(text, keys))), text
    text = dumps(signed)
    tree = envelope_tree(text, _sign(text, keys))
    if mutation.layer == ENVELOPE:
        tree = mutation.apply(tree)
    return file_bytes(tree), text


def _make_builder(gun: str, base: str, keys: CaseKeys, server_keys: ServerKeys) -> RepoBuilder:
    timestamp, server_snapshot = server_keys
    builder = RepoBuilder(
        gun=gun,
        timestamp_key=timestamp,
        snapshot_key=server_snapshot,
        root_keys=[keys.root],
        targets_keys=[keys.targets],
        snapshot_signer=None if server_snapshot else keys.snapshot,
    )
    builder.add_target("hello.txt", b"hello")
    if base == "delegation":
        builder.delegate(RELEASES, [keys.delegate])
        builder.add_target("app.bin", b"app", role=RELEASES)
    return builder


def _roles_of(case: Case) -> tuple[str, ...]:
    if case.stage == "initial":
        return (ROOT, TARGETS, RELEASES) if case.base == "delegation" else (ROOT, TARGETS)
    role = case.mutation.role
    return (TARGETS,) if role == SNAPSHOT else (role,)


def mutated_parts(builder: RepoBuilder, case: Case) -> tuple[dict[str, bytes], str]:
    """The upload of ``case``: the role files, one mutated, and the client snapshot naming them."""
    mutation = case.mutation
    parts: dict[str, bytes] = {}
    for role in _roles_of(case):
        parts[role] = builder.root_file() if role == ROOT else builder.targets_file(role)
    text = ""
    if mutation.role in parts:
        keys = builder.signers(mutation.role)
        parts[mutation.role], text = mutate_file(parts[mutation.role], mutation, keys)
    if not builder.server_managed_snapshot:
        parts[SNAPSHOT] = builder.snapshot_file(parts)
        if mutation.role == SNAPSHOT:
            keys = builder.signers(SNAPSHOT)
            parts[SNAPSHOT], text = mutate_file(parts[SNAPSHOT], mutation, keys)
    return parts, text


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def served_hash_mismatches(server: KeepAlive, gun: str, roles: Sequence[str]) -> str:
    """Where the served snapshot does not describe the served files ("" when it does)."""
    status, _, body = server.get_metadata(gun, SNAPSHOT)
    if status != 200:
        return f"snapshot.json: {status}"
    meta = json.loads(body)["signed"]["meta"]
    problems = []
    for role in roles:
        status, _, served = server.get_metadata(gun, role)
        entry = meta.get(role) or {}
        if status != 200:
            problems.append(f"{role}.json: {status}")
        elif entry.get("length") != len(served) or entry.get("hashes", {}).get(
            "sha256"
        ) != _sha256_b64(served):
            problems.append(
                f"{role}: snapshot says length {entry.get('length')} sha256 "
                f"{entry.get('hashes', {}).get('sha256')}, served {len(served)} bytes "
                f"sha256 {_sha256_b64(served)}"
            )
    return "; ".join(problems)


def run_side(
    server: KeepAlive, case: Case, gun: str, keys: CaseKeys, server_keys: ServerKeys
) -> SideResult:
    """Bring ``gun`` into the case's base state on ``server``, then send the mutated upload."""
    builder = _make_builder(gun, case.base, keys, server_keys)
    if case.stage == "update":
        first = builder.publish(*((TARGETS, RELEASES) if case.base == "delegation" else (TARGETS,)))
        response = server.upload(gun, first)
        if response.status != 200:
            return SideResult(verdict_of(response), setup_failure=str(verdict_of(response)))
        builder.accept(first)
    parts, text = mutated_parts(builder, case)
    try:
        verdict = verdict_of(server.upload(gun, parts))
    except OSError as err:  # e.g. a handler panic: the server drops the connection
        verdict = Verdict(0, "<connection dropped>", str(err))
    return SideResult(verdict, mutated_signed=text)


# ---------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class CaseResult:
    """Both servers' results for one case."""

    case: Case
    sides: Mapping[str, SideResult]

    @property
    def differs(self) -> bool:
        """The verdicts differ, or our served snapshot misdescribes our files."""
        go, ours = self.sides["go"], self.sides["ours"]
        return go.verdict.key != ours.verdict.key or bool(ours.broken_hashes)

    @property
    def group(self) -> tuple[str, str, str]:
        """(kind, Go's verdict, ours) -- how differences are grouped."""
        go, ours = self.sides["go"], self.sides["ours"]
        ours_text = str(ours.verdict) + (" + broken hashes" if ours.broken_hashes else "")
        return (self.case.kind, str(go.verdict), ours_text)


def run_case(
    pair: Mapping[str, KeepAlive],
    case: Case,
    pool: KeyPool,
    tag: str,
    server_keys: Mapping[str, Mapping[int, ServerKeys]],
) -> CaseResult:
    """Run ``case`` on both servers (same GUN, same client keys)."""
    gun = gun_of(case, tag)
    keys = case_keys(case, gun, pool)
    sides = {
        side: run_side(pair[side], case, gun, keys, server_keys[side][case.index]) for side in SIDES
    }
    if (
        case.base == "server"
        and all(s.verdict.status == 200 for s in sides.values())
        and case.mutation.role != SNAPSHOT
    ):
        roles = [r for r in _roles_of(case) if r != SNAPSHOT]
        sides = {
            side: SideResult(
                result.verdict,
                result.setup_failure,
                served_hash_mismatches(pair[side], gun, roles),
                result.mutated_signed,
            )
            for side, result in sides.items()
        }
    return CaseResult(case, sides)


@dataclass
class SweepReport:
    """All results of a sweep, and what is left when the reviewed differences are removed."""

    results: list[CaseResult] = field(default_factory=list)
    not_run: list[Case] = field(default_factory=list)
    errors: list[tuple[Case, str]] = field(default_factory=list)
    seconds: float = 0.0
    key_seconds: float = 0.0

    def unexplained(self) -> list[CaseResult]:
        """Differing cases whose kind ``INTENDED_DIFFERENCES`` does not list."""
        return [r for r in self.results if r.differs and not _intended(r)]

    def go_breaks_itself(self) -> list[CaseResult]:
        """Cases both accepted where Go's snapshot misdescribes the files Go serves."""
        return [r for r in self.results if r.sides["go"].broken_hashes]

    def setup_failures(self) -> list[CaseResult]:
        """Cases whose valid first publish a server refused."""
        return [r for r in self.results if any(s.setup_failure for s in r.sides.values())]

    def render(self, limit_groups: int = 400) -> str:
        """Human-readable summary: counts, difference groups with one example each."""
        lines = [
            (
                f"{len(self.results)} cases in {self.seconds:.1f}s "
                f"(server keys: {self.key_seconds:.1f}s); "
                f"{sum(r.differs for r in self.results)} differ, "
                f"{len(self.unexplained())} not in INTENDED_DIFFERENCES; "
                f"{len(self.not_run)} not run; {len(self.errors)} harness errors; "
                f"{len(self.setup_failures())} setup failures; "
                f"{len(self.go_breaks_itself())} where Go breaks itself"
            ),
        ]
        pairs = Counter((str(r.sides["go"].verdict), r.group[2]) for r in self.unexplained())
        lines.append("\nBy verdict pair (Go -> ours): count")
        lines += [f"  {go} -> {ours}: {n}" for (go, ours), n in pairs.most_common()]
        groups: dict[tuple[str, str, str], list[CaseResult]] = defaultdict(list)
        for result in self.unexplained():
            groups[result.group].append(result)
        lines.append(f"\nDifference groups ({len(groups)}), by kind:")
        for (kind, go, ours), members in sorted(groups.items())[:limit_groups]:
            example = members[0]
            lines.append(
                f"- {kind}: Go {go} | ours {ours} | {len(members)} case(s), e.g. "
                f"{example.case.base}/{example.case.stage} #{example.case.index}"
            )
            lines.append(f"    go detail: {example.sides['go'].verdict.detail[:160]}")
            lines.append(f"    our detail: {example.sides['ours'].verdict.detail[:160]}")
            if example.sides["ours"].broken_hashes:
                lines.append(f"    our hashes: {example.sides['ours'].broken_hashes[:300]}")
            lines.append(f"    signed: {_clip(example.sides['go'].mutated_signed)}")
        if len(groups) > limit_groups:
            lines.append(f"... {len(groups) - limit_groups} more groups")
        broken: dict[str, list[CaseResult]] = defaultdict(list)
        for result in self.go_breaks_itself():
            broken[result.case.kind].append(result)
        lines.append(f"\nGo breaks itself ({len(self.go_breaks_itself())} cases), by kind:")
        for kind, members in sorted(broken.items())[:limit_groups]:
            example = members[0]
            lines.append(
                f"- {kind}: {len(members)} case(s), e.g. {example.case.describe()}: "
                f"{example.sides['go'].broken_hashes[:200]}"
            )
        for result in self.setup_failures()[:20]:
            lines.append(
                f"SETUP FAILED {result.case.describe()}: "
                + ", ".join(f"{s}={r.setup_failure}" for s, r in result.sides.items())
            )
        lines += [f"HARNESS ERROR {case.describe()}: {err}" for case, err in self.errors[:20]]
        if self.not_run:
            lines.append(f"NOT RUN (time limit): {len(self.not_run)} cases")
        return "\n".join(lines)


def _clip(text: str, limit: int = 700) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def _intended(result: CaseResult) -> bool:
    kind, go, ours = result.group
    detail = result.sides["ours"].verdict.detail
    return any(
        fnmatch.fnmatchcase(kind, pattern)
        and (go, ours) == (row.go, row.ours)
        and (row.detail is None or re.search(row.detail, detail) is not None)
        for pattern, row in INTENDED_DIFFERENCES.items()
    )


def run_sweep(
    pair: ServerPair,
    cases: Sequence[Case],
    *,
    workers: int = 8,
    time_limit: float = SWEEP_TIME_LIMIT,
) -> SweepReport:
    """Run every case on both servers with a small thread pool, bounded by ``time_limit``."""
    report = SweepReport()
    started = time.monotonic()
    clients = {side: KeepAlive(pair[side]) for side in SIDES}
    try:
        _sweep(clients, cases, report, workers=workers, deadline=started + time_limit)
    finally:
        for client in clients.values():
            client.close()
    report.results.sort(key=lambda r: r.case.index)
    report.seconds = time.monotonic() - started
    return report


def _sweep(
    clients: Mapping[str, KeepAlive],
    cases: Sequence[Case],
    report: SweepReport,
    *,
    workers: int,
    deadline: float,
) -> None:
    pool = KeyPool.generate()
    tag = secrets.token_hex(4)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(SIDES)) as executor:
        making = {
            side: executor.submit(create_server_keys, clients[side], cases, tag, deadline)
            for side in SIDES
        }
        server_keys = {side: future.result() for side, future in making.items()}
    report.key_seconds = time.monotonic() - started

    def guarded(case: Case) -> CaseResult | None:
        if (
            time.monotonic() > deadline
            or len(report.errors) > MAX_HARNESS_ERRORS
            or any(case.index not in made for made in server_keys.values())
        ):
            return None
        return run_case(clients, case, pool, tag, server_keys)

    with ThreadPoolExecutor(max_workers=workers) as executor:
        futures = {executor.submit(guarded, case): case for case in cases}
        for future in as_completed(futures):
            case = futures[future]
            try:
                result = future.result()
            except Exception as err:  # noqa: BLE001 - every harness failure is reported
                report.errors.append((case, f"{type(err).__name__}: {err}"))
                continue
            if result is None:
                report.not_run.append(case)
            else:
                report.results.append(result)


def main(argv: Sequence[str] | None = None) -> int:
    """Local sweep: start both servers, run ``--cases`` cases of ``--seed``, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=len(catalog()))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--groups", type=int, default=400, help="difference groups to print")
    parser.add_argument("--only", type=int, nargs="*", help="run only these case indexes")
    parser.add_argument("--workdir", type=Path, help="keep server files and logs here")
    args = parser.parse_args(argv)
    cases = build_cases(args.cases, args.seed)
    if args.only:
        cases = [case for case in cases if case.index in set(args.only)]
    with tempfile.TemporaryDirectory(prefix="upload-diff-") as tmp:
        workdir = args.workdir or Path(tmp)
        with ServerPair(workdir) as pair:
            report = run_sweep(pair, cases, workers=args.workers)
    sys.stdout.write(report.render(args.groups) + "\n")
    clean = not (report.unexplained() or report.errors or report.not_run or report.setup_failures())
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
