# Every target creates .venv and installs from pyproject.toml itself: `make demo` and `make test`
# work on a fresh clone with nothing but python3 (>= 3.10) on the machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: run the function on the embedded ELB simulator (failed master + member check job)
demo: $(STAMP)
	$(BIN)/elb-master-watch invoke events/direct.json --simulate events/scenarios/demo.json

## test: lint, type-check and run the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check handler tests
	$(BIN)/ruff format --check handler tests

typecheck: $(STAMP)
	$(BIN)/mypy handler

unit: $(STAMP)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
