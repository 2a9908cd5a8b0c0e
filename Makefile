SHELL := /bin/bash
# One command each, on a fresh machine with Python 3.11+: the venv is made on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r <($(BIN)/python scripts/requirements.py test)
	$(BIN)/pip install -qq --no-deps -e .  # the `cadence` command (-qq: without the editable-install notice)
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m scripts.run_local

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -q -m "not e2e and not slow"

bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.schedule_bench
	$(BIN)/python -m benchmarks.e2e_bench

clean:
	rm -rf $(VENV) .pytest_cache
