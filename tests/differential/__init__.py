"""Differential tests: the same client walks against Go's notary-server and ours."""
