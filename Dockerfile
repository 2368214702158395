# The studio image: daphne (web), the Celery worker and the MLflow server run from it with different commands
# (docker-compose.yml). TORCH_INDEX_URL picks the torch build: CPU by default, a CUDA index for GPU workers:
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 -t t2i-studio-gpu .
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true \
    DJANGO_SETTINGS_MODULE=t2i_site.settings.production
WORKDIR /app

# torch first, from the chosen index, so nothing later pulls a different build
RUN pip install torch==2.13.0 --index-url ${TORCH_INDEX_URL}
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic only reads settings; the throwaway values never reach a running container
RUN DJANGO_SECRET_KEY=collectstatic DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://unused:6379/0 \
    python manage.py collectstatic --noinput \
 && useradd --create-home studio && mkdir -p /data/media && chown -R studio /app /data
USER studio

EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "t2i_site.asgi:application"]
