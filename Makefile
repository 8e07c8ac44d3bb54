# Developer commands. Everything runs from the project's virtualenv in .venv,
# which `make install` creates; `.ci/run` (system packages, then install, then
# test) is what CI and a fresh machine run.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: help install run certs lint format typecheck test proto

help:
	@echo "make install    create $(VENV) and install the project with its test extra"
	@echo "make run        install, then run signer + server on SQLite under ./notary-data (Ctrl-C stops)"
	@echo "make certs      development CA and certificates in ./certs (for docker-compose.yml)"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make format     ruff format and ruff check --fix"
	@echo "make typecheck  mypy (strict, configured in pyproject.toml)"
	@echo "make test       lint, typecheck, then the test suite under coverage"
	@echo "make proto      regenerate notary_proto/ from signer.proto"

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'

# The embedded default: dev certificates, SQLite and configs under ./notary-data, then the
# signer and the server in the foreground (scripts/run_embedded.py; Ctrl-C stops both).
run:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python scripts/run_embedded.py

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
