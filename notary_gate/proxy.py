"""The reverse proxy: enforced manifest reads are judged, everything else streams through.

``GET``/``HEAD /v2/<name>/manifests/<reference>`` for a GUN under an enforced
prefix is fetched from the registry with a ``GET`` (also for ``HEAD``, so the
digest is always the gate's own hash of the bytes, never the registry's
``Docker-Content-Digest`` header), judged by the verifier and then answered
with the registry's status, headers and body, or refused with ``412``
and a registry-style error (:func:`denial`).

Every other request (blobs, uploads, tag lists, the catalog, manifest pushes,
other repositories) goes to the registry with its body streamed and comes
back the same way, headers included, so the registry's ``401`` challenges and
bearer tokens work unchanged. ``X-Forwarded-Host``/``-Proto`` make the
registry build ``Location`` URLs that point back at the gate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any, Final

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from notary_gate.children import SignedChildren, index_children
from notary_gate.metrics import GateMetrics
from notary_gate.policy import EnforceRule, Policy
from notary_gate.verifier import (
    ALLOWED,
    DIGEST_MISMATCH,
    SIGNED_INDEX_CHILD,
    ManifestRef,
    Verdict,
    Verifier,
)

__all__ = [
    "MAX_MANIFEST_BYTES",
    "GateState",
    "create_app",
    "denial",
]

logger = logging.getLogger(__name__)

MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
"""Largest manifest the gate judges (distribution's own limit)."""

HEALTH_TIMEOUT: Final = 5.0
"""Seconds the registry has to answer the health check."""

_MANIFEST: Final = re.compile(r"/v2/(?P<name>.+)/manifests/(?P<reference>[^/]+)")
_SHA256_DIGEST: Final = re.compile(r"sha256:[0-9a-f]{64}")
_CHUNK: Final = 65536
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
_API_HEADERS: Final = {"Docker-Distribution-API-Version": "registry/2.0"}


class GateState:
    """What the handlers share: the registry session, the policy, the verifier, metrics.

    The session and the verifier need a running event loop; :meth:`start`
    supplies them when the application starts.
    """

    registry: aiohttp.ClientSession
    verifier: Verifier

    def __init__(
        self,
        *,
        registry_url: str,
        registry_name: str,
        policy: Policy,
        metrics: GateMetrics,
        children: SignedChildren,
    ) -> None:
        """Keep the parts known before the loop runs."""
        self.registry_url = registry_url
        self.registry_name = registry_name
        self.policy = policy
        self.metrics = metrics
        self.children = children

    def start(self, registry: aiohttp.ClientSession, verifier: Verifier) -> None:
        """Add the registry session and the verifier."""
        self.registry = registry
        self.verifier = verifier


STATE: Final = web.AppKey("notary_gate_state", GateState)


def create_app(state: GateState) -> web.Application:
    """The gate's application: ``/health``, ``/metrics`` and the proxy for everything else."""
    app = web.Application(client_max_size=0)  # bodies are streamed, never read whole
    app[STATE] = state
    app.router.add_get("/health", _health)
    app.router.add_get("/metrics", _metrics)
    app.router.add_route("*", "/{tail:.*}", _proxy)
    return app


def registry_error(
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A response in the registry's error format: ``{"errors":[{"code","message","detail"}]}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        error["detail"] = detail
    return web.Response(
        status=status,
        body=json.dumps({"errors": [error]}).encode(),
        content_type="application/json",
        headers=_API_HEADERS | (headers or {}),
    )


def denial(verdict: Verdict) -> web.Response:
    """``412 Precondition Failed``, code ``DENIED``, the message also as a ``Warning`` header.

    skopeo prints ``…: denied: <message>``; docker ``pull access denied for
    <name>, …: denied: <message>``. A ``HEAD`` (containerd resolves tags with
    one) has no body, so the message also goes into the OCI distribution
    spec's ``Warning: 299 - "<message>"`` header (ADR 0024).
    """
    text = " ".join(verdict.message.split()).encode("ascii", "backslashreplace").decode()
    warning = '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return registry_error(
        412, "DENIED", verdict.message, dict(verdict.detail), headers={"Warning": warning}
    )


async def _health(request: web.Request) -> web.Response:
    """``{"registry": "ok", "trust_server": "ok"}``, or 503 naming what failed."""
    state = request.app[STATE]
    report = {
        "registry": await _registry_health(state) or "ok",
        "trust_server": await state.verifier.check_health() or "ok",
    }
    healthy = all(v == "ok" for v in report.values())
    return web.json_response(report, status=200 if healthy else 503)


async def _registry_health(state: GateState) -> str | None:
    try:
        async with state.registry.get(
            f"{state.registry_url}/v2/", timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT)
        ) as response:
            if response.status in (200, 401):  # 401: up, asking for credentials
                return None
            return f"GET /v2/ answered HTTP {response.status}"
    except (aiohttp.ClientError, TimeoutError) as e:
        return f"{type(e).__name__}: {e}".rstrip(": ")


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[STATE].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _upstream_headers(request: web.Request) -> CIMultiDict[str]:
    headers = CIMultiDict(
        (k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP
    )
    headers["X-Forwarded-Host"] = request.host
    headers["X-Forwarded-Proto"] = request.scheme
    return headers


def _client_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in upstream.items() if k.lower() not in _HOP_BY_HOP)


def _registry_unavailable(state: GateState, error: Exception) -> web.Response:
    state.metrics.upstream_errors.inc()
    logger.error("registry unavailable: %s: %s", type(error).__name__, error)
    return registry_error(
        502, "UNAVAILABLE", f"registry gate: the registry cannot be reached ({error})"
    )


async def _proxy(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if any(segment in (".", "..") for segment in request.path.split("/")):
        # The registry would clean the path and redirect; refusing it keeps the
        # name the gate matches against the prefixes the only name there is.
        return registry_error(400, "NAME_INVALID", "registry gate: dot segments in the path")
    match = _MANIFEST.fullmatch(request.path)
    if match is not None and request.method in ("GET", "HEAD"):
        gun = f"{state.registry_name}/{match['name']}"
        rule = state.policy.rule_for(gun)
        if rule is not None:
            state.metrics.requests.labels("enforced").inc()
            return await _enforced_manifest(request, state, match["name"], match["reference"], rule)
    state.metrics.requests.labels("passthrough").inc()
    return await _pass_through(request, state)


async def _pass_through(request: web.Request, state: GateState) -> web.StreamResponse:
    body = request.content.iter_chunked(_CHUNK) if request.can_read_body else None
    response: web.StreamResponse | None = None
    try:
        async with state.registry.request(
            request.method,
            state.registry_url + request.rel_url.raw_path_qs,
            headers=_upstream_headers(request),
            data=body,
            allow_redirects=False,
            auto_decompress=False,
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                reason=upstream.reason,
                headers=_client_headers(upstream.headers),
            )
            await response.prepare(request)
            if request.method != "HEAD":
                async for chunk in upstream.content.iter_chunked(_CHUNK):
                    await response.write(chunk)
            await response.write_eof()
            return response
    except (aiohttp.ClientError, TimeoutError) as e:
        if response is not None and response.prepared:
            raise  # the status line is out: aiohttp drops the connection
        return _registry_unavailable(state, e)


async def _enforced_manifest(
    request: web.Request, state: GateState, name: str, reference: str, rule: EnforceRule
) -> web.StreamResponse:
    headers = _upstream_headers(request)
    headers.pop("Accept-Encoding", None)  # the digest is over the bytes as stored
    url = f"{state.registry_url}/v2/{name}/manifests/{reference}"
    try:
        async with state.registry.get(
            url, headers=headers, allow_redirects=False, auto_decompress=False
        ) as upstream:
            if upstream.status != 200:  # noqa: PLR2004 - not found, auth challenge…: as is
                body = await _read_at_most(upstream.content, MAX_MANIFEST_BYTES)
                return await _buffered(
                    request, upstream.status, _client_headers(upstream.headers), body
                )
            manifest = await _read_at_most(upstream.content, MAX_MANIFEST_BYTES + 1)
            response_headers = _client_headers(upstream.headers)
    except (aiohttp.ClientError, TimeoutError) as e:
        return _registry_unavailable(state, e)
    started = time.perf_counter()
    verdict = await _judge(state, rule, name, reference, manifest)
    state.metrics.verify_seconds.observe(time.perf_counter() - started)
    state.metrics.decided(allowed=verdict.allowed, reason=verdict.reason)
    if not verdict.allowed or verdict.reason not in (ALLOWED, SIGNED_INDEX_CHILD):
        logger.warning(  # a denial, or a manifest served unverified (fail_open)
            "manifest %s: %s",
            "denied" if not verdict.allowed else "served unverified",
            verdict.message,
            extra={
                "gun": f"{state.registry_name}/{name}",
                "reference": reference,
                "reason": verdict.reason,
                "digest": verdict.detail.get("digest"),
                "verifier": state.verifier.name,
            },
        )
    if not verdict.allowed:
        return denial(verdict)
    children = index_children(manifest, response_headers.get("Content-Type", ""))
    if children:
        state.children.remember(f"{state.registry_name}/{name}", children)
    return await _buffered(request, 200, response_headers, manifest)


async def _read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to its end or to ``limit`` bytes, whichever comes first."""
    body = bytearray()
    async for chunk in content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) >= limit:
            return bytes(body[:limit])
    return bytes(body)


async def _buffered(
    request: web.Request, status: int, headers: CIMultiDict[str], body: bytes
) -> web.StreamResponse:
    """The registry's answer, read whole: a ``HEAD`` gets the headers and the body's length."""
    headers.popall("Content-Length", None)
    if request.method != "HEAD":
        return web.Response(status=status, headers=headers, body=body)
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(body)
    await response.prepare(request)
    await response.write_eof()
    return response


async def _judge(
    state: GateState, rule: EnforceRule, name: str, reference: str, manifest: bytes
) -> Verdict:
    gun = f"{state.registry_name}/{name}"
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    base = {"name": gun, "reference": reference}
    if len(manifest) > MAX_MANIFEST_BYTES:
        return Verdict(
            allowed=False,
            reason="invalid_manifest",
            message=f"content trust: the manifest of {gun} is larger than {MAX_MANIFEST_BYTES}",
            detail=base,
        )
    if ":" in reference and not _SHA256_DIGEST.fullmatch(reference):
        return Verdict(
            allowed=False,
            reason="invalid_manifest",
            message=f"content trust: only sha256 digests can be verified, not {reference}",
            detail=base,
        )
    if ":" in reference and reference != digest:
        return Verdict(
            allowed=False,
            reason=DIGEST_MISMATCH,
            message=f"content trust: the registry served {digest} for {gun}@{reference}",
            detail=base | {"digest": digest},
        )
    if ":" in reference and state.children.signed_parent(gun, digest):
        return Verdict(
            allowed=True,
            reason=SIGNED_INDEX_CHILD,
            message="",
            detail=base | {"digest": digest},
        )
    ref = ManifestRef(
        repository=name, gun=gun, reference=reference, digest=digest, length=len(manifest)
    )
    return await state.verifier.verify(ref, rule)
