# The two commands a newcomer needs: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOUSEHOLDS ?= 1000
BENCH_HOUSEHOLDS ?= 20000
BENCH_WORKERS ?= 1
# Rounds of the saga then its limits; the figures are their medians and spread.
BENCH_REPEAT ?= 3

.PHONY: venv stack stack-down demo test lint typecheck unit integration promtool browser bench clean

# Reinstalled only when the dependency list changes.
$(VENV)/.installed: setup.cfg pyproject.toml dev/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./dev
	touch $@

venv: $(VENV)/.installed

stack: venv
	$(BIN)/dsrs stack up

stack-down: venv
	$(BIN)/dsrs stack down

demo: stack
	$(BIN)/dsrs demo --households $(HOUSEHOLDS)

# Style, and the layering's import contracts (.importlinter).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest tests/unit

integration: stack
	$(BIN)/pytest tests/integration

# promtool checks the alert rules; Debian ships it in the prometheus package (the service is not started).
promtool:
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }

# The live page's browser test drives Debian's chromium headless through chromedriver.
browser:
	@command -v chromedriver >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: lint typecheck stack promtool browser
	$(BIN)/pytest

# A quick run; the figures in docs/performance.md are `make bench BENCH_HOUSEHOLDS=180000` on a quiet machine.
bench: stack
	$(BIN)/dsrs bench saga --households $(BENCH_HOUSEHOLDS) --workers $(BENCH_WORKERS) --repeat $(BENCH_REPEAT)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
