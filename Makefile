# Lawful — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck pytest browser-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs are re-run whenever pyproject.toml changes.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run-installed

## run: install, migrate the embedded SQLite database, load demo data, serve on http://127.0.0.1:8000
run: $(VENV)/.run-installed
	$(BIN)/lawful demo

## test: install with the dev extras, then ruff, mypy and pytest (SQLite and PostgreSQL)
test: $(VENV)/.dev-installed browser-deps lint typecheck pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed browser-deps
	$(BIN)/pytest

## browser-deps: Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium;
## `playwright install` is never used). Installed only as root with apt-get; elsewhere they skip.
CHROMIUM := /usr/bin/chromium
browser-deps:
	@if [ -x $(CHROMIUM) ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| { echo "installing chromium failed: the browser tests will skip"; [ "$$CI" != true ]; }; \
	else \
		echo "$(CHROMIUM) is missing and cannot be installed here (needs root and apt-get):" \
			"the browser tests will skip (and fail under CI=true)"; \
	fi

## bench: the benchmarks of bench/ (each prints a table)
bench: $(VENV)/.dev-installed
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
