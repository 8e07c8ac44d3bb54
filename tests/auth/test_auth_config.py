"""The ``auth`` section of server-config.json: Go's keys, checked at load time."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from notary_server.config import ConfigError, load_config
from testkit.issuer import TestIssuer, make_cert


def write(tmp_path: Path, auth: Any) -> Path:
    document = {
        "server": {"http_addr": "127.0.0.1:4443"},
        "trust_service": {"type": "local"},
        "storage": {"backend": "memory"},
        "auth": auth,
    }
    path = tmp_path / "server-config.json"
    path.write_text(json.dumps(document))
    return path


def options(issuer: TestIssuer, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    issuer.write_bundle(tmp_path)
    return {
        "realm": "https://auth.example.com/token",
        "service": "notary",
        "issuer": "auth",
        "rootcertbundle": "token-root.pem",  # relative to the config file
    } | extra


def test_token_auth(token_issuer: TestIssuer, tmp_path: Path) -> None:
    path = write(tmp_path, {"type": "token", "options": options(token_issuer, tmp_path)})
    auth = load_config(path, {}).auth
    assert auth is not None
    assert (auth.realm, auth.service, auth.issuer) == (
        "https://auth.example.com/token",
        "notary",
        "auth",
    )
    assert auth.root_cert_bundle == tmp_path / "token-root.pem"
    assert not auth.autoredirect
    assert not auth.builtin_issuer


@pytest.mark.parametrize("kind", [None, "", "htpasswd", "silly", "Token"])
def test_other_types_mean_no_auth(tmp_path: Path, kind: Any) -> None:
    assert load_config(write(tmp_path, {"type": kind, "options": {}}), {}).auth is None


def test_environment_overrides(token_issuer: TestIssuer, tmp_path: Path) -> None:
    path = write(tmp_path, {"type": "none", "options": options(token_issuer, tmp_path)})
    env = {"NOTARY_SERVER_AUTH_TYPE": "token", "NOTARY_SERVER_AUTH_OPTIONS_AUTOREDIRECT": "true"}
    auth = load_config(path, env).auth
    assert auth is not None
    assert auth.autoredirect


@pytest.mark.parametrize("missing", ["realm", "service", "issuer", "rootcertbundle"])
def test_required_options(token_issuer: TestIssuer, tmp_path: Path, missing: str) -> None:
    opts = options(token_issuer, tmp_path)
    del opts[missing]
    with pytest.raises(ConfigError, match=rf"auth\.options\.{missing}"):
        load_config(write(tmp_path, {"type": "token", "options": opts}), {})
    opts[missing] = 5
    with pytest.raises(ConfigError, match=rf"auth\.options\.{missing}"):
        load_config(write(tmp_path, {"type": "token", "options": opts}), {})


def test_options_must_be_a_map(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"auth\.options"):
        load_config(write(tmp_path, {"type": "token", "options": "realm=x"}), {})


def test_autoredirect_must_be_a_bool(token_issuer: TestIssuer, tmp_path: Path) -> None:
    opts = options(token_issuer, tmp_path, autoredirect="yes")
    with pytest.raises(ConfigError, match=r"auth\.options\.autoredirect"):
        load_config(write(tmp_path, {"type": "token", "options": opts}), {})


@pytest.mark.parametrize("content", ["missing", "empty", "garbage", "ed25519"])
def test_bad_root_bundles(token_issuer: TestIssuer, tmp_path: Path, content: str) -> None:
    opts = options(token_issuer, tmp_path)
    bundle = tmp_path / "token-root.pem"
    if content == "missing":
        bundle.unlink()
    elif content == "empty":
        bundle.write_text("")
    elif content == "garbage":
        bundle.write_text(
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
        )
    else:
        key = ed25519.Ed25519PrivateKey.generate()
        bundle.write_bytes(make_cert(key, "ed", ca=True).public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ConfigError, match=r"auth\.options\.rootcertbundle"):
        load_config(write(tmp_path, {"type": "token", "options": opts}), {})


def builtin(issuer: TestIssuer, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    htpasswd, key, cert = issuer.write_builtin_files(tmp_path, {"alice": "secret"})
    return (
        options(
            issuer, tmp_path, htpasswd=str(htpasswd), issuer_key=str(key), issuer_cert=str(cert)
        )
        | extra
    )


def test_builtin_issuer(token_issuer: TestIssuer, tmp_path: Path) -> None:
    opts = builtin(token_issuer, tmp_path, token_ttl=600)
    auth = load_config(write(tmp_path, {"type": "token", "options": opts}), {}).auth
    assert auth is not None
    assert auth.builtin_issuer
    assert auth.issuer_path == "/token"
    assert auth.token_ttl == 600


def test_builtin_issuer_needs_all_three(token_issuer: TestIssuer, tmp_path: Path) -> None:
    opts = builtin(token_issuer, tmp_path)
    del opts["issuer_key"]
    with pytest.raises(ConfigError, match="needs all three"):
        load_config(write(tmp_path, {"type": "token", "options": opts}), {})


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"realm": "https://h/v2/token"}, "auth.options.realm"),
        ({"realm": "https://h/metrics"}, "auth.options.realm"),
        ({"realm": "https://h"}, "auth.options.realm"),
        ({"token_ttl": 0}, "auth.options.token_ttl"),
    ],
)
def test_builtin_issuer_bad_options(
    token_issuer: TestIssuer, tmp_path: Path, extra: dict[str, Any], key: str
) -> None:
    opts = builtin(token_issuer, tmp_path, **extra)
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(write(tmp_path, {"type": "token", "options": opts}), {})


def test_builtin_issuer_cert_must_chain_to_the_bundle(tmp_path: Path) -> None:
    trusted, stranger = TestIssuer(), TestIssuer()
    opts = builtin(stranger, tmp_path)
    trusted.write_bundle(tmp_path)  # overwrite the bundle with another root
    with pytest.raises(ConfigError, match=r"auth\.options\.issuer_cert"):
        load_config(write(tmp_path, {"type": "token", "options": opts}), {})


def test_builtin_issuer_bad_htpasswd(token_issuer: TestIssuer, tmp_path: Path) -> None:
    opts = builtin(token_issuer, tmp_path)
    Path(opts["htpasswd"]).write_text("alice:{SHA}plaintext\n")
    with pytest.raises(ConfigError, match=r"auth\.options\.htpasswd"):
        load_config(write(tmp_path, {"type": "token", "options": opts}), {})
