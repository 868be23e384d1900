# Two commands on a fresh machine: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Options for the workstation: make run ARGS="--screenshot demo.png" (see `ssc-workstation --help`)
ARGS ?=

.PHONY: run test lint typecheck bench bundle clean demo-model

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

# The demo model bundle (docs/training.md, "The demo model"): the level finder, then the scorer, into
# resources/models/demo, then its evaluation on the held-out phantom patients. DEVICE=cuda on a GPU.
DEVICE ?= cpu
DEMO := resources/models/demo
DEMO_WORK := build/demo-model
DEMO_NAME := SSc demo model (trained on synthetic data, not for clinical use)
DEMO_DATA := --phantoms 80 --phantom-seed 2024 --cache $(DEMO_WORK)/cache --device $(DEVICE)

demo-model: $(STAMP)
	$(VENV)/bin/ssc train levels $(DEMO_DATA) --out $(DEMO) --work $(DEMO_WORK) --restart --name "$(DEMO_NAME)" \
		--epochs 30 --slice-size 64 --widths 16,32,48,64 --lr 1e-3 --schedule cosine --warmup 1
	$(VENV)/bin/ssc train scorer $(DEMO_DATA) --out $(DEMO) --work $(DEMO_WORK) --restart --name "$(DEMO_NAME)" \
		--arch convnext_atto --epochs 29 --batch-size 32 --samples-per-epoch 4096 --warmup 1 --lr 1e-3 \
		--density-weight 1
	$(VENV)/bin/ssc evaluate --out $(DEMO_WORK)/evaluation.xlsx --record
