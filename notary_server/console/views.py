"""The console's pages and actions (aiohttp handlers rendering Jinja2 templates, autoescaped)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

import aiohttp_jinja2
from aiohttp import web

from notary_server.appkeys import CONFIG_KEY, CRYPTO_KEY, METASTORE_KEY, METRICS_KEY
from notary_server.auth.controller import ISSUER_KEY
from notary_server.auth.login_limit import client_key
from notary_server.auth.token import TokenError
from notary_server.console.access import (
    CONSOLE_CONFIG_KEY,
    SIGNER_KEY,
    ScopeError,
    principal_of,
    verified_console_token,
)
from notary_server.console.data import (
    expiry,
    page_rows,
    repo_detail,
    utcnow,
    visible_page,
)
from notary_server.console.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Principal,
    Session,
    new_csrf,
    password_sign_in_allowed,
)
from notary_server.console.settings import CONSOLE_PATH, CONSOLE_SCOPE
from notary_server.console.timeline import build_timeline
from notary_server.services.inventory import scan_expiring
from notary_server.services.purge import execute_purge, plan_purge
from notary_server.storage import StorageError
from notary_server.storage.base import Audit
from notary_server.trust.base import TrustServiceError
from notary_tuf import __version__

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from notary_server.auth.access import AccessRule
    from notary_server.services.purge import PurgePlan
    from notary_server.trust.base import CryptoService

__all__ = ["routes"]

logger = logging.getLogger(__name__)

PAGE_SIZE: Final = 50
MAX_WITHIN_DAYS: Final = 3650
MAX_QUERY: Final = 255
_EXPIRING_SORTS: Final = ("expires", "gun", "kind")


def _url(name: str) -> str:
    return f"{CONSOLE_PATH}/{name}"


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    principal: Principal | None = None,
    status: int = 200,
) -> web.Response:
    """A page, with the nav and the principal in its context."""
    full = {"base": CONSOLE_PATH, "principal": principal, **context}
    return aiohttp_jinja2.render_template(template, request, full, status=status)


def _not_found(request: web.Request, principal: Principal, gun: str) -> web.Response:
    """The one answer for a repository that does not exist or that the user may not see."""
    context = {"title": "No such repository", "message": "No such repository.", "gun": gun}
    return render(request, "error.html", context, principal=principal, status=404)


def _query(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if len(value) > MAX_QUERY:
        raise web.HTTPBadRequest(text=f"{name}: at most {MAX_QUERY} characters")
    return value


def signed_in(
    handler: Callable[[web.Request, Principal], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Run ``handler`` for a signed-in principal; send anyone else to the login page."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            principal = principal_of(request)
        except (TokenError, ScopeError) as e:
            logger.info("console: bearer token refused: %s", e)
            context = {"title": "Not allowed", "message": "This token does not open the console."}
            return render(request, "error.html", context, status=403)
        if principal is None:
            if request.method == "GET":
                raise web.HTTPSeeOther(_url("login"))
            context = {"title": "Signed out", "message": "Your session has ended; sign in again."}
            return render(request, "error.html", context, status=401)
        if request.method == "POST":
            form = await request.post()
            if principal.csrf and not secrets.compare_digest(
                str(form.get("csrf", "")), principal.csrf
            ):
                context = {"title": "Refused", "message": "The form's CSRF token is wrong."}
                return render(request, "error.html", context, principal=principal, status=403)
        return await handler(request, principal)

    return wrapper


# ---- sign in and out


async def login_page(request: web.Request) -> web.Response:
    """``GET login``: the sign-in forms, with a fresh double-submit CSRF pair."""
    return _login_form(request, status=200, error="")


def _login_form(request: web.Request, *, status: int, error: str) -> web.Response:
    nonce = secrets.token_urlsafe(18)
    context = {
        "title": "Sign in",
        "error": error,
        "csrf": request.config_dict[SIGNER_KEY].login_token(nonce),
        "methods": request.config_dict[CONSOLE_CONFIG_KEY].login,
        "scope": ":".join(CONSOLE_SCOPE),
    }
    response = render(request, "login.html", context, status=status)
    _set_cookie(request, response, LOGIN_COOKIE, nonce, max_age=600)
    return response


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=CONSOLE_PATH + "/",
        httponly=True,
        samesite="Strict",
        secure=request.config_dict[CONFIG_KEY].tls is not None or request.secure,
    )


async def _password_subject(request: web.Request, user: str, password: str) -> str | None:
    """The user, when the built-in issuer's htpasswd file has that password (its login limits)."""
    issuer = request.config_dict.get(ISSUER_KEY)
    if issuer is None or not user:
        return None
    client = client_key(request.remote)
    refusal = issuer.login_limiter.acquire(client, user)
    if refusal is not None:
        raise web.HTTPTooManyRequests(
            text="too many failed sign-ins", headers={"Retry-After": str(refusal.retry_after)}
        )
    if not await asyncio.to_thread(issuer.users.check, user, password):
        logger.info("console: bad credentials for user %r", user)
        return None
    issuer.login_limiter.release(client, user)
    return user


_NARROW_USER: Final = (
    "This user holds rights on some repositories only: sign in with a token that grants "
    "registry:console:view."
)


def _access_rules(request: web.Request) -> tuple[AccessRule, ...] | None:
    auth = request.config_dict[CONFIG_KEY].auth
    return auth.access if auth is not None else None


async def login(request: web.Request) -> web.StreamResponse:
    """``POST login``: check the CSRF pair, then a password or a token; set the session."""
    form = await request.post()
    signer = request.config_dict[SIGNER_KEY]
    config = request.config_dict[CONSOLE_CONFIG_KEY]
    if not signer.check_login_token(request.cookies.get(LOGIN_COOKIE), str(form.get("csrf", ""))):
        return _login_form(request, status=403, error="The form expired; try again.")
    method = str(form.get("method", ""))
    now = int(time.time())
    session: Session | None = None
    if method == "password" and "password" in config.login:
        user = str(form.get("username", ""))
        subject = await _password_subject(request, user, str(form.get("password", "")))
        if subject is not None and not password_sign_in_allowed(_access_rules(request), subject):
            return _login_form(request, status=403, error=_NARROW_USER)
        if subject is not None:
            session = Session(
                kind="password",
                subject=subject,
                token="",
                csrf=new_csrf(),
                expires=now + config.session_ttl,
            )
    elif method == "token" and "token" in config.login:
        raw = str(form.get("token", "")).strip()
        try:
            token = verified_console_token(request, raw)
        except (TokenError, ScopeError) as e:
            logger.info("console: token sign-in refused: %s", e)
        else:
            expires = now + config.session_ttl
            if token.expiration:
                expires = min(expires, token.expiration)
            session = Session(
                kind="token", subject=token.subject, token=raw, csrf=new_csrf(), expires=expires
            )
    if session is None:
        return _login_form(request, status=401, error="Sign-in failed.")
    response = web.HTTPSeeOther(_url(""))
    _set_cookie(
        request, response, SESSION_COOKIE, signer.seal(session), max_age=session.expires - now
    )
    response.del_cookie(LOGIN_COOKIE, path=CONSOLE_PATH + "/")
    raise response


@signed_in
async def logout(_request: web.Request, _principal: Principal) -> web.StreamResponse:
    """``POST logout``: clear the session cookie."""
    response = web.HTTPSeeOther(_url("login"))
    response.del_cookie(SESSION_COOKIE, path=CONSOLE_PATH + "/")
    raise response


# ---- pages


@signed_in
async def repositories(request: web.Request, principal: Principal) -> web.Response:
    """``GET repositories``: one keyset page of visible repositories, by name."""
    prefix = _query(request, "q")
    after = _query(request, "after") or None
    descending = request.query.get("sort") == "-gun"
    store = request.config_dict[METASTORE_KEY]
    guns, more = await visible_page(
        store, principal, prefix=prefix, after=after, descending=descending, limit=PAGE_SIZE
    )
    now = utcnow()
    rows = await page_rows(store, guns, now)
    context = {
        "title": "Repositories",
        "rows": rows,
        "q": prefix,
        "sort": "-gun" if descending else "gun",
        "next_after": guns[-1] if more and guns else None,
        "first_page": after is None,
    }
    return render(request, "repositories.html", context, principal=principal)


@signed_in
async def repository(request: web.Request, principal: Principal) -> web.Response:
    """``GET repository?gun=``: one repository in full."""
    gun = _query(request, "gun")
    if not principal.can_see(gun):
        return _not_found(request, principal, gun)
    now = utcnow()
    detail = await repo_detail(request.config_dict[METASTORE_KEY], gun, now)
    if detail is None:
        return _not_found(request, principal, gun)
    items = [(role, state.when) for role, state in detail.roles if state.when is not None]
    items += [
        (f"{d.role} cert {keyid[:12]}", state.when)
        for d in detail.delegations
        for keyid, state in d.certificates
        if state.when is not None
    ]
    items += [
        (f"root cert {keyid[:12]}", state.when)
        for keyid, state in detail.root_certificates
        if state.when is not None
    ]
    context = {
        "title": gun,
        "detail": detail,
        "timeline": build_timeline(items, now),
        "can_purge": principal.can_purge(gun),
    }
    return render(request, "repository.html", context, principal=principal)


async def _visible_guns(request: web.Request, principal: Principal) -> list[str] | None:
    """The repositories to scan for ``principal`` (None: all)."""
    if principal.all_guns:
        return None
    store = request.config_dict[METASTORE_KEY]
    existing = await store.get_current_many("root", sorted(principal.pull))
    return sorted(existing)


@signed_in
async def expiring(request: web.Request, principal: Principal) -> web.Response:
    """``GET expiring?within=DAYS&sort=``: what ``admin expiring --within`` reports."""
    try:
        days = int(request.query.get("within", "30"))
    except ValueError:
        days = 30
    days = min(max(days, 0), MAX_WITHIN_DAYS)
    sort = request.query.get("sort", "expires")
    key = sort.removeprefix("-")
    if key not in _EXPIRING_SORTS:
        sort, key = "expires", "expires"
    now = utcnow()
    store = request.config_dict[METASTORE_KEY]
    items = await scan_expiring(
        store, now=now, within=timedelta(days=days), guns=await _visible_guns(request, principal)
    )
    items.sort(key=lambda item: (getattr(item, key), item.expires, item.gun, item.name))
    if sort.startswith("-"):
        items.reverse()
    rows = [(item, expiry(item.expires, now)) for item in items]
    timeline = build_timeline(
        [(f"{item.gun} {item.kind}", item.expires) for item in items[:200]], now
    )
    context = {
        "title": "Expiring",
        "rows": rows,
        "within": days,
        "sort": sort,
        "timeline": timeline,
    }
    return render(request, "expiring.html", context, principal=principal)


def _sample(request: web.Request, name: str, labels: Mapping[str, str] | None = None) -> float:
    value = request.config_dict[METRICS_KEY].registry.get_sample_value(name, dict(labels or {}))
    return value or 0.0


def _hit_rate(request: web.Request) -> str:
    lookups = "notary_server_metadata_cache_lookups"
    hits = _sample(request, lookups, {"result": "hit"})
    misses = _sample(request, lookups, {"result": "miss"})
    if hits + misses == 0:
        return "no lookups yet"
    return f"{hits / (hits + misses):.0%} of {int(hits + misses)} lookups"


@signed_in
async def server(request: web.Request, principal: Principal) -> web.Response:
    """``GET server``: storage and signer health, version, workers, cache and request counts.

    For users who see every repository only: the counts describe all of them.
    """
    if not principal.all_guns:
        refusal = {
            "title": "Not allowed",
            "message": "The server page needs access to every repository.",
        }
        return render(request, "error.html", refusal, principal=principal, status=403)
    config = request.config_dict[CONFIG_KEY]
    checks = []
    for name, check in (
        ("storage", request.config_dict[METASTORE_KEY].check_health),
        ("signer", request.config_dict[CRYPTO_KEY].check_health),
    ):
        try:
            await check()
        except (StorageError, TrustServiceError, OSError) as e:
            checks.append((name, False, str(e)))
        else:
            checks.append((name, True, "ok"))
    registry = request.config_dict[METRICS_KEY].registry
    requests = sorted(
        (
            (sample.labels["operation"], sample.labels["code"], int(sample.value))
            for metric in registry.collect()
            if metric.name == "notary_server_http_requests"
            for sample in metric.samples
            if sample.name.endswith("_total")
        ),
        key=lambda row: (-row[2], row[0]),
    )
    context: dict[str, Any] = {
        "title": "Server",
        "checks": checks,
        "version": __version__,
        "workers": config.workers,
        "storage": config.storage.backend,
        "trust": config.trust_service.type,
        "cache_bytes": int(_sample(request, "notary_server_metadata_cache_bytes")),
        "cache_max": int(_sample(request, "notary_server_metadata_cache_max_bytes")),
        "cache_chains": int(
            _sample(request, "notary_server_metadata_cache_entries", {"kind": "chain"})
        ),
        "cache_files": int(
            _sample(request, "notary_server_metadata_cache_entries", {"kind": "file"})
        ),
        "requests": requests,
        "cache_hit_rate": _hit_rate(request),
    }
    return render(request, "server.html", context, principal=principal)


# ---- recovery: the lost-key purge of ``admin purge``, as a guided flow


def _remote_crypto(request: web.Request) -> CryptoService | None:
    """The trust service when it is remote: as ``admin purge``, local keys are not purged."""
    if request.config_dict[CONFIG_KEY].trust_service.type != "remote":
        return None
    return request.config_dict[CRYPTO_KEY]


def plan_digest(plan: PurgePlan) -> str:
    """A fingerprint of a dry run: the confirmation executes only the plan that was shown."""
    parts = [plan.gun]
    parts += [f"{f.role}:{f.version}:{f.sha256}" for f in plan.files]
    parts += [key_id for key_id, _ in plan.rpc_keys]
    parts += [row.key_id for row in plan.signer_rows]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@signed_in
async def recovery(request: web.Request, principal: Principal) -> web.Response:
    """``GET recovery?gun=``: the dry run (what the purge would remove) and the confirmation."""
    gun = _query(request, "gun")
    if not gun:
        return render(
            request, "recovery.html", {"title": "Recovery", "plan": None}, principal=principal
        )
    if not principal.can_purge(gun):
        return _not_found(request, principal, gun)
    store = request.config_dict[METASTORE_KEY]
    plan = await plan_purge(store, gun, crypto=_remote_crypto(request), signer_table=None)
    if not plan.files and not principal.all_guns:
        return _not_found(request, principal, gun)
    context = {"title": f"Recovery: {gun}", "plan": plan, "digest": plan_digest(plan), "gun": gun}
    return render(request, "recovery.html", context, principal=principal)


@signed_in
async def purge(request: web.Request, principal: Principal) -> web.Response:
    """``POST recovery``: the GUN typed again, the plan unchanged: purge and record who did."""
    form = await request.post()
    gun = str(form.get("gun", ""))
    if not principal.can_purge(gun):
        return _not_found(request, principal, gun)
    store = request.config_dict[METASTORE_KEY]
    crypto = _remote_crypto(request)
    plan = await plan_purge(store, gun, crypto=crypto, signer_table=None)
    problem = ""
    if str(form.get("confirm", "")) != gun:
        problem = "The name typed does not match the repository: nothing was removed."
    elif str(form.get("digest", "")) != plan_digest(plan):
        problem = "The repository changed since the dry run: review the new list."
    if problem:
        context = {
            "title": f"Recovery: {gun}",
            "plan": plan,
            "digest": plan_digest(plan),
            "gun": gun,
            "error": problem,
        }
        return render(request, "recovery.html", context, principal=principal, status=409)
    audit = Audit(actor=principal.actor, client_addr=request.remote)
    report = await execute_purge(plan, store, crypto=crypto, signer_table=None, audit=audit)
    logger.warning("console: %s purged %s: %s", principal.actor, gun, report)
    context = {"title": f"Purged: {gun}", "gun": gun, "report": report}
    status = 500 if report.failed else 200
    return render(request, "purged.html", context, principal=principal, status=status)


@signed_in
async def home(_request: web.Request, _principal: Principal) -> web.StreamResponse:
    """``GET /``: the Repositories page."""
    raise web.HTTPSeeOther(_url("repositories"))


def routes() -> list[web.RouteDef]:
    """The console's routes, relative to its sub-application."""
    return [
        web.get("/", home),
        web.get("/login", login_page),
        web.post("/login", login),
        web.post("/logout", logout),
        web.get("/repositories", repositories),
        web.get("/repository", repository),
        web.get("/expiring", expiring),
        web.get("/server", server),
        web.get("/recovery", recovery),
        web.post("/recovery", purge),
    ]
