"""The signer alone: ``Sign`` RPCs to our notary_signer and to Go's notary-signer.

Usage: ``python -m bench.signer [--rounds N] [--count N]`` from the repository
root; ``python -m bench`` runs the same rows after its publish scenarios
(issue #20). See bench/README.md.

Each signer runs on its own throwaway PostgreSQL database (Go's ``private_keys``
schema, made by ``python -m notary_signer migrate`` for both, as
:func:`bench.servers.start_signer` does for the servers' signers), with mutual
TLS. One ecdsa key is created through ``CreateKey`` (the timestamp role of
:data:`GUN`); then ``Sign`` of a timestamp-sized message (:data:`MESSAGE`, 400
bytes) is measured at 1 and at 16 concurrent callers: a warm-up of
:data:`WARMUP_CALLS`, then a fixed number of calls (bounded by a time cap). The
client is one ``grpc.aio`` channel per signer; callers are asyncio tasks, each
making its calls one after the other. Rounds alternate which signer goes first
and are pooled as the other rows (:func:`bench.loadgen.combine`). The signer
process's CPU time over the measured calls (``/proc``) gives CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import grpc

from bench.loadgen import Measurement, combine, percentile
from bench.servers import (
    GO_SIGNER_BIN,
    BenchError,
    TLSFiles,
    check_postgres,
    exit_on_sigterm,
    start_signer,
)
from bench.table import render_table
from notary_proto import signer_pb2, signer_pb2_grpc
from notary_tuf.crypto import verify_signature
from notary_tuf.keys import PublicKey
from testkit.pg import admin_dsn

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bench.servers import Signer

GUN: Final = "bench.example.com/signer"
ROLE: Final = "timestamp"
ALGORITHM: Final = "ecdsa"
CALLERS: Final = (1, 16)
WARMUP_CALLS: Final = 50
DEFAULT_COUNT: Final = 2000
"""Measured calls at 1 caller; at more callers, twice as many."""
SMOKE_COUNT: Final = 100
DEFAULT_MAX_SECONDS: Final = 60.0
CALL_TIMEOUT: Final = 10.0
SIGNERS: Final = ("ours", "go")
ROW_PREFIX: Final = "Sign RPC"
MESSAGE_BYTES: Final = 400
MESSAGE: Final = (
    json.dumps(
        {
            "_type": "Timestamp",
            "expires": "2031-01-01T00:00:00.123456789Z",
            "meta": {
                "snapshot": {
                    "hashes": {"sha256": "q" * 43 + "=", "sha512": "r" * 86 + "=="},
                    "length": 2048,
                    "version": 12,
                }
            },
            "version": 12,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    .encode()
    .ljust(MESSAGE_BYTES)
)
"""A timestamp's ``signed`` part, canonical JSON, padded with (JSON) blanks to the size of a
timestamp file: what the server asks the signer to sign, give or take a hundred bytes."""


def row_name(callers: int) -> str:
    """``Sign RPC c=1 (ecdsa, PostgreSQL keys)``: what the table and ``--scenario`` see."""
    return f"{ROW_PREFIX} c={callers} ({ALGORITHM}, PostgreSQL keys)"


def select_callers(names: Sequence[str] | None) -> list[int]:
    """The caller counts whose row names contain one of ``names`` (all without names)."""
    if not names:
        return list(CALLERS)
    return [c for c in CALLERS if any(n.lower() in row_name(c).lower() for n in names)]


def calls_for(callers: int, count: int) -> int:
    """Measured calls at ``callers``: ``count`` at one caller, twice that at more."""
    return count if callers == 1 else 2 * count


def split_calls(count: int, callers: int) -> list[int]:
    """``count`` calls shared as evenly as can be by ``callers`` callers."""
    return [count // callers + (1 if i < count % callers else 0) for i in range(callers)]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SignRow:
    """One concurrency level: ours and Go's pooled figures."""

    callers: int
    ours: Measurement
    go: Measurement

    @property
    def name(self) -> str:
        """The row's name (:func:`row_name`)."""
        return row_name(self.callers)

    @property
    def ratio(self) -> float | None:
        """Throughput ours / Go (above 1: ours signs faster)."""
        return self.ours.rps / self.go.rps if self.go.rps else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "kind": "sign",
            "callers": self.callers,
            "algorithm": ALGORITHM,
            "key_storage": "postgres",
            "message_bytes": len(MESSAGE),
            "ours": {**self.ours.as_dict(), "cpu_ms_per_call": cpu_ms_per_call(self.ours)},
            "go": {**self.go.as_dict(), "cpu_ms_per_call": cpu_ms_per_call(self.go)},
            "ratio_rps": round(self.ratio, 3) if self.ratio is not None else None,
            "ratio_p50": _div(self.ours.p50_ms, self.go.p50_ms),
            "ratio_p99": _div(self.ours.p99_ms, self.go.p99_ms),
        }


def cpu_ms_per_call(m: Measurement) -> float | None:
    """The signer's CPU milliseconds per measured call (None without calls)."""
    return round(m.server_cpu_s * 1000 / m.requests, 3) if m.requests else None


def _div(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def pool_rows(measured: dict[tuple[str, int], list[Measurement]]) -> list[SignRow]:
    """One row per caller count measured, each signer's rounds pooled."""
    callers = sorted({c for _, c in measured})
    return [
        SignRow(c, combine(measured["ours", c]), combine(measured["go", c]))
        for c in callers
        if ("ours", c) in measured and ("go", c) in measured
    ]


def sign_table(rows: Sequence[SignRow]) -> str:
    """The signer rows as a fixed-width table, with its legend."""
    header = (
        "signer alone",
        "ours calls/s",
        "Go calls/s",
        "ratio",
        "ours p50/p99 ms",
        "Go p50/p99 ms",
        "CPU ms/call ours/Go",
        "errors ours/Go",
    )
    lines = [header]
    lines.extend(
        (
            row.name,
            f"{row.ours.rps:,.1f}",
            f"{row.go.rps:,.1f}",
            f"{row.ratio:.2f}x" if row.ratio is not None else "n/a",
            f"{row.ours.p50_ms:.2f}/{row.ours.p99_ms:.2f}",
            f"{row.go.p50_ms:.2f}/{row.go.p99_ms:.2f}",
            f"{_cpu(row.ours)}/{_cpu(row.go)}",
            f"{row.ours.errors}/{row.go.errors}",
        )
        for row in rows
    )
    out = render_table(lines)
    out.append("")
    out.append(
        f"{ROW_PREFIX}: our notary_signer vs Go's notary-signer, each alone on its own "
        f"PostgreSQL key database; one {ALGORITHM} key ({ROLE} role), Sign of {len(MESSAGE)} "
        "bytes over one mutual-TLS grpc.aio channel, c = concurrent callers; "
        "CPU = the signer process's per measured call"
    )
    return "\n".join(out)


def _cpu(m: Measurement) -> str:
    value = cpu_ms_per_call(m)
    return f"{value:.2f}" if value is not None else "n/a"


# --------------------------------------------------------------------------- measuring


class _Client:
    """One signer's channel, stubs and key."""

    def __init__(self, signer: Signer, tls: TLSFiles) -> None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=tls.ca.read_bytes(),
            private_key=tls.client_key.read_bytes(),
            certificate_chain=tls.client_cert.read_bytes(),
        )
        self.signer = signer
        self.channel = grpc.aio.secure_channel(f"127.0.0.1:{signer.port}", credentials)
        self.keys = signer_pb2_grpc.KeyManagementStub(self.channel)
        self.sign = signer_pb2_grpc.SignerStub(self.channel)
        self.request = signer_pb2.SignatureRequest()
        self.public: PublicKey | None = None

    async def create_key(self) -> None:
        """``CreateKey`` of the ecdsa timestamp key; one signature is checked with it."""
        created = await self.keys.CreateKey(
            signer_pb2.CreateKeyRequest(algorithm=ALGORITHM, gun=GUN, role=ROLE),
            timeout=CALL_TIMEOUT,
        )
        self.request = signer_pb2.SignatureRequest(keyID=created.keyInfo.keyID, content=MESSAGE)
        self.public = PublicKey(ALGORITHM, created.publicKey)
        reply = await self.sign.Sign(self.request, timeout=CALL_TIMEOUT)
        try:
            verify_signature(self.public, reply.algorithm.algorithm, MESSAGE, reply.content)
        except Exception as err:
            raise BenchError(f"{self.signer.label}: its signature does not verify: {err}") from err

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close()

    async def measure(self, callers: int, count: int, max_seconds: float) -> Measurement:
        """Warm up, then ``count`` calls shared by ``callers`` tasks (``max_seconds`` at most)."""
        for _ in range(WARMUP_CALLS):
            await self.sign.Sign(self.request, timeout=CALL_TIMEOUT)
        latencies: list[float] = []
        errors: dict[str, int] = {}
        deadline = 0.0

        async def caller(calls: int) -> None:
            for _ in range(calls):
                if time.perf_counter() > deadline:
                    return
                began = time.perf_counter()
                try:
                    await self.sign.Sign(self.request, timeout=CALL_TIMEOUT)
                except grpc.aio.AioRpcError as err:
                    name = err.code().name.lower()
                    errors[name] = errors.get(name, 0) + 1
                    continue
                latencies.append(time.perf_counter() - began)

        shares = split_calls(count, callers)
        cpu_before = self.signer.cpu_seconds()
        start = time.perf_counter()
        deadline = start + max_seconds
        await asyncio.gather(*(caller(n) for n in shares))
        elapsed = time.perf_counter() - start
        cpu = self.signer.cpu_seconds() - cpu_before
        if not latencies:
            raise BenchError(f"{self.signer.label}: no Sign call succeeded ({errors})")
        return Measurement(
            requests=len(latencies),
            seconds=round(elapsed, 3),
            rps=round(len(latencies) / elapsed, 1),
            p50_ms=round(percentile(latencies, 50) * 1000, 3),
            p99_ms=round(percentile(latencies, 99) * 1000, 3),
            errors=sum(errors.values()),
            server_cpu_s=round(cpu, 2),
            error_detail=errors or None,
        )


def round_order(round_index: int) -> list[str]:
    """Ours first in rounds 1, 3, … (even ``round_index``), Go first in 2, 4, …"""
    return list(SIGNERS) if round_index % 2 == 0 else list(SIGNERS[::-1])


async def _measure_all(
    signers: dict[str, Signer],
    tls: TLSFiles,
    *,
    rounds: int,
    count: int,
    callers: Sequence[int],
    max_seconds: float,
    progress: Callable[[str], None],
) -> dict[tuple[str, int], list[Measurement]]:
    clients = {label: _Client(signer, tls) for label, signer in signers.items()}
    try:
        for client in clients.values():
            await client.create_key()
        measured: dict[tuple[str, int], list[Measurement]] = {}
        for round_index in range(rounds):
            note = f" (round {round_index + 1} of {rounds})" if rounds > 1 else ""
            for c in callers:
                for label in round_order(round_index):
                    progress(f"{row_name(c)}: {label}{note}")
                    measurement = await clients[label].measure(c, calls_for(c, count), max_seconds)
                    measured.setdefault((label, c), []).append(measurement)
        return measured
    finally:
        for client in clients.values():
            await client.close()


def measure_signers(
    admin: str,
    workdir: Path,
    *,
    rounds: int,
    count: int,
    callers: Sequence[int] = CALLERS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    progress: Callable[[str], None] | None = None,
) -> list[SignRow]:
    """Start both signers on throwaway databases, measure, pool; everything is gone on return."""
    say = progress or _progress
    with contextlib.ExitStack() as stack:
        tls_dir = workdir / "signer-tls"
        tls_dir.mkdir(parents=True, exist_ok=True)
        tls = TLSFiles.create(tls_dir)
        signers: dict[str, Signer] = {}
        for label in SIGNERS:
            go = label == "go"
            say(f"starting {'Go' if go else 'our'} signer alone (PostgreSQL keys)")
            signers[label] = start_signer(stack, workdir, admin, tls, f"alone_{label}", go=go)
        measured = asyncio.run(
            _measure_all(
                signers,
                tls,
                rounds=rounds,
                count=count,
                callers=callers,
                max_seconds=max_seconds,
                progress=say,
            )
        )
    return pool_rows(measured)


# --------------------------------------------------------------------------- command line


def _progress(message: str) -> None:
    sys.stderr.write(f"[bench.signer] {message}\n")
    sys.stderr.flush()


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.signer",
        description="Sign RPC latency and throughput: our notary_signer against Go's "
        "notary-signer, both on PostgreSQL key storage.",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternating rounds (ours first in odd ones), pooled (default 2)",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=DEFAULT_COUNT,
        help="measured calls at 1 caller; 16 callers make twice as many (default %(default)s)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=DEFAULT_MAX_SECONDS,
        help="stop a measurement after this long even if fewer calls were made "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "notary-bench-signer.json",
        help="JSON results file (default: %(default)s)",
    )
    parser.add_argument(
        "--pg-dsn",
        default=admin_dsn(),
        help="superuser DSN used to create and drop the two key databases "
        "(default: $NOTARY_TEST_POSTGRES_DSN or %(default)s)",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep configs and signer logs; print where"
    )
    return parser


def meta(*, rounds: int, count: int, callers: Sequence[int], max_seconds: float) -> dict[str, Any]:
    """What the signer rows were measured with (JSON)."""
    return {
        "rounds": rounds,
        "callers": list(callers),
        "calls": {str(c): calls_for(c, count) for c in callers},
        "warmup_calls": WARMUP_CALLS,
        "max_seconds": max_seconds,
        "algorithm": ALGORITHM,
        "message_bytes": len(MESSAGE),
        "key_storage": "postgres",
    }


def preflight(admin: str) -> None:
    """:class:`BenchError` unless Go's signer and PostgreSQL are there."""
    if not os.access(GO_SIGNER_BIN, os.X_OK):
        raise BenchError(f"{GO_SIGNER_BIN} missing; install with: apt-get install -y notary")
    check_postgres(admin)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2: prerequisites missing, 1: run failed)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.count < 1:
        parser.error("--rounds and --count must be at least 1")
    try:
        preflight(args.pg_dsn)
    except BenchError as err:
        sys.stderr.write(f"bench.signer: {err}\n")
        return 2
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="notary-bench-signer-"))
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:
        rows = measure_signers(
            args.pg_dsn,
            workdir,
            rounds=args.rounds,
            count=args.count,
            max_seconds=args.max_seconds,
        )
    except BenchError as err:
        sys.stderr.write(f"bench.signer: {err}\n")
        return 1
    finally:
        if args.keep_workdir:
            _progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    document = {
        "meta": {
            "started": started,
            **meta(
                rounds=args.rounds,
                count=args.count,
                callers=CALLERS,
                max_seconds=args.max_seconds,
            ),
        },
        "signer_rpc": [row.as_dict() for row in rows],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    sys.stdout.write(sign_table(rows) + "\n")
    pooled = f", each row pooled over {args.rounds} rounds" if args.rounds > 1 else ""
    sys.stdout.write(f"\nratio = ours / Go calls/s (>1: ours faster{pooled}). JSON: {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
