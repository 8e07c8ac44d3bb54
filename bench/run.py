"""Run our server and the Go notary-server side by side and compare them.

Usage: ``python -m bench [--smoke] [--duration S] [--out results.json]`` (or
``python bench/run.py …``) from the repository root. See bench/README.md.

One run: a throwaway CA, throwaway PostgreSQL databases (migrated by our
``migrate``), the servers started with TLS -- ours as installed with our signer
(the headline rows), ours tuned (512 MiB cache, 120 s warm-up) with Go's signer
(labelled rows), Go with Go's signer -- the same repository seeded into each with
the real ``notary`` CLI, then every scenario measured on each in alternating
rounds (at least two by default). Every signer keeps its keys in a throwaway
PostgreSQL database of its own (in memory only beside Go's in-memory server).
After the publishes, the two signers alone (:mod:`bench.signer`): Sign RPCs at 1
and 16 callers, ours against Go's. Servers, databases and temporary files are
cleaned up even on failure or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if __package__ in (None, ""):  # run as ``python bench/run.py``: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import notary_tuf
from bench.extra import SCALE_PREFIX, random_gun_script, run_parallel_publishes, seed_scale
from bench.loadgen import WRK_HINT, Measurement, combine, run_get, run_publishes, wrk_path
from bench.report import VARIANTS, Results, Row
from bench.scenarios import Scenario, select
from bench.seed import NOTARY_BIN, Publisher, https_get, resolve_get_paths, seed_with_cli
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
from bench.signer import SMOKE_COUNT as SIGN_SMOKE_COUNT
from bench.signer import measure_signers, select_callers
from bench.signer import meta as sign_meta
from bench.stall import main as stall_main
from testkit.pg import admin_dsn

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bench.seed import GetPaths

GET_GUN: Final = "bench.example.com/library/app"
PUBLISH_GUN: Final = "bench.example.com/library/published"
PUBLISH_WARMUP: Final = 3


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark our notary server against the Go notary-server (PostgreSQL, TLS).",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="1 s runs of a couple of scenarios (for CI)"
    )
    parser.add_argument(
        "--duration", type=int, help="measured seconds per GET scenario (default 10; smoke 1)"
    )
    parser.add_argument(
        "--warmup", type=int, help="warm-up seconds before each GET scenario (default 2; smoke 1)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="measure each scenario this many times, ours first in odd rounds and Go first in "
        "even ones, and pool the rounds (default 2)",
    )
    parser.add_argument(
        "--skip-tuned",
        action="store_true",
        help="leave out the rows of ours tuned (512 MiB cache, 120 s warm-up, Go signer)",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="our server.workers (default: the number of CPUs, %(default)s)",
    )
    parser.add_argument(
        "--publish-count", type=int, help="timed publishes per server (default 100; smoke 5)"
    )
    parser.add_argument(
        "--publish-max-seconds",
        type=float,
        default=60.0,
        help="stop timing publishes (and each Sign measurement of the signer-alone rows) "
        "after this long even if fewer were done (default 60)",
    )
    parser.add_argument(
        "--targets", type=int, help="targets in the seeded repository (default 10; smoke 2)"
    )
    parser.add_argument(
        "--sign-count",
        type=int,
        help="signer-alone rows: measured Sign calls at 1 caller, twice as many at 16 "
        f"(default 2000; smoke {SIGN_SMOKE_COUNT})",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="run only scenarios whose name contains NAME (repeatable; the signer-alone "
        "rows are 'Sign RPC c=1 …' and 'Sign RPC c=16 …')",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "notary-bench-results.json",
        help="JSON results file (default: %(default)s)",
    )
    parser.add_argument(
        "--pg-dsn",
        default=admin_dsn(),
        help="superuser DSN used to create and drop the two databases "
        "(default: $NOTARY_TEST_POSTGRES_DSN or %(default)s)",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep configs and server logs; print where"
    )
    parser.add_argument(
        "--stall",
        action="store_true",
        help="then run bench.stall (one worker, large uploads) with the same rounds and duration",
    )
    return parser


def _progress(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def _tool_version(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    return (
        (proc.stdout or proc.stderr).strip().splitlines()[0] if proc.stdout or proc.stderr else ""
    )


def _meta(
    args: argparse.Namespace, scenarios: list[Scenario], sign_callers: list[int]
) -> dict[str, Any]:
    signer = None
    if sign_callers:
        signer = sign_meta(
            rounds=args.rounds,
            count=args.sign_count,
            callers=sign_callers,
            max_seconds=args.publish_max_seconds,
        )
    return {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rounds": args.rounds,
        "ours_variants": _variants(args),
        "wrk_threads": args.threads,
        "ours_workers": args.workers,
        "publish_count": args.publish_count,
        "publish_warmup": PUBLISH_WARMUP,
        "seeded_targets": args.targets,
        "scenarios": [s.name for s in scenarios],
        "storage": "postgres",
        "signers": {},  # per server: whose signer and its key storage (filled at start)
        "signer_rpc": signer,
        "tls": True,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "ours_version": notary_tuf.__version__,
        "go_notary_package": _tool_version(["dpkg-query", "-W", "-f=${Version}", "notary"]),
        "wrk": _tool_version([wrk_path(), "-v"]),
    }


def _apply_defaults(args: argparse.Namespace) -> None:
    smoke = args.smoke
    for name, full, quick in (
        ("duration", 10, 1),
        ("warmup", 2, 1),
        ("publish_count", 100, 5),
        ("targets", 10, 2),
        ("sign_count", 2000, SIGN_SMOKE_COUNT),
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if smoke else full)


def _preflight(admin: str) -> None:
    wrk_path()
    for binary in (GO_SERVER_BIN, GO_SIGNER_BIN, NOTARY_BIN):
        if not os.access(binary, os.X_OK):
            raise BenchError(f"{binary} missing; install with: apt-get install -y notary")
    check_postgres(admin)


def _selection(args: argparse.Namespace) -> tuple[list[Scenario], list[int]]:
    """The server scenarios and the signer-alone caller counts ``--scenario`` picks.

    Raises:
        ValueError: ``--scenario`` names match neither.
    """
    sign_callers = select_callers(args.scenario)
    try:
        scenarios = select(smoke=args.smoke, names=args.scenario)
    except ValueError:
        if not sign_callers:
            raise
        scenarios = []
    return scenarios, sign_callers


def _variants(args: argparse.Namespace) -> list[str]:
    """Our servers in this run: ``ours`` (defaults, our signer), ``ours_tuned`` unless skipped."""
    return [v for v in VARIANTS if v == "ours" or not args.skip_tuned]


def _start_servers(
    stack: contextlib.ExitStack,
    workdir: Path,
    args: argparse.Namespace,
    *,
    go_memory: bool,
) -> dict[str, ServerProcess]:
    """Ours as installed with our signer, ours tuned with Go's signer, Go with Go's signer.

    Both of ours run ``--workers`` workers (one per CPU by default, as Go uses every core).
    """
    tls = TLSFiles.create(workdir)
    servers: dict[str, ServerProcess] = {}
    admin = args.pg_dsn
    for label in _variants(args):
        tuned = label == "ours_tuned"
        servers[label] = start_server(
            stack,
            workdir,
            admin,
            tls,
            label,
            go=False,
            go_signer=tuned,
            workers=args.workers,
            tuned=tuned,
        )
    servers["go"] = start_server(stack, workdir, admin, tls, "go", go=True, go_signer=True)
    if go_memory:
        servers["go_memory"] = start_server(
            stack, workdir, admin, tls, "go_memory", go=True, go_signer=True, backend="memory"
        )
    return servers


def _get_options(
    scenario: Scenario, server: ServerProcess, path: str, workdir: Path
) -> dict[str, Any]:
    """wrk's extra options for a scenario: validators, or a random GUN per request."""
    if scenario.conditional:
        body = https_get(server, path, server.tls.client_context())
        return {"headers": {"If-None-Match": f'"{hashlib.sha256(body).hexdigest()}"'}}
    if scenario.guns:
        env = {"BENCH_PREFIX": SCALE_PREFIX, "BENCH_GUNS": str(scenario.guns)}
        return {"script": random_gun_script(workdir), "env": env}
    return {}


def _round_order(round_index: int, ours: Sequence[str], against: str) -> list[str]:
    """Who goes first: ours in rounds 1, 3, … (even ``round_index``), the other in 2, 4, …"""
    order = [*ours, against]
    return order if round_index % 2 == 0 else order[::-1]


def _rows(
    scenario: Scenario, measured: dict[str, list[Measurement]], ours: Sequence[str]
) -> list[Row]:
    """One row per variant of ours, each against the same measurements of the other server."""
    other = combine(measured[scenario.against])
    return [Row(scenario, combine(measured[label]), other, variant=label) for label in ours]


def _measure_gets(
    args: argparse.Namespace,
    scenarios: list[Scenario],
    servers: dict[str, ServerProcess],
    paths: dict[str, GetPaths],
    results: Results,
) -> None:
    ours = _variants(args)
    for scenario in scenarios:
        assert scenario.path is not None
        measured: dict[str, list[Measurement]] = {label: [] for label in [*ours, scenario.against]}
        for round_index in range(args.rounds):
            for label in _round_order(round_index, ours, scenario.against):
                server = servers[label]
                _progress(f"{scenario.name}: {label}{_round_note(args, round_index)}")
                path = getattr(paths[label], scenario.path)
                measured[label].append(
                    run_get(
                        server,
                        path,
                        connections=scenario.connections,
                        threads=args.threads,
                        warmup=args.warmup,
                        duration=args.duration,
                        **_get_options(scenario, server, path, server.workdir),
                    )
                )
        results.rows.extend(_rows(scenario, measured, ours))


def _round_note(args: argparse.Namespace, round_index: int) -> str:
    return f" (round {round_index + 1} of {args.rounds})" if args.rounds > 1 else ""


def _publish_once(
    args: argparse.Namespace, scenario: Scenario, server: ServerProcess, gun: str
) -> Measurement:
    context = server.tls.client_context()
    if scenario.kind == "publish_parallel":
        count = max(1, args.publish_count // 4)
        publishers = [Publisher(server, f"{gun}-{i}", context) for i in range(scenario.parallel)]
        for publisher in publishers:
            publisher.prepare(PUBLISH_WARMUP + count)
        return run_parallel_publishes(
            publishers, warmup=PUBLISH_WARMUP, count=count, max_seconds=args.publish_max_seconds
        )
    count = args.publish_count if scenario.kind == "publish" else max(1, args.publish_count // 5)
    publisher = Publisher(server, gun, context)
    publisher.prepare(PUBLISH_WARMUP + count, initial_targets=scenario.entries)
    return run_publishes(
        publisher, warmup=PUBLISH_WARMUP, count=count, max_seconds=args.publish_max_seconds
    )


def _measure_publishes(
    args: argparse.Namespace,
    scenarios: list[Scenario],
    servers: dict[str, ServerProcess],
    results: Results,
) -> None:
    ours = _variants(args)
    for scenario_index, scenario in enumerate(scenarios):
        measured: dict[str, list[Measurement]] = {label: [] for label in [*ours, scenario.against]}
        for round_index in range(args.rounds):
            # A repository of its own per scenario and round: each starts empty.
            gun = f"{PUBLISH_GUN}-{scenario_index}-{round_index}"
            for label in _round_order(round_index, ours, scenario.against):
                note = _round_note(args, round_index)
                _progress(f"{scenario.name}: {label}{note} (signing the updates first)")
                measured[label].append(_publish_once(args, scenario, servers[label], gun))
        results.rows.extend(_rows(scenario, measured, ours))


def _record_rss(results: Results, servers: dict[str, ServerProcess], moment: str) -> None:
    for label in results.rss_kib:
        results.rss_kib[label][moment] = servers[label].rss_kib()


def benchmark(args: argparse.Namespace, workdir: Path) -> Results:
    """Run the whole benchmark in ``workdir``; servers and databases are gone on return."""
    scenarios, sign_callers = _selection(args)
    results = Results(meta=_meta(args, scenarios, sign_callers), servers=(*_variants(args), "go"))
    if scenarios:
        _benchmark_servers(args, workdir, scenarios, results)
    if sign_callers:
        # The servers (and their signers) are stopped by now: the two signers
        # measured alone have the machine to themselves.
        results.signer_rows = measure_signers(
            args.pg_dsn,
            workdir,
            rounds=args.rounds,
            count=args.sign_count,
            callers=sign_callers,
            max_seconds=args.publish_max_seconds,
            progress=_progress,
        )
    return results


def _benchmark_servers(
    args: argparse.Namespace, workdir: Path, scenarios: list[Scenario], results: Results
) -> None:
    """Start the servers, seed them, measure ``scenarios`` into ``results``, stop them."""
    gets = [s for s in scenarios if s.kind == "get"]
    publishes = [s for s in scenarios if s.kind != "get"]
    go_memory = any(s.against == "go_memory" for s in scenarios)
    with contextlib.ExitStack() as stack:
        servers = _start_servers(stack, workdir, args, go_memory=go_memory)
        paths: dict[str, GetPaths] = {}
        for label, server in servers.items():
            _progress(f"seeding {label} with the notary CLI ({args.targets} targets)")
            seed_with_cli(server, workdir / f"cli-{label}", GET_GUN, targets=args.targets)
            paths[label] = resolve_get_paths(server, GET_GUN, server.tls.client_context())
        scale = max((s.guns for s in gets), default=0)
        if scale:
            for label in (*_variants(args), "go"):
                _progress(f"copying the repository under {scale:,} GUNs for {label}")
                seed_scale(servers[label], GET_GUN, scale)
                # The copy bypasses the servers; a restart is where a server
                # meets a database this size (ours warms its cache first).
                _progress(f"restarting {label}")
                servers[label].stop()
                servers[label].start()
        results.meta["signers"] = {
            label: server.signer.describe()
            for label, server in servers.items()
            if server.signer is not None
        }
        _record_rss(results, servers, "idle")
        if gets:
            _measure_gets(args, gets, servers, paths, results)
            _record_rss(results, servers, "after_get")
        if publishes:
            _measure_publishes(args, publishes, servers, results)
            _record_rss(results, servers, "after_publish")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2: prerequisites missing, 1: run failed)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    _apply_defaults(args)
    if args.sign_count < 1:
        parser.error("--sign-count must be at least 1")
    try:
        _selection(args)
    except ValueError as err:
        parser.error(str(err))
    try:
        _preflight(args.pg_dsn)
    except BenchError as err:
        sys.stderr.write(f"bench: {err}\n")
        if "wrk" in str(err):
            sys.stderr.write(f"bench: {WRK_HINT}\n")
        return 2
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="notary-bench-"))
    try:
        results = benchmark(args, workdir)
    except BenchError as err:
        sys.stderr.write(f"bench: {err}\n")
        return 1
    finally:
        if args.keep_workdir:
            _progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results.write_json(args.out)
    sys.stdout.write(results.table() + "\n")
    pooled = f", each row pooled over {args.rounds} rounds" if args.rounds > 1 else ""
    sys.stdout.write(
        f"\nratio = ours / Go throughput (>1: ours faster{pooled}; n/a where the work differs)."
        f" JSON: {args.out}\n"
    )
    if args.stall:
        sys.stdout.write("\n")
        sys.stdout.flush()
        stall_args = ["--rounds", str(args.rounds), "--duration", str(args.duration)]
        return stall_main([*stall_args, "--pg-dsn", args.pg_dsn])
    return 0


if __name__ == "__main__":
    sys.exit(main())
