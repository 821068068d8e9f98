# Every target creates .venv and installs from pyproject.toml itself: `make demo` and `make test`
# work on a fresh clone with nothing but python3 (>= 3.10) on the machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit floors fuzz bench package redis chromium serve clean

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing elb-master-watch with its dev tools (pip shows its progress)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

## demo: run the function on the embedded ELB simulator (failed master + member check job), as text
demo: $(STAMP)
	$(BIN)/elb-master-watch invoke events/direct.json --simulate demo --output text

## test: lint, type-check, run the whole test suite, then the SDK-facing tests on the declared floors
test: lint typecheck unit floors

lint: $(STAMP)
	$(BIN)/ruff check handler elb_simulator elb_tools tests
	$(BIN)/ruff format --check handler elb_simulator elb_tools tests

typecheck: $(STAMP)
	$(BIN)/mypy handler elb_simulator elb_tools

unit: $(STAMP) redis chromium
	$(BIN)/pytest -q

## floors: the SDK-facing tests on the lowest versions pyproject.toml allows (huaweicloudsdkcore/elb/smn/ces/coc,
##         structlog, redis, tzdata), installed into .venv-floors from constraints computed from pyproject.toml
FLOORS := .venv-floors
FLOOR_TESTS := tests/test_sdk_trim.py tests/test_handler.py tests/test_simulator.py tests/test_elb_bounds.py \
               tests/test_watcher_scope.py tests/test_notify_e2e.py tests/test_state_store.py \
               tests/test_tags.py tests/test_coc.py tests/test_metrics.py tests/test_windows.py
floors: $(STAMP) redis
	@echo "==> $(FLOORS): the lowest versions pyproject.toml allows"
	$(BIN)/python -m elb_tools.floors > .floors-constraints.txt
	test -x $(FLOORS)/bin/python || $(PYTHON) -m venv $(FLOORS)
	$(FLOORS)/bin/python -m pip install -q --upgrade pip
	$(FLOORS)/bin/python -m pip install -q -c .floors-constraints.txt -e '.[dev]'
	$(FLOORS)/bin/python -m pip freeze | grep -iE '^(huaweicloudsdk(core|elb|smn|ces|coc)|structlog|redis|tzdata)=='
	@# The 3.1.206 SDK's SMN client leaves a loopback socket for the collector (3.1.219 does not): not ours.
	$(FLOORS)/bin/pytest -q -p no:cacheprovider \
	  -W "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning" $(FLOOR_TESTS)

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

## chromium: make sure Debian's chromium and chromium-driver exist for the browser test of the action links
chromium:
	@{ test -x /usr/bin/chromium && test -x /usr/bin/chromedriver; } || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "==> chromium is missing: installing chromium and chromium-driver with apt-get (for tests/test_actions_browser.py)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver) \
	      || echo "WARNING: could not install chromium; the browser test will be skipped"; \
	  else echo "WARNING: chromium missing and cannot be installed here; the browser test will be skipped"; fi; }

## serve: the development server on 127.0.0.1:8080 with the demo simulator (open the action links in a browser)
serve: $(STAMP)
	$(BIN)/elb-master-watch serve --port 8080 --simulate demo

## bench: measure cold start, warm overhead, sweeps, storms, routing and import time (about 5 minutes, progress on
##        stderr at least every 10 s; not part of `make test`); prints the table, MISSED beside a row that
##        misses its target and then exits 1; `make bench WRITE=1` also rewrites the tracked BENCHMARKS.md
bench: $(STAMP)
	$(BIN)/python tests/bench/run.py $(if $(WRITE),--write,)

## package: build dist/function.zip for FunctionGraph
package: $(STAMP)
	$(BIN)/elb-master-watch package

clean:
	rm -rf $(VENV) $(FLOORS) .floors-constraints.txt .pytest_cache .mypy_cache .ruff_cache .hypothesis
