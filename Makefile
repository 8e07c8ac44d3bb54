# Developer commands. Everything runs from the project's virtualenv in .venv,
# which `make install` creates; `.ci/run` (system packages, then install, then
# test) is what CI and a fresh machine run.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: help install run lint format typecheck test proto

help:
	@echo "make install    create $(VENV) and install the project with its test extra"
	@echo "make run        install and start the server and signer (for now: print their versions)"
	@echo "make lint       ruff check and ruff format --check"
	@echo "make format     ruff format and ruff check --fix"
	@echo "make typecheck  mypy (strict, configured in pyproject.toml)"
	@echo "make test       lint, typecheck, then the test suite under coverage"
	@echo "make proto      regenerate notary_proto/ from signer.proto"

install:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'

# The server and signer are under construction (issue #3): until they land this
# only installs the runtime and shows both entry points answer.
run:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m notary_server --version
	$(BIN)/python -m notary_signer --version

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m coverage run -m pytest
	$(BIN)/python -m coverage report

proto:
	$(BIN)/python scripts/gen_proto.py
