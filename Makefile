# Two commands: `make demo` and `make test`. Everything else is setup they call.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: demo test lint types unit setup clean bench browser

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) on PATH"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Semgrep (run by the verification tests) pins OpenTelemetry below what FastAPI needs, so it
# gets a venv of its own.
$(TOOLS_STAMP):
	test -d $(TOOLS) || $(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet 'semgrep>=1.80'
	touch $(TOOLS_STAMP)

setup: $(STAMP) $(TOOLS_STAMP) browser

demo: $(STAMP)
	MESHWARD_DATABASE_URL=sqlite:///$(CURDIR)/.demo/meshward.db $(BIN)/meshward demo --fresh --serve

# The browser tests drive Debian's Chromium; install it when it is missing.
browser:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null \
	  || { echo "FAILED: could not install chromium with apt-get (needs root and Debian's package mirror); install it so /usr/bin/chromium exists" >&2; exit 1; }; }

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(TOOLS_STAMP) browser
	$(BIN)/pytest

test: lint types unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(TOOLS) .demo .mypy_cache .ruff_cache
