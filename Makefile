# Lawful — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck pytest browser-deps pdf-deps bench clean

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
run: $(VENV)/.run-installed pdf-deps
	$(BIN)/lawful demo

## test: install with the dev extras, then ruff, mypy and pytest (SQLite and PostgreSQL)
test: $(VENV)/.dev-installed browser-deps pdf-deps lint typecheck pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

# The suite runs on every core (pytest-xdist): each worker has its own SQLite files and its own
# PostgreSQL database. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto

pytest: $(VENV)/.dev-installed browser-deps pdf-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS)

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

## pdf-deps: the Pango and HarfBuzz libraries WeasyPrint renders invoices with (Debian packages;
## installed only as root with apt-get, otherwise named).
PDF_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
pdf-deps:
	@if ldconfig -p | grep -q 'libpango-1.0.so' && ldconfig -p | grep -q 'libharfbuzz-subset.so'; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(PDF_LIBS) for invoice PDFs"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_LIBS) >/dev/null; } \
			|| { echo "installing $(PDF_LIBS) failed: invoice PDFs cannot be rendered"; exit 1; }; \
	else \
		echo "invoice PDFs need $(PDF_LIBS) (or your system's Pango and HarfBuzz)"; \
	fi

## bench: the benchmarks of bench/ (each prints a table)
bench: $(VENV)/.dev-installed
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
