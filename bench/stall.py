"""One upload must not freeze the other requests (issue #14 item 7, issue #18).

``python -m bench.stall [--rounds 2] [--duration 5]`` starts ours (one worker,
``server.workers: 1``, default configuration, our signer) and the Go
notary-server (its signer), both on PostgreSQL, seeds a small repository in
each, and measures a steady GET load on its ``timestamp.json`` (wrk, 4
connections) in four phases, in the same run, rounds alternating which server
goes first:

* ``alone``: the GETs only (the baseline);
* ``valid 2 MB targets``: another client posts valid targets updates of 10,000
  entries (about 2 MB, server-managed snapshot: the server signs snapshot and
  timestamp) to another repository, one after the other, while wrk runs;
* ``root, 60,000 bogus signatures``: a first upload (root + targets) whose root
  carries 60,000 random signatures naming the root key (about 10 MiB);
* ``16 MiB unknown field``: a targets file exactly at the 16 MiB per-file limit,
  valid JSON whose ``signed`` holds an unknown field with a million keys (its
  signature covers the file without that field, so every post is the same work
  and is refused).

For each phase and server it prints the GETs' p50/p99/max, the uploads' status
codes and latencies, and the ratio ours/Go where both did the same work (the
GETs always; the uploads when both answered with the same status codes). The
target (issue #14 item 7): our GET p99 under 50 ms while such uploads arrive.
It also prints the server CPU seconds per valid 2 MB publish (``/proc``),
measured on sequential publishes without GET load. A report, not a gate: it
never fails on a figure. Exit status: 0 done, 1 the run failed, 2 a
prerequisite is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if __package__ in (None, ""):  # run as ``python bench/stall.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import WRK_HINT, _wrk, wrk_path
from bench.seed import Publisher, multipart_body, tuf_path
from bench.servers import (
    GO_SERVER_BIN,
    GO_SIGNER_BIN,
    BenchError,
    ServerProcess,
    TLSFiles,
    check_postgres,
    exit_on_sigterm,
    start_server,
)
from notary_tuf.canonical import canonical_bytes
from notary_tuf.rolenames import ROOT, TARGETS
from notary_tuf.signed import Envelope, Signature, encode_envelope
from testkit.pg import admin_dsn
from testkit.repo_builder import RepoBuilder, SigningKey, signed_of

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Sequence

GET_GUN: Final = "bench.example.com/stall/get"
VALID_GUN: Final = "bench.example.com/stall/valid"
BOGUS_ROOT_GUN: Final = "bench.example.com/stall/bogus-root"
JUNK_GUN: Final = "bench.example.com/stall/junk"
GET_CONNECTIONS: Final = 4
VALID_ENTRIES: Final = 10_000
BOGUS_SIGNATURES: Final = 60_000
JUNK_BYTES: Final = 16 * 1024 * 1024
"""The server's default ``limits.max_metadata_bytes``: a file of exactly this size is allowed."""
TARGET_P99_MS: Final = 50.0
CPU_PUBLISHES: Final = 5
UPLOAD_TIMEOUT: Final = 120.0

PHASE_ALONE: Final = "alone"
PHASE_VALID: Final = "valid 2 MB targets"
PHASE_BOGUS_ROOT: Final = f"root, {BOGUS_SIGNATURES:,} bogus signatures"
PHASE_JUNK: Final = "16 MiB unknown field"
PHASES: Final = (PHASE_ALONE, PHASE_VALID, PHASE_BOGUS_ROOT, PHASE_JUNK)
LABELS: Final = ("ours", "go")


def _progress(message: str) -> None:
    sys.stderr.write(f"[bench.stall] {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- uploads


def post_upload(
    server: ServerProcess, gun: str, body: bytes, content_type: str, context: ssl.SSLContext
) -> tuple[int, float]:
    """POST one upload on a connection of its own; its status and latency in seconds."""
    conn = http.client.HTTPSConnection(
        "127.0.0.1", server.port, context=context, timeout=UPLOAD_TIMEOUT
    )
    start = time.perf_counter()
    try:
        conn.request(
            "POST", f"/v2/{gun}/_trust/tuf/", body=body, headers={"Content-Type": content_type}
        )
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.perf_counter() - start
    except OSError:
        return 0, time.perf_counter() - start  # 0: no answer (reset, timeout)
    finally:
        conn.close()


def _builder(server: ServerProcess, gun: str, context: ssl.SSLContext) -> RepoBuilder:
    """A repository builder for ``gun`` whose snapshot and timestamp the server signs."""
    publisher = Publisher(server, gun, context)
    keys = {role: publisher._server_key(role) for role in ("timestamp", "snapshot")}  # noqa: SLF001
    return RepoBuilder(gun=gun, timestamp_key=keys["timestamp"], snapshot_key=keys["snapshot"])


def _create(server: ServerProcess, builder: RepoBuilder, context: ssl.SSLContext) -> None:
    """Post the builder's first publish (root + targets) and record it as accepted."""
    parts = builder.publish()
    status, _ = post_upload(server, builder.gun, *multipart_body(parts), context)
    if status != 200:
        raise BenchError(f"{server.label}: creating {builder.gun} got {status}")
    builder.accept(parts)


class ValidUpdates:
    """Valid targets updates of a 10,000-entry repository, signed on demand (~40 ms each).

    Each adds one entry and bumps the version; the canonical bytes come from the
    C encoder (``canonical_bytes(..., str_keys=True)``), which is why this is
    fast enough to keep up with the server.
    """

    def __init__(self, server: ServerProcess, context: ssl.SSLContext) -> None:
        builder = _builder(server, VALID_GUN, context)
        for index in range(VALID_ENTRIES):
            builder.add_target(f"base-{index:06d}", f"base artifact {index}".encode())
        _create(server, builder, context)
        self._key: SigningKey = builder.targets_keys[0]
        self._signed: dict[str, Any] = signed_of(builder.current[TARGETS])
        self._entry = next(iter(self._signed["targets"].values()))
        self._count = 0

    def next_body(self) -> tuple[bytes, str]:
        """The next version's upload (multipart body and content type)."""
        self._count += 1
        self._signed["version"] += 1
        self._signed["targets"][f"pub-{self._count:06d}"] = self._entry
        message = canonical_bytes(self._signed, str_keys=True)
        key = self._key
        signature = Signature(
            keyid=key.key_id, method=key.private.method, sig=key.private.sign(message)
        )
        return multipart_body({TARGETS: encode_envelope(message, [signature])})


def bogus_root_upload(server: ServerProcess, context: ssl.SSLContext) -> tuple[bytes, str]:
    """A first upload whose root carries 60,000 random signatures naming its root key."""
    parts = _builder(server, BOGUS_ROOT_GUN, context).publish()
    envelope = Envelope.from_bytes(parts[ROOT])
    real = envelope.signatures[0]
    bogus = [
        Signature(keyid=real.keyid, method=real.method, sig=os.urandom(len(real.sig)))
        for _ in range(BOGUS_SIGNATURES)
    ]
    parts[ROOT] = encode_envelope(envelope.canonical, bogus)
    return multipart_body(parts)


def junk_upload(server: ServerProcess, context: ssl.SSLContext) -> tuple[bytes, str]:
    """A targets file of exactly :data:`JUNK_BYTES`: an unknown field with many keys.

    The signature is the targets key's over the file *without* that field, so the
    server must parse and canonicalise everything before it can refuse it.
    """
    builder = _builder(server, JUNK_GUN, context)
    _create(server, builder, context)
    document = json.loads(builder.targets_file())
    signatures = json.dumps(document["signatures"], separators=(",", ":"))
    signed = json.dumps(document["signed"], separators=(",", ":"))
    head = '{"signatures":' + signatures + ',"signed":' + signed[:-1]  # "signed" left open
    pieces: list[str] = []
    size = len(head) + len(',"x":{}}}')
    index = 0
    while True:
        piece = f'"k{index:07d}":0'
        if size + len(piece) + 1 + len(',"pad":""') > JUNK_BYTES:
            break
        pieces.append(piece)
        size += len(piece) + 1
        index += 1
    pad = "p" * (JUNK_BYTES - size - len(',"pad":""') + 1)
    text = head + ',"x":{' + ",".join(pieces) + f',"pad":"{pad}"' + "}}}"
    data = text.encode()
    if len(data) != JUNK_BYTES:
        raise BenchError(f"junk upload is {len(data)} bytes, not {JUNK_BYTES}")
    json.loads(data)  # valid JSON, whatever a server makes of it
    return multipart_body({TARGETS: data})


@dataclass
class UploadLog:
    """What the uploading client saw: status codes and latencies (seconds)."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def add(self, status: int, seconds: float) -> None:
        """Record one answer."""
        self.statuses[status] += 1
        self.latencies.append(seconds)

    def extend(self, other: UploadLog) -> None:
        """Pool another round's answers into this one."""
        self.statuses.update(other.statuses)
        self.latencies.extend(other.latencies)

    def summary(self) -> str:
        """``n=3 400x3 p50 0.12 s max 0.20 s``."""
        if not self.latencies:
            return "none"
        codes = " ".join(f"{code}x{n}" for code, n in sorted(self.statuses.items()))
        p50 = statistics.median(self.latencies)
        return f"n={len(self.latencies)} {codes} p50 {p50:.2f} s max {max(self.latencies):.2f} s"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "count": len(self.latencies),
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "p50_s": round(statistics.median(self.latencies), 3) if self.latencies else None,
            "max_s": round(max(self.latencies), 3) if self.latencies else None,
        }


def _keep_uploading(
    server: ServerProcess,
    gun: str,
    bodies: Callable[[], tuple[bytes, str]],
    context: ssl.SSLContext,
    *,
    stop: threading.Event,
    log: UploadLog,
) -> None:
    """Post one upload after the other until ``stop`` is set (the one in flight finishes)."""
    while not stop.is_set():
        log.add(*post_upload(server, gun, *bodies(), context))


# --------------------------------------------------------------------------- phases


@dataclass
class PhaseResult:
    """One server in one phase of one round."""

    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    uploads: UploadLog


def measure_phase(
    server: ServerProcess,
    context: ssl.SSLContext,
    upload: tuple[str, Callable[[], tuple[bytes, str]]] | None,
    *,
    duration: int,
) -> PhaseResult:
    """wrk on the seeded timestamp for ``duration`` s while ``upload`` (gun, bodies) is posted."""
    log = UploadLog()
    stop = threading.Event()
    thread = None
    if upload is not None:
        gun, bodies = upload
        thread = threading.Thread(
            target=_keep_uploading,
            args=(server, gun, bodies, context),
            kwargs={"stop": stop, "log": log},
            daemon=True,
        )
        thread.start()
        time.sleep(0.2)  # the first upload is on its way before the GETs are timed
    try:
        raw = _wrk(
            server.url + tuf_path(GET_GUN, "timestamp"),
            connections=GET_CONNECTIONS,
            threads=1,
            seconds=duration,
        )
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=UPLOAD_TIMEOUT + 10)
    errors: dict[str, int] = raw["errors"]
    return PhaseResult(
        p50_ms=round(raw["p50_us"] / 1000, 2),
        p99_ms=round(raw["p99_us"] / 1000, 2),
        max_ms=round(raw["max_us"] / 1000, 2),
        requests=raw["requests"],
        errors=sum(errors.values()),
        uploads=log,
    )


def cpu_per_publish(
    server: ServerProcess, updates: ValidUpdates, context: ssl.SSLContext
) -> tuple[float, float]:
    """Server CPU seconds and median latency per valid 2 MB publish (sequential, no GETs)."""
    bodies = [updates.next_body() for _ in range(CPU_PUBLISHES + 1)]
    post_upload(server, VALID_GUN, *bodies[0], context)  # warm-up
    before = server.cpu_seconds()
    latencies = []
    for body in bodies[1:]:
        status, seconds = post_upload(server, VALID_GUN, *body, context)
        if status != 200:
            raise BenchError(f"{server.label}: a valid 2 MB publish got {status}")
        latencies.append(seconds)
    return (server.cpu_seconds() - before) / CPU_PUBLISHES, statistics.median(latencies)


# --------------------------------------------------------------------------- the run


@dataclass
class StallResults:
    """Every phase's rounds per server, and the CPU per publish."""

    rounds: dict[str, dict[str, list[PhaseResult]]] = field(
        default_factory=lambda: {phase: {label: [] for label in LABELS} for phase in PHASES}
    )
    cpu: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: {label: [] for label in LABELS}
    )
    sizes: dict[str, int] = field(default_factory=dict)

    def pooled(self, phase: str, label: str) -> dict[str, Any]:
        """Median p50/p99 over rounds, the largest max, all uploads pooled."""
        results = self.rounds[phase][label]
        log = UploadLog()
        for result in results:
            log.extend(result.uploads)
        return {
            "p50_ms": statistics.median(r.p50_ms for r in results),
            "p99_ms": statistics.median(r.p99_ms for r in results),
            "max_ms": max(r.max_ms for r in results),
            "requests": sum(r.requests for r in results),
            "errors": sum(r.errors for r in results),
            "uploads": log,
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        phases = {}
        for phase in PHASES:
            entry: dict[str, Any] = {}
            for label in LABELS:
                pooled = self.pooled(phase, label)
                pooled["uploads"] = pooled["uploads"].as_dict()
                entry[label] = pooled
            phases[phase] = entry
        cpu = {
            label: {
                "cpu_s_per_publish": round(statistics.median(c for c, _ in values), 4),
                "latency_s": round(statistics.median(s for _, s in values), 4),
            }
            for label, values in self.cpu.items()
            if values
        }
        return {"phases": phases, "cpu_per_valid_publish": cpu, "upload_bytes": self.sizes}

    def table(self) -> str:
        """The human-readable report."""
        header = ("phase", "GET p50/p99/max ms ours", "Go", "p99 ours/Go", "uploads ours", "Go")
        lines = [header]
        for phase in PHASES:
            ours, go = self.pooled(phase, "ours"), self.pooled(phase, "go")
            ratio = f"{ours['p99_ms'] / go['p99_ms']:.2f}x" if go["p99_ms"] else "n/a"
            same = ours["uploads"].statuses.keys() == go["uploads"].statuses.keys()
            upload_ratio = ""
            if phase != PHASE_ALONE and same and go["uploads"].latencies:
                ratio_s = statistics.median(ours["uploads"].latencies) / statistics.median(
                    go["uploads"].latencies
                )
                upload_ratio = f" (p50 ours/Go {ratio_s:.2f}x)"
            elif phase != PHASE_ALONE:
                upload_ratio = " (statuses differ: no ratio)"
            lines.append(
                (
                    phase,
                    _lat(ours),
                    _lat(go),
                    ratio,
                    ours["uploads"].summary() + upload_ratio,
                    go["uploads"].summary(),
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        out = [" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
        out.insert(1, "-+-".join("-" * w for w in widths))
        for phase in PHASES[1:]:
            p99 = self.pooled(phase, "ours")["p99_ms"]
            verdict = "ok" if p99 < TARGET_P99_MS else "ABOVE"
            out.append(
                f"target: ours GET p99 during '{phase}' {p99:.1f} ms "
                f"({verdict} < {TARGET_P99_MS:g} ms, one worker)"
            )
        cpu = self.as_dict()["cpu_per_valid_publish"]
        if "ours" in cpu and "go" in cpu:
            ours_cpu, go_cpu = cpu["ours"]["cpu_s_per_publish"], cpu["go"]["cpu_s_per_publish"]
            ratio = f"{ours_cpu / go_cpu:.2f}x" if go_cpu else "n/a"
            latency = cpu["ours"]["latency_s"], cpu["go"]["latency_s"]
            out.append(
                f"server CPU per valid 2 MB publish (sequential, no GETs): ours {ours_cpu:.3f} s, "
                f"Go {go_cpu:.3f} s (ratio {ratio}); latency ours {latency[0]:.3f} s, "
                f"Go {latency[1]:.3f} s"
            )
        sizes = ", ".join(
            f"{name} {size / 1024 / 1024:.1f} MiB" for name, size in self.sizes.items()
        )
        out.append(f"upload bodies: {sizes}")
        return "\n".join(out)


def _lat(pooled: dict[str, Any]) -> str:
    errors = f" ({pooled['errors']} errors)" if pooled["errors"] else ""
    return f"{pooled['p50_ms']:.1f}/{pooled['p99_ms']:.1f}/{pooled['max_ms']:.0f}{errors}"


def _order(round_index: int) -> Sequence[str]:
    return LABELS if round_index % 2 == 0 else tuple(reversed(LABELS))


def run(args: argparse.Namespace, workdir: Path) -> StallResults:
    """Start both stacks, seed them, measure every phase; everything is gone on return."""
    results = StallResults()
    with contextlib.ExitStack() as stack:
        tls = TLSFiles.create(workdir)
        context = tls.client_context()
        servers = {
            "ours": start_server(
                stack, workdir, args.pg_dsn, tls, "ours", go=False, go_signer=False
            ),
            "go": start_server(stack, workdir, args.pg_dsn, tls, "go", go=True, go_signer=True),
        }
        uploads: dict[str, dict[str, tuple[str, Callable[[], tuple[bytes, str]]]]] = {}
        valid: dict[str, ValidUpdates] = {}
        for label, server in servers.items():
            _progress(f"seeding {label}: the GET repository and the upload repositories")
            Publisher(server, GET_GUN, context).prepare(0)
            valid[label] = ValidUpdates(server, context)
            bogus = bogus_root_upload(server, context)
            junk = junk_upload(server, context)
            results.sizes = {
                "valid targets": len(valid[label].next_body()[0]),
                "bogus root": len(bogus[0]),
                "16 MiB junk": len(junk[0]),
            }
            uploads[label] = {
                PHASE_VALID: (VALID_GUN, valid[label].next_body),
                PHASE_BOGUS_ROOT: (BOGUS_ROOT_GUN, _constant(bogus)),
                PHASE_JUNK: (JUNK_GUN, _constant(junk)),
            }
            warm_gets(server)
        for round_index in range(args.rounds):
            for label in _order(round_index):
                _progress(f"CPU per valid publish: {label} (round {round_index + 1})")
                results.cpu[label].append(cpu_per_publish(servers[label], valid[label], context))
        for phase in PHASES:
            for round_index in range(args.rounds):
                for label in _order(round_index):
                    _progress(f"{phase}: {label} (round {round_index + 1} of {args.rounds})")
                    upload = uploads[label].get(phase)
                    results.rounds[phase][label].append(
                        measure_phase(servers[label], context, upload, duration=args.duration)
                    )
    return results


def _constant(body: tuple[bytes, str]) -> Callable[[], tuple[bytes, str]]:
    return lambda: body


def warm_gets(server: ServerProcess) -> None:
    """A short GET load first, so the first measured phase is not a cold start."""
    _wrk(
        server.url + tuf_path(GET_GUN, "timestamp"),
        connections=GET_CONNECTIONS,
        threads=1,
        seconds=1,
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.stall",
        description="GET latency on one worker while large uploads arrive: ours vs Go.",
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per phase (default 5)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "notary-bench-stall.json",
        help="JSON results file (default: %(default)s)",
    )
    parser.add_argument(
        "--pg-dsn",
        default=admin_dsn(),
        help="superuser DSN used to create and drop the databases",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep configs and logs")
    return parser


def _preflight(admin: str) -> None:
    wrk_path()
    for binary in (GO_SERVER_BIN, GO_SIGNER_BIN):
        if not os.access(binary, os.X_OK):
            raise BenchError(f"{binary} missing; install with: apt-get install -y notary")
    check_postgres(admin)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    try:
        _preflight(args.pg_dsn)
    except BenchError as err:
        sys.stderr.write(f"bench.stall: {err}\n")
        if "wrk" in str(err):
            sys.stderr.write(f"bench.stall: {WRK_HINT}\n")
        return 2
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="notary-bench-stall-"))
    try:
        results = run(args, workdir)
    except BenchError as err:
        sys.stderr.write(f"bench.stall: {err}\n")
        return 1
    finally:
        if args.keep_workdir:
            _progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": vars_meta(args), **results.as_dict()}, indent=2) + "\n")
    sys.stdout.write(results.table() + "\n")
    sys.stdout.write(
        f"\nGET timestamp.json, wrk c={GET_CONNECTIONS}; ours: server.workers 1, defaults, our "
        f"signer; Go: its signer; pooled over {args.rounds} alternating rounds. Uploads are "
        "posted one after the other (closed loop): the server that answers them sooner gets "
        f"more of them in the same window. JSON: {args.out}\n"
    )
    return 0


def vars_meta(args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings for the JSON."""
    return {
        "rounds": args.rounds,
        "duration_s": args.duration,
        "get_connections": GET_CONNECTIONS,
        "ours_workers": 1,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    sys.exit(main())
