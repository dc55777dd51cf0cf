# plantcarbon — the two commands are `make demo` (later) and `make test`.
# `make test` does all set-up on a fresh machine: the Python venv, Mosquitto (apt), the
# influxd 2.7 build (cached in ~/.cache/plantcarbon), then lint and the whole test suite.

VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup services lint test clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed services

services: $(VENV)/.installed
	$(PY) -m core.cli services install

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
