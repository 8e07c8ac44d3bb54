"""The Docker Content Trust verifier: a manifest must be what a signed target names.

A tag must be a target whose sha256 and length are the manifest's (what
``DOCKER_CONTENT_TRUST=1 docker pull`` resolves, in docker's role order); a
digest must be the digest of some signed target. Trust data is kept per GUN
for at most ``max_age`` seconds and never past the earliest ``expires`` of
the files it came from, so a revoked tag stops being served within
``max_age`` while a busy repository costs one trust-server load per
``max_age``. Concurrent requests for one GUN share one load.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from notary_gate.policy import EnforceRule
from notary_gate.tuf_client import (
    SignedTarget,
    TrustDataError,
    TrustedRepository,
    TrustServerError,
    TUFClient,
)
from notary_gate.verifier import (
    ALLOWED,
    DIGEST_MISMATCH,
    EXPIRED,
    INVALID_TRUST_DATA,
    SIGNER_NOT_ALLOWED,
    TRUST_SERVER_UNAVAILABLE,
    UNSIGNED,
    ManifestRef,
    Verdict,
)

__all__ = ["DEFAULT_MAX_AGE", "MAX_CACHED_GUNS", "DCTVerifier"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE: Final = 30.0
"""Seconds trust data is reused (``cache.max_age``): the longest a revoked tag stays pullable."""

MAX_CACHED_GUNS: Final = 4096
"""Repositories whose trust data is kept; the least recently loaded go first."""


@dataclass(frozen=True, slots=True)
class _Entry:
    repository: TrustedRepository | None  # None: the trust server has no data for the GUN
    valid_until: float  # time.monotonic()
    error: TrustDataError | None = None  # the data failed verification: refuse for max_age

    def result(self) -> TrustedRepository | None:
        if self.error is not None:
            raise TrustDataError(str(self.error), expired=self.error.expired)
        return self.repository


class DCTVerifier:
    """Judges manifests against notary trust data (see the module docstring)."""

    name = "dct"

    def __init__(
        self,
        client: TUFClient,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        fail_open: bool = False,
        health_probe: Callable[[], Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Load trust data with ``client``.

        Args:
            client: the TUF client.
            max_age: seconds a load is reused.
            fail_open: serve manifests when the trust server cannot be reached
                (default: refuse them).
            health_probe: coroutine function returning ``None`` or a problem
                (the trust server's health check).
            clock: wall time, for expiry.
            monotonic: the cache's clock.
        """
        self._client = client
        self._max_age = max_age
        self._fail_open = fail_open
        self._health_probe = health_probe
        self._clock = clock
        self._monotonic = monotonic
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._loading: dict[str, asyncio.Future[_Entry]] = {}

    async def check_health(self) -> str | None:
        """The trust server's health, as the probe reports it."""
        if self._health_probe is None:
            return None
        problem: str | None = await self._health_probe()
        return problem

    async def trust_data(self, gun: str) -> TrustedRepository | None:
        """``gun``'s verified trust data, from the cache when still valid.

        Raises:
            TrustServerError: the trust server failed and nothing valid is cached.
            TrustDataError: the trust data failed verification.
        """
        entry = self._cache.get(gun)
        if entry is not None and self._monotonic() < entry.valid_until:
            return entry.result()
        pending = self._loading.get(gun)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._loading[gun] = pending
            try:
                entry = await self._load(gun)
            except asyncio.CancelledError:
                pending.cancel()
                raise
            except Exception as e:
                pending.set_exception(e)
                pending.exception()  # marks it retrieved: there may be no waiter
                raise
            else:
                pending.set_result(entry)
            finally:
                del self._loading[gun]
            return entry.result()
        return (await asyncio.shield(pending)).result()

    async def _load(self, gun: str) -> _Entry:
        """Load and cache ``gun``; bad trust data is cached too, so it costs one load per max_age.

        Raises:
            TrustServerError: the trust server failed (not cached: retried on the next request).
        """
        valid_until = self._monotonic() + self._max_age
        try:
            repository = await self._client.load(gun)
        except TrustDataError as e:
            entry = _Entry(None, valid_until, e)
        else:
            if repository is not None:
                remaining = (repository.expires - self._clock()).total_seconds()
                valid_until = min(valid_until, self._monotonic() + max(remaining, 0.0))
            entry = _Entry(repository, valid_until)
        self._cache[gun] = entry
        self._cache.move_to_end(gun)
        while len(self._cache) > MAX_CACHED_GUNS:
            self._cache.popitem(last=False)
        return entry

    async def verify(self, manifest: ManifestRef, rule: EnforceRule) -> Verdict:
        """Judge ``manifest`` under ``rule``."""
        try:
            repository = await self.trust_data(manifest.gun)
        except TrustServerError as e:
            return Verdict(
                allowed=self._fail_open,
                reason=TRUST_SERVER_UNAVAILABLE,
                message=(
                    f"content trust: cannot verify {manifest.image}: the trust server "
                    f"is unavailable ({e})"
                ),
                detail={"error": str(e)},
            )
        except TrustDataError as e:
            return Verdict(
                allowed=False,
                reason=EXPIRED if e.expired else INVALID_TRUST_DATA,
                message=f"content trust: cannot verify {manifest.image}: {e}",
                detail={"error": str(e)},
            )
        if repository is None:
            return _unsigned(manifest, f"there is no trust data for {manifest.gun}")
        targets = repository.targets_for(rule.roles)
        if manifest.by_digest:
            return _check_digest(manifest, targets.values(), rule)
        return _check_tag(manifest, targets, rule)


def _detail(manifest: ManifestRef, **extra: Any) -> dict[str, Any]:
    return {
        "name": manifest.gun,
        "reference": manifest.reference,
        "digest": manifest.digest,
    } | extra


def _unsigned(manifest: ManifestRef, why: str) -> Verdict:
    return Verdict(
        allowed=False,
        reason=UNSIGNED,
        message=f"content trust: {manifest.image} is not signed: {why}",
        detail=_detail(manifest),
    )


def _signer_ok(target: SignedTarget, rule: EnforceRule) -> bool:
    return not rule.key_ids or bool(rule.key_ids & target.signers)


def _matches(target: SignedTarget, manifest: ManifestRef) -> bool:
    return f"sha256:{target.sha256}" == manifest.digest and target.length == manifest.length


def _check_tag(
    manifest: ManifestRef, targets: Mapping[str, SignedTarget], rule: EnforceRule
) -> Verdict:
    target = targets.get(manifest.reference)
    if target is None:
        roles = " or ".join(rule.roles)
        return _unsigned(manifest, f"no signed tag {manifest.reference!r} in {roles}")
    if not _signer_ok(target, rule):
        return Verdict(
            allowed=False,
            reason=SIGNER_NOT_ALLOWED,
            message=(
                f"content trust: {manifest.image} is signed in {target.role}, "
                "but not by a key this registry accepts"
            ),
            detail=_detail(manifest, role=target.role),
        )
    if not _matches(target, manifest):
        return Verdict(
            allowed=False,
            reason=DIGEST_MISMATCH,
            message=(
                f"content trust: {manifest.image} is signed as sha256:{target.sha256}, "
                f"but the registry serves {manifest.digest}"
            ),
            detail=_detail(manifest, signed_digest=f"sha256:{target.sha256}", role=target.role),
        )
    return Verdict(
        allowed=True, reason=ALLOWED, message="", detail=_detail(manifest, role=target.role)
    )


def _check_digest(
    manifest: ManifestRef, targets: Iterable[SignedTarget], rule: EnforceRule
) -> Verdict:
    for target in targets:
        if _matches(target, manifest) and _signer_ok(target, rule):
            return Verdict(
                allowed=True,
                reason=ALLOWED,
                message="",
                detail=_detail(manifest, role=target.role, tag=target.name),
            )
    return _unsigned(manifest, f"no signed tag of {manifest.gun} has digest {manifest.digest}")
