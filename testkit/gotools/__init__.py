"""Harness that drives the Go reference tools (Debian ``notary`` 0.7 package).

It starts ``/usr/bin/notary-server`` with throw-away TLS material, drives the real
``/usr/bin/notary`` client through a scripted scenario and collects every metadata
file the Go tools produced, both as served by the Go server and as cached by the Go
client.  Our own tests take those files as test vectors.

Modules: :mod:`.common` (binaries, errors), :mod:`.server`, :mod:`.cli`,
:mod:`.collect`, :mod:`.scenario`; every public name is re-exported here.

Main entry points:

* :class:`GoNotaryServer` -- context manager running ``notary-server`` on loopback;
  its base :class:`NotaryServerProcess` is the surface shared with our server
  (``testkit.ourserver.OurNotaryServer``).
* :class:`NotaryCLI` -- runs ``notary`` with its own trust dir, never prompting.
* :func:`collect_repository` -- fetches everything the server serves for a GUN.
* :func:`run_reference_scenario` and :func:`run_server_managed_snapshot_scenario`.
* :func:`reference_vectors` -- session fixture (re-export it from ``conftest.py``).

Delegation uploads and notary issue #1630: a notary 0.7 server built with plain
Go >= 1.17 takes the role from ``multipart.Part.FileName()``, which since Go 1.17
applies ``filepath.Base``, so a part named ``targets/releases`` would arrive as
``releases`` and be refused with ``400 INVALID_ROLE`` (detail ``"releases"``).  The
Debian package (0.7.0+ds1-2, Go 1.19.8) does **not** show this -- it evidently
carries the fix (upstream PR #1635, "Fix role parsing in golang 1.17+"): the
filename is used verbatim, a delegate's ``notary add --roles targets/releases -p``
succeeds and the server stores and serves ``targets/releases``.  Observed directly:
a part named ``x/targets/releases`` gets ``INVALID_ROLE`` with detail
``"x/targets/releases"``.  The scenario records the outcome
(:class:`DelegationPublishOutcome`) and carries on should a server refuse it.
"""

from testkit.gotools.cli import (
    AuthNotaryCLI,
    CLIFactory,
    DelegationKey,
    NotaryCLI,
    TargetListing,
    cli_factory_for,
    make_delegation_key,
    parse_target_list,
)
from testkit.gotools.collect import (
    Source,
    Vector,
    collect_repository,
    role_of_label,
    sha256_hex_from_meta,
)
from testkit.gotools.common import (
    APT_HINT,
    DEFAULT_PASSPHRASE,
    NOTARY_BIN,
    NOTARY_SERVER_BIN,
    NOTARY_SIGNER_BIN,
    PASSPHRASE_ENV_VARS,
    GoToolError,
    free_port,
    missing_go_tools,
    no_proxy_env,
    require_docker_cli,
    require_go_tools,
    stop_process,
    tail_of,
)
from testkit.gotools.scenario import (
    REFERENCE_GUN,
    REFERENCE_GUN_SERVER_SNAPSHOT,
    DelegationPublishOutcome,
    ReferenceVectors,
    ScenarioResult,
    StepResult,
    build_reference_vectors,
    reference_vectors,
    run_reference_scenario,
    run_server_managed_snapshot_scenario,
)
from testkit.gotools.server import (
    GoNotaryServer,
    NotaryServerProcess,
    Response,
    multipart_body,
)

__all__ = [
    "APT_HINT",
    "DEFAULT_PASSPHRASE",
    "NOTARY_BIN",
    "NOTARY_SERVER_BIN",
    "NOTARY_SIGNER_BIN",
    "PASSPHRASE_ENV_VARS",
    "REFERENCE_GUN",
    "REFERENCE_GUN_SERVER_SNAPSHOT",
    "AuthNotaryCLI",
    "CLIFactory",
    "DelegationKey",
    "DelegationPublishOutcome",
    "GoNotaryServer",
    "GoToolError",
    "NotaryCLI",
    "NotaryServerProcess",
    "ReferenceVectors",
    "Response",
    "ScenarioResult",
    "Source",
    "StepResult",
    "TargetListing",
    "Vector",
    "build_reference_vectors",
    "cli_factory_for",
    "collect_repository",
    "free_port",
    "make_delegation_key",
    "missing_go_tools",
    "multipart_body",
    "no_proxy_env",
    "parse_target_list",
    "reference_vectors",
    "require_docker_cli",
    "require_go_tools",
    "role_of_label",
    "run_reference_scenario",
    "run_server_managed_snapshot_scenario",
    "sha256_hex_from_meta",
    "stop_process",
    "tail_of",
]
