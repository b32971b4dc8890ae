# The two commands a newcomer needs: `make dev` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install dev test test-moto lint bench fuzz-long openapi clean

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

# The suites moto also runs in `make test`: every handler test that writes or reads a store.
MOTO_SUITES := tests/test_store_choice.py tests/test_handlers.py tests/test_handlers_cursor.py

test: lint
	$(VENV)/bin/pytest
	$(VENV)/bin/pytest --dynamodb-endpoint=moto $(MOTO_SUITES)

# Every test that honours --dynamodb-endpoint (marked dynamodb), against moto's server.
test-moto: install
	$(VENV)/bin/pytest --dynamodb-endpoint=moto -m dynamodb

# The OpenAPI document client builds take (the production stack's auth); a test keeps it current.
openapi: install
	$(VENV)/bin/draht openapi --stack-config Pulumi.production.yaml > openapi.json

# Writes BENCHMARKS.md, bench/results.json and bench/cost.png; run on an otherwise idle machine.
bench: install
	$(PY) -m bench.run

# The long forms of the fuzz (>= 1,000 generated requests), fault and load tests.
fuzz-long: install
	DRAHT_LONG=1 $(VENV)/bin/pytest tests/test_fuzz.py tests/test_faults.py tests/test_load.py

clean:
	rm -rf $(VENV) node_modules .draht
