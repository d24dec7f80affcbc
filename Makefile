# outsource.deploy — every entry point a user or CI needs.
#   make demo   full deployment into the local cloud, ending with a live URL
#   make test   every test: lint, unit, the local cloud, Molecule scenarios (MiniStack and LocalStack)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell tools/find-python)
VENV := .venv
BIN := $(VENV)/bin
LOCAL_CLOUD := python3 tools/local_cloud/local_cloud.py
LOCAL_ENV := AWS_ACCESS_KEY_ID=LOCALCLOUDACCESSKEY AWS_SECRET_ACCESS_KEY=local-cloud-dummy-secret-0000 AWS_REGION=us-east-1 \
	DOCKER_HOST=$$($(LOCAL_CLOUD) env | sed -n 's/^export DOCKER_HOST=//p')
MOLECULE_SCENARIOS ?= default redeploy failure teardown lockdown
BENCH_ARGS ?=
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DOCKER_BUILDKIT = 0

.PHONY: help bootstrap demo status local-up local-down local-status lint unit test-local-cloud integration molecule test-localstack test bench build clean

help: ## Show the make targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements-dev.txt
	@echo "bootstrap: project virtualenv on $(PYTHON)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(BIN)/python -m pip install -q -r requirements-dev.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
	touch $@

bootstrap: $(BIN)/.installed ## Create the project virtualenv and system tools
	@tools/ensure-mysql-client

local-up: ## Start the local cloud (MiniStack + Docker engine)
	$(LOCAL_CLOUD) up

local-down: ## Stop the local cloud and clean up
	$(LOCAL_CLOUD) down

status: bootstrap ## Show the local deployment: task, URL, health, RDS, last log lines
	$(LOCAL_ENV) $(BIN)/ansible-playbook -i inventory/local playbooks/status.yml

local-status: ## Show the local cloud's endpoint, engine and images
	$(LOCAL_CLOUD) status

demo: bootstrap local-up ## Deploy the sample backend into the local cloud
	$(LOCAL_ENV) $(BIN)/ansible-playbook -i inventory/local site.yml

lint: bootstrap ## ansible-lint (production), yamllint, ruff
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --offline --profile production
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: bootstrap ## Module unit tests (pytest + moto)
	$(BIN)/python -m pytest -q tests/unit

test-local-cloud: bootstrap ## Test the local cloud itself (up, ECS, RDS, down)
	$(BIN)/python -m pytest -q tests/local_cloud

integration: bootstrap ## Integration tests, then the Molecule scenarios, each on a fresh local cloud
	$(LOCAL_CLOUD) down >/dev/null
	$(LOCAL_CLOUD) up
	rc=0; $(LOCAL_ENV) $(BIN)/python -m pytest -q tests/integration || rc=1; \
	$(LOCAL_CLOUD) down; exit $$rc
	$(MAKE) --no-print-directory molecule

molecule: bootstrap ## Only the Molecule scenarios (MOLECULE_SCENARIOS="default ...")
	$(LOCAL_CLOUD) down >/dev/null
	$(LOCAL_CLOUD) up
	rc=0; for s in $(MOLECULE_SCENARIOS); do \
	  $(LOCAL_ENV) $(BIN)/molecule test -s $$s || { rc=1; break; }; \
	done; $(LOCAL_CLOUD) down; exit $$rc

test-localstack: bootstrap ## Molecule against LocalStack community (needs port 4566 free, or LOCALSTACK_PORT)
	AWS_ACCESS_KEY_ID=LOCALCLOUDACCESSKEY AWS_SECRET_ACCESS_KEY=local-cloud-dummy-secret-0000 AWS_REGION=us-east-1 \
	  $(BIN)/molecule test -s localstack

test: lint unit test-local-cloud integration test-localstack ## Every test

bench: bootstrap ## Time deploy, no-op rerun, redeploys and teardown on a fresh local cloud (resets it)
	$(BIN)/python tools/bench/bench.py $(BENCH_ARGS)

build: bootstrap ## Build the collection tarball
	$(BIN)/ansible-galaxy collection build --force

clean: ## Remove the virtualenv and caches (the local cloud's image cache stays)
	rm -rf $(VENV) .pytest_cache .ruff_cache .ansible
