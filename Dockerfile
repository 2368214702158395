# The studio image: daphne (web), the Celery worker, the MLflow server and the local S3 stand-in all run from it
# with different commands (docker-compose.yml). It builds with the classic builder and with BuildKit alike.
#
# BASE_IMAGE: the public python:3.11-slim, or a plain Debian bookworm image (deploy/base-image.sh) where no
# container registry is reachable; there Debian's own Python 3.11 is installed.
# TORCH_INDEX_URL: where torch 2.13.0 comes from; unset, the CPU wheel in deploy/wheels/ (`make compose-up` puts
# the Makefile's TORCH_WHEEL there) or else the CPU index; a CUDA index for GPU workers
# (deploy/docker-compose.gpu.yml):
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 -t t2i-studio-cuda .
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS python
RUN if ! command -v python3.11 >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3.11 && rm -rf /var/lib/apt/lists/*; \
    fi

# Build stage: a virtual environment at /opt/venv and the collected static files; only those reach the image.
FROM python AS build
RUN if ! python3.11 -c "import ensurepip" 2>/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3.11-venv && rm -rf /var/lib/apt/lists/*; \
    fi
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PATH=/opt/venv/bin:$PATH
RUN python3.11 -m venv /opt/venv

# torch first, so nothing later pulls a different build: from TORCH_INDEX_URL when one is given, else as
# `make setup` installs it (the CPU wheel in deploy/wheels/ when there is one, else the CPU index)
ARG TORCH_INDEX_URL=
COPY deploy/wheels/ /wheels/
RUN set -e; wheel="$(ls /wheels/torch-2.13.0*.whl 2>/dev/null | head -n 1)"; \
    if [ -n "$TORCH_INDEX_URL" ]; then pip install torch==2.13.0 --index-url "$TORCH_INDEX_URL"; \
    elif [ -n "$wheel" ]; then pip install "$wheel"; \
    else pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu; fi
# the image runs the studio, not its test suite: test runners, the browser driver and the linter stay out
COPY requirements.txt /tmp/requirements.txt
RUN grep -v -i -E "^(pytest|pytest-[a-z]+|factory-boy|playwright|ruff|check-jsonschema)(\[.*\])?==" \
      /tmp/requirements.txt >/tmp/runtime-requirements.txt \
 && pip install -r /tmp/runtime-requirements.txt && pip check

COPY . /app
WORKDIR /app
# collectstatic only reads settings; the throwaway values never reach a running container
RUN rm -rf deploy/wheels \
 && DJANGO_SETTINGS_MODULE=t2i_site.settings.production DJANGO_SECRET_KEY=collectstatic \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://unused:6379/0 \
    python manage.py collectstatic --noinput -v 0

FROM python AS studio
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true \
    DJANGO_SETTINGS_MODULE=t2i_site.settings.production
RUN useradd --create-home --uid 1000 studio && mkdir -p /data/media && chown -R studio /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER studio

EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "t2i_site.asgi:application"]
