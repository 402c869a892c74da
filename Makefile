# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv and install the pinned versions of constraints.txt on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all lint format bench clean browser

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip<27"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/thio demo --home thio-data

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint warehouse

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix warehouse

test: lint
	$(BIN)/pytest -m "not slow" -q

# The slow tests open the audit's Data Docs in headless Chromium: Debian's package, installed
# when no chromium is on the PATH (THIO_CHROMIUM may name another binary).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| [ -n "$$THIO_CHROMIUM" ] \
		|| ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)

test-all: lint browser
	THIO_HYPOTHESIS_PROFILE=thorough $(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/round_bench.py

clean:
	rm -rf $(VENV) thio-data .pytest_cache
