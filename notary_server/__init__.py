"""The Notary server: the TUF metadata HTTP API Docker Content Trust clients talk to.

A reimplementation of Go notary 0.7's notary-server, wire-compatible with it:
the same routes, status codes, error bodies and metadata bytes. It reaches the
signer only over gRPC (``notary_proto``) and never imports ``notary_signer``.
Run it with ``python -m notary_server --config FILE``.
"""
