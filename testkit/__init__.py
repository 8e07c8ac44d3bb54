"""The harness the tests and the benchmarks share (ADR 0030); not shipped.

What ``tests/`` and ``bench/`` both need lives here, so that ``bench/`` never
imports ``tests/`` (``tests/test_layering.py``):

* :mod:`testkit.gotools`: the Debian ``notary``, ``notary-server`` and
  ``notary-signer`` binaries (the CLI, a server process, the reference scenario);
* :mod:`testkit.ourserver`: our server as a process, with the same surface;
* :mod:`testkit.realparts`: the registry gate's real parts (a registry, the
  gate, skopeo, an OCI image);
* :mod:`testkit.repo_builder`: a test-side notary client built on ``notary_tuf``;
* :mod:`testkit.server_helpers`: the in-process API's config, uploads and publishes;
* :mod:`testkit.issuer`: a token issuer for the server's token auth;
* :mod:`testkit.pg`: throwaway PostgreSQL databases; :mod:`testkit.ci`: skip
  locally, fail under ``CI=true``.

Processes are started, waited for and stopped with ``notary_runtime.processes``.
It needs the test extra (pytest, trustme) and imports nothing from ``tests/``
nor ``bench/``.
"""
