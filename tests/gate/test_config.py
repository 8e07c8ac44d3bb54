"""``gate-config.json``: what loads, and errors that name the key (issue #16)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from notary_gate.config import ConfigError, load_config
from notary_gate.policy import DOCKER_ROLES, EnforceRule, Policy
from testkit.realparts import REPO_ROOT

MINIMAL: dict[str, Any] = {
    "registry": {"url": "http://127.0.0.1:5000", "name": "registry.example.com"},
    "trust_server": {"url": "https://127.0.0.1:4443"},
    "enforce": ["registry.example.com/prod/"],
}


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "gate-config.json"
    path.write_text(json.dumps(document))
    return path


def test_minimal_configuration_and_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), {})
    assert (config.host, config.port, config.tls) == ("127.0.0.1", 5443, None)
    assert config.max_age == 30.0
    assert config.fail_open is False
    assert config.rules == (EnforceRule(prefix="registry.example.com/prod/"),)
    assert config.rules[0].roles == DOCKER_ROLES


def test_rule_objects_and_environment_overrides(tmp_path: Path) -> None:
    document = MINIMAL | {
        "enforce": [
            "registry.example.com/",
            {"prefix": "registry.example.com/prod/", "roles": ["targets/releases"]},
            {"prefix": "registry.example.com/scratch/", "enforce": False},
        ]
    }
    config = load_config(
        write(tmp_path, document),
        {"NOTARY_GATE_CACHE_MAX_AGE": "5", "NOTARY_GATE_TRUST_SERVER_FAIL_OPEN": "true"},
    )
    assert (config.max_age, config.fail_open) == (5.0, True)
    policy = Policy(config.rules)
    prod = policy.rule_for("registry.example.com/prod/app")
    assert prod is not None
    assert prod.roles == ("targets/releases",)
    assert policy.rule_for("registry.example.com/scratch/x") is None
    assert policy.rule_for("registry.example.com/dev/app") is not None
    assert policy.rule_for("other.example.com/prod/app") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"registry": {"name": "r"}}, "registry.url: required"),
        ({"registry": {"url": "ftp://x", "name": "r"}}, "registry.url: expected an http://"),
        ({"registry": {"url": "http://x"}}, "registry.name: required"),
        ({"trust_server": {"url": "https://x/v2"}}, "trust_server.url: give the server's base URL"),
        ({"trust_server": {"url": "https://x", "fail_open": "maybe"}}, "trust_server.fail_open"),
        ({"cache": {"max_age": -1}}, "cache.max_age: expected a number of at least 0"),
        ({"enforce": "not a list"}, None),
        ({"enforce": [7]}, "enforce[0]: expected a GUN prefix"),
        ({"enforce": [{"prefix": "a/", "roles": ["snapshot"]}]}, "enforce[0].roles: 'snapshot'"),
        ({"enforce": [{"prefix": "a/", "colour": 1}]}, "enforce[0].colour: unknown key"),
        ({"enforce": ["a/", "a/"]}, "enforce[1].prefix: 'a/' is listed twice"),
        ({"server": {"http_addr": "nowhere"}}, "server.http_addr: expected host:port"),
        ({"server": {"tls_cert_file": "x.crt"}}, "server.tls_cert_file and server.tls_key_file"),
        ({"trust_pinning": {"root_keys": {"g": "abc"}}}, "trust_pinning.root_keys.g"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, change: dict[str, Any], message: str | None) -> None:
    document = MINIMAL | change
    if message is None:  # a string is an override's form: split into prefixes, no error
        assert load_config(write(tmp_path, document), {}).rules[0].prefix == "not"
        return
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, document), {})


def test_bad_configuration_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL | {"cache": {"max_age": "soon"}})
    done = subprocess.run(
        [sys.executable, "-m", "notary_gate", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("notary_gate: cache.max_age: expected a number")
