# Two entry points (see README): `make run` (the main job) and `make test`.
# Each creates .venv on first use with only Python 3.11+ on the machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet ".[dev]"
	touch $(STAMP)

# The main job: default policy experiment on the bundled calibrated system, writing a report.
run: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall .
	$(BIN)/contagion run --out contagion-report --overwrite

# The test suite: lint and format check, then pytest (tests/test_install.py checks the
# non-editable install from outside the source tree).
test: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall .
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall .
	$(BIN)/python -m pytest benchmarks -p no:randomly --benchmark-only -q

lint:
	$(BIN)/ruff check .
format:
	$(BIN)/ruff format .
clean:
	rm -rf $(VENV) build dist *.egg-info
