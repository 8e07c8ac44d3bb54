"""The ``python -m notary_server`` / ``python -m notary_signer`` command lines.

Both follow Go's flags (``-config``, ``-logf``, ``-version``, one or two
dashes), and no console script may take the names the Debian ``notary``
package gives the Go reference, which the interop tests run beside ours.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import notary_tuf
from notary_proto import GO_NOTARY_VERSION

if TYPE_CHECKING:
    import argparse

ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINTS = ("notary_server", "notary_signer")
GO_REFERENCE_NAMES = {"notary", "notary-server", "notary-signer"}


def _python_m(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _parser(module: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = importlib.import_module(f"{module}.__main__").build_parser()
    return parser


@pytest.mark.parametrize("module", ENTRY_POINTS)
@pytest.mark.parametrize("flag", ["--help", "-help", "-h"])
def test_help(module: str, flag: str) -> None:
    result = _python_m(module, flag)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {module} ")
    for option in ("--config", "-config", "--logf", "-logf", "--version"):
        assert option in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("module", ENTRY_POINTS)
@pytest.mark.parametrize("flag", ["--version", "-version"])
def test_version(module: str, flag: str) -> None:
    result = _python_m(module, flag)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{module} {notary_tuf.__version__} (wire-compatible with notary {GO_NOTARY_VERSION})\n"
    )
    assert GO_NOTARY_VERSION == "0.7.0"


@pytest.mark.parametrize("module", ENTRY_POINTS)
@pytest.mark.parametrize(
    "argv",
    [
        ["-config", "conf/x.json"],
        ["-config=conf/x.json"],  # Go's compose files spell it this way
        ["--config", "conf/x.json"],
        ["--config=conf/x.json"],
    ],
)
def test_config_flag_spellings(module: str, argv: list[str]) -> None:
    args = _parser(module).parse_args(argv)
    assert args.config == Path("conf/x.json")
    assert args.logf == "json"


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_logf_and_defaults(module: str) -> None:
    parser = _parser(module)
    assert parser.parse_args(["-logf", "logfmt"]).logf == "logfmt"
    assert parser.parse_args(["--logf=json"]).logf == "json"
    assert parser.parse_args([]).config is None


@pytest.mark.parametrize("module", ENTRY_POINTS)
@pytest.mark.parametrize("argv", [["-logf", "xml"], ["--conf", "x.json"], ["--bogus"]])
def test_bad_arguments_exit_2(module: str, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _parser(module).parse_args(argv)
    assert exc.value.code == 2


def test_server_run_reports_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Serving itself is covered by tests/server and tests/interop.
    main = importlib.import_module("notary_server.__main__").main
    assert main(["-config", str(tmp_path / "server-config.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("notary_server: ")
    assert "server-config.json" in err


def test_signer_run_reports_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The serving path itself is covered by tests/signer/test_rotate_and_cli.py.
    main = importlib.import_module("notary_signer.__main__").main
    assert main(["-config", str(tmp_path / "signer-config.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("notary_signer: ")
    assert "signer-config.json" in err
    result = _python_m("notary_signer")
    assert result.returncode == 1
    assert "a configuration file is required" in result.stderr


def test_signer_subcommands_keep_top_level_flags() -> None:
    parser = _parser("notary_signer")
    args = parser.parse_args(["-config", "a.json", "migrate"])
    assert args.config == Path("a.json")
    args = parser.parse_args(["migrate", "--config=b.json", "-logf", "logfmt"])
    assert (args.config, args.logf) == (Path("b.json"), "logfmt")
    args = parser.parse_args(["rotate-passphrase", "-config", "c.json", "--to-alias", "new"])
    assert (args.config, args.to_alias, args.logf) == (Path("c.json"), "new", "json")


def test_importing_main_modules_has_no_side_effects() -> None:
    code = (
        "import logging, sys\n"
        "import notary_server.__main__, notary_signer.__main__\n"
        "assert not logging.getLogger().handlers, logging.getLogger().handlers\n"
        "assert 'grpc' not in sys.modules and 'aiohttp' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""


def test_pyproject_declares_no_go_reference_command_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = set(project.get("scripts", {})) | set(project.get("gui-scripts", {}))
    assert not declared & GO_REFERENCE_NAMES


def test_installed_distribution_has_no_go_reference_command_names() -> None:
    dist = importlib.metadata.distribution("notary-py")
    installed = {ep.name for ep in dist.entry_points if ep.group.endswith("scripts")}
    assert not installed & GO_REFERENCE_NAMES
