"""The Notary signer: the gRPC service that holds private keys and signs for the server.

A reimplementation of Go notary 0.7's notary-signer, speaking the same
``signer.proto`` (``notary_proto``) so that either half can run beside the Go
other half. It never imports ``notary_server``. Run it with
``python -m notary_signer --config FILE``.
"""
