"""Issue #14 item 12: no user enumeration through the built-in issuer, and failed-login limits.

No timing is measured: the tests check that an unknown user costs one bcrypt
check at the cost the file's hashes have (a spy on ``bcrypt.checkpw``), and
drive the failed-login buckets with a fake clock.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from notary_server.auth.certs import load_root_bundle
from notary_server.auth.htpasswd import DEFAULT_COST, Htpasswd, bcrypt_cost, usual_cost
from notary_server.auth.issuer import TokenIssuer
from notary_server.auth.login_limit import (
    DEFAULT_CLIENT_BURST,
    DEFAULT_CLIENT_PER_MINUTE,
    DEFAULT_LIMIT_ENTRIES,
    DEFAULT_USER_BURST,
    DEFAULT_USER_PER_MINUTE,
    FailureBuckets,
    LoginLimiter,
    client_key,
)
from notary_server.config import ConfigError, load_config
from testkit.issuer import TestIssuer
from testkit.server_helpers import AppClient

PASSWORD = "wonderland"


def hashed(password: str, cost: int, prefix: str = "2b") -> str:
    """A bcrypt hash as ``htpasswd -B`` writes it (``$2y$``) or bcrypt does (``$2b$``)."""
    value = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost)).decode()
    return f"${prefix}${value[4:]}"


def write_htpasswd(path: Path, costs: dict[str, int]) -> Path:
    prefixes = ("2y", "2a", "2b")
    lines = ["# users", ""]
    lines += [
        f"{user}:{hashed(PASSWORD, cost, prefixes[i % 3])}"
        for i, (user, cost) in enumerate(costs.items())
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CheckSpy:
    """Wraps ``bcrypt.checkpw`` (still checking for real) and records each hash's cost."""

    def __init__(self, real: Callable[[bytes, bytes], bool]) -> None:
        self.real = real
        self.costs: list[int | None] = []

    def __call__(self, password: bytes, hashed_password: bytes) -> bool:
        self.costs.append(bcrypt_cost(hashed_password))
        return self.real(password, hashed_password)


@pytest.fixture
def check_spy(monkeypatch: pytest.MonkeyPatch) -> CheckSpy:
    spy = CheckSpy(bcrypt.checkpw)
    monkeypatch.setattr(bcrypt, "checkpw", spy)  # htpasswd calls bcrypt.checkpw
    return spy


# -- the dummy hash's cost ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("costs", "expected"),
    [
        ({"a": 4, "b": 4, "c": 5}, 4),  # the most common cost
        ({"a": 4, "b": 5, "c": 5, "d": 6}, 5),
        ({"a": 6, "b": 4}, 6),  # a tie: the higher cost
        ({"a": 5}, 5),
        ({}, DEFAULT_COST),  # no users: nobody to tell apart
    ],
)
def test_dummy_hash_has_the_files_usual_cost(
    tmp_path: Path, costs: dict[str, int], expected: int
) -> None:
    users = Htpasswd.load(write_htpasswd(tmp_path / "htpasswd", costs))
    assert users.cost == expected
    if costs:  # (a cost-10 dummy hash is not worth making here)
        assert bcrypt_cost(users.dummy_hash()) == expected
        assert users.dummy_hash() is users.dummy_hash()  # made once


def test_reloading_the_file_follows_its_costs(tmp_path: Path) -> None:
    path = write_htpasswd(tmp_path / "htpasswd", {"a": 4, "b": 4})
    assert bcrypt_cost(Htpasswd.load(path).dummy_hash()) == 4
    write_htpasswd(path, {"a": 5, "b": 5})
    assert bcrypt_cost(Htpasswd.load(path).dummy_hash()) == 5


def test_bcrypt_cost_parsing() -> None:
    assert bcrypt_cost(hashed("x", 4, "2y").encode()) == 4
    assert bcrypt_cost(b"$2y$05$" + b"a" * 53) == 5
    assert bcrypt_cost(b"$2y$12$" + b"a" * 53) == 12
    # not a cost bcrypt accepts, or no cost at all: left out of the count
    assert bcrypt_cost(b"$2y$03$" + b"a" * 53) is None
    assert bcrypt_cost(b"$2y$32$" + b"a" * 53) is None
    assert bcrypt_cost(b"$2y$x5$" + b"a" * 53) is None
    assert bcrypt_cost(b"$2y$5$") is None
    assert usual_cost([b"$2y$03$x", b"$2y$05$x"]) == 5
    assert usual_cost([b"$2y$zz$x"]) == DEFAULT_COST


@pytest.mark.parametrize("costs", [{"alice": 4, "bob": 4}, {"alice": 5, "bob": 5, "carol": 4}])
def test_unknown_user_does_one_check_at_the_files_cost(
    tmp_path: Path, check_spy: CheckSpy, costs: dict[str, int]
) -> None:
    users = Htpasswd.load(write_htpasswd(tmp_path / "htpasswd", costs))
    users.dummy_hash()
    assert not users.check("alice", "wrong")
    assert check_spy.costs == [costs["alice"]]
    check_spy.costs.clear()
    assert not users.check("nobody", PASSWORD)
    assert check_spy.costs == [costs["alice"]]  # the same work as alice's wrong password
    check_spy.costs.clear()
    assert users.check("alice", PASSWORD)
    assert check_spy.costs == [costs["alice"]]


# -- through the issuer's handler, with a fake clock ---------------------------------------------


@dataclasses.dataclass
class Issued:
    client: AppClient
    issuer: TokenIssuer
    clock: FakeClock

    async def login(self, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        response = await self.client.get(
            "/auth/token", params={"service": "notary-test"}, headers=headers
        )
        return response.status, await response.json(), dict(response.headers)


@web.middleware
async def remote_from_header(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Let a test play other client addresses (``X-Test-Remote``)."""
    remote = request.headers.get("X-Test-Remote")
    response: web.StreamResponse = await handler(
        request if remote is None else request.clone(remote=remote)
    )
    return response


@pytest.fixture
def make_issued(
    aiohttp_client: AiohttpClient, token_issuer: TestIssuer, tmp_path: Path
) -> Callable[..., Any]:
    async def make(**limits: Any) -> Issued:
        htpasswd, key, cert = token_issuer.write_builtin_files(tmp_path, {"alice": PASSWORD})
        config = token_issuer.config(
            tmp_path,
            realm="https://notary.example.com/auth/token",
            htpasswd=htpasswd,
            issuer_key=key,
            issuer_cert=cert,
            **limits,
        )
        clock = FakeClock()
        roots = load_root_bundle(config.root_cert_bundle)
        issuer = TokenIssuer.from_config(config, roots, clock=clock)
        app = web.Application(middlewares=[remote_from_header])
        app.router.add_get("/auth/token", issuer.handle)
        return Issued(await aiohttp_client(app), issuer, clock)

    return make


async def test_issuer_makes_the_dummy_hash_at_start_up(
    make_issued: Callable[..., Any], check_spy: CheckSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = await make_issued()
    made: list[bytes] = []

    def hashpw(password: bytes, salt: bytes) -> bytes:
        made.append(salt)
        return b""

    monkeypatch.setattr(bcrypt, "hashpw", hashpw)
    status, _, _ = await issued.login(basic("nobody", PASSWORD))
    assert status == 401
    assert made == []  # nothing made on the first unknown user's request
    assert check_spy.costs == [4]  # write_builtin_files hashes at cost 4


async def test_failures_are_limited_per_client(
    make_issued: Callable[..., Any], check_spy: CheckSpy
) -> None:
    issued = await make_issued(
        login_client_burst=3, login_client_per_minute=10.0, login_user_burst=0
    )
    for user in ("alice", "bob", "carol"):  # three names, one address
        status, _, _ = await issued.login(basic(user, "wrong"))
        assert status == 401
    assert len(check_spy.costs) == 3
    status, body, headers = await issued.login(basic("alice", PASSWORD))  # even the right one
    assert status == 429
    assert body == {
        "errors": [
            {
                "code": "TOOMANYREQUESTS",
                "message": "too many requests",
                "detail": {"limit": "auth.options.login_client_burst"},
            }
        ]
    }
    assert headers["Retry-After"] == "6"  # one failure back every 6 s
    assert len(check_spy.costs) == 3  # refused before any bcrypt work
    # a malformed header is refused as well; an anonymous request is not limited
    assert (await issued.login({"Authorization": "Basic !!!"}))[0] == 429
    assert (await issued.login({}))[0] == 200

    issued.clock.now += 5.9
    assert (await issued.login(basic("alice", PASSWORD)))[0] == 429
    issued.clock.now += 0.1  # the window has passed: one token back
    status, body, _ = await issued.login(basic("alice", PASSWORD))
    assert status == 200
    assert (
        json.loads(base64.urlsafe_b64decode(body["token"].split(".")[1] + "=="))["sub"] == "alice"
    )
    # a success costs nothing: the token came back
    assert (await issued.login(basic("alice", PASSWORD)))[0] == 200
    assert (await issued.login(basic("alice", "wrong")))[0] == 401
    assert (await issued.login(basic("alice", PASSWORD)))[0] == 429


async def test_failures_are_limited_per_user_known_or_not(
    make_issued: Callable[..., Any], check_spy: CheckSpy
) -> None:
    issued = await make_issued(login_client_burst=0, login_user_burst=2, login_user_per_minute=2.0)
    answers: dict[str, list[int]] = {}
    for user in ("alice", "nobody"):  # a real user and an unknown one: the same answers
        answers[user] = [(await issued.login(basic(user, "wrong")))[0] for _ in range(3)]
    assert answers == {"alice": [401, 401, 429], "nobody": [401, 401, 429]}
    assert len(check_spy.costs) == 4
    status, body, headers = await issued.login(basic("alice", PASSWORD))
    assert status == 429
    assert body["errors"][0]["detail"] == {"limit": "auth.options.login_user_burst"}
    assert headers["Retry-After"] == "30"
    assert (await issued.login(basic("bob", "wrong")))[0] == 401  # other names are not limited
    issued.clock.now += 30
    assert (await issued.login(basic("alice", PASSWORD)))[0] == 200


async def test_an_ipv6_client_is_its_64(make_issued: Callable[..., Any]) -> None:
    issued = await make_issued(login_client_burst=2, login_user_burst=0)
    for remote in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        headers = basic("alice", "wrong") | {"X-Test-Remote": remote}
        assert (await issued.login(headers))[0] == 401
    headers = basic("alice", PASSWORD) | {"X-Test-Remote": "2001:db8:1:2:ffff::3"}
    assert (await issued.login(headers))[0] == 429  # the same /64
    headers = basic("alice", PASSWORD) | {"X-Test-Remote": "2001:db8:1:3::1"}
    assert (await issued.login(headers))[0] == 200  # another /64


async def test_many_correct_logins_are_never_limited(make_issued: Callable[..., Any]) -> None:
    issued = await make_issued(login_client_burst=1, login_user_burst=1)
    for _ in range(5):
        assert (await issued.login(basic("alice", PASSWORD)))[0] == 200


async def test_limits_are_on_by_default(make_issued: Callable[..., Any]) -> None:
    issued = await make_issued()
    statuses = [
        (await issued.login(basic("alice", "wrong")))[0] for _ in range(DEFAULT_USER_BURST + 1)
    ]
    assert statuses == [401] * DEFAULT_USER_BURST + [429]


# -- the buckets themselves ----------------------------------------------------------------------


def test_clients_are_counted_apart() -> None:
    clock = FakeClock()

    def table(burst: int) -> FailureBuckets:
        return FailureBuckets(burst=burst, per_minute=60.0, entries=100, clock=clock)

    limiter = LoginLimiter(table(2), table(100))
    assert limiter.acquire("10.0.0.1", "alice") is None
    assert limiter.acquire("10.0.0.1", "bob") is None
    refusal = limiter.acquire("10.0.0.1", "carol")
    assert refusal is not None
    assert (refusal.limit, refusal.retry_after) == ("auth.options.login_client_burst", 1)
    assert limiter.acquire("10.0.0.2", "carol") is None  # another address
    assert limiter.users.tokens("carol") == 99  # the refusal took nothing


@pytest.mark.parametrize(
    ("remote", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),  # the same /64: the same client
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("/run/notary.sock", "/run/notary.sock"),
        (None, ""),
    ],
)
def test_client_keys(remote: str | None, key: str) -> None:
    assert client_key(remote) == key


def test_the_tables_stay_bounded() -> None:
    clock = FakeClock()
    table = FailureBuckets(burst=2, per_minute=1.0, entries=5, clock=clock)
    for i in range(1000):
        table.add(f"user{i}", -1.0)
        table.add(f"user{i}", -1.0)
        assert len(table) <= 5
    assert table.wait("user999") == 60.0  # the most recent are kept ...
    assert table.wait("user0") == 0.0  # ... the oldest forgotten (forgiven)
    assert len(table) == 5
    clock.now += 120  # every bucket refills: a full bucket is forgotten when seen
    for i in range(995, 1000):
        assert table.wait(f"user{i}") == 0.0
    assert len(table) == 0


def test_a_burst_of_zero_turns_a_table_off() -> None:
    table = FailureBuckets(burst=0, per_minute=1.0, entries=5)
    table.add("x", -1.0)
    assert table.wait("x") == 0.0
    assert len(table) == 0


# -- configuration -------------------------------------------------------------------------------


def write_config(tmp_path: Path, issuer: TestIssuer, **options: Any) -> Path:
    issuer.write_bundle(tmp_path)
    document = {
        "server": {"http_addr": "127.0.0.1:4443"},
        "trust_service": {"type": "local"},
        "storage": {"backend": "memory"},
        "auth": {
            "type": "token",
            "options": {
                "realm": "https://auth.example.com/token",
                "service": "notary",
                "issuer": "auth",
                "rootcertbundle": "token-root.pem",
            }
            | options,
        },
    }
    path = tmp_path / "server-config.json"
    path.write_text(json.dumps(document))
    return path


def test_config_defaults_and_keys(token_issuer: TestIssuer, tmp_path: Path) -> None:
    auth = load_config(write_config(tmp_path, token_issuer), {}).auth
    assert auth is not None
    assert (
        auth.login_client_burst,
        auth.login_client_per_minute,
        auth.login_user_burst,
        auth.login_user_per_minute,
        auth.login_limit_entries,
    ) == (
        DEFAULT_CLIENT_BURST,
        DEFAULT_CLIENT_PER_MINUTE,
        DEFAULT_USER_BURST,
        DEFAULT_USER_PER_MINUTE,
        DEFAULT_LIMIT_ENTRIES,
    )
    path = write_config(
        tmp_path,
        token_issuer,
        login_client_burst=0,
        login_client_per_minute=0.5,
        login_user_burst=3,
        login_user_per_minute=1,
        login_limit_entries=50,
    )
    auth = load_config(path, {"NOTARY_SERVER_AUTH_OPTIONS_LOGIN_USER_BURST": "4"}).auth
    assert auth is not None
    assert (
        auth.login_client_burst,
        auth.login_client_per_minute,
        auth.login_user_burst,
        auth.login_user_per_minute,
        auth.login_limit_entries,
    ) == (0, 0.5, 4, 1.0, 50)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("login_client_burst", -1),
        ("login_user_burst", -1),
        ("login_client_per_minute", 0),
        ("login_user_per_minute", -1),
        ("login_limit_entries", 0),
        ("login_user_burst", "many"),
    ],
)
def test_config_refuses_bad_values(
    token_issuer: TestIssuer, tmp_path: Path, key: str, value: Any
) -> None:
    with pytest.raises(ConfigError, match=rf"auth\.options\.{key}"):
        load_config(write_config(tmp_path, token_issuer, **{key: value}), {})


# -- the real notary CLI meets the limit ---------------------------------------------------------


@pytest.mark.gotools
def test_notary_cli_reports_the_limit(tmp_path: Path) -> None:
    """Go's CLI fails the token fetch on the 429 and shows our message; other users still work."""
    from testkit.gotools import require_go_tools  # noqa: PLC0415
    from testkit.ourserver import OurNotaryServer  # noqa: PLC0415
    from tests.auth.test_notary_cli_token_auth import cli  # noqa: PLC0415 - needs the Go tools

    require_go_tools()
    issuer = TestIssuer(service="notary-server")
    users = {"alice": PASSWORD, "bob": PASSWORD}
    htpasswd, key, cert = issuer.write_builtin_files(tmp_path, users)
    options = issuer.options(tmp_path, realm="") | {
        "autoredirect": True,
        "htpasswd": str(htpasswd),
        "issuer_key": str(key),
        "issuer_cert": str(cert),
        "login_client_burst": 0,
        "login_user_burst": 1,
        "login_user_per_minute": 0.001,
    }
    auth = {"auth": {"type": "token", "options": options}}
    with OurNotaryServer(tmp_path, storage="sqlite3", extra_config=auth) as server:
        gun = "example.com/auth/limited"
        wrong = cli(server, tmp_path / "wrong", "alice:not-the-password")
        first = wrong.run("list", gun, check=False)
        second = wrong.run("list", gun, check=False)
        right = cli(server, tmp_path / "right", f"alice:{PASSWORD}").run("list", gun, check=False)
        bob = cli(server, tmp_path / "bob", f"bob:{PASSWORD}").run("init", "-p", gun, check=False)
    assert first.returncode != 0
    assert "fatal: unauthorized" in first.stdout + first.stderr
    assert second.returncode != 0
    assert "fatal: toomanyrequests: too many requests" in second.stdout + second.stderr
    assert right.returncode != 0  # the right password waits for the window too
    assert "toomanyrequests" in right.stdout + right.stderr
    assert bob.returncode == 0, bob.stdout + bob.stderr  # another user is not locked out
