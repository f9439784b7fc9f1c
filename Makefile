# Two entry points (see README): `make run` (the main job) and `make test`.
# Each creates .venv on first use with only Python 3.11+ on the machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format typecheck docs bench clean browser

$(STAMP): pyproject.toml
	@echo "Installing contagion with its test and docs tools into $(VENV) (the first time: about 2 minutes)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off ".[dev]"
	touch $(STAMP)

# The main job: default policy experiment on the bundled calibrated system, writing a report.
# Its 64 parameter draws run in two local processes (results are identical to one process).
run: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall .
	$(BIN)/contagion run --out contagion-report --overwrite --workers 2

# The test suite: lint, format and type checks, pytest (tests/test_install.py checks the
# non-editable install from outside the source tree; pytest-xdist spreads the tests over
# the cores, at most 4 processes, each ~0.5 GB), then the documentation with warnings
# as errors (after pytest: it renders the notebooks the tests executed, so they run once).
# The last line repeats pytest's counts.
test: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall .
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --junitxml=build/pytest.xml; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc
	$(MAKE) --no-print-directory docs
	@$(BIN)/python -c "import xml.etree.ElementTree as E; s = E.parse('build/pytest.xml').getroot(); s = s if s.tag == 'testsuite' else s[0]; n = {k: int(s.get(k, 0)) for k in ('tests', 'failures', 'errors', 'skipped')}; print(f\"pytest: {n['tests'] - n['failures'] - n['errors'] - n['skipped']} passed, {n['failures'] + n['errors']} failed, {n['skipped']} skipped\")"

# The documentation site into docs/_build/html (warnings are errors; no network needed).
docs: $(STAMP)
	$(BIN)/python -m sphinx -E -W --keep-going -q -b html docs docs/_build/html
	@echo "Documentation: docs/_build/html/index.html"

typecheck: $(STAMP)
	$(BIN)/mypy

# A headless browser for the report test (tests/test_report_browser.py; skipped without one):
# Debian's chromium where apt-get works (root, or sudo without a password); else a message.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || command -v google-chrome >/dev/null 2>&1; then echo "browser: found"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  >/dev/null && echo "browser: installed chromium"; \
	elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  (sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq chromium) >/dev/null && echo "browser: installed chromium"; \
	else echo "browser: none installed (needs apt-get as root); the browser test will skip"; fi

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall .
	$(BIN)/python -m pytest benchmarks -p no:randomly --benchmark-only -q

lint:
	$(BIN)/ruff check .
format:
	$(BIN)/ruff format .
clean:
	rm -rf $(VENV) build dist *.egg-info docs/_build docs/_generated docs/notebooks
