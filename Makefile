# Every target creates .venv and installs from pyproject.toml itself: `make demo` and `make test`
# work on a fresh clone with nothing but python3 (>= 3.10) on the machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit fuzz bench package redis clean

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing elb-master-watch with its dev tools (pip shows its progress)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

## demo: run the function on the embedded ELB simulator (failed master + member check job), as text
demo: $(STAMP)
	$(BIN)/elb-master-watch invoke events/direct.json --simulate demo --output text

## test: lint, type-check and run the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check handler elb_simulator elb_tools tests
	$(BIN)/ruff format --check handler elb_simulator elb_tools tests

typecheck: $(STAMP)
	$(BIN)/mypy handler elb_simulator elb_tools

unit: $(STAMP) redis
	$(BIN)/pytest -q

## fuzz: the property tests with fresh random examples each run; `make test` replays a fixed set
fuzz: $(STAMP) redis
	HYPOTHESIS_PROFILE=explore $(BIN)/pytest -q -p no:cacheprovider tests/test_hostile_inputs.py tests/test_properties.py

## redis: make sure a redis-server binary exists for the state-store contract tests (Debian's package)
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "==> redis-server is missing: installing the system package redis-server with apt-get (for the Redis store tests)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server) \
	      || echo "WARNING: could not install redis-server; Redis store tests will be skipped"; \
	  else echo "WARNING: redis-server missing and cannot be installed here; Redis store tests will be skipped"; fi; }

## bench: measure cold start, warm overhead, sweeps and import time (about 2 min, progress on stderr);
##        prints the table; `make bench WRITE=1` also rewrites the tracked BENCHMARKS.md
bench: $(STAMP)
	$(BIN)/python tests/bench/run.py $(if $(WRITE),--write,)

## package: build dist/function.zip for FunctionGraph
package: $(STAMP)
	$(BIN)/elb-master-watch package

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
