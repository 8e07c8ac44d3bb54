"""The signer's schema migrations, installed as ``notary_signer._migrations`` (ADR 0029).

``postgresql/`` and ``sqlite/`` hold the numbered ``.sql`` files that
``notary_signer.keystore.migrate`` applies; this file makes the folder an importable
package in both an editable install and a wheel.
"""
