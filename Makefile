# Two commands on a fresh machine: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Options for the workstation: make run ARGS="--screenshot demo.png" (see `ssc-workstation --help`)
ARGS ?=

.PHONY: run test lint typecheck bench bundle clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ssc-workstation --demo $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check ssc_core app tests benchmarks docs
	$(VENV)/bin/ruff check ssc_core app tests benchmarks docs
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: $(STAMP) lint typecheck
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: $(STAMP)
	@echo "Run one benchmark: $(PY) -m benchmarks.<name> (see benchmarks/README.md)"

bundle: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bundle]"
	$(VENV)/bin/pyinstaller --noconfirm build.spec
	QT_QPA_PLATFORM=offscreen dist/ssc-workstation/ssc-workstation --self-test
	du -sh dist/ssc-workstation

clean:
	rm -rf build dist .pytest_cache .ruff_cache .mypy_cache
