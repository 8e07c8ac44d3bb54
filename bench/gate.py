"""The registry gate's cost: a cached, signed manifest GET through the gate vs. the bare registry.

``python -m bench.gate [--rounds 3] [--duration 10]`` starts Debian's
``docker-registry``, our notary server, and the gate in front (as the gate's
end-to-end tests do, ``testkit/realparts.py``), pushes one image with
skopeo, signs its tag with the real ``notary`` CLI, and then measures, with wrk,
``GET /v2/prod/app/manifests/v1`` on the registry and through the gate, in
the same run, rounds alternating which goes first:

* ``c=1``: the gate's added latency at p50 (target: under 1 ms);
* ``c=16``: the gate's throughput relative to the registry's (target: at least 0.5);
* ``not enforced c=1``: a repository outside the prefixes, so the proxy hop
  alone (the difference to the first row is the verification's share).

Trust data is cached for the default ``cache.max_age`` (30 s), so a round sees
at most a trust-server load per 30 s, as a busy deployment would. Prints a
table and writes JSON (``--out``). Exit status: 0 done, 1 the run failed, 2 a
prerequisite is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from bench.loadgen import Measurement, _wrk, combine, measurement
from bench.procfs import cpu_seconds
from bench.servers import BenchError
from notary_runtime.processes import free_port
from testkit.gotools import NotaryCLI
from testkit.ourserver import OurNotaryServer
from testkit.realparts import (
    OCI_MANIFEST,
    GateProcess,
    RegistryProcess,
    Skopeo,
    write_oci_layout,
)

REPOSITORY: Final = "prod/app"
PATH: Final = f"/v2/{REPOSITORY}/manifests/v1"
UNENFORCED_PATH: Final = "/v2/dev/app/manifests/v1"
SCENARIOS: Final = (
    ("latency c=1", 1, PATH),
    ("throughput c=16", 16, PATH),
    ("not enforced c=1", 1, UNENFORCED_PATH),
)
"""Label, connections, path. The last row separates the proxy hop from the verification."""
LATENCY_TARGET_MS: Final = 1.0
THROUGHPUT_TARGET: Final = 0.5


def _measure(url: str, pid: int, connections: int, warmup: int, duration: int) -> Measurement:
    headers = {"Accept": OCI_MANIFEST}
    if warmup:
        _wrk(url, connections=connections, threads=1, seconds=warmup, headers=headers)
    before = cpu_seconds(pid)
    raw = _wrk(url, connections=connections, threads=1, seconds=duration, headers=headers)
    return measurement(raw, cpu_seconds(pid) - before)


def _prepare(
    workdir: Path, started: list[RegistryProcess | OurNotaryServer | GateProcess]
) -> tuple[RegistryProcess, GateProcess]:
    """Start the three processes (each added to ``started``), push and sign the image."""
    registry = RegistryProcess(workdir / "registry")
    trust = OurNotaryServer(workdir / "trust", log_level="error")
    gate = GateProcess(workdir / "gate", {})
    gate.port = free_port()
    started.append(registry)
    registry.start()
    started.append(trust)
    trust.start()
    gate.config = {
        "registry": {"url": registry.url, "name": gate.address},
        "trust_server": {"url": trust.url, "tls_ca_file": str(trust.ca_path)},
        "enforce": [f"{gate.address}/prod/"],
        "logging": {"level": "error"},
    }
    started.append(gate)
    gate.start()
    image = write_oci_layout(workdir / "layout", "latest", "bench image")
    for repository in (REPOSITORY, "dev/app"):
        pushed = Skopeo(workdir / "skopeo").copy(
            f"oci:{image.layout}:latest", f"docker://{registry.address}/{repository}:v1"
        )
        if pushed.returncode != 0:
            raise BenchError(f"skopeo copy failed:\n{pushed.stderr}")
    notary = NotaryCLI(workdir / "notary", server_url=trust.url, ca_path=trust.ca_path)
    gun = f"{gate.address}/{REPOSITORY}"
    notary.run("init", gun, "-p")
    digest = image.digest.removeprefix("sha256:")
    notary.run("addhash", gun, "v1", str(len(image.manifest)), "--sha256", digest)
    notary.run("publish", gun)
    return registry, gate


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start everything, measure, stop everything; return the results."""
    workdir = Path(tempfile.mkdtemp(prefix="notary-gate-bench-"))
    started: list[RegistryProcess | OurNotaryServer | GateProcess] = []
    try:
        registry, gate = _prepare(workdir, started)
        pids = {"registry": registry.pid, "gate": gate.pid}
        bases = {"registry": registry.url, "gate": gate.url}
        rows = []
        for label, connections, path in SCENARIOS:
            rounds: dict[str, list[Measurement]] = {"registry": [], "gate": []}
            for number in range(args.rounds):
                order = ["registry", "gate"] if number % 2 == 0 else ["gate", "registry"]
                for name in order:
                    url, pid = bases[name] + path, pids[name]
                    rounds[name].append(_measure(url, pid, connections, args.warmup, args.duration))
            bare, gated = combine(rounds["registry"]), combine(rounds["gate"])
            rows.append(
                {
                    "scenario": label,
                    "path": path,
                    "registry": bare.as_dict(),
                    "gate": gated.as_dict(),
                    "added_p50_ms": round(gated.p50_ms - bare.p50_ms, 3),
                    "throughput_ratio": round(gated.rps / bare.rps, 3) if bare.rps else 0.0,
                }
            )
        return {
            "meta": {
                "rounds": args.rounds,
                "duration_s": args.duration,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            "scenarios": rows,
        }
    finally:
        for process in reversed(started):
            process.stop()
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def report(results: dict[str, Any]) -> str:
    """The table."""
    header = (
        "scenario | registry req/s | gate req/s | ratio | registry p50/p99 ms | "
        "gate p50/p99 ms | added p50 ms | errors reg/gate"
    )
    lines = [header]
    for row in results["scenarios"]:
        bare, gated = row["registry"], row["gate"]
        lines.append(
            f"{row['scenario']} | {bare['rps']:.0f} | {gated['rps']:.0f} | "
            f"{row['throughput_ratio']:.2f} | {bare['p50_ms']:.3f}/{bare['p99_ms']:.3f} | "
            f"{gated['p50_ms']:.3f}/{gated['p99_ms']:.3f} | {row['added_p50_ms']:.3f} | "
            f"{bare['errors']}/{gated['errors']}"
        )
    latency, throughput = results["scenarios"][:2]
    lines.append(
        f"targets: added p50 at c=1 {latency['added_p50_ms']:.3f} ms "
        f"({'ok' if latency['added_p50_ms'] < LATENCY_TARGET_MS else 'ABOVE'} < 1 ms); "
        f"throughput ratio at c=16 {throughput['throughput_ratio']:.2f} "
        f"({'ok' if throughput['throughput_ratio'] >= THROUGHPUT_TARGET else 'BELOW'} >= 0.5)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench.gate", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--duration", type=int, default=10, help="measured s per round")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up s per round")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "gate.json")
    parser.add_argument("--keep-workdir", action="store_true")
    args = parser.parse_args(argv)
    for program in ("docker-registry", "skopeo", "notary", "wrk"):
        if shutil.which(program) is None:
            sys.stderr.write(f"{program} is missing: apt-get install -y {program}\n")
            return 2
    try:
        results = run(args)
    except BenchError as e:
        sys.stderr.write(f"bench.gate: {e}\n")
        return 1
    args.out.write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
