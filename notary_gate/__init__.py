"""The registry gate: a reverse proxy that refuses to serve unsigned images (issue #16).

``python -m notary_gate --config gate-config.json`` sits in front of an OCI
registry. Manifest reads of repositories under an enforced prefix are answered
only when a verifier (Docker Content Trust today: :mod:`notary_gate.dct`)
accepts the exact manifest the registry returns; everything else (blobs, tag
lists, the catalog, pushes, the registry's own auth challenges) passes through
unchanged. See ADR 0024.

The gate builds on ``notary_tuf`` and ``notary_runtime`` and never imports
``notary_server`` or ``notary_signer``: it reads trust data over the trust
server's public HTTP API, like any notary client.
"""
