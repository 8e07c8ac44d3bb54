# Developer commands. Everything runs from the project's virtualenv in .venv,
# which `make install` creates; `.ci/run` (system packages, then install, then
# test) is what CI and a fresh machine run.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# make run's options: make run SERVER_PORT=5443 SIGNER_PORT=8899 DATA_DIR=/tmp/notary-data
SERVER_PORT ?= 4443
SIGNER_PORT ?= 7899
DATA_DIR    ?= notary-data
RUN_ARGS    := --data-dir $(DATA_DIR) --server-port $(SERVER_PORT) --signer-port $(SIGNER_PORT)

.PHONY: help install run run-auth run-install certs lint format typecheck test proto screenshots

help:
	@echo "make install    create $(VENV) and install the project with its test extra"
	@echo "make run        install, then run signer + server on SQLite under ./notary-data (Ctrl-C stops)"
	@echo "                options: SERVER_PORT=4443 SIGNER_PORT=7899 DATA_DIR=notary-data"
	@echo "make run-auth   make run with token auth: the built-in issuer and a first user"
	@echo "make certs      development CA and certificates in ./certs (for docker-compose.yml)"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make format     ruff format and ruff check --fix"
	@echo "make typecheck  mypy (strict, configured in pyproject.toml)"
	@echo "make test       lint, typecheck, then the test suite under coverage"
	@echo "make proto      regenerate notary_proto/ from signer.proto"
	@echo "make screenshots  the operator console's pages into docs/console/ (needs chromium)"

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'

# The embedded default: dev certificates, SQLite and configs under ./notary-data, then the
# signer and the server in the foreground (scripts/run_embedded.py; Ctrl-C stops both).
# The launcher is make's direct child (no shell in between): a SIGTERM to make's PID
# reaches it (GNU make forwards SIGTERM, not SIGINT; Ctrl-C reaches the whole group).
run: run-install
	$(BIN)/python scripts/run_embedded.py $(RUN_ARGS)

# make run with token auth (the built-in issuer, a first user; README "Token auth").
run-auth: run-install
	$(BIN)/python scripts/run_embedded.py $(RUN_ARGS) --auth

run-install:
	@test -x $(BIN)/python || echo "creating $(VENV) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing notary-py into $(VENV) (pip; the first time takes about 20 s) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .

certs:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python scripts/gen_dev_certs.py --out certs

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy

# Coverage counts the server and signer processes the tests start too (pyproject:
# [tool.coverage.run] patch = subprocess); each process writes its own data file.
test: lint typecheck
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest
	$(BIN)/python -m coverage combine --quiet
	$(BIN)/python -m coverage report

proto:
	$(BIN)/python scripts/gen_proto.py

# The operator console's screenshots (ADR 0026): the browser test that takes them, into docs/console/.
screenshots:
	NOTARY_CONSOLE_SCREENSHOTS=docs/console $(BIN)/pytest tests/console/test_console_browser.py -q -k screenshots
