# plantcarbon — the two commands: `make demo` (the main job) and `make test`.
# Both do all set-up on a fresh machine: the Python venv, Mosquitto (apt), the influxd 2.7
# build (cached in ~/.cache/plantcarbon). `make demo` then runs the cement plant live through
# the whole pipeline; `make test` runs lint (ruff, mypy, the import-layer contract) and the whole test suite.

VENV ?= .venv
PY := $(VENV)/bin/python
# Three parallel workers (pytest-xdist): the suite mostly waits on real servers, and the waits overlap
# (7 min 40 s against 20 min in one process on this 2-core machine; bench/README.md "Test suite").
# Each worker starts its own InfluxDB; ports come from one shared counter (plantcarbon_core/ports.py).
# One process: `make test PYTEST_ARGS=`. Tests go to workers one by one (xdist_group marks are lost
# with pytest 9.2: pytest-xdist issue #1386).
PYTEST_ARGS ?= -n 3 --dist loadgroup

SCENARIO ?= cement

.PHONY: setup services lint test demo clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed services

services: $(VENV)/.installed
	$(PY) -m plantcarbon services install

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-logo  # the layer contract in pyproject.toml [tool.importlinter]

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(PY) -m plantcarbon simulate demo --scenario $(SCENARIO)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
