"""What the server does, independent of HTTP: updates, timestamps, keys.

Services raise domain errors (storage, validation, trust); the HTTP layer maps
them to Notary's error codes.
"""
