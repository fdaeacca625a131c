# OpenRTCC — the front door. `make run` and `make test` install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export RTCC_TOOLS ?= $(HOME)/.cache/rtcc
export PIP_CACHE_DIR ?= $(HOME)/.cache/pip
BUF := $(RTCC_TOOLS)/bin/buf
HELM := $(RTCC_TOOLS)/bin/helm
PYTEST_ARGS ?=
DEMO_CAMERAS ?= 4

.PHONY: help deps venv proto console run test lint format bench fuzz chart image clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

deps: ## install system packages and real servers (idempotent; root or sudo)
	@bash infra/install.sh

$(VENV)/.installed: pyproject.toml infra/install-models.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@PYTHON=$(PY) bash infra/install-models.sh
	@bash infra/install-footage.sh
	@touch $@

venv: $(VENV)/.installed ## create the virtualenv and install the package
	@$(PY) -m rtcc.analytics.detectors.quantize || echo "quantize: failed (above); YOLO runs in OpenVINO's native precision until it succeeds"

proto: venv ## generate Python code from protos/
	@bash infra/proto.sh

console: ## vendor the console's map library from npm (idempotent)
	@bash infra/console.sh

run: venv proto ## start everything in one process with embedded backends and demo cameras
	@bash infra/install.sh --runtime
	@bash infra/console.sh
	$(VENV)/bin/rtcc serve --target=all --demo-cameras $(DEMO_CAMERAS)

lint: venv proto ## ruff, mypy and buf lint
	$(VENV)/bin/ruff check services tests bench infra
	$(VENV)/bin/ruff format --check services tests bench infra
	$(VENV)/bin/mypy
	cd protos && $(BUF) lint

format: venv ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix services tests bench infra
	$(VENV)/bin/ruff format services tests bench infra

test: deps venv proto console lint ## run every test against embedded and real backends
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: deps venv proto ## run the benchmarks and print their figures
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

FUZZ_EXAMPLES ?= 200
fuzz: deps venv proto ## long property-based fuzzing of every RPC and HTTP route (FUZZ_EXAMPLES per RPC)
	RTCC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) RTCC_FUZZ_HTTP_EXAMPLES=$(FUZZ_EXAMPLES) \
		$(VENV)/bin/pytest tests/security/test_fuzz_rpc.py tests/security/test_fuzz_http.py \
		--timeout 3600 $(PYTEST_ARGS)

chart: deps ## lint and render the Helm chart
	$(HELM) lint helm/rtcc --kube-version 1.30.0 -f helm/rtcc/ci/default-values.yaml
	$(HELM) template rtcc helm/rtcc --kube-version 1.30.0 -f helm/rtcc/ci/production-values.yaml >/dev/null

image: ## build the container image (needs a Docker engine)
	docker build -f infra/docker/Dockerfile -t openrtcc/rtcc:dev .

clean: ## remove the virtualenv, generated code and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
	find services -path '*/v1/*_pb2*' -delete
