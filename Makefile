# The two commands a newcomer needs: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
TORCH_WHEEL ?= $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl))
TORCH_SPEC := $(if $(TORCH_WHEEL),$(TORCH_WHEEL),torch==2.13.0)
export MLFLOW_DISABLE_TELEMETRY := true
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test test-web chaos browser lint format bench bench-models pipeline pipeline-tiny sync-models clean-venv

setup: $(VENV)/.installed

# torch goes in first from the CPU wheel, so that nothing later pulls a multi-GB CUDA build.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip check
	touch $@

# The studio on http://127.0.0.1:$PORT with no services: SQLite, files under var/, a filesystem Celery
# broker and a SQLite channel layer; daphne and one Celery worker run until Ctrl-C.
run: setup
	$(PY) manage.py runstudio --port $${PORT:-8000} $(ARGS)

# The MLOps loop: render data -> train -> evaluate -> register as `challenger` in the MLflow registry
# (MLFLOW_TRACKING_URI, else data/mlflow); then promote it from /modelops/. ARGS passes options through.
pipeline: setup
	$(PY) -m ml_engine pipeline $(ARGS)

pipeline-tiny: setup
	OMP_NUM_THREADS=1 $(PY) -m ml_engine pipeline --preset tiny --out data/pipeline-tiny $(ARGS)

# Mirror the registry's versions and aliases into the studio's database (the promotion services do it too).
sync-models: setup
	$(PY) manage.py sync_models

# Tests need PostgreSQL and Redis on their standard local ports (.ci/run starts them) and Debian's chromium.
test: setup browser
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest

test-web: setup browser
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest accounts prompts generation feedback modelops t2i_site tests

# The fault suite: private PostgreSQL, Redis and S3 servers on free ports; 50 worker SIGKILLs, Redis and PostgreSQL
# restarts and an S3 outage in the server mode, worker kills in the embedded mode; prints a table (several minutes).
chaos: setup
	T2I_CHAOS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest tests/test_faults_chaos.py -s -q

# Playwright drives the system chromium (it never downloads a browser of its own); axe-core (package.json) checks
# the pages' accessibility in the browser tests.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	@node -e "process.exit(require('./node_modules/axe-core/package.json').version === require('./package.json').devDependencies['axe-core'] ? 0 : 1)" 2>/dev/null || npm ci --no-audit --no-fund --loglevel=error

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# one table: precision, one image (model alone and studio end to end), 1/8/32 jobs at once, for each bundled model
bench: setup
	$(PY) bench/bench_studio.py --workers $(or $(WORKERS),1)

bench-models: setup
	$(PY) bench/bench_diffusion.py
	$(PY) bench/bench_gan.py

clean-venv:
	rm -rf $(VENV)

# The Docker stack (docker-compose.yml: web, worker, PostgreSQL, Redis, S3, MLflow) built and started on this
# machine; up returns when every service is healthy, down stops it. deploy/compose.sh says what it reads
# (DOCKER_IMAGES=public|debian, GPU=1, WEB_PORT, .env).
.PHONY: compose-up compose-down
compose-up:
	TORCH_WHEEL="$(TORCH_WHEEL)" deploy/compose.sh up

compose-down:
	deploy/compose.sh down
