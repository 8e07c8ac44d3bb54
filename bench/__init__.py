"""Side-by-side benchmark of our notary server and the Go notary-server (``python -m bench``)."""
