"""Large uploads are parsed and validated in a child process, not in the server's (ADR 0028).

Decoding a JSON file holds Python's interpreter lock for the whole call: a
16 MiB part took ~0.8 s, during which a worker thread does not let the event
loop run, so every other request of that worker waited (``bench/stall.py``).
An upload larger than :data:`ISOLATE_BYTES` in all is therefore handed, as
bytes, to a pool of one spawned process per server process, which parses every
part (Go's ``MALFORMED_JSON`` and the targets-count limit, as the multipart
reader does for smaller uploads), runs :func:`~notary_tuf.validation.validate_update`
and sends back only what the update path needs: the versions to store, which
files the server-made snapshot records (named, not copied back), the signing
part of the root, and
nothing parsed from the uploaded snapshot (the update path only asks whether
one was uploaded). Its errors come back as data and are raised
here as the same types with the same fields, so the answer is byte-identical
to an in-process validation (``tests/server/test_upload_isolation.py``).

The server process never parses such an upload. Large uploads queue on the
child one at a time; everything else keeps running.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from notary_server.errors import ApiError, ErrorCode
from notary_server.limits import LimitExceededError
from notary_tuf.canonical import parse_json
from notary_tuf.errors import (
    BadHierarchyError,
    BadRootError,
    BadSnapshotError,
    BadTargetsError,
    NotaryTufError,
    ValidationError,
)
from notary_tuf.models import RoleKeys, Root
from notary_tuf.rolenames import BASE_ROLES, ROOT, SNAPSHOT, TARGETS
from notary_tuf.signed import Metadata
from notary_tuf.validation import MetaUpdate, ValidatedUpdate, validate_update

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ISOLATE_BYTES", "validate_isolated"]

logger = logging.getLogger(__name__)

ISOLATE_BYTES: Final = 1024 * 1024
"""Uploads larger than this in all are parsed and validated in the child process.

At about 20 MB/s of JSON decoding, 1 MiB holds the interpreter lock for ~50 ms,
the most a smaller upload can cost the other requests of its worker.
"""

_ERRORS: Final[dict[str, type[ValidationError]]] = {
    cls.__name__: cls
    for cls in (ValidationError, BadRootError, BadTargetsError, BadSnapshotError, BadHierarchyError)
}

_pool: ProcessPoolExecutor | None = None


def _executor() -> ProcessPoolExecutor:
    """The child process, started on first use (spawned: no copy of the event loop)."""
    global _pool  # noqa: PLW0603 - one pool per server process, made on first need
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _pool


def _forget_pool() -> None:
    global _pool
    broken, _pool = _pool, None
    if broken is not None:
        broken.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True, slots=True)
class _Job:
    """What the child needs: plain data only."""

    gun: str
    current: dict[str, bytes]
    uploads: dict[str, bytes]
    now: datetime
    current_snapshot: bytes | None
    max_targets: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What the child sends back: plain data only."""

    pid: int
    error: tuple[str, ...] | None = None
    versions: tuple[tuple[str, int], ...] = ()
    loaded: tuple[tuple[str, bool], ...] = ()  # role, and whether its file is the uploaded one
    signing_root: Root | None = None


async def validate_isolated(
    *,
    gun: str,
    current: Mapping[str, bytes],
    uploads: Mapping[str, bytes],
    now: datetime,
    current_snapshot: bytes | None,
    max_targets: int,
) -> ValidatedUpdate:
    """:func:`~notary_tuf.validation.validate_update` of a large upload, in the child.

    Raises:
        ApiError: ``MALFORMED_JSON``: a part is not the JSON Go decodes.
        LimitExceededError: a part lists more targets than ``max_targets``.
        ValidationError: as ``validate_update``, same type and fields.
    """
    loop = asyncio.get_running_loop()
    job = _Job(gun, dict(current), dict(uploads), now, current_snapshot, max_targets)
    try:
        outcome: _Outcome = await loop.run_in_executor(_executor(), _validate_in_child, job)
    except BrokenProcessPool as e:  # the child died (killed, out of memory): start another
        _forget_pool()
        raise RuntimeError(f"the validation process for {gun} stopped: {e}") from e
    logger.debug("validated %s (%d bytes) in process %d", gun, _size(uploads), outcome.pid)
    if outcome.error is not None:
        _raise(outcome.error)
    assert outcome.signing_root is not None
    return ValidatedUpdate(
        updates=tuple(MetaUpdate(role=r, version=v, data=uploads[r]) for r, v in outcome.versions),
        root=Metadata.from_signed(ROOT, outcome.signing_root),
        loaded={role: (uploads if up else current)[role] for role, up in outcome.loaded},
        snapshot=None,  # not parsed here; the update path asks whether SNAPSHOT was uploaded
    )


def _size(uploads: Mapping[str, bytes]) -> int:
    return sum(map(len, uploads.values()))


def _raise(error: tuple[str, ...]) -> None:
    kind = error[0]
    if kind == "malformed":
        raise ApiError(ErrorCode.MALFORMED_JSON)
    if kind == "limit":
        raise LimitExceededError(error[1], float(error[2]))
    if kind == "validation":
        name, msg, missing = error[1], error[2], error[3]
        if name == BadHierarchyError.__name__:
            raise BadHierarchyError(missing, msg)
        raise _ERRORS[name](msg)
    raise RuntimeError(f"validating the upload failed in the child process: {error[1]}")


# ---- in the child process


def _validate_in_child(job: _Job) -> _Outcome:
    pid = os.getpid()
    try:
        parsed = _parse_parts(job.uploads, job.max_targets)
        snapshot = (
            Metadata.from_bytes(SNAPSHOT, job.current_snapshot).signed
            if job.current_snapshot is not None
            else None
        )
        validated = validate_update(
            gun=job.gun,
            current=job.current,
            uploads=job.uploads,
            now=job.now,
            current_snapshot=snapshot,
            parsed=parsed,
        )
    except _Refused as refused:
        return _Outcome(pid=pid, error=refused.error)
    except ValidationError as e:
        missing = e.missing if isinstance(e, BadHierarchyError) else ""
        return _Outcome(pid=pid, error=("validation", type(e).__name__, e.msg, missing))
    except Exception as e:  # noqa: BLE001 - reported to the server process, which raises it
        return _Outcome(pid=pid, error=("crash", f"{type(e).__name__}: {e}"))
    return _Outcome(
        pid=pid,
        versions=tuple((u.role, u.version) for u in validated.updates),
        loaded=tuple(
            (role, data == job.uploads.get(role)) for role, data in validated.loaded.items()
        ),
        signing_root=_signing_part(validated.root.signed),
    )


class _Refused(Exception):  # noqa: N818 - internal signal, not an error type of the API
    def __init__(self, *error: str) -> None:
        super().__init__(error[0])
        self.error = error


def _parse_parts(uploads: Mapping[str, bytes], max_targets: int) -> dict[str, Any]:
    """What the multipart reader checks as each part arrives, for every part in order."""
    from notary_server.multipart import check_signed_meta  # noqa: PLC0415 - imports this module

    parsed: dict[str, Any] = {}
    for role, data in uploads.items():
        try:
            value = parse_json(data)
            check_signed_meta(value)
        except (NotaryTufError, TypeError) as e:
            raise _Refused("malformed") from e
        signed = value.get("signed") if isinstance(value, dict) else None
        targets = signed.get(TARGETS) if isinstance(signed, dict) else None
        if isinstance(targets, dict) and len(targets) > max_targets:
            raise _Refused("limit", "max_targets_per_file", str(max_targets))
        parsed[role] = value
    return parsed


def _signing_part(root: Root) -> Root:
    """The root reduced to what signing the snapshot and timestamp reads (plain values)."""
    roles = {
        name: RoleKeys(keyids=tuple(root.roles[name].keyids), threshold=root.roles[name].threshold)
        for name in BASE_ROLES
    }
    wanted = {keyid for role in roles.values() for keyid in role.keyids}
    keys = {keyid: key for keyid, key in root.keys.items() if keyid in wanted}
    return Root(version=root.version, expires=root.expires, keys=keys, roles=roles)
