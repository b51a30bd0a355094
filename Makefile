# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint docs fuzz bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[postgres,demo,dev]"
	@# Byte-compiled once here: where PYTHONDONTWRITEBYTECODE is set, every command would otherwise compile
	@# joinedup's modules afresh at start-up. Python still recompiles any module edited since.
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

install: $(STAMP)  ## .venv with joinedup and all extras (postgres, demo, dev); `joinedup` in .venv/bin

demo: $(STAMP)  ## build a demo estate from synthetic UK data and ingest it
	$(BIN)/joinedup demo --estate demo-estate --fresh

lint: $(STAMP)  ## ruff (lint and format), the layer contracts, mypy --strict on src/
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint  ## the whole suite (PostgreSQL tests skip with a message when it is absent)
	$(BIN)/python -m pytest -n 2 -q

docs: $(STAMP)  ## regenerate docs/cli.md from every command's --help (a test fails when it is stale)
	$(BIN)/python -m joinedup.cli.reference docs/cli.md

fuzz: $(STAMP)  ## the fuzz tests with the large "nightly" example budget (see docs/testing.md)
	HYPOTHESIS_PROFILE=nightly $(BIN)/python -m pytest tests/fuzz -n 2 -q

bench: $(STAMP)  ## benchmarks print JSON; see benchmarks/README.md
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) demo-estate .pytest_cache .ruff_cache
