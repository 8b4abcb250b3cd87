PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean browser-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The browser tests: Debian's Chromium, and axe-core from npm into .cache (not committed).
AXE := .cache/browser/node_modules/axe-core/axe.min.js

browser-deps:
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }
	@test -f $(AXE) || npm install --prefix .cache/browser --no-audit --no-fund axe-core@4

demo: $(STAMP)
	$(BIN)/leadloop demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_scoring
	$(BIN)/python -m benchmarks.bench_pipeline

clean:
	rm -rf $(VENV) .leadloop
