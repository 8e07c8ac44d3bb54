"""Results: one row per scenario and variant of ours, with both servers' figures and the ratio.

Variants of ours (:data:`VARIANTS`): ``ours`` is the headline, the server as
installed (no ``metadata_cache`` section: 128 MiB, 10 s warm-up) signing through
our signer; ``ours_tuned`` has the 512 MiB cache and 120 s warm-up of the
100,000-GUN scenario and signs through Go's signer (the configuration of the runs
before issue #18). Go always signs through Go's signer. Every signer keeps its
keys in PostgreSQL (memory only beside Go's in-memory server). The signer-alone
rows (:class:`bench.signer.SignRow`, issue #20) have a table of their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.loadgen import Measurement
from bench.scenarios import Scenario
from bench.signer import sign_table
from bench.table import render_table

if TYPE_CHECKING:
    from bench.signer import SignRow

VARIANTS = ("ours", "ours_tuned")
VARIANT_TAGS = {"ours": "defaults, our signer", "ours_tuned": "tuned, Go signer"}
SCALE_TARGET = 1.2


@dataclass
class Row:
    """One scenario's outcome on both servers."""

    scenario: Scenario
    ours: Measurement
    go: Measurement
    variant: str = "ours"

    @property
    def name(self) -> str:
        """The scenario's name with the variant of ours: ``… [defaults, our signer]``."""
        return f"{self.scenario.name} [{VARIANT_TAGS.get(self.variant, self.variant)}]"

    @property
    def ratio(self) -> float | None:
        """Throughput ours / Go (above 1: we are faster); None where the work differs."""
        if self.scenario.work_differs or not self.go.rps:
            return None
        return self.ours.rps / self.go.rps

    @property
    def meets_target(self) -> bool | None:
        """Whether the ratio reaches the scenario's target (None: no target set)."""
        target = self.scenario.target_ratio
        if target is None or self.ratio is None:
            return None
        return self.ratio >= target

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        s = self.scenario
        same = not s.work_differs
        return {
            "name": s.name,
            "variant": self.variant,
            "work_differs": s.work_differs or None,
            "kind": s.kind,
            "connections": s.connections,
            "description": s.description,
            "ours": self.ours.as_dict(),
            "go": self.go.as_dict(),
            "ratio_rps": round(self.ratio, 3) if self.ratio is not None else None,
            "ratio_p50": _div(self.ours.p50_ms, self.go.p50_ms) if same else None,
            "ratio_p99": _div(self.ours.p99_ms, self.go.p99_ms) if same else None,
            "target_ratio": s.target_ratio,
            "meets_target": self.meets_target,
        }


def _div(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


@dataclass
class Results:
    """Everything one run produced."""

    meta: dict[str, Any]
    servers: tuple[str, ...] = ("ours", "go")
    rows: list[Row] = field(default_factory=list)
    rss_kib: dict[str, dict[str, int]] = field(default_factory=dict)
    signer_rows: list[SignRow] = field(default_factory=list)

    def __post_init__(self) -> None:
        """One RSS record per server."""
        for label in self.servers:
            self.rss_kib.setdefault(label, {})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "meta": self.meta,
            "scenarios": [row.as_dict() for row in self.rows],
            "rss_kib": self.rss_kib,
            "signer_rpc": [row.as_dict() for row in self.signer_rows],
        }

    def write_json(self, path: Path) -> None:
        """Write :meth:`as_dict` to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    def table(self) -> str:
        """The human-readable tables (plain text, fixed-width columns): servers, then signers."""
        parts = [self._server_table()] if self.rows else []
        if self.signer_rows:
            parts.append(sign_table(self.signer_rows))
        return "\n\n".join(parts)

    def _server_table(self) -> str:
        header = (
            "scenario",
            "ours req/s",
            "Go req/s",
            "ratio",
            "ours p50/p99 ms",
            "Go p50/p99 ms",
            "CPU s ours/Go",
            "errors ours/Go",
        )
        lines = [header]
        for row in self.rows:
            ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "n/a"
            if row.scenario.work_differs:
                ratio = "n/a (work differs)"
            if row.meets_target is not None:
                verdict = "ok" if row.meets_target else "BELOW"
                ratio += f" ({verdict} >= {row.scenario.target_ratio:g}x)"
            lines.append(
                (
                    row.name,
                    f"{row.ours.rps:,.1f}",
                    f"{row.go.rps:,.1f}",
                    ratio,
                    _lat(row.ours),
                    _lat(row.go),
                    f"{row.ours.server_cpu_s:.1f}/{row.go.server_cpu_s:.1f}",
                    f"{row.ours.errors}/{row.go.errors}",
                )
            )
        out = render_table(lines)
        out.append("")
        out.extend(self._legend_lines())
        out.extend(self._scale_lines())
        out.extend(self._rss_lines())
        return "\n".join(out)

    def _legend_lines(self) -> list[str]:
        present = [v for v in VARIANTS if any(r.variant == v for r in self.rows)]
        legend = {
            "ours": "our server as installed (metadata_cache defaults) + our notary_signer "
            "vs Go + Go's notary-signer: the headline",
            "ours_tuned": "metadata_cache 512 MiB and 120 s warm-up (not a default "
            "install's) + Go's notary-signer, vs the same Go rows",
        }
        lines = [f"[{VARIANT_TAGS[v]}]: {legend[v]}" for v in present]
        memory = any(r.scenario.against == "go_memory" for r in self.rows)
        lines.append(
            "signers: each keeps its keys in a PostgreSQL database of its own (Go's "
            "private_keys schema)"
            + (", but the Go in-memory server's signer keeps them in memory" if memory else "")
            + "; Go's writes last_used on every signature, ours within a second"
        )
        return lines

    def _scale_lines(self) -> list[str]:
        """p50 latency over the most GUNs / over the fewest (issue #8: at most 1.2 for ours)."""
        lines = []
        for variant in VARIANTS:
            rows = sorted(
                (r for r in self.rows if r.scenario.guns and r.variant == variant),
                key=lambda r: r.scenario.guns,
            )
            if len(rows) < 2:
                continue
            small, large = rows[0], rows[-1]
            ours = _div(large.ours.p50_ms, small.ours.p50_ms)
            go = _div(large.go.p50_ms, small.go.p50_ms)
            verdict = "ok" if ours is not None and ours <= SCALE_TARGET else "ABOVE"
            lines.append(
                f"scale [{VARIANT_TAGS[variant]}]: p50 at {large.scenario.guns:,} GUNs / at "
                f"{small.scenario.guns:,} GUNs: ours {ours}x ({verdict} <= {SCALE_TARGET}x), "
                f"Go {go}x"
            )
        return lines

    def _rss_lines(self) -> list[str]:
        lines = []
        for moment in ("idle", "after_get", "after_publish"):
            go = self.rss_kib.get("go", {}).get(moment)
            for variant in VARIANTS:
                ours = self.rss_kib.get(variant, {}).get(moment)
                if ours is None or go is None:
                    continue
                lines.append(
                    f"server RSS {moment.replace('_', ' ')} [{VARIANT_TAGS[variant]}]: "
                    f"ours {ours / 1024:.1f} MiB, Go {go / 1024:.1f} MiB (ratio {ours / go:.2f}x)"
                )
        return lines


def _lat(m: Measurement) -> str:
    return f"{m.p50_ms:.2f}/{m.p99_ms:.2f}"
