"""Run our server and the Go notary-server side by side and compare them.

Usage: ``python -m bench [--smoke] [--duration S] [--out results.json]`` (or
``python bench/run.py …``) from the repository root. See bench/README.md.

One run: a throwaway CA, two throwaway PostgreSQL databases (migrated by our
``migrate``), both servers started with TLS, the same repository seeded into each
with the real ``notary`` CLI, then every scenario measured on ours and on Go back
to back. Servers, databases and temporary files are cleaned up even on failure
or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if __package__ in (None, ""):  # run as ``python bench/run.py``: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import notary_tuf
from bench.loadgen import WRK_HINT, Measurement, run_get, run_publishes, wrk_path
from bench.report import Results, Row
from bench.scenarios import Scenario, select
from bench.seed import NOTARY_BIN, Publisher, resolve_get_paths, seed_with_cli
from bench.servers import (
    GO_SERVER_BIN,
    BenchError,
    ServerProcess,
    TLSFiles,
    check_postgres,
    create_database,
    drop_database,
    migrate,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

    from bench.seed import GetPaths

DEFAULT_DSN: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
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
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument(
        "--publish-count", type=int, help="timed publishes per server (default 100; smoke 5)"
    )
    parser.add_argument(
        "--publish-max-seconds",
        type=float,
        default=60.0,
        help="stop timing publishes after this long even if fewer were done (default 60)",
    )
    parser.add_argument(
        "--targets", type=int, help="targets in the seeded repository (default 10; smoke 2)"
    )
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="run only scenarios whose name contains NAME (repeatable)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "notary-bench-results.json",
        help="JSON results file (default: %(default)s)",
    )
    parser.add_argument(
        "--pg-dsn",
        default=os.environ.get("NOTARY_TEST_POSTGRES_DSN") or DEFAULT_DSN,
        help="superuser DSN used to create and drop the two databases "
        "(default: $NOTARY_TEST_POSTGRES_DSN or %(default)s)",
    )
    parser.add_argument(
        "--keep-workdir", action="store_true", help="keep configs and server logs; print where"
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


def _meta(args: argparse.Namespace, scenarios: list[Scenario]) -> dict[str, Any]:
    return {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "wrk_threads": args.threads,
        "publish_count": args.publish_count,
        "publish_warmup": PUBLISH_WARMUP,
        "seeded_targets": args.targets,
        "scenarios": [s.name for s in scenarios],
        "storage": "postgres",
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
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if smoke else full)


def _preflight(admin: str) -> None:
    wrk_path()
    for binary in (GO_SERVER_BIN, NOTARY_BIN):
        if not os.access(binary, os.X_OK):
            raise BenchError(f"{binary} missing; install with: apt-get install -y notary")
    check_postgres(admin)


def _start_servers(
    stack: contextlib.ExitStack, workdir: Path, admin: str
) -> dict[str, ServerProcess]:
    tls = TLSFiles.create(workdir)
    servers: dict[str, ServerProcess] = {}
    for label, go in (("ours", False), ("go", True)):
        dsn = create_database(admin, f"notary_bench_{label}")
        stack.callback(drop_database, admin, dsn)
        server = ServerProcess(label=label, workdir=workdir / label, tls=tls, db_url=dsn, go=go)
        server.write_config()
        migrate(server.config_path)
        _progress(f"starting {label} server")
        server.start()
        stack.callback(server.stop)
        servers[label] = server
    return servers


def _measure_gets(
    args: argparse.Namespace,
    scenarios: list[Scenario],
    servers: dict[str, ServerProcess],
    paths: dict[str, GetPaths],
    results: Results,
) -> None:
    for scenario in scenarios:
        assert scenario.path is not None
        measured: dict[str, Measurement] = {}
        for label, server in servers.items():
            _progress(f"{scenario.name}: {label}")
            measured[label] = run_get(
                server,
                getattr(paths[label], scenario.path),
                connections=scenario.connections,
                threads=args.threads,
                warmup=args.warmup,
                duration=args.duration,
            )
        results.rows.append(Row(scenario, measured["ours"], measured["go"]))


def _measure_publishes(
    args: argparse.Namespace,
    scenarios: list[Scenario],
    servers: dict[str, ServerProcess],
    results: Results,
) -> None:
    for scenario in scenarios:
        measured: dict[str, Measurement] = {}
        for label, server in servers.items():
            _progress(f"{scenario.name}: {label} (signing {args.publish_count} updates)")
            publisher = Publisher(
                server, f"{PUBLISH_GUN}-{len(results.rows)}", server.tls.client_context()
            )
            publisher.prepare(PUBLISH_WARMUP + args.publish_count)
            measured[label] = run_publishes(
                publisher,
                warmup=PUBLISH_WARMUP,
                count=args.publish_count,
                max_seconds=args.publish_max_seconds,
            )
        results.rows.append(Row(scenario, measured["ours"], measured["go"]))


def _record_rss(results: Results, servers: dict[str, ServerProcess], moment: str) -> None:
    for label, server in servers.items():
        results.rss_kib[label][moment] = server.rss_kib()


def benchmark(args: argparse.Namespace, workdir: Path) -> Results:
    """Run the whole benchmark in ``workdir``; servers and databases are gone on return."""
    scenarios = select(smoke=args.smoke, names=args.scenario)
    results = Results(meta=_meta(args, scenarios))
    gets = [s for s in scenarios if s.kind == "get"]
    publishes = [s for s in scenarios if s.kind == "publish"]
    with contextlib.ExitStack() as stack:
        servers = _start_servers(stack, workdir, args.pg_dsn)
        paths: dict[str, GetPaths] = {}
        for label, server in servers.items():
            _progress(f"seeding {label} with the notary CLI ({args.targets} targets)")
            seed_with_cli(server, workdir / f"cli-{label}", GET_GUN, targets=args.targets)
            paths[label] = resolve_get_paths(server, GET_GUN, server.tls.client_context())
        _record_rss(results, servers, "idle")
        if gets:
            _measure_gets(args, gets, servers, paths, results)
            _record_rss(results, servers, "after_get")
        if publishes:
            _measure_publishes(args, publishes, servers, results)
            _record_rss(results, servers, "after_publish")
    return results


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the cleanup callbacks


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2: prerequisites missing, 1: run failed)."""
    args = build_parser().parse_args(argv)
    _apply_defaults(args)
    try:
        _preflight(args.pg_dsn)
    except BenchError as err:
        sys.stderr.write(f"bench: {err}\n")
        if "wrk" in str(err):
            sys.stderr.write(f"bench: {WRK_HINT}\n")
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
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
    sys.stdout.write(f"\nratio = ours / Go throughput (>1: ours faster). JSON: {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
