# The two commands a newcomer needs: `make dev` and `make test`.
#
# `make dev` installs only what the local runtime runs on (requirements-local.lock); `make test`
# and `make install` add the Pulumi SDKs and the test and benchmark tools (requirements.lock).
# Both fill the same .venv with uv, from hash-pinned locks only.
PYTHON ?= python3
PORT ?= 3000
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
LOCAL_STAMP := $(VENV)/.installed-local
FULL_STAMP := $(VENV)/.installed
MUTATE_STAMP := $(VENV)/.installed-mutate
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
NODE_LOCAL_STAMP := node_modules/.installed-local
NODE_FULL_STAMP := node_modules/.installed
UV_INSTALL := $(UV) pip install --quiet --python $(PY) --no-deps
# Every lock is resolved for the oldest Python the project supports.
LOCK := $(UV) pip compile --quiet --generate-hashes --python-version 3.11 $(LOCK_ARGS)

.PHONY: install full-install local-install dev test handlers-on-lambda-python handlers-on-moto test-moto lint lock checkov bench mutate fuzz-long openapi measure-setup clean

# The Python and npm installs wait on the network more than on the CPU, so `install` and
# `dev` run them side by side (-j2 in a sub-make, leaving the rest of the Makefile in order).
install:
	@$(MAKE) --no-print-directory -j2 full-install

full-install: $(FULL_STAMP) $(NODE_FULL_STAMP)
	@:
local-install: $(LOCAL_STAMP) $(NODE_LOCAL_STAMP)
	@:

# uv lives in the project's own environment, which pip only ever touches to put it there.
$(UV): requirements-uv.lock
	test -x $(PY) || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(PY) install --quiet --require-hashes --no-deps -r requirements-uv.lock
	touch $@

# The editable install builds with the locked setuptools (--no-build-isolation), so it
# fetches nothing unpinned.
$(LOCAL_STAMP): $(UV) requirements-local.lock pyproject.toml
	$(UV_INSTALL) --require-hashes -r requirements-local.lock
	$(UV_INSTALL) --no-build-isolation -e .
	touch $@

$(FULL_STAMP): $(UV) requirements.lock pyproject.toml
	$(UV_INSTALL) --require-hashes -r requirements.lock
	$(UV_INSTALL) --no-build-isolation -e .
	touch $@

# mutmut only for `make mutate`, on top of the full install and at its versions.
$(MUTATE_STAMP): $(FULL_STAMP) requirements-mutate.lock
	$(UV_INSTALL) --require-hashes -r requirements-mutate.lock
	touch $@

# `draht dev` needs dynalite only; the TypeScript toolchain that checks generated clients comes
# with the full install. A full install serves `make dev` too, and a light one drops the
# toolchain, so each marks what node_modules holds.
$(NODE_LOCAL_STAMP): package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund
	rm -f $(NODE_FULL_STAMP)
	touch $@

$(NODE_FULL_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@ $(NODE_LOCAL_STAMP)

# Regenerates every lock file from pyproject.toml, keeping the versions already pinned
# unless a change needs others; `make lock LOCK_ARGS=--upgrade` moves everything to the latest.
# The local lock is constrained by the full one, so both install the same versions.
lock: $(UV)
	$(LOCK) --group uv -o requirements-uv.lock
	$(LOCK) pyproject.toml --extra deploy --extra dev --group build -o requirements.lock
	$(LOCK) pyproject.toml --group build -c requirements.lock -o requirements-local.lock
	$(LOCK) --group mutate -c requirements.lock -o requirements-mutate.lock
	$(LOCK) --group checkov -o requirements-checkov.lock

dev:
	@$(MAKE) --no-print-directory -j2 local-install
	$(VENV)/bin/draht seed
	$(VENV)/bin/draht dev --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The suites moto also runs in `make test`: every handler test on a store (the write routes'
# every answer among them), and the check that they do reach moto.
MOTO_SUITES := tests/test_store_choice.py tests/test_handlers.py tests/test_handlers_cursor.py \
	tests/test_handlers_writes.py

# The handler tests run twice: on the venv's Python, then on the deployed runtime's
# (tests/lambda_python.py; it says so when that Python is not installed). The write routes'
# tests run a third time against moto, a second DynamoDB implementation.
# The two second passes share nothing (each its own interpreter and store), so they run side
# by side, each one's output kept together.
# The main suite runs in two processes (pytest-xdist): most of a test's time is spent waiting on
# dynalite, a worker or a timeout, so two processes on two cores halve it. Each process starts
# its own dynalite and stacks; no test shares a port, a file or a process with another.
test: lint
	$(VENV)/bin/pytest -n 2
	@$(MAKE) --no-print-directory -j2 --output-sync=target handlers-on-lambda-python handlers-on-moto

handlers-on-lambda-python:
	$(PY) tests/lambda_python.py

handlers-on-moto:
	$(VENV)/bin/pytest --dynamodb-endpoint=moto $(MOTO_SUITES)

# Every test that honours --dynamodb-endpoint (marked dynamodb), against moto's server.
test-moto: install
	$(VENV)/bin/pytest --dynamodb-endpoint=moto -m dynamodb

# The OpenAPI document client builds take (the production stack's auth); a test keeps it current.
openapi: install
	$(VENV)/bin/draht openapi --stack-config Pulumi.production.yaml > openapi.json

# checkov's AWS rules on the production stack rendered under mocks: no unwaived failure.
# Kept out of `make test`, whose first run has its own time budget; CI runs both.
checkov: install $(CHECKOV_STAMP)
	$(PY) -m draht.checkov --checkov $(CHECKOV_VENV)/bin/checkov

$(CHECKOV_STAMP): $(UV) requirements-checkov.lock
	$(UV) venv --quiet --allow-existing --python $(PY) $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python --no-deps --require-hashes -r requirements-checkov.lock
	touch $@

# Writes BENCHMARKS.md, bench/results.json and bench/cost.png; run on an otherwise idle machine.
bench: install
	$(PY) -m bench.run

# Mutation scores of the security-critical modules, written to MUTATION.md: a report, not a gate.
# `make mutate MODULES="cursor iam"` runs only those (file stems) and keeps the others' results.
mutate: install $(MUTATE_STAMP)
	$(PY) -m tools.mutation $(MODULES)

# The long forms of the fuzz (>= 1,000 generated requests, >= 1,000 linked steps), race (1,000
# rounds), fault and load tests.
fuzz-long: install
	DRAHT_LONG=1 $(VENV)/bin/pytest tests/test_fuzz.py tests/test_races.py tests/test_faults.py tests/test_load.py

# Times the first `make dev` and `make test` on a fresh clone of HEAD with cold caches.
measure-setup:
	$(PYTHON) tools/fresh_clone.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .draht .mutmut
