# The handful of targets people use. Each one sets up what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/build/collections
PYTEST_ARGS ?=
# Test files run in parallel (every fixture uses free ports and temp dirs); 0 runs them in one process.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

.PHONY: help deps venv collection lint sanity test test-fast test-unit test-integration molecule test-matrix test-fleet demo bench build clean surveys ee chaos

help:
	@echo "make demo   - a complete rollback drill against a local sandbox (sets everything up)"
	@echo "make test   - lint + sanity + the whole test suite (sets everything up)"
	@echo "make test-fast - lint + unit + integration, without Molecule"
	@echo "make molecule  - every Molecule scenario but generations and complete against podman systemd containers (root)"
	@echo "make test-fleet - the complete scenario: rollback_complete across LB, two app hosts and a database host (root)"
	@echo "make chaos SEED=1 RUNS=5 [UNTIL=HH:MM] [TIER=fleet] - faults in every phase of rollback_complete, invariants checked (root; TIER=fleet: on four podman hosts rb-chaos-*)"
	@echo "make test-matrix - the generations scenario: Debian 11, 12 and 13 hosts with stock packages (root)"
	@echo "make lint   - ruff, yamllint, ansible-lint (production), ansible-test sanity"
	@echo "make bench  - benchmarks, printed as ratios against a baseline run alongside"
	@echo "make build  - build the collection tarball into build/"
	@echo "make ee     - the AWX execution environment image localhost/rollback-ee:latest (root, podman)"
	@echo "make surveys - regenerate the AWX survey specs in awx/surveys/ from the roles' argument specs"

deps:
	@bash scripts/install-deps.sh

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

venv: $(BIN)/.installed

# FQCNs resolve from the working tree through build/collections/ansible_collections/emergency/rollback.
collection:
	@mkdir -p build/collections/ansible_collections/emergency
	@ln -sfn $(CURDIR) build/collections/ansible_collections/emergency/rollback

lint: venv collection
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --offline
	$(MAKE) sanity

sanity: venv
	VENV_BIN=$(BIN) bash scripts/sanity.sh

test-unit: venv collection
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: deps venv collection
	$(BIN)/pytest $(PYTEST_PARALLEL) tests/integration $(PYTEST_ARGS)

# The role scenarios run on Debian 12; the three-generation matrix is its own target, as it
# does not fit the time budget of make test (see README, Developing).
molecule: venv collection
	ROLLBACK_SUITES=bookworm bash molecule/prepare-hosts.sh
	VENV_BIN=$(BIN) bash scripts/build-ee.sh
	PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 $(BIN)/molecule test --all --exclude generations --exclude complete

test-matrix: venv collection
	bash molecule/prepare-hosts.sh
	PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 $(BIN)/molecule test -s generations

# The complete rollback across the fleet topology: about 9 minutes on an idle 2-core machine,
# more than make test's budget leaves, so a target of its own.
test-fleet: venv collection
	ROLLBACK_SUITES=bookworm bash molecule/prepare-hosts.sh
	PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 $(BIN)/molecule test -s complete

test-fast: deps venv collection lint
	$(BIN)/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# Molecule first, so the suite's own summary is the last thing printed.
test: deps venv collection lint molecule
	$(BIN)/pytest $(PYTEST_PARALLEL) --durations=15 $(PYTEST_ARGS)

# The long chaos run on the localhost sandbox (root: its state dir is a tmpfs), or with TIER=fleet
# on the fleet topology of molecule/complete (podman hosts rb-chaos-*); the fast tier is
# tests/chaos/test_fast.py in make test. The same SEED draws the same faults.
SEED ?= 1
RUNS ?= 5
UNTIL ?=
TIER ?= sandbox
chaos: deps venv collection
	$(if $(filter fleet,$(TIER)),ROLLBACK_SUITES=bookworm bash molecule/prepare-hosts.sh)
	$(BIN)/python tests/chaos/run.py --tier $(TIER) --seed $(SEED) --runs $(RUNS) $(if $(UNTIL),--until $(UNTIL))
	$(if $(filter fleet,$(TIER)),CHAOS_FLEET=1 $(BIN)/pytest -p no:xdist tests/chaos/test_fleet_seeds.py)

demo: deps venv collection
	$(BIN)/python demo/drill.py

bench: deps venv collection
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# AWX survey specs are generated from the roles' argument specs; a unit test fails when they drift.
surveys: venv
	$(BIN)/rollbackctl survey --write awx/surveys

# The AWX execution environment image, rebuilt only when its definition or the collection changed.
ee: venv
	ROLLBACK_SUITES=bookworm bash molecule/prepare-hosts.sh
	VENV_BIN=$(BIN) bash scripts/build-ee.sh

build: venv
	mkdir -p build
	$(BIN)/ansible-galaxy collection build --force --output-path build/

clean:
	rm -rf build .pytest_cache .ruff_cache
