# Membership Auto — the commands in README.md. Each installs what it needs first.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
MANIFESTS := pyproject.toml uv.lock $(wildcard */pyproject.toml services/*/pyproject.toml)
# The images: one per app, tagged <version> and <version>-<short sha> (README, "Images").
IMAGE_SERVICES := gateway $(notdir $(wildcard services/*))
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE ?= $(shell git remote get-url origin 2>/dev/null)

.PHONY: install pgbouncer run up down compose images test test-unit test-e2e fuzz lint bench k8s help

help:
	@echo "make run    - the whole platform in one process (SQLite, in-process bus) on :8000"
	@echo "make up     - every service as its own process on local PostgreSQL + RabbitMQ"
	@echo "make down   - stop what 'make up' started"
	@echo "make compose - docker compose with the throwaway dev credentials (deploy/compose/dev.env)"
	@echo "make images - build membership-auto/<app>:<version> and :<version>-<short sha> for every app"
	@echo "make test   - every test (unit, integration, e2e)"
	@echo "make test SERVICE=<name> - that service's tests, the contract gates, its e2e tests"
	@echo "make fuzz   - schemathesis over /api/schema/, 30 examples per operation, both run modes"
	@echo "make lint   - ruff and mypy"
	@echo "make k8s    - render deploy/k8s overlays, validate against the Kubernetes schemas, policy tests"
	@echo "make bench  - the benchmarks: gateway, ingest, read paths, availability, chat, load sequence (bench/results/)"

install: .venv/.installed

.venv/.installed: $(MANIFESTS)
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		(echo "installing uv ..." && python3 -m pip install --quiet uv)
	$(UV) sync --frozen
	@touch $@

# Tests run services through PgBouncer (Debian's package puts it in /usr/sbin). Where it
# cannot be installed, those tests skip, and fail under CI=true.
pgbouncer:
	@command -v pgbouncer >/dev/null 2>&1 || test -x /usr/sbin/pgbouncer || \
		(echo "installing pgbouncer (tests run services through it) ..." && \
		(apt-get install -y -qq pgbouncer || (apt-get update -qq && apt-get install -y -qq pgbouncer))) || \
		echo "could not install pgbouncer: the tests that need it will skip"

run: install
	$(UV) run --frozen python -m launcher.embedded

up: install
	$(UV) run --frozen python -m launcher.local up

down:
	$(UV) run --frozen python -m launcher.local down

# Development only: deploy/compose/dev.env's credentials are public (README, "Compose").
compose:
	VERSION=$(VERSION) REVISION=$(REVISION) \
		docker compose --env-file deploy/compose/dev.env up --build

images:
	@test -n "$(REVISION)" || (echo "images are labelled with a git revision: no git here" && exit 1)
	set -e; for service in $(IMAGE_SERVICES); do \
		docker build --build-arg SERVICE=$$service --build-arg VERSION=$(VERSION) \
			--build-arg REVISION=$(REVISION) --build-arg SOURCE=$(SOURCE) \
			-t membership-auto/$$service:$(VERSION) \
			-t membership-auto/$$service:$(VERSION)-$(shell echo $(REVISION) | cut -c1-7) . ; \
	done

# SERVICE=<name>: that service's tests, the catalogue and contract gates, and the e2e
# tests that involve it (the markers conftest.py and tests-e2e/conftest.py give them).
# MARK adds a marker expression, e.g. MARK="not broker_restart".
GATES = launcher/tests/test_catalog.py launcher/tests/test_service_shape.py \
	gateway/tests/test_catalog.py \
	$(wildcard shared/tests/contracts tests-contracts)

test: install pgbouncer
ifdef SERVICE
	@test -d services/$(SERVICE)/tests || (echo "SERVICE=$(SERVICE): no services/$(SERVICE)/tests" && exit 1)
	$(UV) run --frozen pytest services/$(SERVICE)/tests $(GATES) tests-e2e \
		-m "$(SERVICE)$(if $(MARK), and ($(MARK)))" $(PYTEST_ARGS)
else
	$(UV) run --frozen pytest $(if $(MARK),-m "$(MARK)")
endif

test-unit: install pgbouncer
	$(UV) run --frozen pytest --ignore=tests-e2e

test-e2e: install
	$(UV) run --frozen pytest tests-e2e

# The same test as in 'make test', with the issue's 30 examples per operation (~10 min).
fuzz: install
	FUZZ_EXAMPLES=30 $(UV) run --frozen pytest tests-e2e/test_fuzz.py -s

# No cluster here: kubectl (with its kustomize) renders both overlays, kubernetes-validate
# checks every object against the Kubernetes OpenAPI schemas it ships (offline), and the
# policy tests read the rendered objects. 'make test' runs the same tests.
k8s: install
	@command -v kubectl >/dev/null 2>&1 || (echo "kubectl is needed to render deploy/k8s" && exit 1)
	$(UV) run --frozen python deploy/tests/manifests.py
	$(UV) run --frozen pytest deploy/tests

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy shared/shared testsupport/testsupport

bench: install
	@command -v wrk >/dev/null 2>&1 || (echo "installing wrk (the load generator) ..." && \
		(apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)))
	$(UV) run --frozen python bench/gateway.py
	$(UV) run --frozen python bench/ingest.py
	$(UV) run --frozen python bench/read_paths.py
	$(UV) run --frozen python bench/availability.py
	$(UV) run --frozen python bench/chat.py
	$(UV) run --frozen python bench/load_sequence.py
