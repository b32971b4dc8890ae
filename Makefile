# The two commands a newcomer needs: `make dev` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
# Every lock is resolved for the oldest Python the project supports.
LOCK := $(UV) pip compile --generate-hashes --python-version 3.11 $(LOCK_ARGS)

.PHONY: install dev test lint lock bench fuzz-long clean

install: $(STAMP) node_modules/.package-lock.json

$(UV): requirements-uv.lock
	test -x $(PY) || python3 -m venv --without-pip $(VENV)
	python3 -m pip --python $(PY) install --quiet --require-hashes --no-deps -r requirements-uv.lock
	touch $@

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# Regenerates every lock file from pyproject.toml, keeping the versions already pinned
# unless a change needs others; `make lock LOCK_ARGS=--upgrade` moves everything to the latest.
lock: $(UV)
	$(LOCK) --group uv -o requirements-uv.lock
	$(LOCK) pyproject.toml --extra dev -o requirements.lock

dev: install
	$(VENV)/bin/draht seed
	$(VENV)/bin/draht dev

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

# Writes BENCHMARKS.md, bench/results.json and bench/cost.png; run on an otherwise idle machine.
bench: install
	$(PY) -m bench.run

# The long forms of the fuzz (>= 1,000 generated requests), fault and load tests.
fuzz-long: install
	DRAHT_LONG=1 $(VENV)/bin/pytest tests/test_fuzz.py tests/test_faults.py tests/test_load.py

clean:
	rm -rf $(VENV) node_modules .draht
