# Images for `python -m notary_server` and `python -m notary_signer`, built from this clone.
#   docker build --target server -t notary-py-server .
#   docker build --target signer -t notary-py-signer .
# docker-compose.yml builds both. Configuration files and certificates are mounted at run
# time (deploy/, certs/), never baked in: the image holds no key material.
FROM python:3.11-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/notary
COPY pyproject.toml README.md ./
COPY notary_tuf ./notary_tuf
COPY notary_proto ./notary_proto
COPY notary_runtime ./notary_runtime
COPY notary_server ./notary_server
COPY notary_signer ./notary_signer
COPY notary_gate ./notary_gate
COPY migrations ./migrations
RUN pip install . && rm -rf build *.egg-info
# The compose health checks (stdlib + grpcio, no project imports).
COPY scripts/healthcheck.py ./scripts/healthcheck.py

# Go's images run as root too; the mounted keys are then readable whatever their owner.
# A production image can add `USER` once the key files' ownership is arranged for it.

FROM base AS signer
EXPOSE 7899
ENTRYPOINT ["python", "-m", "notary_signer"]
CMD ["--config", "deploy/signer-config.json"]

FROM base AS server
EXPOSE 4443
ENTRYPOINT ["python", "-m", "notary_server"]
CMD ["--config", "deploy/server-config.json"]
