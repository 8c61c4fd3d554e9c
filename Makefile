# demoapp: one Makefile for set-up, the demo, tests and benchmarks.
# Every target installs what it needs, so `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= python3.11
VENV        := .venv
BIN         := $(VENV)/bin
WORK        ?= .work
export DEMOAPP_WORK := $(abspath $(WORK))
export CHECKPOINT_DISABLE := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export TESTCONTAINERS_RYUK_DISABLED := true
export TF_CLI_CONFIG_FILE := $(DEMOAPP_WORK)/terraform.tfrc

IMAGE       ?= demoapp:dev
export DEMOAPP_IMAGE := $(IMAGE)
PYTEST_ARGS ?=
STRESS_ARGS ?=

.PHONY: help venv system-packages docker-engine base-image image provider demo crash recover down plan status \
        test test-fast lint bench bench-provider stress reliability clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[tools,dev]'
	touch $@

venv: $(BIN)/.installed ## Create the virtualenv with every Python dependency

system-packages: ## Install the Debian packages the tests use (chromium, wrk, postgresql) when missing
	@scripts/ensure-system-packages.sh

docker-engine: ## Install and start a Docker engine if none answers
	@scripts/ensure-docker.sh

base-image: docker-engine ## Make sure the Dockerfile's base image exists (mmdebstrap when offline)
	@scripts/ensure-base-image.sh

image: venv base-image ## Build the demo service image
	@scripts/build-image.sh $(IMAGE)

provider: venv ## Install terraform-provider-demoapp into the local filesystem mirror
	@$(BIN)/python -m provider.install --work $(DEMOAPP_WORK)

demo: venv image provider ## Run the baseline demo (docker -> time -> http -> demoapp)
	@$(BIN)/demoapp up

status: venv ## Show the demo's container, health, items and drift
	@$(BIN)/demoapp status

plan: venv ## terraform plan of the baseline demo
	@$(BIN)/demoapp plan

crash: venv ## Kill the demo container (RESTART=1: restart it instead, memory wiped)
	@$(BIN)/demoapp crash $(if $(RESTART),--restart)

recover: venv ## Apply again and verify the restored display and items
	@$(BIN)/demoapp recover

down: venv ## Destroy the demo, leaving no container behind
	@$(BIN)/demoapp down

test: venv system-packages image provider ## Run the whole test suite (unit, provider, Docker, e2e)
	@$(BIN)/pytest $(PYTEST_ARGS)

test-fast: venv ## Unit tests only (no Docker, no terraform)
	@$(BIN)/pytest -m "not docker and not terraform and not e2e" $(PYTEST_ARGS)

lint: venv ## ruff and mypy
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy demo_app provider examples

bench: venv ## wrk against the service: POST, list of 1000, health
	@$(BIN)/python -m bench.service

bench-provider: venv provider ## Provider handshake and apply/destroy against terraform_data
	@$(BIN)/python -m bench.provider

stress: venv image provider ## Parallel-apply stress sweep across store engines (STRESS_ARGS=...)
	@$(BIN)/demoapp stress $(STRESS_ARGS)

reliability: venv image provider ## Fuzz and chaos suites with a summary table
	@$(BIN)/python -m bench.reliability

clean: ## Remove the work folder (state, mirror, caches)
	rm -rf $(WORK)
