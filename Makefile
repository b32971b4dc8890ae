# The two commands a newcomer needs: `make dev` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MUTATE_STAMP := $(VENV)/.mutate-installed

.PHONY: install dev test lint bench mutate fuzz-long clean

install: $(STAMP) node_modules/.package-lock.json

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

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

# Mutation scores of the security-critical modules, written to MUTATION.md: a report, not a gate.
# `make mutate MODULES="cursor iam"` runs only those (file stems) and keeps the others' results.
mutate: install $(MUTATE_STAMP)
	$(PY) -m bench.mutation $(MODULES)

$(MUTATE_STAMP): requirements-mutate.lock $(STAMP)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-mutate.lock
	touch $@

# The long forms of the fuzz (>= 1,000 generated requests), fault and load tests.
fuzz-long: install
	DRAHT_LONG=1 $(VENV)/bin/pytest tests/test_fuzz.py tests/test_faults.py tests/test_load.py

clean:
	rm -rf $(VENV) node_modules .draht .mutmut
