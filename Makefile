# The commands the README shows. `make demo` and `make test` set up whatever is missing first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
FLASHSALE := $(VENV)/bin/flashsale
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup demo test soak up down status lint format bench lock clean

setup: $(STAMP)
	@$(FLASHSALE) setup

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(FLASHSALE) demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

soak: setup  ## make test 3 times in a row (SOAK_RUNS), then once with one core kept busy
	bash tests/soak.sh

up: setup
	$(FLASHSALE) up

down:
	@[ -x $(FLASHSALE) ] && $(FLASHSALE) down || true

status: setup
	$(FLASHSALE) status

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(FLASHSALE) bench

lock: $(STAMP)  ## re-pin constraints.txt from the current venv
	$(PY) -m pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache flashsale-report
