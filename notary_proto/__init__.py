"""The signer's gRPC interface, generated from Go notary's ``proto/signer.proto``.

``signer.proto`` is a byte-for-byte copy of the file in Go notary v0.7.0, so
that a Go notary-server can talk to our signer and our server to a Go
notary-signer. ``signer_pb2``, ``signer_pb2_grpc`` and their ``.pyi`` stubs are
generated from it by ``scripts/gen_proto.py`` (``make proto``) and committed;
``tests/test_proto_up_to_date.py`` fails when they drift from the proto. Never
edit any of these files by hand.

Importing this package does not import the generated modules or grpc.
"""

GO_NOTARY_VERSION = "0.7.0"
"""The Go notary release whose wire interface this project reproduces."""
